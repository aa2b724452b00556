//! What a checked run concluded: every checker that applied, held or violated, with its first
//! evidence, and the measures taken on the way. The checkers themselves live outside the
//! simulator (in `faultline-scenarios`); these are the records they leave, so that every entry
//! point (the CLI, a sweep, a user's test) and every summary file carries the same verdict.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::run::RunOutput;

/// Where a violation shows, and what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The line in `events.csv` (the header is line 1) of the event that shows it; for a
    /// history checked outside a run, its position in that history.
    pub line: u64,
    /// Virtual time of that event, µs.
    pub t_us: u64,
    /// The node it happened on.
    pub node: String,
    /// What is wrong, in words.
    pub detail: String,
}

/// Whether an invariant held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// No violation.
    Held,
    /// At least one violation.
    Violated,
}

/// One checker's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Its short name, e.g. `O1` or `stall`.
    pub checker: String,
    /// The invariant, in words.
    pub invariant: String,
    /// Held or violated.
    pub status: Status,
    /// How many violations, exactly.
    pub violations: u64,
    /// The first violations, earliest first (at most [`Check::EVIDENCE_KEPT`]).
    pub evidence: Vec<Evidence>,
}

impl Check {
    /// How many violations a check keeps as evidence (it counts them all).
    pub const EVIDENCE_KEPT: usize = 3;
}

/// Every checker that applied to a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// One entry per checker, in a fixed order.
    pub checks: Vec<Check>,
    /// What the run did not test though the scenario meant it to (a fault that affected
    /// nothing), one line each. A warning does not fail the run; a strict scenario makes it a
    /// check that does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Verdict {
    /// True when every check held.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.status == Status::Held)
    }

    /// The checks that were violated.
    pub fn violated(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Violated)
    }

    /// The result of one checker, if it applied.
    pub fn check(&self, checker: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.checker == checker)
    }

    /// True when `checker` applied and was violated.
    pub fn is_violated(&self, checker: &str) -> bool {
        self.check(checker).is_some_and(|c| c.status == Status::Violated)
    }

    /// The first violation, as one line: `O1 violated at events.csv line 2947 (t=12.345 s,
    /// orders-0): event 2936 was committed and never published (lost)`.
    pub fn first_violation(&self) -> Option<String> {
        let c = self.violated().next()?;
        let e = c.evidence.first()?;
        Some(format!("{} {}", c.checker, e.describe()))
    }
}

impl Evidence {
    /// `violated at events.csv line N (t=S s, node): detail`.
    pub fn describe(&self) -> String {
        format!(
            "violated at events.csv line {} (t={:.3} s, {}): {}",
            self.line,
            self.t_us as f64 / 1e6,
            self.node,
            self.detail
        )
    }
}

/// Figures measured while checking (not verdicts): e.g. sagas that read uncommitted stock, a
/// read model's lag over time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Measures {
    /// Named numbers.
    pub values: BTreeMap<String, f64>,
    /// Named series of `(t_s, value)` points over virtual time.
    pub series: BTreeMap<String, Vec<(f64, f64)>>,
}

/// A run, checked: its output, its verdict and its measures.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// What the simulator produced.
    pub output: RunOutput,
    /// Every checker that applied.
    pub verdict: Verdict,
    /// What the checkers measured.
    pub measures: Measures,
}
