//! Measures taken from a run's events: figures, not verdicts.

use std::collections::BTreeMap;

use faultline_sim::{EventKind, Logged};

use super::{Findings, Invariant, Monitor};

/// How often the lag series is sampled: its largest value in each quarter second.
const LAG_BIN_US: u64 = 250_000;

/// A read model's lag (events appended to the store and not yet applied by the projector) over
/// virtual time: the series `read_model_lag` (the largest lag in each quarter second) and the
/// values `read_model_lag_max`, `read_model_lag_max_at_s`, `read_model_lag_end`.
#[derive(Debug, Default)]
pub struct ReadModelLag {
    head: u64,
    checkpoint: u64,
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
            EventKind::EsAppend { position, .. } => self.head = self.head.max(*position),
            EventKind::ProjectionApply { position, .. } => self.checkpoint = self.checkpoint.max(*position),
            _ => return,
        }
        let lag = self.head.saturating_sub(self.checkpoint);
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
    }
}
