//! Which seeds an experiment runs: a range the user names, and the share of it one shard runs.
//!
//! A shard's seeds are a pure function of (range, K, N): shard K of N takes every N-th seed of
//! the range, starting with the K-th (1-based), so shards are about equally long whatever the
//! seeds cost, and any engine that starts N processes with K = 1..N covers the range exactly.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The longest seed range a sweep accepts (longer is surely a typo).
pub const MAX_RANGE: u64 = 1_000_000_000_000;
/// The most seeds one process runs (its shard of the range).
pub const MAX_SEEDS: u64 = 1_000_000;

/// Seeds `first..=last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedRange {
    /// The first seed.
    pub first: u64,
    /// The last seed (included).
    pub last: u64,
}

impl SeedRange {
    /// The seeds, in order.
    pub fn seeds(&self) -> impl Iterator<Item = u64> {
        self.first..=self.last
    }

    /// How many seeds.
    pub fn len(&self) -> u64 {
        (self.last - self.first).saturating_add(1)
    }

    /// Never true (a range holds at least one seed); for clippy's sake.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.first, self.last)
    }
}

impl FromStr for SeedRange {
    type Err = String;

    /// `A..B` (both ends included) or `N` (seeds 1..N).
    fn from_str(s: &str) -> Result<Self, String> {
        let number = |t: &str| {
            t.trim().parse::<u64>().map_err(|_| {
                format!("--seeds {s:?}: {t:?} is not a whole number (write A..B, both ends included, or N for 1..N)")
            })
        };
        let (first, last) = match s.split_once("..") {
            Some((a, b)) => (number(a)?, number(b.strip_prefix('=').unwrap_or(b))?),
            None => (1, number(s)?),
        };
        if last < first || (s.split_once("..").is_none() && last == 0) {
            return Err(format!("--seeds {s:?} is empty or reversed: write A..B with A <= B, or N >= 1"));
        }
        if last - first >= MAX_RANGE {
            return Err(format!("--seeds {s:?} names more than {MAX_RANGE} seeds: a typo? (one process runs at most {MAX_SEEDS}; shard a longer range)"));
        }
        Ok(SeedRange { first, last })
    }
}

/// Shard K of N (1 <= K <= N).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, 1-based.
    pub k: u64,
    /// How many shards.
    pub n: u64,
}

impl Shard {
    /// The whole range in one shard.
    pub const ALL: Shard = Shard { k: 1, n: 1 };

    /// Shard K of N from an index counted from 0 (Kubernetes Indexed Jobs' `JOB_COMPLETION_INDEX`).
    pub fn from_index(index: u64, n: u64) -> Result<Shard, String> {
        Shard::new(index + 1, n).map_err(|_| format!("shard index {index} is not below the shard count {n}"))
    }

    fn new(k: u64, n: u64) -> Result<Shard, String> {
        if n == 0 || k == 0 || k > n {
            return Err(format!("shard {k}/{n}: K must be between 1 and N, and N at least 1"));
        }
        Ok(Shard { k, n })
    }

    /// How many seeds of `range` this shard runs.
    pub fn count(&self, range: SeedRange) -> u64 {
        let len = range.len();
        if self.k > len {
            0
        } else {
            (len - self.k) / self.n + 1
        }
    }

    /// This shard's seeds of `range`, in order.
    pub fn seeds(&self, range: SeedRange) -> Vec<u64> {
        range.seeds().skip((self.k - 1) as usize).step_by(self.n as usize).collect()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("--shard {s:?}: write K/N, with 1 <= K <= N (shard 2 of 4 is 2/4)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (k, n) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        Shard::new(k, n).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_reject() {
        assert_eq!("3..7".parse(), Ok(SeedRange { first: 3, last: 7 }));
        assert_eq!("10".parse(), Ok(SeedRange { first: 1, last: 10 }));
        assert_eq!("5..5".parse::<SeedRange>().map(|r| r.len()), Ok(1));
        for bad in ["7..3", "0", "", "a..b", "1..", "-1..4"] {
            assert!(bad.parse::<SeedRange>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn shards_cover_the_range_exactly_once() {
        let range = SeedRange { first: 5, last: 27 };
        for n in 1..=6 {
            let mut all: Vec<u64> = (1..=n).flat_map(|k| Shard { k, n }.seeds(range)).collect();
            all.sort_unstable();
            assert_eq!(all, range.seeds().collect::<Vec<_>>(), "{n} shards");
        }
        for bad in ["3/2", "0/2", "1/0", "2", "a/b"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad:?} was accepted");
        }
        assert_eq!(Shard::from_index(0, 3), Ok(Shard { k: 1, n: 3 }));
        for (k, n) in [(1, 1), (2, 3), (3, 3), (5, 4), (7, 30)] {
            assert_eq!(Shard { k, n }.count(range), Shard { k, n }.seeds(range).len() as u64, "{k}/{n}");
        }
        for bad in ["18446744073709551615", "0..18446744073709551615", "1..1000000000001"] {
            assert!(bad.parse::<SeedRange>().unwrap_err().contains("more than"), "{bad}");
        }
        assert!(Shard::from_index(3, 3).is_err());
    }
}
