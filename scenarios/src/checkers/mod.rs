//! Invariant checkers (ANCHORS.md): they read histories and records, never drive a system, and
//! report the first violating event. They sit beside the scenarios, outside both the patterns
//! and the simulator.
//!
//! - [`event_sourcing`]: E1 (replay and snapshot + tail reproduce the state), E2 (of concurrent
//!   appends with the same expected version exactly one wins), E3 (a read model at checkpoint c
//!   equals the fold of the events up to c), and a seeded driver of concurrent writers.

pub mod event_sourcing;

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
