//! Outbox checkers O1-O3, over a run's `change.commit`, `broker.publish` and `consumer.apply`
//! events, judged once the run has drained.
//!
//! - O1: every committed change was published (at least once), and every published event
//!   belongs to a committed change (no phantom).
//! - O2: every published event was applied by the consumer exactly once.
//! - O3: per aggregate key, the consumer applied events in sequence order.

use std::collections::BTreeMap;

use faultline_sim::{EventKind, Logged};

use super::{Findings, Invariant, Monitor, Nodes, Place, Violation};

const INVARIANTS: &[Invariant] = &[
    Invariant { id: "O1", statement: "every committed change is published, and nothing uncommitted is" },
    Invariant { id: "O2", statement: "every published event is applied exactly once" },
    Invariant { id: "O3", statement: "per key, events are applied in sequence order" },
];

/// O1-O3 over a run's outbox, broker and consumer events.
#[derive(Debug, Default)]
pub struct OutboxChecker {
    nodes: Nodes,
    /// event -> where it was first committed.
    committed: BTreeMap<u64, Place>,
    /// event -> where it was first published.
    published: BTreeMap<u64, Place>,
    /// event -> where it was first applied, and how often.
    applied: BTreeMap<u64, (Place, u32)>,
    /// key -> the highest sequence number applied.
    last_seq: BTreeMap<u64, u64>,
    out_of_order: Vec<Violation>,
}

impl Monitor for OutboxChecker {
    fn invariants(&self) -> &'static [Invariant] {
        INVARIANTS
    }

    fn on_event(&mut self, e: &Logged<'_>) {
        match e.kind {
            EventKind::ChangeCommit { event, .. } => {
                let nodes = &mut self.nodes;
                self.committed.entry(*event).or_insert_with(|| nodes.place(e));
            }
            EventKind::BrokerPublish { event, .. } => {
                let nodes = &mut self.nodes;
                self.published.entry(*event).or_insert_with(|| nodes.place(e));
            }
            EventKind::ConsumerApply { event, key, seq } => {
                if !self.applied.contains_key(event) {
                    self.applied.insert(*event, (self.nodes.place(e), 0));
                }
                let Some(entry) = self.applied.get_mut(event) else { return };
                entry.1 += 1;
                if entry.1 > 1 {
                    return; // a duplicate: O2's business, not an ordering question
                }
                let last = self.last_seq.entry(*key).or_insert(0);
                if *seq < *last {
                    let detail = format!("key {key}: event {event} (seq {seq}) applied after seq {last}");
                    self.out_of_order.push(Violation::at("O3", e, detail));
                }
                *last = (*last).max(*seq);
            }
            _ => {}
        }
    }

    fn finish(&mut self, findings: &mut Findings) {
        let out = &mut findings.violations;
        for (event, at) in &self.committed {
            if !self.published.contains_key(event) {
                out.push(at.violation("O1", format!("event {event} was committed and never published (lost)")));
            }
        }
        for (event, at) in &self.published {
            if !self.committed.contains_key(event) {
                out.push(at.violation(
                    "O1",
                    format!("event {event} was published but its change never committed (a phantom)"),
                ));
            }
            match self.applied.get(event) {
                None => out.push(at.violation("O2", format!("event {event} was published and never applied"))),
                Some((first, n)) if *n > 1 => {
                    out.push(first.violation("O2", format!("event {event} was applied {n} times")))
                }
                Some(_) => {}
            }
        }
        out.append(&mut self.out_of_order);
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
