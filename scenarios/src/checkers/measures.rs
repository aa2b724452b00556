//! Measures taken from a run's events: figures, not verdicts.

use std::collections::{BTreeMap, BTreeSet};

use faultline_sim::{EventKind, Logged};

use super::{Findings, Invariant, Monitor};

/// Every value a run can measure (`measure:NAME` in an experiment): the read model's
/// ([`ReadModelLag`]) and the saga checker's `dirty_reads`.
pub const MEASURE_NAMES: &[&str] = &[
    "read_model_lag_max",
    "read_model_lag_max_at_s",
    "read_model_lag_end",
    "read_model_lag_end_at_s",
    "read_model_staleness_ms_mean",
    "read_model_staleness_ms_max",
    "read_model_unapplied_end",
    "dirty_reads",
];

/// How often the lag series is sampled: its largest value in each quarter second.
const LAG_BIN_US: u64 = 250_000;

/// A read model's lag (events appended to the store and not yet applied by the projector that is
/// furthest behind, when several keep their own read model) over
/// virtual time: the series `read_model_lag` (the largest lag in each quarter second) and the
/// values `read_model_lag_max`, `read_model_lag_max_at_s`, `read_model_lag_end`; and how stale
/// a read can be: from an event's append to its first apply by each projector node (a read
/// replica keeps its own read model), `read_model_staleness_ms_mean` and
/// `read_model_staleness_ms_max` (an event no projector applied counts as stale until the last
/// event of the run; `read_model_unapplied_end` says how many there were).
#[derive(Debug, Default)]
pub struct ReadModelLag {
    head: u64,
    /// Per projector node, the furthest position it applied.
    checkpoints: BTreeMap<String, u64>,
    /// Appended: position -> append time, µs.
    appended: BTreeMap<u64, u64>,
    /// Applied: (projector node, position).
    applied: BTreeSet<(String, u64)>,
    /// Positions applied by some projector.
    applied_any: BTreeSet<u64>,
    /// Applied: how many, total and largest staleness, µs.
    stale: (u64, u64, u64),
    bins: BTreeMap<u64, u64>,
    max: (u64, u64),
    last: Option<(u64, u64)>,
}

impl Monitor for ReadModelLag {
    fn invariants(&self) -> &'static [Invariant] {
        &[]
    }

    fn on_event(&mut self, e: &Logged<'_>) {
        match e.kind {
            EventKind::EsAppend { position, .. } => {
                self.head = self.head.max(*position);
                self.appended.entry(*position).or_insert(e.t_us);
            }
            EventKind::ProjectionApply { position, .. } => {
                let checkpoint = self.checkpoints.entry(e.node.to_owned()).or_insert(0);
                *checkpoint = (*checkpoint).max(*position);
                self.applied_any.insert(*position);
                let first = self.applied.insert((e.node.to_owned(), *position));
                if let Some(appended) = self.appended.get(position).filter(|_| first) {
                    let s = e.t_us.saturating_sub(*appended);
                    self.stale = (self.stale.0 + 1, self.stale.1 + s, self.stale.2.max(s));
                }
            }
            _ => return,
        }
        let behind = self.checkpoints.values().min().copied().unwrap_or(0);
        let lag = self.head.saturating_sub(behind);
        let bin = self.bins.entry(e.t_us / LAG_BIN_US).or_insert(0);
        *bin = (*bin).max(lag);
        if lag > self.max.1 {
            self.max = (e.t_us, lag);
        }
        self.last = Some((e.t_us, lag));
    }

    fn finish(&mut self, findings: &mut Findings) {
        let Some((end_us, end)) = self.last else { return };
        let m = &mut findings.measures;
        let series = self.bins.iter().map(|(b, l)| ((b * LAG_BIN_US) as f64 / 1e6, *l as f64)).collect();
        m.series.insert("read_model_lag".to_owned(), series);
        m.values.insert("read_model_lag_max".to_owned(), self.max.1 as f64);
        m.values.insert("read_model_lag_max_at_s".to_owned(), self.max.0 as f64 / 1e6);
        m.values.insert("read_model_lag_end".to_owned(), end as f64);
        m.values.insert("read_model_lag_end_at_s".to_owned(), end_us as f64 / 1e6);
        let unapplied: Vec<u64> =
            self.appended.iter().filter(|(p, _)| !self.applied_any.contains(p)).map(|(_, t)| *t).collect();
        m.values.insert("read_model_unapplied_end".to_owned(), unapplied.len() as f64);
        let (mut n, mut total, mut max) = self.stale;
        for appended in unapplied {
            let s = end_us.saturating_sub(appended);
            (n, total, max) = (n + 1, total + s, max.max(s));
        }
        if n > 0 {
            m.values.insert("read_model_staleness_ms_mean".to_owned(), total as f64 / n as f64 / 1e3);
            m.values.insert("read_model_staleness_ms_max".to_owned(), max as f64 / 1e3);
        }
    }
}
