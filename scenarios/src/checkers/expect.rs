//! What a scenario expects to happen, besides its invariants: that every scheduled fault did
//! something (a fault that hit an idle node, or started after the traffic, tested nothing), and
//! the scenario's `sometimes` expectations ("the breaker opens at least once", "some saga
//! compensates"), which fail a run where they never happened.
//!
//! A fault that affected nothing is a warning in the verdict; with `strict` it is a violation of
//! the `faults` check. The counts come from the simulator (`RunOutput::fault_effects`); this
//! module only places them in `events.csv` (at the fault's `fault.start` line).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use faultline_sim::event::EventKind;
use faultline_sim::verdict::{Check, Status, Verdict};
use faultline_sim::{FaultEffect, Logged};

use super::{Findings, Invariant, Monitor, Nodes, Place};

/// A scenario's expectations beyond the invariants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectations {
    /// A fault that affected nothing fails the run (the `faults` check) instead of warning.
    pub strict: bool,
    /// Things that must happen at least a few times.
    pub sometimes: Vec<Sometimes>,
    /// The liveness phase's budget: once every fault has healed, the system must be back
    /// within it (the `converge` check); `None`: no liveness phase.
    pub liveness: Option<std::time::Duration>,
    /// What the file called each fault of the plan, by index: `faults[2]`, or `storms[1]
    /// (swizzle_clog)` for a storm's; empty for a spec built in code.
    pub fault_names: Vec<String>,
}

/// "This event happens at least `at_least` times (on `node`)".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sometimes {
    /// An event kind as `events.csv` names it, e.g. `breaker.open` or `retry.gave_up`.
    pub event: String,
    /// A service or node name the event must happen on (any when `None`).
    pub node: Option<String>,
    /// How many times at least (1 or more).
    pub at_least: u64,
}

impl Sometimes {
    fn matches(&self, name: &str, node: &str) -> bool {
        name == self.event
            && self
                .node
                .as_deref()
                .is_none_or(|want| node == want || node.strip_prefix(want).is_some_and(|rest| rest.starts_with('-')))
    }

    fn describe(&self) -> String {
        let on = self.node.as_deref().map_or(String::new(), |n| format!(" on {n}"));
        format!("{}{on} at least {} time{}", self.event, self.at_least, if self.at_least == 1 { "" } else { "s" })
    }
}

/// Every event kind a run can record (`events.csv`'s `kind`), for checking `[[sometimes]]`.
/// `tests/expectations.rs` checks that every kind the catalog's runs record is here.
pub const EVENT_KINDS: &[&str] = &[
    "run.start",
    "run.end",
    "fault.start",
    "fault.end",
    "node.crash",
    "node.restart",
    "liveness.restart",
    "startup.begin",
    "readiness.up",
    "readiness.down",
    "deadline.expired_on_arrival",
    "sim.stall",
    "service.executed",
    "saga.record",
    "saga.resume",
    "saga.op_failed",
    "saga.parked",
    "participant.effect",
    "participant.refused",
    "stock.take",
    "stock.out",
    "stock.return",
    "stock.locked",
    "stock.confirm",
    "change.commit",
    "broker.publish",
    "consumer.apply",
    "es.append",
    "es.conflict",
    "es.load",
    "projection.apply",
    "adaptive.decreased",
    "adaptive.limited",
    "balance.no_endpoint",
    "balance.ejected",
    "balance.returned",
    "breaker.closed",
    "breaker.open",
    "breaker.half_open",
    "breaker.disabled",
    "breaker.forced_open",
    "breaker.metrics_only",
    "bulkhead.full",
    "bulkhead.wait_timeout",
    "cache.early_refresh",
    "cache.stale_served",
    "chaos.error",
    "chaos.latency",
    "deadline.expired",
    "discovery.changed",
    "fallback.used",
    "health.up",
    "health.down",
    "hedge.sent",
    "hedge.won",
    "rate_limiter.refused",
    "retry.scheduled",
    "retry.gave_up",
    "retry.budget_exhausted",
    "throttle.rejected",
    "timeout.fired",
];

const SOMETIMES: &[Invariant] =
    &[Invariant { id: "sometimes", statement: "every `sometimes` expectation of the scenario happened" }];

/// Counts the events each expectation names.
pub struct SometimesChecker {
    expect: Vec<Sometimes>,
    counts: Vec<u64>,
    end: Option<Place>,
    nodes: Nodes,
    name: String,
}

impl SometimesChecker {
    /// A checker of `expect`.
    pub fn new(expect: Vec<Sometimes>) -> Self {
        let counts = vec![0; expect.len()];
        SometimesChecker { expect, counts, end: None, nodes: Nodes::default(), name: String::new() }
    }
}

impl Monitor for SometimesChecker {
    fn invariants(&self) -> &'static [Invariant] {
        SOMETIMES
    }

    fn on_event(&mut self, e: &Logged<'_>) {
        if let EventKind::RunEnd { .. } = e.kind {
            self.end = Some(self.nodes.place(e));
        }
        self.name.clear();
        e.kind.write_name(&mut self.name);
        for (i, s) in self.expect.iter().enumerate() {
            if s.matches(&self.name, e.node) {
                self.counts[i] += 1;
            }
        }
    }

    fn finish(&mut self, findings: &mut Findings) {
        let end = self.end.clone().unwrap_or(Place { line: 0, t_us: 0, node: "sim".into() });
        for (s, &n) in self.expect.iter().zip(&self.counts) {
            if n < s.at_least {
                let seen =
                    if n == 0 { "never".to_owned() } else { format!("{n} time{}", if n == 1 { "" } else { "s" }) };
                findings.violations.push(end.violation("sometimes", format!("expected {}, seen {seen}", s.describe())));
            }
        }
    }
}

/// Where each fault started in `events.csv`, for the `faults` check's evidence.
#[derive(Clone, Default)]
pub struct FaultStarts(Arc<Mutex<BTreeMap<usize, Place>>>);

impl Monitor for FaultStarts {
    fn invariants(&self) -> &'static [Invariant] {
        &[]
    }

    fn on_event(&mut self, e: &Logged<'_>) {
        if let EventKind::FaultStart { id, .. } = e.kind {
            let place = Place { line: e.line, t_us: e.t_us, node: e.node.into() };
            self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(*id, place);
        }
    }

    fn finish(&mut self, _findings: &mut Findings) {}
}

/// Adds to `verdict` what the faults did not do: a warning per fault that affected nothing, or,
/// when `strict`, the `faults` check (held when every fault affected something).
pub fn judge_faults(verdict: &mut Verdict, effects: &[FaultEffect], starts: &FaultStarts, expect: &Expectations) {
    let strict = expect.strict;
    let starts = starts.0.lock().unwrap_or_else(|p| p.into_inner());
    let idle: Vec<(Option<&Place>, String)> = effects
        .iter()
        .filter(|e| e.affected() == 0)
        .map(|e| {
            let why = if starts.contains_key(&e.id) {
                "no message dropped, call failed or slowed, node hit or clock read while it was active"
            } else {
                "it never started: the run ended first"
            };
            // A storm's fault is named as the file has it: the storm, not the fault it became.
            let name = match expect.fault_names.get(e.id) {
                Some(n) if n.starts_with("storms[") => format!("{n}: {} on {}", e.kind, e.target),
                _ => e.name(),
            };
            (starts.get(&e.id), format!("{name} affected nothing: {why}"))
        })
        .collect();
    if !strict {
        verdict.warnings.extend(idle.into_iter().map(|(_, w)| w));
        return;
    }
    if effects.is_empty() {
        return;
    }
    let found: Vec<Place> =
        idle.iter().map(|(p, _)| p.cloned().unwrap_or(Place { line: 0, t_us: 0, node: "sim".into() })).collect();
    verdict.checks.push(Check {
        checker: "faults".to_owned(),
        invariant: "every scheduled fault affected something (strict)".to_owned(),
        status: if idle.is_empty() { Status::Held } else { Status::Violated },
        violations: idle.len() as u64,
        evidence: idle
            .iter()
            .zip(&found)
            .take(Check::EVIDENCE_KEPT)
            .map(|((_, detail), p)| p.violation("faults", detail.clone()).evidence())
            .collect(),
    });
}
