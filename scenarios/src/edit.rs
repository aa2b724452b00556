//! A loaded scenario changed in code (a property test's generated faults and settings, a
//! swarm's sampled plan), keeping the scenario file as run in step with the spec: the failure
//! record of a changed scenario carries the change, and a replay needs nothing else.

use faultline_sim::{Fault, FaultKind, FaultPlan};
use toml::{Table, Value};

use crate::load::revalidate;
use crate::overrides::{self, Override};
use crate::{Scenario, ScenarioError};

impl Scenario {
    /// The same scenario with `plan` instead of its faults (validated as a file's would be:
    /// a fault on a service that does not exist is an error).
    pub fn with_faults(&self, plan: &FaultPlan) -> Result<Scenario, ScenarioError> {
        let mut doc = self.document_or_error()?;
        // The plan is the whole plan: storms would add their faults to it.
        doc.remove("storms");
        if plan.0.is_empty() {
            doc.remove("faults");
        } else {
            doc.insert(
                "faults".to_owned(),
                Value::Array(plan.0.iter().map(|f| Value::Table(fault_table(f))).collect()),
            );
        }
        revalidate(self, doc, &[], true)
    }

    /// The same scenario with more `--set` overrides (`KEY=VALUE`, as on the command line).
    pub fn with_sets(&self, sets: &[String]) -> Result<Scenario, ScenarioError> {
        let parsed: Vec<Override> =
            sets.iter().map(|o| Override::parse(o)).collect::<Result<_, _>>().map_err(ScenarioError::Override)?;
        let mut doc = self.document_or_error()?;
        overrides::apply_all(&mut doc, &parsed).map_err(ScenarioError::Override)?;
        revalidate(self, doc, sets, false)
    }

    /// The scenario with the faults (and knob values) its seed draws from its swarm ranges
    /// (`[swarm]`, or defaults from the scenario), with a liveness phase (`[liveness]`, or a
    /// budget of a sixth of the run). The draw is written into the scenario as run: a replay of
    /// it needs no swarm.
    pub fn with_swarm(&self) -> Result<Scenario, ScenarioError> {
        let base = match &self.swarm_base {
            Some(b) => b.as_ref().clone().with_seed_plain(self.spec.seed),
            None => self.clone(),
        };
        let ranges = base.swarm.clone().unwrap_or_else(|| crate::swarm::SwarmSpec::defaults(&base.spec));
        // Each knob is valid at both ends of its range (checked when the file was read), but
        // two drawn together may not be: such a draw is made again from another stream of the
        // seed, and at worst the seed runs its faults without the knobs, and says so.
        let mut first_error = None;
        for attempt in 0..DRAWS {
            let (plan, knobs) = ranges.draw(base.spec.seed, attempt);
            let knobs = if attempt + 1 == DRAWS { Vec::new() } else { knobs };
            match swarmed(&base, &plan, &knobs) {
                Ok(mut s) => {
                    if let Some(e) = first_error.filter(|_| knobs.is_empty() && !ranges.knobs.is_empty()) {
                        s.warnings.push(format!("swarm: seed {}: no draw of the knobs made a valid scenario (the first: {e}); it runs without them", base.spec.seed));
                    }
                    return Ok(s);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| ScenarioError::Override("swarm: nothing drawn".to_owned())))
    }

    /// [`Scenario::with_seed`] without drawing again.
    fn with_seed_plain(mut self, seed: u64) -> Scenario {
        self.spec.seed = seed;
        self
    }

    fn document_or_error(&self) -> Result<Table, ScenarioError> {
        let mut doc = self.document.clone().ok_or_else(|| {
            ScenarioError::Override(format!(
                "{} was built in Rust: change its SimSpec instead (this edits a scenario file)",
                self.spec.name
            ))
        })?;
        doc.insert("seed".to_owned(), Value::Integer(self.spec.seed as i64));
        Ok(doc)
    }
}

/// How many times a seed draws its knobs before it runs without them.
const DRAWS: u32 = 16;

/// `base` with the faults `plan` and the overrides `knobs`, and a liveness phase.
fn swarmed(base: &Scenario, plan: &FaultPlan, knobs: &[String]) -> Result<Scenario, ScenarioError> {
    let parsed: Vec<Override> =
        knobs.iter().map(|o| Override::parse(o)).collect::<Result<_, _>>().map_err(ScenarioError::Override)?;
    let mut doc = base.document_or_error()?;
    overrides::apply_all(&mut doc, &parsed).map_err(|e| ScenarioError::Override(format!("swarm.knobs: {e}")))?;
    doc.insert("faults".to_owned(), Value::Array(plan.0.iter().map(|f| Value::Table(fault_table(f))).collect()));
    if !doc.contains_key("liveness") {
        let budget = (base.spec.duration.as_secs_f64() / 6.0 * 1000.0).round() / 1000.0;
        let mut t = Table::new();
        t.insert("budget_s".to_owned(), Value::Float(budget));
        doc.insert("liveness".to_owned(), Value::Table(t));
    }
    let mut s = revalidate(base, doc, &[], false)?;
    s.edited = base.edited;
    s.swarm_base = Some(Box::new(base.clone()));
    Ok(s)
}

/// A fault as the `[[faults]]` table a file would have.
pub(crate) fn fault_table(f: &Fault) -> Table {
    let mut t = Table::new();
    t.insert("kind".to_owned(), Value::String(f.kind.name().to_owned()));
    t.insert("target".to_owned(), Value::String(f.target.to_string()));
    t.insert("at_s".to_owned(), seconds(f.at.as_secs_f64()));
    if let Some(d) = f.duration {
        t.insert("duration_s".to_owned(), seconds(d.as_secs_f64()));
    }
    match &f.kind {
        FaultKind::ErrorBurst { rate } | FaultKind::PacketLoss { rate } => {
            t.insert("rate".to_owned(), Value::Float(*rate));
        }
        FaultKind::LatencySpike { add } => {
            t.insert("add".to_owned(), Value::String(add.to_string()));
        }
        FaultKind::ClockSkew { offset_ms } => {
            t.insert("offset_ms".to_owned(), Value::Integer(*offset_ms));
        }
        FaultKind::ClockDrift { rate } => {
            t.insert("rate".to_owned(), Value::Float(*rate));
        }
        FaultKind::Outage
        | FaultKind::Partition
        | FaultKind::Crash
        | FaultKind::Restart
        | FaultKind::Pause
        | FaultKind::DiskFull
        | FaultKind::FsyncFail => {}
    }
    t
}

/// Whole seconds as an integer, others to the microsecond.
fn seconds(s: f64) -> Value {
    if s.fract() == 0.0 && s < 1e15 {
        Value::Integer(s as i64)
    } else {
        Value::Float((s * 1e6).round() / 1e6)
    }
}
