//! The one pipeline every entry point uses (the CLI's `run`, `check` and demo, sweeps, tests,
//! a user's own tests): run a scenario for its seed with every checker that applies, and
//! return the run's output with its verdict and measures.

use faultline_sim::record::RecordSink;
use faultline_sim::{Execution, Probe, RunError, SimSpec};

use crate::checkers::converge::{Converge, Phase};
use crate::checkers::expect::{self, Expectations, FaultStarts, SometimesChecker};
use crate::checkers::{self, Checking};
use crate::Scenario;

/// How to run, besides the scenario itself. Built from `RunOptions::default()` and its `with_`
/// methods, so that options added later do not break a caller.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct RunOptions {
    /// An async function started beside the run (tests use it to look inside).
    pub probe: Option<Probe>,
}

impl RunOptions {
    /// Starts `probe` beside the run, inside the simulation.
    pub fn with_probe(mut self, probe: Probe) -> Self {
        self.probe = Some(probe);
        self
    }
}

/// Runs `scenario` with every checker that applies to it; records stream to `sink` on their
/// way (use [`faultline_sim::NullSink`] to keep none). The verdict is the run's: a violated
/// invariant is in `verdict`, never only printed.
pub fn execute(scenario: &Scenario, options: &RunOptions, sink: Box<dyn RecordSink>) -> Result<Execution, RunError> {
    run_checked(&scenario.spec, &scenario.expect, options, sink)
}

/// [`execute`] for a spec built in Rust (`SimSpec::builder`), with no expectations beyond the
/// checkers (a fault that affects nothing is a warning).
pub fn execute_spec(spec: &SimSpec, options: &RunOptions, sink: Box<dyn RecordSink>) -> Result<Execution, RunError> {
    run_checked(spec, &Expectations::default(), options, sink)
}

fn run_checked(
    spec: &SimSpec,
    expect: &Expectations,
    options: &RunOptions,
    sink: Box<dyn RecordSink>,
) -> Result<Execution, RunError> {
    let mut monitors = checkers::for_spec(spec);
    let starts = FaultStarts::default();
    monitors.push(Box::new(starts.clone()));
    if !expect.sometimes.is_empty() {
        monitors.push(Box::new(SometimesChecker::new(expect.sometimes.clone())));
    }
    let mut untested = None;
    if let Some(budget) = expect.liveness {
        match liveness_phase(spec, budget) {
            Ok(phase) => monitors.push(Box::new(Converge::new(phase))),
            Err(why) => untested = Some(why),
        }
    }
    let (checking, monitors) = Checking::new(sink, monitors);
    let output = faultline_sim::run_with_probe(spec.clone(), Box::new(checking), options.probe.clone())?;
    let (mut verdict, measures) = monitors.conclude();
    expect::judge_faults(&mut verdict, &output.fault_effects, &starts, expect);
    verdict.warnings.extend(untested);
    // A liveness phase with nothing to judge is a warning, not a check that held (a check
    // with a violation is always kept).
    if verdict.warnings.iter().any(|w| w.starts_with("converge: untested")) {
        verdict.checks.retain(|c| c.checker != "converge" || c.violations > 0);
    }
    Ok(Execution { output, verdict, measures })
}

/// When the liveness phase starts and ends, or why there is none.
fn liveness_phase(spec: &SimSpec, budget: std::time::Duration) -> Result<Phase, String> {
    let faults = &spec.faults.0;
    let Some(first) = faults.iter().map(|f| f.at).min() else {
        return Err("converge: untested: the scenario has no faults to heal from".to_owned());
    };
    let mut healed = first;
    for (i, f) in faults.iter().enumerate() {
        let end = match (f.end(), &f.kind) {
            (Some(end), _) => end,
            (None, faultline_sim::FaultKind::Restart) => f.at,
            (None, kind) => {
                return Err(format!(
                    "converge: untested: faults[{i}] ({} on {}) never heals (give it a duration_s)",
                    kind.name(),
                    f.target
                ))
            }
        };
        healed = healed.max(end);
    }
    let us = |d: std::time::Duration| d.as_micros() as u64;
    Ok(Phase {
        first_fault_us: us(first),
        healed_us: us(healed),
        budget_us: us(budget),
        workload_end_us: us(spec.duration),
    })
}
