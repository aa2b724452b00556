//! Outbox checkers O1-O3, over a run's `change.commit`, `broker.publish` and `consumer.apply`
//! events, judged once the run has drained by `faultline_checks::outbox` (the same code a real
//! service's test judges its databases' history with).
//!
//! - O1: every committed change was published (at least once), and every published event
//!   belongs to a committed change (no phantom).
//! - O2: every published event was applied by the consumer exactly once.
//! - O3: per aggregate key, the consumer applied events in sequence order.

use std::collections::BTreeMap;

use faultline_checks::outbox::{OutboxHistory, INVARIANTS as STATEMENTS};
use faultline_sim::{EventKind, Logged};

use super::{Findings, Invariant, Monitor, Nodes, Place};

const INVARIANTS: &[Invariant] = &[
    Invariant { id: STATEMENTS[0].0, statement: STATEMENTS[0].1 },
    Invariant { id: STATEMENTS[1].0, statement: STATEMENTS[1].1 },
    Invariant { id: STATEMENTS[2].0, statement: STATEMENTS[2].1 },
];

/// O1-O3 over a run's outbox, broker and consumer events.
#[derive(Debug, Default)]
pub struct OutboxChecker {
    nodes: Nodes,
    history: OutboxHistory<Place>,
}

impl Monitor for OutboxChecker {
    fn invariants(&self) -> &'static [Invariant] {
        INVARIANTS
    }

    fn on_event(&mut self, e: &Logged<'_>) {
        let nodes = &mut self.nodes;
        match e.kind {
            EventKind::ChangeCommit { event, .. } => self.history.commit(*event, || nodes.place(e)),
            EventKind::BrokerPublish { event, .. } => self.history.publish(*event, || nodes.place(e)),
            EventKind::ConsumerApply { event, key, seq } => self.history.apply((*event, *key, *seq), || nodes.place(e)),
            _ => {}
        }
    }

    fn finish(&mut self, findings: &mut Findings) {
        for f in self.history.findings() {
            findings.violations.push(f.at.violation(f.invariant, f.detail));
        }
    }
}

/// For each committed change that was published, the time from its commit to its first
/// publication (µs), in the order they were published: the relay's delay.
pub fn publish_delays<'a>(events: impl IntoIterator<Item = Logged<'a>>) -> Vec<u64> {
    let mut committed: BTreeMap<u64, u64> = BTreeMap::new();
    let mut delays = Vec::new();
    for e in events {
        match e.kind {
            EventKind::ChangeCommit { event, .. } => {
                committed.entry(*event).or_insert(e.t_us);
            }
            EventKind::BrokerPublish { event, .. } => {
                if let Some(at) = committed.remove(event) {
                    delays.push(e.t_us.saturating_sub(at));
                }
            }
            _ => {}
        }
    }
    delays
}
