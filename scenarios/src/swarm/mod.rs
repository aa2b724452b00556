//! Swarm testing: each seed draws its own fault plan (and chosen knobs) within the ranges a
//! scenario declares (`[swarm]`), so that varying the seed varies the faults, not only the
//! arrivals. As in TigerBeetle's VOPR, a seed first picks which fault kinds are on at all
//! (about half, at least one), then how many faults, then each fault's kind, target, time,
//! length and strength: runs differ in character, not only in detail.
//!
//! The draw is a pure function of the seed and the scenario (its own random stream, `swarm`),
//! and the plan drawn is written into the scenario as run (`scenario.toml`, `failure.json`):
//! a replay runs the recorded faults and needs no swarm. Every fault drawn heals (a crash has a
//! length, a restart is a bounce), with the default ranges before the workload ends, so that
//! the liveness phase after it (`[liveness]`, on by default with a swarm) has a system to judge.

mod file;

use std::time::Duration;

use faultline_sim::rng::stream;
use faultline_sim::{Dist, Fault, FaultKind, FaultPlan, SimSpec, Target};

pub(crate) use file::{names_a_node, read};

/// The ranges a swarm draws from (`[swarm]`; every key has a default from the scenario).
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmSpec {
    /// Fault kinds it may draw (default: every kind but `clock_skew`; `partition` needs two
    /// targets).
    pub kinds: Vec<String>,
    /// Services (or nodes) faults may hit (default: every service).
    pub targets: Vec<String>,
    /// How many faults, at least and at most (default 1..=3).
    pub faults: (u32, u32),
    /// When faults may start, seconds (default: from a tenth to half of the run, so that the
    /// liveness phase has traffic before the faults to compare with).
    pub window_s: (f64, f64),
    /// How long a fault lasts, seconds (default: 0.5 s to a fifth of the run).
    pub length_s: (f64, f64),
    /// Error and loss rates (default 0.05..0.5).
    pub rate: (f64, f64),
    /// Extra latency of a spike, ms (default 10..500).
    pub latency_ms: (f64, f64),
    /// Other keys to draw, each within a range: `--set` paths and (min, max).
    pub knobs: Vec<(String, f64, f64)>,
    /// The services that call each other (caller, callee): a partition is drawn on one of
    /// these when the targets include both ends of one (a partition between services that
    /// never talk does nothing); otherwise between two targets.
    pub calls: Vec<(String, String)>,
}

/// Every kind a swarm may draw.
pub const KINDS: &[&str] =
    &["outage", "error_burst", "latency_spike", "partition", "crash", "restart", "pause", "packet_loss", "clock_skew"];

impl SwarmSpec {
    /// The defaults for `spec`.
    pub fn defaults(spec: &SimSpec) -> SwarmSpec {
        let run = spec.duration.as_secs_f64();
        let targets: Vec<String> = spec.services.iter().map(|s| s.name.clone()).collect();
        let kinds = KINDS
            .iter()
            .filter(|k| **k != "clock_skew" && (**k != "partition" || targets.len() >= 2))
            .map(|k| (*k).to_owned())
            .collect();
        SwarmSpec {
            kinds,
            targets,
            faults: (1, 3),
            window_s: (run * 0.1, run * 0.5),
            length_s: (0.5_f64.min(run * 0.05), run * 0.2),
            rate: (0.05, 0.5),
            latency_ms: (10.0, 500.0),
            knobs: Vec::new(),
            calls: spec.call_edges().into_iter().filter(|(from, _)| from != faultline_sim::spec::CLIENT).collect(),
        }
    }

    /// The plan and knob values seed `seed` draws (`attempt` > 0: a draw again, from another
    /// stream of the same seed, when the knob values of the first made an invalid scenario).
    pub fn draw(&self, seed: u64, attempt: u32) -> (FaultPlan, Vec<String>) {
        let label = if attempt == 0 { "swarm".to_owned() } else { format!("swarm/{attempt}") };
        let mut rng = stream(seed, &label);
        let mut on: Vec<&String> = self.kinds.iter().filter(|_| rng.chance(0.5)).collect();
        if on.is_empty() {
            on.push(&self.kinds[rng.below(self.kinds.len() as u64) as usize]);
        }
        let (lo, hi) = self.faults;
        let n = lo + rng.below(u64::from(hi - lo) + 1) as u32;
        let mut uniform = |(a, b): (f64, f64)| a + (b - a) * rng.unit();
        let mut faults = Vec::new();
        for _ in 0..n {
            let kind = on[(uniform((0.0, on.len() as f64)) as usize).min(on.len() - 1)].as_str();
            let at = ms(uniform(self.window_s));
            let length = ms(uniform(self.length_s).max(0.001));
            let pick =
                |u: f64| self.targets[((u * self.targets.len() as f64) as usize).min(self.targets.len() - 1)].clone();
            let links: Vec<&(String, String)> =
                self.calls.iter().filter(|(a, b)| self.targets.contains(a) && self.targets.contains(b)).collect();
            let target = if kind == "partition" {
                let (u, v, both) = (uniform((0.0, 1.0)), uniform((0.0, 1.0)), uniform((0.0, 1.0)) < 0.5);
                let (a, b) = if links.is_empty() {
                    let a = pick(u);
                    let others: Vec<&String> = self.targets.iter().filter(|t| **t != a).collect();
                    (a, others[((v * others.len() as f64) as usize).min(others.len() - 1)].clone())
                } else {
                    links[((u * links.len() as f64) as usize).min(links.len() - 1)].clone()
                };
                Target::Link { from: a, to: b, both }
            } else {
                Target::Node(pick(uniform((0.0, 1.0))))
            };
            let rate = (uniform(self.rate) * 1000.0).round() / 1000.0;
            let latency = Duration::from_millis(uniform(self.latency_ms).round().max(1.0) as u64);
            let skew = (uniform((-2000.0, 2000.0))).round() as i64;
            let kind = match kind {
                "outage" => FaultKind::Outage,
                "error_burst" => FaultKind::ErrorBurst { rate },
                "latency_spike" => FaultKind::LatencySpike { add: Dist::Const(latency) },
                "partition" => FaultKind::Partition,
                "crash" => FaultKind::Crash,
                "restart" => FaultKind::Restart,
                "pause" => FaultKind::Pause,
                "packet_loss" => FaultKind::PacketLoss { rate },
                _ => FaultKind::ClockSkew { offset_ms: skew },
            };
            let duration = (kind != FaultKind::Restart).then_some(length);
            faults.push(Fault::new(kind, target, at, duration));
        }
        faults.sort_by_key(|f| f.at);
        let knobs =
            self.knobs.iter().map(|(key, a, b)| format!("{key}={}", knob_value(uniform((*a, *b)), *a, *b))).collect();
        (FaultPlan(faults), knobs)
    }
}

/// A knob's value as written: a whole number when its range is of whole numbers, else to three
/// decimals.
pub fn knob_value(v: f64, a: f64, b: f64) -> String {
    if a.fract() == 0.0 && b.fract() == 0.0 {
        format!("{}", v.round() as i64)
    } else {
        format!("{}", (v * 1000.0).round() / 1000.0)
    }
}

/// A number of seconds, to the millisecond.
fn ms(s: f64) -> Duration {
    Duration::from_millis((s * 1000.0).round() as u64)
}
