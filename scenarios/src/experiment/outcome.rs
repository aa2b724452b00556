//! What one seed of an experiment measured: the figures a sweep writes per seed and a
//! comparison pairs across variants.
//!
//! **Time to recover** after a fault: from the fault's end to the start of the first time bin
//! of the entry edge's series (a 120th of the run's duration: 1 s for a 2-minute run) that ends after the fault and in
//! which the share of answered requests is back to at least [`RECOVERED_SHARE`] of the
//! baseline: the share answered in the bins that end before the first fault starts (1 when no
//! bin does). 0 when the bin in which the fault ends already qualifies. A run that never
//! recovers counts until the end of its last bin (censored: "at least this long").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use faultline_sim::stats::SeriesPoint;
use faultline_sim::verdict::Status;
use faultline_sim::{series_bin, Execution, FaultWindow};

/// A bin counts as recovered at this share of the baseline's success rate.
pub const RECOVERED_SHARE: f64 = 0.95;

/// One checker's result on one seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The checker's short name (`S1`, `O2`, `stall`...).
    pub checker: String,
    /// How many violations (0: it held).
    pub violations: u64,
    /// The first violation in words, if any.
    pub first: Option<String>,
}

/// One bin of the entry edge over virtual time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    /// Start of the bin, virtual s.
    pub t_s: f64,
    /// Share of the bin's requests answered.
    pub success: f64,
    /// 99th percentile latency in the bin, ms (every request).
    pub p99_ms: f64,
    /// 99th percentile latency of the bin's answered requests, ms (none answered: `None`): what
    /// charts draw, since fast failures lower the latency of "every request".
    #[serde(default)]
    pub ok_p99_ms: Option<f64>,
}

/// The figures of one seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedResult {
    /// The seed.
    pub seed: u64,
    /// The run's fingerprint.
    pub fingerprint: String,
    /// Requests on the entry edge (the clients' requests).
    pub requests: u64,
    /// Share of them answered (ok, partial or fallback).
    pub success: f64,
    /// Share answered in a degraded way (partial or fallback).
    pub degraded: f64,
    /// Entry-edge latency percentiles and maximum, ms.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Maximum.
    pub max_ms: f64,
    /// Mean latency of every client request whatever its outcome, ms.
    #[serde(default)]
    pub mean_ms: f64,
    /// Calls on every edge per client request (amplification; 1 + hops for a bare chain).
    pub calls_per_request: f64,
    /// The most client requests in flight at once.
    pub peak_in_flight: u64,
    /// Nodes that served requests (the replicas of every service that admitted one): the
    /// resources a configuration uses.
    #[serde(default)]
    pub nodes: u64,
    /// Time to recover after each fault, in the plan's order, s (see the module docs).
    pub recovery_s: Vec<f64>,
    /// Calls recorded per edge (`caller->callee`), e.g. the load a cache keeps off a database.
    #[serde(default)]
    pub edge_calls: BTreeMap<String, u64>,
    /// Share answered per edge.
    #[serde(default)]
    pub edge_success: BTreeMap<String, f64>,
    /// Share of the client requests answered, per workload route.
    #[serde(default)]
    pub route_success: BTreeMap<String, f64>,
    /// Latency per edge (`caller->callee`) and per workload route (`/path`): mean, median and
    /// 99th percentile, ms.
    #[serde(default)]
    pub latency_ms: BTreeMap<String, [f64; 3]>,
    /// Attempts per edge (retries and hedges included; a cache hit makes none): the load the
    /// callee receives.
    #[serde(default)]
    pub edge_attempts: BTreeMap<String, u64>,
    /// The run's measured values (`read_model_lag_max`...: see `checkers::measures`).
    #[serde(default)]
    pub measures: BTreeMap<String, f64>,
    /// Every checker that applied.
    pub checks: Vec<CheckResult>,
    /// Virtual seconds the run lasted.
    pub virtual_s: f64,
    /// The entry edge over virtual time.
    pub series: Vec<Bin>,
}

impl SeedResult {
    /// The figures of `run`, a run of `seed`.
    pub fn of(run: &Execution) -> SeedResult {
        let o = &run.output;
        let entry = o.edges.first();
        let get = |f: fn(&faultline_sim::EdgeSummary) -> f64| entry.map_or(0.0, f);
        let requests = entry.map_or(0, |e| e.requests);
        let all_calls: u64 = o.edges.iter().map(|e| e.requests).sum();
        let points = entry.map_or(&[][..], |e| &e.series[..]);
        let bin_s = series_bin(std::time::Duration::from_secs_f64(o.duration_s)).as_secs_f64();
        SeedResult {
            seed: o.seed,
            fingerprint: o.fingerprint.clone(),
            requests,
            success: get(|e| e.success_rate),
            degraded: get(|e| e.degraded_rate),
            p50_ms: get(|e| e.p50_ms),
            p99_ms: get(|e| e.p99_ms),
            p999_ms: get(|e| e.p999_ms),
            max_ms: get(|e| e.max_ms),
            mean_ms: get(|e| e.mean_ms),
            calls_per_request: if requests == 0 { 0.0 } else { all_calls as f64 / requests as f64 },
            peak_in_flight: o.peak_in_flight,
            nodes: o.services.iter().filter(|s| s.admitted > 0).map(|s| u64::from(s.replicas)).sum(),
            edge_calls: o.edges.iter().map(|e| (e.edge.clone(), e.requests)).collect(),
            edge_success: o.edges.iter().map(|e| (e.edge.clone(), e.success_rate)).collect(),
            // A route with no request measured nothing (its share was 0).
            route_success: o
                .routes
                .iter()
                .filter(|r| r.requests > 0)
                .map(|r| (r.route.clone(), r.success_rate))
                .collect(),
            latency_ms: o
                .edges
                .iter()
                .map(|e| (e.edge.clone(), [e.mean_ms, e.p50_ms, e.p99_ms]))
                .chain(
                    o.routes
                        .iter()
                        .filter(|r| r.requests > 0)
                        .map(|r| (r.route.clone(), [r.mean_ms, r.p50_ms, r.p99_ms])),
                )
                .collect(),
            measures: run.measures.values.clone(),
            edge_attempts: o
                .edges
                .iter()
                .map(|e| (e.edge.clone(), (e.requests as f64 * e.mean_attempts).round() as u64))
                .collect(),
            recovery_s: o.faults.iter().map(|f| recovery(points, bin_s, f, &o.faults)).collect(),
            checks: run
                .verdict
                .checks
                .iter()
                .map(|c| CheckResult {
                    checker: c.checker.clone(),
                    violations: if c.status == Status::Held { 0 } else { c.violations.max(1) },
                    first: c.evidence.first().map(|e| format!("{} {}", c.checker, e.describe())),
                })
                .collect(),
            virtual_s: o.end_s,
            series: points.iter().map(bin).collect(),
        }
    }

    /// True when every check held.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.violations == 0)
    }

    /// Violations over every check.
    pub fn violations(&self) -> u64 {
        self.checks.iter().map(|c| c.violations).sum()
    }
}

fn bin(p: &SeriesPoint) -> Bin {
    let success = if p.requests == 0 { 1.0 } else { p.ok as f64 / p.requests as f64 };
    Bin { t_s: p.t_s, success, p99_ms: p.p99_ms, ok_p99_ms: p.ok_p99_ms }
}

/// Time to recover after `fault` (see the module docs).
fn recovery(points: &[SeriesPoint], bin_s: f64, fault: &FaultWindow, all: &[FaultWindow]) -> f64 {
    let first_fault = all.iter().map(|f| f.start_s).fold(f64::INFINITY, f64::min);
    let (mut ok, mut n) = (0u64, 0u64);
    for p in points.iter().filter(|p| p.t_s + bin_s <= first_fault) {
        ok += p.ok;
        n += p.requests;
    }
    let baseline = if n == 0 { 1.0 } else { ok as f64 / n as f64 };
    let mut last_end = fault.end_s;
    for p in points.iter().filter(|p| p.t_s + bin_s > fault.end_s && p.requests > 0) {
        if p.ok as f64 / p.requests as f64 >= RECOVERED_SHARE * baseline {
            return (p.t_s - fault.end_s).max(0.0);
        }
        last_end = p.t_s + bin_s;
    }
    (last_end - fault.end_s).max(0.0)
}
