//! Counts per second over a sliding window of whole seconds, shared by retry budgets and
//! adaptive throttling: a ring of one-second buckets, each remembering which second it holds,
//! so old seconds drop out without any sweep.

use std::time::Duration;

/// `N` counters per second over the last `seconds` seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct SecondCounters<const N: usize> {
    buckets: Vec<(u64, [u64; N])>,
}

impl<const N: usize> SecondCounters<N> {
    /// A window of `seconds` (at least 1).
    pub fn new(seconds: u64) -> Self {
        SecondCounters { buckets: vec![(u64::MAX, [0; N]); seconds.max(1) as usize] }
    }

    /// The window's length in seconds.
    pub fn seconds(&self) -> u64 {
        self.buckets.len() as u64
    }

    /// Adds one to counter `which` at `now`.
    pub fn add(&mut self, now: Duration, which: usize) {
        let sec = now.as_secs();
        let i = (sec % self.seconds()) as usize;
        if self.buckets[i].0 != sec {
            self.buckets[i] = (sec, [0; N]);
        }
        self.buckets[i].1[which] += 1;
    }

    /// Each counter's total over the seconds `(now - window, now]`.
    pub fn totals(&self, now: Duration) -> [u64; N] {
        let sec = now.as_secs();
        let span = self.seconds();
        let mut out = [0; N];
        for (s, counts) in &self.buckets {
            if *s != u64::MAX && *s <= sec && s + span > sec {
                for (o, c) in out.iter_mut().zip(counts) {
                    *o += c;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_seconds_leave_the_window() {
        let mut c = SecondCounters::<2>::new(3);
        for s in 0..5u64 {
            c.add(Duration::from_secs(s), 0);
            c.add(Duration::from_secs(s), 1);
            c.add(Duration::from_secs(s), 1);
        }
        assert_eq!(c.totals(Duration::from_secs(4)), [3, 6], "seconds 2, 3 and 4");
        assert_eq!(c.totals(Duration::from_secs(6)), [1, 2], "only second 4 is left");
        assert_eq!(c.totals(Duration::from_secs(60)), [0, 0]);
    }
}
