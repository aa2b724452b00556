//! Invariant checkers (ANCHORS.md): they read histories and records, never drive a system, and
//! report the first violating event. They sit beside the scenarios, outside both the patterns
//! and the simulator.
//!
//! - [`event_sourcing`]: E1 (replay and snapshot + tail reproduce the state), E2 (of concurrent
//!   appends with the same expected version exactly one wins), E3 (a read model at checkpoint c
//!   equals the fold of the events up to c), and a seeded driver of concurrent writers.
//! - [`saga`]: S1-S3 over a run's event log (S4 compares two runs), and dirty reads (`SL`:
//!   a violation when the saga takes a semantic lock, a measure otherwise).
//! - [`outbox`]: O1-O3 over a run's event log.
//!
//! [`for_run`] picks the checkers that apply to a run and runs them on its event rows.

pub mod event_sourcing;
pub mod outbox;
pub mod saga;

use std::collections::BTreeMap;
use std::fmt;

/// One row of a run's event log (`t_us,node,kind,detail`), with its `key=value` details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow<'a> {
    /// Position in the log (0-based, header excluded).
    pub index: usize,
    /// Virtual time of the event, µs.
    pub t_us: u64,
    /// e.g. `saga.record`.
    pub kind: &'a str,
    /// The `key=value` pairs of the detail column.
    pub details: BTreeMap<&'a str, &'a str>,
}

impl EventRow<'_> {
    /// A detail as text.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.details.get(key).copied()
    }

    /// A detail as a number.
    pub fn number(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(|v| v.parse().ok())
    }
}

/// Parses event rows (malformed rows are skipped), keeping each row's position.
pub fn event_rows<'a>(rows: impl IntoIterator<Item = &'a str>) -> impl Iterator<Item = EventRow<'a>> {
    rows.into_iter().enumerate().filter_map(|(index, row)| {
        let mut parts = row.splitn(4, ',');
        let (t_us, _, kind) = (parts.next()?.parse().ok()?, parts.next()?, parts.next()?);
        let details = parts
            .next()
            .unwrap_or("")
            .trim_matches('"')
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .collect();
        Some(EventRow { index, t_us, kind, details })
    })
}

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
    if spec.services.iter().any(|s| matches!(s.app_name(), Some("order_saga" | "saga_choreography"))) {
        out.extend(saga::check(rows.clone()));
    }
    if spec.semantic_lock() {
        out.extend(saga::dirty_reads(rows.clone()));
    }
    if spec.services.iter().any(|s| s.app_name() == Some("outbox")) {
        out.extend(outbox::check(rows.clone()));
    }
    if spec.services.iter().any(|s| s.app_name() == Some("event_store")) {
        out.extend(event_sourcing::check_e2(&event_sourcing::attempts_from_events(rows.clone())));
    }
    if spec.services.iter().any(|s| s.app_name() == Some("account")) {
        out.extend(event_sourcing::check_e1_events(rows.clone()));
    }
    if spec.services.iter().any(|s| s.app_name() == Some("projector")) {
        out.extend(event_sourcing::check_e3_events(rows));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_rows_keep_positions_and_read_quoted_details() {
        let rows = [
            "1,orders-0,saga.record,id=7 record=started",
            "bad row",
            "3,payment-0,participant.effect,\"service=payment op=charge saga=7, applied=1\"",
        ];
        let parsed: Vec<EventRow> = event_rows(rows).collect();
        assert_eq!(parsed.len(), 2, "the malformed row is skipped");
        assert_eq!((parsed[0].index, parsed[0].kind, parsed[0].number("id")), (0, "saga.record", Some(7)));
        assert_eq!((parsed[1].index, parsed[1].get("op"), parsed[1].number("applied")), (2, Some("charge"), Some(1)));
    }
}
