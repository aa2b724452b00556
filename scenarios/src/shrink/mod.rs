//! Shrinking a failing run: the smallest scenario found that still violates the same check.
//!
//! Greedy delta debugging over the scenario file as run: try the reductions of
//! `candidates.rs` biggest first, keep the first that still fails, start again from the smaller
//! scenario, and stop when no single reduction keeps the failure (or the run budget is spent).
//! The seed never changes, every candidate is a whole checked run, and the order of the
//! candidates is fixed, so the same record shrinks to the same scenario on any machine.
//! Bounded by runs, not wall time, for that reason.

mod candidates;

use std::collections::BTreeSet;
use std::fmt;

use faultline_sim::{Execution, NullSink};
use serde::Serialize;
use toml::Table;

use crate::{execute, from_str, RunOptions, Scenario};

/// How far a shrink may go.
#[derive(Debug, Clone)]
pub struct ShrinkOptions {
    /// The check the smaller runs must still violate (default: the first the run violates).
    pub checker: Option<String>,
    /// At most this many runs, the first (the run as given) included.
    pub max_runs: usize,
}

impl Default for ShrinkOptions {
    fn default() -> Self {
        ShrinkOptions { checker: None, max_runs: 300 }
    }
}

/// How big a run is, in the terms a shrink reduces.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Size {
    /// Scheduled faults.
    pub faults: usize,
    /// Calls recorded (every hop; attempts are counted in their call).
    pub requests: u64,
    /// Services.
    pub services: usize,
    /// Replicas, all services together.
    pub replicas: u64,
    /// Pattern layers, all edges together.
    pub layers: usize,
    /// Virtual seconds the run lasted (workload, drain and settling).
    pub virtual_s: f64,
}

impl Size {
    fn of(scenario: &Scenario, run: &Execution) -> Size {
        let spec = &scenario.spec;
        Size {
            faults: spec.faults.0.len(),
            requests: run.output.requests,
            services: spec.services.len(),
            replicas: spec.services.iter().map(|s| u64::from(s.replicas)).sum(),
            layers: scenario.document.as_ref().map_or(0, layers),
            virtual_s: run.output.end_s,
        }
    }
}

/// Pattern layers in a scenario file, all edges together.
fn layers(doc: &Table) -> usize {
    let Some(edges) = doc.get("edges").and_then(toml::Value::as_table) else { return 0 };
    edges.values().filter_map(|e| e.get("stack").and_then(toml::Value::as_array)).map(Vec::len).sum()
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = |count: u64, one: &str, many: &str| format!("{count} {}", if count == 1 { one } else { many });
        write!(
            f,
            "{}, {}, {} ({}), {}, {:.1} virtual s",
            n(self.faults as u64, "fault", "faults"),
            n(self.requests, "request", "requests"),
            n(self.services as u64, "service", "services"),
            n(self.replicas, "replica", "replicas"),
            n(self.layers as u64, "pattern layer", "pattern layers"),
            self.virtual_s
        )
    }
}

/// What a shrink found.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The smallest failing scenario found (same seed).
    pub scenario: Scenario,
    /// Its run.
    pub run: Execution,
    /// The check it still violates.
    pub checker: String,
    /// The size of the run given, and of the smallest.
    pub before: Size,
    /// The size of the smallest.
    pub after: Size,
    /// The reductions kept, in order.
    pub steps: Vec<String>,
    /// Runs made, the first included.
    pub runs: usize,
    /// True when the run budget ran out before no reduction was left to try.
    pub budget_spent: bool,
}

/// Where a shrink is, for a progress line.
#[derive(Debug, Clone)]
pub struct Progress<'a> {
    /// Runs made so far.
    pub runs: usize,
    /// The budget.
    pub max_runs: usize,
    /// The smallest failing run so far.
    pub size: Size,
    /// The reduction just kept, if the last run kept one.
    pub kept: Option<&'a str>,
}

/// Why a run could not be shrunk. Every case is the user's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShrinkError {
    /// A scenario built in Rust has no file to reduce.
    NoFile(String),
    /// The run given passes (or does not violate the check named).
    DoesNotFail(String),
    /// The run given could not run.
    Run(String),
}

impl fmt::Display for ShrinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShrinkError::NoFile(name) => {
                write!(f, "{name} was built in Rust, not read from a file: there is no scenario file to shrink")
            }
            ShrinkError::DoesNotFail(why) => write!(f, "nothing to shrink: {why}"),
            ShrinkError::Run(e) => write!(f, "the run could not run: {e}"),
        }
    }
}

impl std::error::Error for ShrinkError {}

/// Shrinks `scenario` (which must fail) to the smallest scenario found that violates the same
/// check on the same seed, calling `progress` after every run.
pub fn shrink(
    scenario: &Scenario,
    options: &ShrinkOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Shrunk, ShrinkError> {
    let mut doc = scenario.document.clone().ok_or_else(|| ShrinkError::NoFile(scenario.spec.name.clone()))?;
    doc.insert("seed".to_owned(), toml::Value::Integer(scenario.spec.seed as i64));
    doc.insert("name".to_owned(), toml::Value::String(scenario.spec.name.clone()));
    // A swarm's faults are already drawn into the file; its ranges would only hold back
    // reductions they mention (a shorter run, a removed service).
    doc.remove("swarm");
    let first = run(scenario)?;
    let checker = target_checker(scenario, &first, options.checker.as_deref())?;
    let before = Size::of(scenario, &first);
    let mut best = (scenario.clone(), first, before);
    let mut steps = Vec::new();
    let mut runs = 1;
    let mut tried = BTreeSet::new();
    progress(&Progress { runs, max_runs: options.max_runs, size: before, kept: None });
    'rounds: loop {
        for candidate in candidates::all(&doc) {
            if runs >= options.max_runs {
                return Ok(finish(best, checker, before, steps, runs, true));
            }
            let Some(smaller) = load(&candidate.doc, scenario) else { continue };
            let text = toml::to_string(&candidate.doc).unwrap_or_default();
            if !tried.insert(text) {
                continue;
            }
            runs += 1;
            let Ok(r) = run(&smaller) else { continue };
            if r.verdict.is_violated(&checker) {
                let size = Size::of(&smaller, &r);
                progress(&Progress { runs, max_runs: options.max_runs, size, kept: Some(&candidate.what) });
                steps.push(candidate.what);
                doc = candidate.doc;
                best = (smaller, r, size);
                continue 'rounds;
            }
            progress(&Progress { runs, max_runs: options.max_runs, size: best.2, kept: None });
        }
        return Ok(finish(best, checker, before, steps, runs, false));
    }
}

fn finish(
    best: (Scenario, Execution, Size),
    checker: String,
    before: Size,
    steps: Vec<String>,
    runs: usize,
    budget_spent: bool,
) -> Shrunk {
    let (scenario, run, after) = best;
    Shrunk { scenario, run, checker, before, after, steps, runs, budget_spent }
}

fn run(scenario: &Scenario) -> Result<Execution, ShrinkError> {
    execute(scenario, &RunOptions::default(), Box::new(NullSink)).map_err(|e| ShrinkError::Run(e.to_string()))
}

/// The check to keep violated: the one named (which the run must violate), else the first
/// the run violates.
fn target_checker(scenario: &Scenario, run: &Execution, named: Option<&str>) -> Result<String, ShrinkError> {
    let seed = scenario.spec.seed;
    let name = &scenario.spec.name;
    match named {
        Some(c) if run.verdict.is_violated(c) => Ok(c.to_owned()),
        Some(c) => {
            let violated: Vec<String> = run.verdict.violated().map(|k| k.checker.clone()).collect();
            let held = if violated.is_empty() {
                "it violates none".to_owned()
            } else {
                format!("it violates {}", violated.join(", "))
            };
            Err(ShrinkError::DoesNotFail(format!("{name} at seed {seed} does not violate {c} ({held})")))
        }
        None => run
            .verdict
            .violated()
            .next()
            .map(|c| c.checker.clone())
            .ok_or_else(|| ShrinkError::DoesNotFail(format!("{name} at seed {seed} passes every check"))),
    }
}

/// A candidate document as a scenario, keeping where the original came from; `None` when the
/// edit does not make a valid scenario.
fn load(doc: &Table, original: &Scenario) -> Option<Scenario> {
    let text = toml::to_string(doc).ok()?;
    let mut s = from_str(&text, original.source.as_arg(), &[]).ok()?;
    s.source = original.source.clone();
    s.description = format!(
        "{} (seed {}) made smaller by faultline shrink; it still fails",
        original.spec.name, original.spec.seed
    );
    s.document.as_mut()?.insert("description".to_owned(), toml::Value::String(s.description.clone()));
    Some(s)
}
