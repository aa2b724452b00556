//! The transactional outbox's invariants, over a history of commits, publications and
//! applications, judged once the history is complete (everything has drained).
//!
//! - O1: every committed change was published (at least once), and every published event
//!   belongs to a committed change (no phantom).
//! - O2: every published event was applied by the consumer exactly once.
//! - O3: per aggregate key, the consumer applied events in sequence order.

use std::collections::BTreeMap;

use crate::Finding;

/// O1-O3: ids and statements.
pub const INVARIANTS: [(&str, &str); 3] = [
    ("O1", "every committed change is published, and nothing uncommitted is"),
    ("O2", "every published event is applied exactly once"),
    ("O3", "per key, events are applied in sequence order"),
];

/// Judges an outbox history fed in the order it happened. `P` is where a step was seen.
#[derive(Debug)]
pub struct OutboxHistory<P> {
    /// event -> where it was first committed.
    committed: BTreeMap<u64, P>,
    /// event -> where it was first published.
    published: BTreeMap<u64, P>,
    /// event -> where it was first applied, and how often.
    applied: BTreeMap<u64, (P, u32)>,
    /// key -> the highest sequence number applied.
    last_seq: BTreeMap<u64, u64>,
    out_of_order: Vec<Finding<P>>,
}

impl<P> Default for OutboxHistory<P> {
    fn default() -> Self {
        OutboxHistory {
            committed: BTreeMap::new(),
            published: BTreeMap::new(),
            applied: BTreeMap::new(),
            last_seq: BTreeMap::new(),
            out_of_order: Vec::new(),
        }
    }
}

impl<P: Clone> OutboxHistory<P> {
    /// The change that produces `event` committed (`at` is asked for only the first time).
    pub fn commit(&mut self, event: u64, at: impl FnOnce() -> P) {
        self.committed.entry(event).or_insert_with(at);
    }

    /// The broker accepted `event` (again, perhaps).
    pub fn publish(&mut self, event: u64, at: impl FnOnce() -> P) {
        self.published.entry(event).or_insert_with(at);
    }

    /// The consumer applied `event`, the `seq`-th change of aggregate `key`.
    pub fn apply(&mut self, (event, key, seq): (u64, u64, u64), at: impl FnOnce() -> P) {
        let entry = self.applied.entry(event).or_insert_with(|| (at(), 0));
        entry.1 += 1;
        if entry.1 > 1 {
            return; // a duplicate: O2's business, not an ordering question
        }
        let last = self.last_seq.entry(key).or_insert(0);
        if seq < *last {
            let detail = format!("key {key}: event {event} (seq {seq}) applied after seq {last}");
            self.out_of_order.push(Finding { invariant: "O3", at: entry.0.clone(), detail });
        }
        *last = (*last).max(seq);
    }

    /// Every broken invariant: O1 and O2 by event id, then O3 in the order seen.
    pub fn findings(&self) -> Vec<Finding<P>> {
        let mut out = Vec::new();
        let finding = |invariant, at: &P, detail| Finding { invariant, at: at.clone(), detail };
        for (event, at) in &self.committed {
            if !self.published.contains_key(event) {
                out.push(finding("O1", at, format!("event {event} was committed and never published (lost)")));
            }
        }
        for (event, at) in &self.published {
            if !self.committed.contains_key(event) {
                let detail = format!("event {event} was published but its change never committed (a phantom)");
                out.push(finding("O1", at, detail));
            }
            match self.applied.get(event) {
                None => out.push(finding("O2", at, format!("event {event} was published and never applied"))),
                Some((first, n)) if *n > 1 => {
                    out.push(finding("O2", first, format!("event {event} was applied {n} times")))
                }
                Some(_) => {}
            }
        }
        out.extend(self.out_of_order.iter().cloned());
        out
    }

    /// Events committed, published and applied (distinct ids).
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.committed.len(), self.published.len(), self.applied.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(h: &OutboxHistory<u32>) -> Vec<(&'static str, u32)> {
        h.findings().iter().map(|f| (f.invariant, f.at)).collect()
    }

    #[test]
    fn a_clean_history_holds() {
        let mut h = OutboxHistory::default();
        for (i, e) in [10u64, 11, 12].iter().enumerate() {
            h.commit(*e, || i as u32);
            h.publish(*e, || 10 + i as u32);
            h.publish(*e, || 99); // at-least-once: republished
            h.apply((*e, 1, i as u64 + 1), || 20 + i as u32);
        }
        assert!(h.findings().is_empty());
        assert_eq!(h.counts(), (3, 3, 3));
    }

    #[test]
    fn lost_phantom_unapplied_duplicated_and_reordered_events_are_each_found() {
        let mut h = OutboxHistory::default();
        h.commit(1, || 1); // lost: never published
        h.publish(2, || 2); // phantom, and never applied
        h.commit(3, || 3);
        h.publish(3, || 4);
        h.apply((3, 7, 2), || 5);
        h.apply((3, 7, 2), || 6); // applied twice
        h.commit(4, || 7);
        h.publish(4, || 8);
        h.apply((4, 7, 1), || 9); // seq 1 after seq 2
        assert_eq!(ids(&h), vec![("O1", 1), ("O1", 2), ("O2", 2), ("O2", 5), ("O3", 9)]);
    }
}
