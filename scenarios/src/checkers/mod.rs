//! Invariant checkers (ANCHORS.md): they read histories and records, never drive a system, and
//! report the first violating event. They sit beside the scenarios, outside both the patterns
//! and the simulator.
//!
//! - [`event_sourcing`]: E1 (replay and snapshot + tail reproduce the state), E2 (of concurrent
//!   appends with the same expected version exactly one wins), E3 (a read model at checkpoint c
//!   equals the fold of the events up to c), and a seeded driver of concurrent writers.
//! - [`saga`]: S1-S3 over a run's event log (S4 compares two runs).
//! - [`outbox`]: O1-O3 over a run's event log.
//!
//! [`for_run`] picks the checkers that apply to a run and runs them on its event rows.

pub mod event_sourcing;
pub mod outbox;
pub mod saga;

use std::fmt;

/// A broken invariant: which checker, the index of the first violating event, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// e.g. `E2`.
    pub checker: &'static str,
    /// Index of the first violating event in the history checked.
    pub at: usize,
    /// What is wrong.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} violated at event {}: {}", self.checker, self.at, self.detail)
    }
}

/// The checkers that apply to a run of `spec`, run on its event rows (without header).
pub fn for_run<'a>(spec: &faultline_sim::SimSpec, rows: impl IntoIterator<Item = &'a str> + Clone) -> Vec<Violation> {
    let mut out = Vec::new();
    if spec.services.iter().any(|s| s.app.as_deref() == Some("order_saga")) {
        out.extend(saga::check(rows.clone()));
    }
    if spec.services.iter().any(|s| s.app.as_deref() == Some("outbox")) {
        out.extend(outbox::check(rows.clone()));
    }
    if spec.services.iter().any(|s| s.app.as_deref() == Some("event_store")) {
        out.extend(event_sourcing::check_e2(&event_sourcing::attempts_from_events(rows)));
    }
    out
}
