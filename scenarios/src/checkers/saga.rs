//! Saga checkers S1-S3, over the saga records (`saga.record`) and the participants' effects
//! (`participant.effect`) of a run, and dirty reads under a semantic lock (`SL`).
//!
//! - S1: every saga that started finished, completed or compensated (none stuck).
//! - S2: compensations only for steps that were attempted, in reverse order; a saga that
//!   finished compensated compensated every step it attempted; and, on the participants'
//!   effects, every action that took effect in a compensated saga was undone.
//! - S3: every participant operation took effect at most once per saga (compensations are
//!   idempotent).
//!
//! S1 and S2 count sagas (one violation each, at the record that shows it: S1 at the saga's
//! first record, S2 at the stray compensation or at its end); S3 counts operations.
//!
//! S4 (a crash of the orchestrator resumes to the same outcome) compares two runs; see the
//! tests.

use std::collections::{BTreeMap, BTreeSet};

use faultline_patterns::saga::{LogRecord, SagaDefinition, SagaOutcome};
use faultline_sim::event::StockChange;
use faultline_sim::{EventKind, Logged};

use super::{Findings, Invariant, Monitor, Nodes, Place, Violation};

const INVARIANTS: &[Invariant] = &[
    Invariant { id: "S1", statement: "every saga that started finished, completed or compensated" },
    Invariant {
        id: "S2",
        statement:
            "compensations only for attempted steps, in reverse order, and every action of a compensated saga undone",
    },
    Invariant { id: "S3", statement: "each participant operation takes effect at most once per saga" },
];

#[derive(Debug, Default)]
struct SagaSeen {
    /// Its records, each with where it was logged.
    records: Vec<(LogRecord, Place)>,
    /// Operations that took effect at a participant (tombstones excluded).
    effects: Vec<&'static str>,
}

/// S1-S3 over a run's saga records and participants' effects. S1 and S2 count sagas (one
/// violation per saga, showing its first problem), S3 counts operations applied more than once.
#[derive(Debug)]
pub struct SagaChecker {
    /// The saga the run follows.
    def: SagaDefinition,
    sagas: BTreeMap<u64, SagaSeen>,
    nodes: Nodes,
    s3: Vec<Violation>,
}

impl SagaChecker {
    /// S1-S3 for sagas following `def`.
    pub fn new(def: SagaDefinition) -> Self {
        SagaChecker { def, sagas: BTreeMap::new(), nodes: Nodes::default(), s3: Vec::new() }
    }
}

impl Monitor for SagaChecker {
    fn invariants(&self) -> &'static [Invariant] {
        INVARIANTS
    }

    fn on_event(&mut self, e: &Logged<'_>) {
        match e.kind {
            EventKind::SagaRecord { id, record } => {
                let place = self.nodes.place(e);
                self.sagas.entry(*id).or_default().records.push((*record, place));
            }
            EventKind::ParticipantEffect { service, op, saga, applied } => {
                if *applied > 0 {
                    self.sagas.entry(*saga).or_default().effects.push(op);
                }
                if *applied == 2 {
                    let detail = format!("{service} applied {op} for saga {saga} more than once (not idempotent)");
                    self.s3.push(Violation::at("S3", e, detail));
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, findings: &mut Findings) {
        for (id, saga) in &self.sagas {
            findings.violations.extend(saga_violations(*id, saga, &self.def));
        }
        findings.violations.append(&mut self.s3);
    }
}

/// What is wrong with one saga: S1 at its first record, S2 at the record that shows it.
fn saga_violations(id: u64, saga: &SagaSeen, def: &SagaDefinition) -> Vec<Violation> {
    let Some((_, first)) = saga.records.first() else { return Vec::new() };
    let log: Vec<LogRecord> = saga.records.iter().map(|(r, _)| *r).collect();
    let attempted: Vec<usize> = log
        .iter()
        .filter_map(|r| match r {
            LogRecord::StepDone(i) | LogRecord::StepUnknown(i) | LogRecord::StepFailed(i) => Some(*i),
            _ => None,
        })
        .collect();
    let finished =
        saga.records.iter().find_map(|(r, p)| if let LogRecord::Finished(o) = r { Some((*o, p)) } else { None });
    let mut out = Vec::new();
    if finished.is_none() {
        out.push(first.violation("S1", format!("saga {id} started and never finished: {}", encode(&log))));
    }
    if let Some(v) = s2(id, saga, &attempted, finished, def) {
        out.push(v);
    }
    out
}

/// The first S2 problem of a saga, if any.
fn s2(
    id: u64,
    saga: &SagaSeen,
    attempted: &[usize],
    finished: Option<(SagaOutcome, &Place)>,
    def: &SagaDefinition,
) -> Option<Violation> {
    let mut last_undone = None;
    for (r, place) in &saga.records {
        let LogRecord::CompensationDone(i) = r else { continue };
        if !attempted.contains(i) {
            return Some(place.violation("S2", format!("saga {id} compensated step {i}, which was never attempted")));
        }
        if last_undone.is_some_and(|last| *i >= last) {
            return Some(place.violation(
                "S2",
                format!("saga {id} compensated step {i} after step {}: not in reverse order", last_undone.unwrap_or(0)),
            ));
        }
        last_undone = Some(*i);
    }
    let (SagaOutcome::Compensated, at) = finished? else { return None };
    let undone = |i: &usize| saga.records.iter().any(|(r, _)| *r == LogRecord::CompensationDone(*i));
    if let Some(i) = attempted.iter().find(|i| !undone(i)) {
        return Some(at.violation(
            "S2",
            format!("saga {id} finished compensated but step {i} was attempted and never compensated"),
        ));
    }
    // On the participants' side: every action that took effect was compensated (a timed-out
    // step the saga thought failed, but the participant applied, shows here).
    let took_effect = |op: &str| saga.effects.contains(&op);
    let step = def.steps.iter().find(|s| took_effect(s.action) && !took_effect(s.compensation))?;
    Some(at.violation(
        "S2",
        format!("saga {id} finished compensated but {} took effect and {} never did", step.action, step.compensation),
    ))
}

/// The final outcome of each finished saga, from a run's events.
pub fn outcomes<'a>(events: impl IntoIterator<Item = Logged<'a>>) -> BTreeMap<u64, SagaOutcome> {
    events
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::SagaRecord { id, record: LogRecord::Finished(o) } => Some((*id, *o)),
            _ => None,
        })
        .collect()
}

fn encode(log: &[LogRecord]) -> String {
    log.iter().map(LogRecord::encode).collect::<Vec<_>>().join(",")
}

/// Sagas refused for want of stock while another saga held a reservation on the same item that
/// it later gave back: decisions taken on uncommitted state (a dirty read, the isolation
/// anomaly of sagas). Under a semantic lock each is a violation (`SL`); without one, their
/// number is the measure `dirty_reads`.
#[derive(Debug)]
pub struct DirtyReads {
    enforce: bool,
    /// item -> sagas holding a unit of it.
    pending: BTreeMap<u64, Vec<u64>>,
    item_of: BTreeMap<u64, u64>,
    returned: BTreeSet<u64>,
    /// Refusals: where, which saga, which item, who held a unit then.
    refusals: Vec<(Violation, u64, u64, Vec<u64>)>,
}

impl DirtyReads {
    /// `enforce`: a semantic lock is on, so a dirty read is a violation.
    pub fn new(enforce: bool) -> Self {
        DirtyReads {
            enforce,
            pending: BTreeMap::new(),
            item_of: BTreeMap::new(),
            returned: BTreeSet::new(),
            refusals: Vec::new(),
        }
    }
}

const SL: &[Invariant] = &[Invariant {
    id: "SL",
    statement: "under a semantic lock, no saga decides on another saga's uncommitted reservation",
}];

impl Monitor for DirtyReads {
    fn invariants(&self) -> &'static [Invariant] {
        if self.enforce {
            SL
        } else {
            &[]
        }
    }

    fn on_event(&mut self, e: &Logged<'_>) {
        match e.kind {
            EventKind::Stock { change: StockChange::Take, item, saga, .. } => {
                self.pending.entry(*item).or_default().push(*saga);
                self.item_of.insert(*saga, *item);
            }
            EventKind::Stock { change: StockChange::Out, item, saga, .. } => {
                let holders = self.pending.get(item).cloned().unwrap_or_default();
                self.refusals.push((Violation::at("SL", e, String::new()), *saga, *item, holders));
            }
            EventKind::Stock { change: StockChange::Return, item, saga, .. } => {
                self.pending.entry(*item).or_default().retain(|s| s != saga);
                self.returned.insert(*saga);
            }
            EventKind::SagaRecord { id, record: LogRecord::Finished(SagaOutcome::Completed) } => {
                if let Some(item) = self.item_of.get(id) {
                    self.pending.entry(*item).or_default().retain(|s| s != id);
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, findings: &mut Findings) {
        let mut count = 0u64;
        for (mut v, saga, item, holders) in self.refusals.drain(..) {
            let Some(undone) = holders.into_iter().find(|h| self.returned.contains(h)) else { continue };
            count += 1;
            if self.enforce {
                v.detail = format!(
                    "saga {saga} was refused item {item} while saga {undone} held a unit it later gave back (a dirty read)"
                );
                findings.violations.push(v);
            }
        }
        findings.measures.values.insert("dirty_reads".to_owned(), count as f64);
    }
}
