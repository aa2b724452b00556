//! Streaming aggregates: latency histograms and per-time-bin series.
//!
//! A run can hold millions of requests, so nothing here keeps individual records: a
//! log-linear histogram (32 sub-buckets per power of two: at most 3% relative bucket width,
//! quantiles reported at the bucket midpoint) and, for charts, one sparse histogram per time bin.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
const BUCKETS: usize = ((64 - SUB_BITS as usize) + 1) * SUB as usize;

fn bucket_of(v: u64) -> usize {
    if v < 2 * SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros();
    let shift = e - SUB_BITS;
    (shift as usize) * SUB as usize + (v >> shift) as usize
}

/// The `[low, high)` range of bucket `i`.
fn bucket_range(i: usize) -> (u64, u64) {
    if (i as u64) < 2 * SUB {
        return (i as u64, i as u64 + 1);
    }
    let shift = (i as u64 / SUB) - 1;
    let mantissa = (i as u64 % SUB) + SUB;
    (mantissa << shift, (mantissa + 1) << shift)
}

/// A log-linear histogram of microsecond values.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    sum: u128,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: vec![0; BUCKETS], total: 0, sum: 0, max: 0 }
    }
}

impl Histogram {
    /// Adds one value.
    pub fn record(&mut self, v: u64) {
        self.counts[bucket_of(v)] += 1;
        self.total += 1;
        self.sum += u128::from(v);
        self.max = self.max.max(v);
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Exact mean (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }

    /// Exact maximum.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The `q` quantile (0..=1), at its bucket's midpoint, never above the exact max.
    pub fn quantile(&self, q: f64) -> u64 {
        quantile_of(self.counts.iter().enumerate().map(|(i, c)| (i, *c)), self.total, q).min(self.max)
    }
}

fn quantile_of(buckets: impl Iterator<Item = (usize, u64)>, total: u64, q: f64) -> u64 {
    if total == 0 {
        return 0;
    }
    let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (i, c) in buckets {
        seen += c;
        if seen >= rank {
            let (lo, hi) = bucket_range(i);
            return lo + (hi - lo) / 2;
        }
    }
    0
}

/// A sparse histogram for one time bin.
#[derive(Debug, Clone, Default)]
pub struct SparseHistogram {
    counts: BTreeMap<u16, u32>,
    total: u64,
    max: u64,
}

impl SparseHistogram {
    /// Adds one value.
    pub fn record(&mut self, v: u64) {
        *self.counts.entry(bucket_of(v) as u16).or_insert(0) += 1;
        self.total += 1;
        self.max = self.max.max(v);
    }

    /// The `q` quantile at its bucket's midpoint.
    pub fn quantile(&self, q: f64) -> u64 {
        quantile_of(self.counts.iter().map(|(i, c)| (*i as usize, u64::from(*c))), self.total, q).min(self.max)
    }
}

/// One time bin of an edge's series, ready to draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// Start of the bin, seconds of virtual time.
    pub t_s: f64,
    /// Requests that started in the bin.
    pub requests: u64,
    /// Of those, how many were answered (ok, partial or fallback).
    pub ok: u64,
    /// Of the answered, how many in a degraded way (partial or fallback).
    #[serde(default)]
    pub degraded: u64,
    /// Median latency of every request, ms.
    pub p50_ms: f64,
    /// 99th percentile latency of every request, ms.
    pub p99_ms: f64,
    /// Median latency of the answered requests, ms (none answered: `None`).
    #[serde(default)]
    pub ok_p50_ms: Option<f64>,
    /// 99th percentile of the answered, ms.
    #[serde(default)]
    pub ok_p99_ms: Option<f64>,
    /// 99th percentile of the failed, ms (none failed: `None`): drawn apart, because a failure
    /// that comes fast lowers the latency of "every request" without anything getting better.
    #[serde(default)]
    pub failed_p99_ms: Option<f64>,
}

/// How a request ended, as a series counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Answered in full.
    Ok,
    /// Answered by a fallback or partly.
    Degraded,
    /// Not answered.
    Failed,
}

#[derive(Debug, Clone, Default)]
struct Bin {
    requests: u64,
    ok: u64,
    degraded: u64,
    all: SparseHistogram,
    answered: SparseHistogram,
    failed: SparseHistogram,
}

/// Per-time-bin counts and latencies of one edge.
#[derive(Debug, Clone)]
pub struct Series {
    bin_us: u64,
    bins: BTreeMap<u64, Bin>,
}

impl Series {
    /// A series with bins `bin_us` wide.
    pub fn new(bin_us: u64) -> Self {
        Series { bin_us: bin_us.max(1), bins: BTreeMap::new() }
    }

    /// Adds a request that started at `start_us`, took `latency_us` and ended as `answer`.
    pub fn record(&mut self, start_us: u64, latency_us: u64, answer: Answer) {
        let bin = self.bins.entry(start_us / self.bin_us).or_default();
        bin.requests += 1;
        bin.all.record(latency_us);
        if answer == Answer::Failed {
            bin.failed.record(latency_us);
        } else {
            bin.ok += 1;
            bin.degraded += u64::from(answer == Answer::Degraded);
            bin.answered.record(latency_us);
        }
    }

    /// The bins in time order.
    pub fn points(&self) -> Vec<SeriesPoint> {
        let ms = |h: &SparseHistogram, q: f64| (h.total > 0).then(|| h.quantile(q) as f64 / 1e3);
        self.bins
            .iter()
            .map(|(b, bin)| SeriesPoint {
                t_s: (b * self.bin_us) as f64 / 1e6,
                requests: bin.requests,
                ok: bin.ok,
                degraded: bin.degraded,
                p50_ms: bin.all.quantile(0.5) as f64 / 1e3,
                p99_ms: bin.all.quantile(0.99) as f64 / 1e3,
                ok_p50_ms: ms(&bin.answered, 0.5),
                ok_p99_ms: ms(&bin.answered, 0.99),
                failed_p99_ms: ms(&bin.failed, 0.99),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn buckets_tile_the_line() {
        let mut expected_low = 0;
        for i in 0..bucket_of(u64::MAX / 2) {
            let (lo, hi) = bucket_range(i);
            assert_eq!(lo, expected_low, "bucket {i}");
            assert_eq!(bucket_of(lo), i);
            assert_eq!(bucket_of(hi - 1), i);
            expected_low = hi;
        }
    }

    proptest! {
        #[test]
        fn quantiles_are_within_bucket_error(mut values in proptest::collection::vec(1u64..10_000_000, 1..400), q in 0.0f64..1.0) {
            let mut h = Histogram::default();
            for v in &values { h.record(*v); }
            values.sort_unstable();
            let rank = ((q * values.len() as f64).ceil() as usize).max(1);
            let exact = values[rank - 1] as f64;
            let got = h.quantile(q) as f64;
            prop_assert!((got - exact).abs() <= exact / 32.0 + 1.0, "q={} exact={} got={}", q, exact, got);
            prop_assert_eq!(h.max(), *values.last().unwrap());
        }
    }
}
