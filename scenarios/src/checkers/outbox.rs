//! Outbox checkers O1-O3, over the event log (`change.commit`, `broker.publish`,
//! `consumer.apply`), after the run has drained.
//!
//! - O1: every committed change was published (at least once), and every published event
//!   belongs to a committed change (no phantom).
//! - O2: every published event was applied by the consumer exactly once.
//! - O3: per aggregate key, the consumer applied events in sequence order.

use std::collections::{BTreeMap, BTreeSet};

use super::{event_rows, Violation};

/// Runs O1-O3; the first violation of each.
pub fn check<'a>(events: impl IntoIterator<Item = &'a str>) -> Vec<Violation> {
    let mut committed: BTreeMap<u64, usize> = BTreeMap::new();
    let mut published: BTreeMap<u64, usize> = BTreeMap::new();
    let mut applied: BTreeMap<u64, (usize, u32)> = BTreeMap::new();
    let mut last_seq: BTreeMap<u64, u64> = BTreeMap::new();
    let mut out = Vec::new();
    let mut o3 = None;
    for row in event_rows(events) {
        let i = row.index;
        let event = row.number("event").unwrap_or(0);
        match row.kind {
            "change.commit" => {
                committed.entry(event).or_insert(i);
            }
            "broker.publish" => {
                published.entry(event).or_insert(i);
            }
            "consumer.apply" => {
                let e = applied.entry(event).or_insert((i, 0));
                e.1 += 1;
                let (key, seq) = (row.number("key").unwrap_or(0), row.number("seq").unwrap_or(0));
                if e.1 == 1 {
                    let last = last_seq.entry(key).or_insert(0);
                    if seq < *last && o3.is_none() {
                        o3 = Some(Violation {
                            checker: "O3",
                            at: i,
                            detail: format!("key {key}: event {event} (seq {seq}) applied after seq {last}"),
                        });
                    }
                    *last = (*last).max(seq);
                }
            }
            _ => {}
        }
    }
    if let Some((e, i)) = committed.iter().find(|(e, _)| !published.contains_key(e)) {
        out.push(Violation {
            checker: "O1",
            at: *i,
            detail: format!("event {e} was committed and never published (lost)"),
        });
    }
    if let Some((e, i)) = published.iter().find(|(e, _)| !committed.contains_key(e)) {
        out.push(Violation {
            checker: "O1",
            at: *i,
            detail: format!("event {e} was published but its change never committed (a phantom)"),
        });
    }
    let delivered: BTreeSet<&u64> = published.keys().collect();
    if let Some((e, (i, n))) = applied.iter().find(|(_, (_, n))| *n > 1) {
        out.push(Violation { checker: "O2", at: *i, detail: format!("event {e} was applied {n} times") });
    } else if let Some(e) = delivered.iter().find(|e| !applied.contains_key(e)) {
        out.push(Violation {
            checker: "O2",
            at: published[e],
            detail: format!("event {e} was published and never applied"),
        });
    }
    out.extend(o3);
    out
}

/// For each committed change that was published, the time from its commit to its first
/// publication (µs), in commit order: the relay's delay.
pub fn publish_delays<'a>(events: impl IntoIterator<Item = &'a str>) -> Vec<u64> {
    let mut committed: BTreeMap<u64, u64> = BTreeMap::new();
    let mut delays = Vec::new();
    for row in event_rows(events) {
        let event = row.number("event").unwrap_or(0);
        match row.kind {
            "change.commit" => {
                committed.entry(event).or_insert(row.t_us);
            }
            "broker.publish" => {
                if let Some(at) = committed.remove(&event) {
                    delays.push(row.t_us.saturating_sub(at));
                }
            }
            _ => {}
        }
    }
    delays
}
