//! Sliding windows of call outcomes, updated incrementally: recording a call and reading the
//! totals cost O(1) for a count window and O(buckets) for a time window, never a rescan of
//! calls. Property tests compare them with a brute-force recount.

use std::time::Duration;

use super::config::WindowKind;

/// Totals over the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Calls recorded.
    pub calls: u32,
    /// Of those, failures.
    pub failures: u32,
    /// Of those, slow calls.
    pub slow: u32,
    /// Of those, slow calls that failed.
    pub slow_failures: u32,
}

impl Totals {
    /// Adds one call.
    pub(crate) fn add(&mut self, failed: bool, slow: bool) {
        self.calls += 1;
        self.failures += u32::from(failed);
        self.slow += u32::from(slow);
        self.slow_failures += u32::from(slow && failed);
    }

    fn sub(&mut self, other: Totals) {
        self.calls -= other.calls;
        self.failures -= other.failures;
        self.slow -= other.slow;
        self.slow_failures -= other.slow_failures;
    }

    fn one(failed: bool, slow: bool) -> Totals {
        let mut t = Totals::default();
        t.add(failed, slow);
        t
    }

    /// Failure percentage (0 with no calls).
    pub fn failure_rate(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            100.0 * f64::from(self.failures) / f64::from(self.calls)
        }
    }

    /// Slow-call percentage (0 with no calls).
    pub fn slow_rate(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            100.0 * f64::from(self.slow) / f64::from(self.calls)
        }
    }
}

/// A sliding window.
#[derive(Debug, Clone)]
pub enum Window {
    /// The last `size` calls, in a ring.
    Count {
        /// Each call's (failed, slow).
        ring: Vec<(bool, bool)>,
        /// Next slot to write.
        next: usize,
        /// Slots in use.
        len: usize,
        /// Running totals over the ring.
        totals: Totals,
    },
    /// One bucket per second, `buckets.len()` seconds.
    Time {
        /// (second, totals of that second).
        buckets: Vec<(u64, Totals)>,
        /// Running totals over live buckets.
        totals: Totals,
    },
}

impl Window {
    /// An empty window of `kind`.
    pub fn new(kind: WindowKind) -> Window {
        match kind {
            WindowKind::CountBased { size } => {
                Window::Count { ring: vec![(false, false); size as usize], next: 0, len: 0, totals: Totals::default() }
            }
            WindowKind::TimeBased { seconds } => Window::Time {
                buckets: vec![(u64::MAX, Totals::default()); seconds as usize],
                totals: Totals::default(),
            },
        }
    }

    /// Forgets every call.
    pub fn reset(&mut self) {
        match self {
            Window::Count { next, len, totals, .. } => {
                *next = 0;
                *len = 0;
                *totals = Totals::default();
            }
            Window::Time { buckets, totals } => {
                for b in buckets.iter_mut() {
                    *b = (u64::MAX, Totals::default());
                }
                *totals = Totals::default();
            }
        }
    }

    /// Drops time buckets older than the window at `now`.
    fn expire(buckets: &mut [(u64, Totals)], totals: &mut Totals, now: Duration) {
        let sec = now.as_secs();
        let span = buckets.len() as u64;
        for b in buckets.iter_mut() {
            if b.0 != u64::MAX && b.0 + span <= sec {
                totals.sub(b.1);
                *b = (u64::MAX, Totals::default());
            }
        }
    }

    /// Records one call at `now`.
    pub fn record(&mut self, now: Duration, failed: bool, slow: bool) {
        match self {
            Window::Count { ring, next, len, totals } => {
                if *len == ring.len() {
                    let (f, s) = ring[*next];
                    totals.sub(Totals::one(f, s));
                } else {
                    *len += 1;
                }
                ring[*next] = (failed, slow);
                *next = (*next + 1) % ring.len();
                totals.add(failed, slow);
            }
            Window::Time { buckets, totals } => {
                Self::expire(buckets, totals, now);
                let sec = now.as_secs();
                let i = (sec % buckets.len() as u64) as usize;
                if buckets[i].0 != sec {
                    totals.sub(buckets[i].1);
                    buckets[i] = (sec, Totals::default());
                }
                buckets[i].1.add(failed, slow);
                totals.add(failed, slow);
            }
        }
    }

    /// The totals at `now`.
    pub fn totals(&mut self, now: Duration) -> Totals {
        match self {
            Window::Count { totals, .. } => *totals,
            Window::Time { buckets, totals } => {
                Self::expire(buckets, totals, now);
                *totals
            }
        }
    }

    /// The totals at `now`, without expiring anything (for reading metrics).
    pub fn snapshot(&self, now: Duration) -> Totals {
        match self {
            Window::Count { totals, .. } => *totals,
            Window::Time { buckets, .. } => {
                let (sec, span) = (now.as_secs(), buckets.len() as u64);
                let mut t = Totals::default();
                for (s, b) in buckets {
                    if *s != u64::MAX && s + span > sec {
                        t.calls += b.calls;
                        t.failures += b.failures;
                        t.slow += b.slow;
                        t.slow_failures += b.slow_failures;
                    }
                }
                t
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Brute force: keep every call, recount.
    fn recount(kind: WindowKind, calls: &[(u64, bool, bool)], now_ms: u64) -> Totals {
        let kept: Vec<&(u64, bool, bool)> = match kind {
            WindowKind::CountBased { size } => calls.iter().rev().take(size as usize).collect(),
            WindowKind::TimeBased { seconds } => {
                let sec = now_ms / 1000;
                calls.iter().filter(|c| c.0 / 1000 + u64::from(seconds) > sec).collect()
            }
        };
        let mut t = Totals::default();
        for c in kept {
            t.add(c.1, c.2);
        }
        t
    }

    proptest! {
        // resilience4j #1335, #1262: the incremental window drifted from the truth.
        #[test]
        fn incremental_windows_equal_a_recount(
            count in any::<bool>(),
            size in 1u32..20,
            steps in proptest::collection::vec((0u64..2500, any::<bool>(), any::<bool>(), any::<bool>()), 1..300),
        ) {
            let kind = if count { WindowKind::CountBased { size } } else { WindowKind::TimeBased { seconds: size } };
            let mut w = Window::new(kind);
            let mut calls = Vec::new();
            let mut now_ms = 0u64;
            for (gap_ms, failed, slow, read) in steps {
                now_ms += gap_ms;
                let now = Duration::from_millis(now_ms);
                if read {
                    prop_assert_eq!(w.snapshot(now), recount(kind, &calls, now_ms));
                    prop_assert_eq!(w.totals(now), recount(kind, &calls, now_ms));
                } else {
                    w.record(now, failed, slow);
                    calls.push((now_ms, failed, slow));
                }
            }
            prop_assert_eq!(w.totals(Duration::from_millis(now_ms)), recount(kind, &calls, now_ms));
        }
    }
}
