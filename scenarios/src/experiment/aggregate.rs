//! A sweep's results as tables and a summary: `seeds.csv` rows (one per seed, the same bytes
//! whatever the threads or shards) and aggregates over seeds (mean with a 95% bootstrap CI,
//! quantiles), with the failing seeds and the commands that replay them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::compare::metrics;
use super::outcome::SeedResult;
use super::stats::{bootstrap_mean_ci, mean, quantile};
use crate::Scenario;

/// The columns of `seeds.csv` for results with these checkers and this many faults.
pub fn seeds_header(checkers: &[String], faults: usize) -> Vec<String> {
    let mut h: Vec<String> = [
        "seed",
        "fingerprint",
        "requests",
        "success",
        "degraded",
        "p50_ms",
        "p99_ms",
        "p999_ms",
        "max_ms",
        "calls_per_request",
        "peak_in_flight",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    h.extend((1..=faults).map(|i| format!("recovery_s_{i}")));
    h.extend(checkers.iter().map(|c| format!("check_{c}")));
    h.push("violations".to_owned());
    h.push("virtual_s".to_owned());
    h
}

/// The checkers that applied to any of `results`, in their first order of appearance.
pub fn checkers(results: &[SeedResult]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for c in results.iter().flat_map(|r| &r.checks) {
        if !names.contains(&c.checker) {
            names.push(c.checker.clone());
        }
    }
    names
}

/// One `seeds.csv` row (see [`seeds_header`]); a checker that did not apply is empty.
pub fn seeds_row(r: &SeedResult, checkers: &[String], faults: usize) -> Vec<String> {
    let f = |x: f64| format!("{x:.6}");
    let ms = |x: f64| format!("{x:.3}");
    let mut row = vec![
        r.seed.to_string(),
        r.fingerprint.clone(),
        r.requests.to_string(),
        f(r.success),
        f(r.degraded),
        ms(r.p50_ms),
        ms(r.p99_ms),
        ms(r.p999_ms),
        ms(r.max_ms),
        f(r.calls_per_request),
        r.peak_in_flight.to_string(),
    ];
    row.extend((0..faults).map(|i| r.recovery_s.get(i).map_or(String::new(), |x| format!("{x:.3}"))));
    for c in checkers {
        row.push(r.checks.iter().find(|k| &k.checker == c).map_or(String::new(), |k| {
            if k.violations == 0 {
                "held".to_owned()
            } else {
                "violated".to_owned()
            }
        }));
    }
    row.push(r.violations().to_string());
    row.push(format!("{:.3}", r.virtual_s));
    row
}

/// A metric over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aggregate {
    /// The metric (a `seeds.csv` column).
    pub metric: String,
    /// Mean over seeds.
    pub mean: f64,
    /// 95% percentile bootstrap CI of the mean.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
    /// Smallest.
    pub min: f64,
    /// Quartiles and the 90th percentile over seeds.
    pub p25: f64,
    /// Median over seeds.
    pub p50: f64,
    /// Third quartile.
    pub p75: f64,
    /// 90th percentile.
    pub p90: f64,
    /// Largest.
    pub max: f64,
}

/// A failing seed, to replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failing {
    /// The seed.
    pub seed: u64,
    /// The first violation, in words.
    pub first_violation: String,
    /// The command that replays it.
    pub reproduce: String,
}

/// A sweep's summary (`summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSummary {
    /// Scenario name.
    pub scenario: String,
    /// Seeds swept, e.g. `1..20`.
    pub seeds: String,
    /// How many seeds ran.
    pub runs: usize,
    /// True when every check held on every seed.
    pub passed: bool,
    /// Seeds on which a check was violated, in seed order, with their replay command.
    pub failing: Vec<Failing>,
    /// Per checker: how many seeds violated it.
    pub checks: BTreeMap<String, u64>,
    /// Per metric (the `seeds.csv` columns that are figures), in that order: aggregates over
    /// seeds.
    pub metrics: Vec<Aggregate>,
}

/// Summarises `results` (in seed order) of `scenario` over the seeds named `seeds`;
/// `program` prefixes the replay commands (`faultline`).
pub fn summarise(scenario: &Scenario, seeds: &str, results: &[SeedResult], program: &str) -> SweepSummary {
    let failing = results
        .iter()
        .filter(|r| !r.passed())
        .map(|r| Failing {
            seed: r.seed,
            first_violation: r.checks.iter().find_map(|c| c.first.clone()).unwrap_or_default(),
            reproduce: format!("{program} {}", scenario.with_seed(r.seed).reproduce_args()),
        })
        .collect::<Vec<_>>();
    let mut checks = BTreeMap::new();
    for c in results.iter().flat_map(|r| &r.checks) {
        *checks.entry(c.checker.clone()).or_insert(0) += u64::from(c.violations > 0);
    }
    let faults = results.first().map_or(0, |r| r.recovery_s.len());
    let mut metrics_out = Vec::new();
    for (m, read) in metrics(faults) {
        let xs: Vec<f64> = results.iter().map(&read).filter(|x| x.is_finite()).collect();
        if xs.is_empty() {
            continue;
        }
        let (ci_low, ci_high) = bootstrap_mean_ci(&xs, &format!("sweep/{}", m.name));
        let q = |p| quantile(&xs, p);
        let agg = Aggregate {
            metric: m.name,
            mean: mean(&xs),
            ci_low,
            ci_high,
            min: q(0.0),
            p25: q(0.25),
            p50: q(0.5),
            p75: q(0.75),
            p90: q(0.9),
            max: q(1.0),
        };
        metrics_out.push(agg);
    }
    SweepSummary {
        scenario: scenario.spec.name.clone(),
        seeds: seeds.to_owned(),
        runs: results.len(),
        passed: failing.is_empty(),
        failing,
        checks,
        metrics: metrics_out,
    }
}
