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
//! S4 (a crash of the orchestrator resumes to the same outcome) compares two runs; see the
//! tests.

use std::collections::{BTreeMap, BTreeSet};

use faultline_patterns::saga::{LogRecord, SagaDefinition, SagaOutcome};
use faultline_sim::event::StockChange;
use faultline_sim::{EventKind, Logged};

use super::{Findings, Invariant, Monitor, Violation};

const INVARIANTS: &[Invariant] = &[
    Invariant { id: "S1", statement: "every saga that started finished, completed or compensated" },
    Invariant {
        id: "S2",
        statement:
            "compensations only for attempted steps, in reverse order, and every action of a compensated saga undone",
    },
    Invariant { id: "S3", statement: "each participant operation takes effect at most once per saga" },
];

/// Where a saga's first record was, for evidence.
#[derive(Debug, Clone)]
struct Place {
    line: u64,
    t_us: u64,
    node: String,
}

#[derive(Debug, Default)]
struct SagaSeen {
    first: Option<Place>,
    records: Vec<LogRecord>,
    /// Operations that took effect at a participant (tombstones excluded).
    effects: Vec<&'static str>,
}

/// S1-S3 over a run's saga records and participants' effects.
#[derive(Debug, Default)]
pub struct SagaChecker {
    sagas: BTreeMap<u64, SagaSeen>,
    s3: Vec<Violation>,
}

impl Monitor for SagaChecker {
    fn invariants(&self) -> &'static [Invariant] {
        INVARIANTS
    }

    fn on_event(&mut self, e: &Logged<'_>) {
        match e.kind {
            EventKind::SagaRecord { id, record } => {
                let saga = self.sagas.entry(*id).or_default();
                if saga.first.is_none() {
                    saga.first = Some(Place { line: e.line, t_us: e.t_us, node: e.node.to_owned() });
                }
                saga.records.push(*record);
            }
            EventKind::ParticipantEffect { service, op, saga, applied } => {
                if *applied > 0 {
                    self.sagas.entry(*saga).or_default().effects.push(op);
                }
                if *applied > 1 {
                    let detail = format!("{service} applied {op} for saga {saga} {applied} times (not idempotent)");
                    self.s3.push(Violation::at("S3", e, detail));
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, findings: &mut Findings) {
        let def = faultline_sim::spec::app::order_saga(false);
        for (id, saga) in &self.sagas {
            let Some(at) = &saga.first else { continue };
            let violation = |checker, detail: String| Violation {
                checker,
                line: at.line,
                t_us: at.t_us,
                node: at.node.clone(),
                detail,
            };
            for (checker, detail) in saga_violations(*id, saga, &def) {
                findings.violations.push(violation(checker, detail));
            }
        }
        findings.violations.append(&mut self.s3);
    }
}

/// What is wrong with one saga's records and effects.
fn saga_violations(id: u64, saga: &SagaSeen, def: &SagaDefinition) -> Vec<(&'static str, String)> {
    let log = &saga.records;
    let attempted: Vec<usize> = log
        .iter()
        .filter_map(|r| match r {
            LogRecord::StepDone(i) | LogRecord::StepUnknown(i) | LogRecord::StepFailed(i) => Some(*i),
            _ => None,
        })
        .collect();
    let undone: Vec<usize> =
        log.iter().filter_map(|r| if let LogRecord::CompensationDone(i) = r { Some(*i) } else { None }).collect();
    let finished = log.iter().find_map(|r| if let LogRecord::Finished(o) = r { Some(*o) } else { None });
    let mut out = Vec::new();
    if finished.is_none() {
        out.push(("S1", format!("saga {id} started and never finished: {}", encode(log))));
    }
    if let Some(i) = undone.iter().find(|i| !attempted.contains(i)) {
        out.push(("S2", format!("saga {id} compensated step {i}, which was never attempted")));
    }
    if undone.windows(2).any(|w| w[0] <= w[1]) {
        out.push(("S2", format!("saga {id} compensated out of reverse order: {undone:?}")));
    }
    if finished == Some(SagaOutcome::Compensated) {
        if let Some(i) = attempted.iter().find(|i| !undone.contains(i)) {
            out.push((
                "S2",
                format!("saga {id} finished compensated but step {i} was attempted and never compensated"),
            ));
        }
        // On the participants' side: every action that took effect was compensated (a
        // timed-out step the saga thought failed, but the participant applied, shows here).
        let took_effect = |op: &str| saga.effects.contains(&op);
        if let Some(step) = def.steps.iter().find(|s| took_effect(s.action) && !took_effect(s.compensation)) {
            let detail = format!(
                "saga {id} finished compensated but {} took effect and {} never did",
                step.action, step.compensation
            );
            out.push(("S2", detail));
        }
    }
    out
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
