//! History checkers for consistency patterns, with no runtime and no dependency: the
//! simulator's checkers (`faultline-scenarios`) feed them the events of a run, and a real
//! service's test feeds them the rows it reads back from its databases. The same judgement,
//! whichever produced the history.
//!
//! [`outbox`]: O1-O3 over commits, publications and applications.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod outbox;

/// One broken invariant: which, where (the caller's own place type: a line of `events.csv`, a
/// row of a table), and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding<P> {
    /// The invariant's id, e.g. `O1`.
    pub invariant: &'static str,
    /// Where it was seen first.
    pub at: P,
    /// What happened, in one line.
    pub detail: String,
}
