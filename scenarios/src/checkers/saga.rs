//! Saga checkers S1-S3, over the event log (`saga.record` and `participant.effect` rows).
//!
//! - S1: every saga that started finished, completed or compensated (none stuck).
//! - S2: compensations only for steps that were attempted, in reverse order; a saga that
//!   finished compensated compensated every step it attempted; and, on the participants'
//!   effects, every action that took effect in a compensated saga was undone.
//! - S3: every participant operation took effect at most once per saga (compensations are
//!   idempotent), and every compensation that was needed happened (retried until done).
//!
//! S4 (a crash of the orchestrator resumes to the same outcome) compares two runs; see the
//! tests.

use std::collections::BTreeMap;

use faultline_patterns::saga::{LogRecord, SagaOutcome};

use super::{event_rows, Violation};

/// Each saga's records, in order, with the row index of its first record.
pub fn saga_logs<'a>(rows: impl IntoIterator<Item = &'a str>) -> BTreeMap<u64, (usize, Vec<LogRecord>)> {
    let mut logs: BTreeMap<u64, (usize, Vec<LogRecord>)> = BTreeMap::new();
    for row in event_rows(rows).filter(|r| r.kind == "saga.record") {
        let (Some(id), Some(record)) = (row.number("id"), row.get("record").and_then(LogRecord::decode)) else {
            continue;
        };
        logs.entry(id).or_insert((row.index, Vec::new())).1.push(record);
    }
    logs
}

/// The final outcome of each finished saga.
pub fn outcomes<'a>(rows: impl IntoIterator<Item = &'a str>) -> BTreeMap<u64, SagaOutcome> {
    saga_logs(rows)
        .into_iter()
        .filter_map(|(id, (_, log))| {
            log.iter().find_map(|r| if let LogRecord::Finished(o) = r { Some(*o) } else { None }).map(|o| (id, o))
        })
        .collect()
}

/// Runs S1-S3 over the event rows; every violation found, the first event of each.
pub fn check<'a>(rows: impl IntoIterator<Item = &'a str> + Clone) -> Vec<Violation> {
    let mut out = Vec::new();
    let logs = saga_logs(rows.clone());
    for (id, (at, log)) in &logs {
        let done: Vec<usize> = log
            .iter()
            .filter_map(|r| {
                if let LogRecord::StepDone(i) | LogRecord::StepUnknown(i) | LogRecord::StepFailed(i) = r {
                    Some(*i)
                } else {
                    None
                }
            })
            .collect();
        let undone: Vec<usize> =
            log.iter().filter_map(|r| if let LogRecord::CompensationDone(i) = r { Some(*i) } else { None }).collect();
        let finished = log.iter().find_map(|r| if let LogRecord::Finished(o) = r { Some(*o) } else { None });
        if finished.is_none() {
            out.push(Violation {
                checker: "S1",
                at: *at,
                detail: format!("saga {id} started and never finished: {}", encode(log)),
            });
        }
        if let Some(i) = undone.iter().find(|i| !done.contains(i)) {
            out.push(Violation {
                checker: "S2",
                at: *at,
                detail: format!("saga {id} compensated step {i}, which was never attempted"),
            });
        }
        if undone.windows(2).any(|w| w[0] <= w[1]) {
            out.push(Violation {
                checker: "S2",
                at: *at,
                detail: format!("saga {id} compensated out of reverse order: {undone:?}"),
            });
        }
        if finished == Some(SagaOutcome::Compensated) {
            if let Some(i) = done.iter().find(|i| !undone.contains(i)) {
                out.push(Violation {
                    checker: "S2",
                    at: *at,
                    detail: format!("saga {id} finished compensated but step {i} was attempted and never compensated"),
                });
            }
        }
    }
    // S2 on effects: in a compensated saga every action that took effect was compensated (a
    // timed-out step the saga thought failed, but the participant applied, shows up here).
    let def = faultline_patterns::saga::SagaDefinition::order();
    let mut effects: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    // A compensation with nothing to undo (applied=0) is a tombstone, not an effect.
    for row in event_rows(rows.clone()).filter(|r| r.kind == "participant.effect" && r.get("applied") != Some("0")) {
        if let (Some(saga), Some(op)) = (row.number("saga"), row.get("op")) {
            effects.entry(saga).or_default().push(op.to_owned());
        }
    }
    for (id, (at, log)) in &logs {
        if log.iter().any(|r| *r == LogRecord::Finished(SagaOutcome::Compensated)) {
            let applied = effects.get(id).cloned().unwrap_or_default();
            let took_effect = |op: &str| applied.iter().any(|a| a == op);
            if let Some(step) = def.steps.iter().find(|s| took_effect(s.action) && !took_effect(s.compensation)) {
                out.push(Violation {
                    checker: "S2",
                    at: *at,
                    detail: format!(
                        "saga {id} finished compensated but {} took effect and {} never did",
                        step.action, step.compensation
                    ),
                });
                break;
            }
        }
    }
    if let Some(row) =
        event_rows(rows).find(|r| r.kind == "participant.effect" && r.number("applied").is_some_and(|n| n > 1))
    {
        out.push(Violation {
            checker: "S3",
            at: row.index,
            detail: format!(
                "{} applied {} for saga {} more than once (not idempotent)",
                row.get("service").unwrap_or("?"),
                row.get("op").unwrap_or("?"),
                row.get("saga").unwrap_or("?")
            ),
        });
    }
    out
}

fn encode(log: &[LogRecord]) -> String {
    log.iter().map(LogRecord::encode).collect::<Vec<_>>().join(",")
}

/// Sagas refused for want of stock while another saga held a reservation on the same item that
/// it later gave back: decisions taken on uncommitted state (a dirty read, the isolation
/// anomaly of sagas). Reads `stock.take`, `stock.out`, `stock.return` and the sagas' completion.
/// Without a semantic lock this is a measure; with one, each is a violation (checker `SL`).
pub fn dirty_reads<'a>(rows: impl IntoIterator<Item = &'a str>) -> Vec<Violation> {
    let mut pending: BTreeMap<u64, Vec<u64>> = BTreeMap::new(); // item -> sagas holding a unit
    let mut item_of: BTreeMap<u64, u64> = BTreeMap::new();
    let mut returned: std::collections::BTreeSet<u64> = std::collections::BTreeSet::new();
    let mut refusals: Vec<(usize, u64, u64, Vec<u64>)> = Vec::new();
    for row in event_rows(rows) {
        let (item, saga) = (row.number("item"), row.number("saga"));
        match (row.kind, item, saga) {
            ("stock.take", Some(item), Some(saga)) => {
                pending.entry(item).or_default().push(saga);
                item_of.insert(saga, item);
            }
            ("stock.out", Some(item), Some(saga)) => {
                refusals.push((row.index, saga, item, pending.get(&item).cloned().unwrap_or_default()))
            }
            ("stock.return", Some(item), Some(saga)) => {
                pending.entry(item).or_default().retain(|s| *s != saga);
                returned.insert(saga);
            }
            ("saga.record", _, _) if row.get("record") == Some("finished:completed") => {
                let id = row.number("id").unwrap_or(0);
                if let Some(item) = item_of.get(&id) {
                    pending.entry(*item).or_default().retain(|s| *s != id);
                }
            }
            _ => {}
        }
    }
    refusals
        .into_iter()
        .filter_map(|(at, saga, item, holders)| {
            let undone = holders.into_iter().find(|h| returned.contains(h))?;
            Some(Violation { checker: "SL", at, detail: format!("saga {saga} was refused item {item} while saga {undone} held a unit it later gave back (a dirty read)") })
        })
        .collect()
}
