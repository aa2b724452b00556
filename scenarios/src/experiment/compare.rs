//! Variants of a system on the same seeds, compared pair by pair against the first (the base).
//!
//! Every variant runs every seed, and a seed fixes the workload and the fault schedule whatever
//! the patterns do (common random numbers: arrivals, keys and fault times come from streams the
//! patterns never draw from), so the per-seed difference between a variant and the base is the
//! effect of the change plus far less noise than two independent samples would carry. For each
//! metric: the mean of the per-seed differences, a percentile bootstrap 95% CI over seeds, a
//! Wilcoxon signed-rank p-value, and a finding.
//!
//! **Finding.** A difference is *better* or *worse* (by the metric's direction) only when its
//! whole 95% CI lies beyond the noise band on one side of zero **and** the Wilcoxon p-value is
//! below 0.05; otherwise *no detectable difference*. The noise band is the larger of 1% of the
//! base's mean and the metric's floor (e.g. 0.1 percentage point of success, 0.1 ms): smaller
//! differences are not worth a verdict whatever their CI. With 5 seeds or fewer and no ties
//! the Wilcoxon test cannot reach 0.05, so no finding is better or worse: run more seeds.

use serde::{Deserialize, Serialize};

use super::outcome::SeedResult;
use super::stats::{bootstrap_mean_ci, mean, wilcoxon};

/// Which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// More is better (success).
    Higher,
    /// Less is better (latency, amplification, violations).
    Lower,
}

/// A figure compared across variants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Its name, as in `seeds.csv`.
    pub name: String,
    /// What it is, in words.
    pub what: String,
    /// Which way is better.
    pub better: Direction,
    /// The smallest difference worth a verdict, in the metric's unit.
    pub floor: f64,
}

/// The verdict on one difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// Better than the base, beyond noise.
    Better,
    /// Worse than the base, beyond noise.
    Worse,
    /// Within noise, or not significant.
    NoDetectableDifference,
}

impl Finding {
    /// How it is printed.
    pub fn as_str(&self) -> &'static str {
        match self {
            Finding::Better => "better",
            Finding::Worse => "worse",
            Finding::NoDetectableDifference => "no detectable difference",
        }
    }
}

/// One metric, one variant against the base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// The metric.
    pub metric: Metric,
    /// The variant's name.
    pub variant: String,
    /// Means over the seeds.
    pub base_mean: f64,
    /// The variant's mean.
    pub variant_mean: f64,
    /// Mean of the per-seed differences (variant - base).
    pub mean_diff: f64,
    /// Its 95% percentile bootstrap CI.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
    /// Wilcoxon signed-rank two-sided p-value.
    pub p_value: f64,
    /// The noise band used (see the module docs).
    pub noise_band: f64,
    /// Seeds paired.
    pub seeds: usize,
    /// The finding.
    pub finding: Finding,
}

fn metric(name: &str, what: &str, better: Direction, floor: f64) -> Metric {
    Metric { name: name.to_owned(), what: what.to_owned(), better, floor }
}

/// Reads one metric from a seed's result.
pub type Read = Box<dyn Fn(&SeedResult) -> f64>;

/// The metrics compared, with a way to read each from a seed's result. Time to recover comes
/// once per fault of the plan (`recovery_s_1`...), when every variant has the same faults.
pub fn metrics(faults: usize) -> Vec<(Metric, Read)> {
    use Direction::{Higher, Lower};
    let mut m: Vec<(Metric, Read)> = vec![
        (metric("success", "share of client requests answered (goodput)", Higher, 0.001), Box::new(|r| r.success)),
        (metric("degraded", "share answered by a fallback or partly", Lower, 0.001), Box::new(|r| r.degraded)),
        (metric("p50_ms", "client median latency, ms", Lower, 0.1), Box::new(|r| r.p50_ms)),
        (metric("p99_ms", "client 99th percentile latency, ms", Lower, 0.1), Box::new(|r| r.p99_ms)),
        (metric("p999_ms", "client 99.9th percentile latency, ms", Lower, 0.1), Box::new(|r| r.p999_ms)),
        (
            metric("calls_per_request", "calls on every edge per client request (amplification)", Lower, 0.01),
            Box::new(|r| r.calls_per_request),
        ),
        (
            metric("peak_in_flight", "most client requests in flight at once", Lower, 1.0),
            Box::new(|r| r.peak_in_flight as f64),
        ),
        (metric("violations", "checker violations", Lower, 0.5), Box::new(|r| r.violations() as f64)),
    ];
    for i in 0..faults {
        let what = format!("time to recover after fault {}, s", i + 1);
        let read = move |r: &SeedResult| r.recovery_s.get(i).copied().unwrap_or(f64::NAN);
        m.push((metric(&format!("recovery_s_{}", i + 1), &what, Lower, 0.5), Box::new(read)));
    }
    m
}

/// Pairs `variant` with `base` seed by seed (both in the same seed order) on every metric.
pub fn differences(base: &[SeedResult], variant_name: &str, variant: &[SeedResult]) -> Vec<Difference> {
    let faults = base.first().map_or(0, |r| r.recovery_s.len());
    let same_faults = variant.iter().chain(base).all(|r| r.recovery_s.len() == faults);
    metrics(if same_faults { faults } else { 0 })
        .into_iter()
        .map(|(m, read)| paired(m, &read, base, variant_name, variant))
        .collect()
}

/// A metric by name: one of [`metrics`]' (with `recovery_s_N` for any N), `mean_ms`,
/// `calls:A->B` (calls on that edge per client request, whoever answered them),
/// `attempts:A->B` (attempts on it per client request: retries and hedges count, cache hits
/// do not: the load on B from A), `success:A->B` (the share of its calls answered),
/// `mean:X`, `p50:X`, `p99:X` (latency on edge `A->B` or workload route `/PATH`),
/// `route:/PATH` (the share of the client requests on a workload route answered),
/// `measure:NAME` (a value the run measured, such as `read_model_lag_max`; 0 in a run without
/// it) or `check:NAME` (violations of one checker). `None` for any other name.
pub fn metric_named(name: &str) -> Option<(Metric, Read)> {
    use Direction::Lower;
    if name == "mean_ms" {
        return Some((metric(name, "client mean latency, ms", Lower, 0.1), Box::new(|r| r.mean_ms)));
    }
    if name == "nodes" {
        return Some((metric(name, "nodes that served requests", Lower, 0.5), Box::new(|r| r.nodes as f64)));
    }
    for (prefix, attempts) in [("calls:", false), ("attempts:", true)] {
        if let Some(edge) = name.strip_prefix(prefix) {
            let edge = edge.to_owned();
            let what = format!("{} on {edge} per client request", if attempts { "attempts" } else { "calls" });
            let read = move |r: &SeedResult| {
                let per_edge = if attempts { &r.edge_attempts } else { &r.edge_calls };
                let n = per_edge.get(&edge).copied().unwrap_or(0);
                if r.requests == 0 {
                    0.0
                } else {
                    n as f64 / r.requests as f64
                }
            };
            return Some((metric(name, &what, Lower, 0.001), Box::new(read)));
        }
    }
    if let Some(edge) = name.strip_prefix("success:") {
        let edge = edge.to_owned();
        let what = format!("share of the calls on {edge} answered");
        let read = move |r: &SeedResult| r.edge_success.get(&edge).copied().unwrap_or(0.0);
        return Some((metric(name, &what, Direction::Higher, 0.001), Box::new(read)));
    }
    if let Some(route) = name.strip_prefix("route:") {
        let route = route.to_owned();
        let what = format!("share of the client requests on route {route} answered");
        let read = move |r: &SeedResult| r.route_success.get(&route).copied().unwrap_or(0.0);
        return Some((metric(name, &what, Direction::Higher, 0.001), Box::new(read)));
    }
    for (prefix, i, label) in [("mean:", 0, "mean"), ("p50:", 1, "median"), ("p99:", 2, "99th percentile")] {
        if let Some(at) = name.strip_prefix(prefix) {
            let at = at.to_owned();
            let on = if at.starts_with('/') { "route" } else { "edge" };
            let what = format!("{label} latency on {on} {at}, ms");
            let read = move |r: &SeedResult| r.latency_ms.get(&at).map_or(0.0, |l| l[i]);
            return Some((metric(name, &what, Lower, 0.1), Box::new(read)));
        }
    }
    if let Some(measure) = name.strip_prefix("measure:") {
        let measure = measure.to_owned();
        let what = format!("the run's {measure}");
        // A run without it (a base with no read model) has none of it: 0 lag.
        let read = move |r: &SeedResult| r.measures.get(&measure).copied().unwrap_or(0.0);
        return Some((metric(name, &what, Lower, 0.001), Box::new(read)));
    }
    if let Some(check) = name.strip_prefix("check:") {
        let check = check.to_owned();
        let what = format!("violations of the {check} check");
        let read = move |r: &SeedResult| {
            r.checks.iter().filter(|c| c.checker == check).map(|c| c.violations).sum::<u64>() as f64
        };
        return Some((metric(name, &what, Lower, 0.5), Box::new(read)));
    }
    if let Some(n) = name.strip_prefix("recovery_s_").and_then(|n| n.parse::<usize>().ok()) {
        if n == 0 || n > 10_000 {
            return None;
        }
        let what = format!("time to recover after fault {n}, s");
        let read = move |r: &SeedResult| r.recovery_s.get(n - 1).copied().unwrap_or(f64::NAN);
        return Some((metric(name, &what, Lower, 0.5), Box::new(read)));
    }
    metrics(0).into_iter().find(|(m, _)| m.name == name)
}

/// Whether seed `r` has the figure `name` reads (an edge it crossed, a check that ran, a route of
/// its workload, a fault of that number): a metric nobody measured must not read as 0.
pub fn measured(name: &str, r: &SeedResult) -> bool {
    let Some((kind, arg)) = name.split_once(':') else {
        return match name.strip_prefix("recovery_s_").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => r.recovery_s.len() >= n,
            None => true,
        };
    };
    match kind {
        "calls" | "attempts" | "success" => r.edge_calls.contains_key(arg),
        "mean" | "p50" | "p99" => r.latency_ms.contains_key(arg),
        "measure" => r.measures.contains_key(arg),
        "route" => r.route_success.contains_key(arg),
        "check" => r.checks.iter().any(|c| c.checker == arg),
        _ => false,
    }
}

/// One metric of `variant` paired with `base` seed by seed.
pub fn paired(m: Metric, read: &Read, base: &[SeedResult], variant_name: &str, variant: &[SeedResult]) -> Difference {
    let b: Vec<f64> = base.iter().map(read).collect();
    let v: Vec<f64> = variant.iter().map(read).collect();
    let d: Vec<f64> = b.iter().zip(&v).map(|(b, v)| v - b).collect();
    let (ci_low, ci_high) = bootstrap_mean_ci(&d, &format!("{variant_name}/{}", m.name));
    let base_mean = mean(&b);
    let noise_band = (0.01 * base_mean.abs()).max(m.floor);
    let p_value = wilcoxon(&d).p_value;
    let finding = finding(m.better, (ci_low, ci_high), noise_band, p_value);
    Difference {
        variant: variant_name.to_owned(),
        base_mean,
        variant_mean: mean(&v),
        mean_diff: mean(&d),
        ci_low,
        ci_high,
        p_value,
        noise_band,
        seeds: d.len(),
        finding,
        metric: m,
    }
}

fn finding(better: Direction, (lo, hi): (f64, f64), band: f64, p: f64) -> Finding {
    let up = lo > band;
    let down = hi < -band;
    if p >= 0.05 || !(up || down) {
        return Finding::NoDetectableDifference;
    }
    match (better, up) {
        (Direction::Higher, true) | (Direction::Lower, false) => Finding::Better,
        _ => Finding::Worse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_need_the_whole_interval_beyond_the_band_and_significance() {
        use Direction::*;
        assert_eq!(finding(Higher, (0.02, 0.05), 0.01, 0.01), Finding::Better);
        assert_eq!(finding(Lower, (0.02, 0.05), 0.01, 0.01), Finding::Worse);
        assert_eq!(finding(Lower, (-5.0, -2.0), 1.0, 0.001), Finding::Better);
        assert_eq!(finding(Higher, (0.005, 0.05), 0.01, 0.01), Finding::NoDetectableDifference);
        assert_eq!(finding(Higher, (0.02, 0.05), 0.01, 0.06), Finding::NoDetectableDifference);
        assert_eq!(finding(Higher, (-0.02, 0.05), 0.01, 0.01), Finding::NoDetectableDifference);
    }
}
