//! A failure record (`failure.json`): everything needed to run a failing seed again, anywhere,
//! without the command line that found it: the scenario as run (every override applied, the
//! seed set), the faultline version (and commit when the build knew it), the fingerprint and
//! the violations.

use serde::{Deserialize, Serialize};

use faultline_sim::Execution;

use crate::{from_str, Scenario, ScenarioError};

/// The file name a failing run writes.
pub const FILE: &str = "failure.json";

/// A failing run, recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    /// The faultline version that ran it.
    pub faultline_version: String,
    /// The commit it was built from, when the build knew it (`FAULTLINE_COMMIT` at build time).
    pub commit: Option<String>,
    /// The scenario's name.
    pub scenario: String,
    /// Where it came from (a catalog name or a file), as given.
    pub source: String,
    /// The overrides, as given.
    pub overrides: Vec<String>,
    /// The seed.
    pub seed: u64,
    /// The scenario as run, TOML, with every override applied and the seed set (absent for a
    /// scenario built in Rust, which a record cannot carry).
    pub scenario_toml: Option<String>,
    /// The run's fingerprint.
    pub fingerprint: String,
    /// The checkers violated.
    pub violated: Vec<String>,
    /// The first violation, in words.
    pub first_violation: String,
    /// The command that ran it.
    pub reproduce: String,
    /// The scenario was changed in code (generated faults): only `scenario_toml` says what ran.
    #[serde(default)]
    pub edited: bool,
}

impl FailureRecord {
    /// The record of `run`, a run of `scenario` that violated a check (`None` if it passed).
    pub fn of(scenario: &Scenario, run: &Execution, version: &str) -> Option<FailureRecord> {
        if run.verdict.passed() {
            return None;
        }
        Some(FailureRecord {
            faultline_version: version.to_owned(),
            commit: option_env!("FAULTLINE_COMMIT").map(str::to_owned),
            scenario: scenario.spec.name.clone(),
            source: scenario.source.as_arg().to_owned(),
            overrides: scenario.overrides.clone(),
            seed: scenario.spec.seed,
            scenario_toml: scenario.as_run_toml("faultline"),
            fingerprint: run.output.fingerprint.clone(),
            violated: run.verdict.violated().map(|c| c.checker.clone()).collect(),
            first_violation: run.verdict.first_violation().unwrap_or_default(),
            reproduce: format!("faultline {}", scenario.reproduce_args()),
            edited: scenario.edited,
        })
    }

    /// The scenario to run again: from the recorded TOML, so that it needs neither the catalog
    /// of the version that wrote it nor the file it came from; the source and overrides are
    /// kept for the command it prints.
    pub fn scenario(&self) -> Result<Scenario, ScenarioError> {
        let Some(text) = &self.scenario_toml else {
            return crate::load(&self.source, &self.overrides, Some(self.seed));
        };
        let mut s = from_str(text, &format!("{} (recorded)", self.source), &[])?;
        s.spec.seed = self.seed;
        s.source = if crate::catalog::get(&self.source).is_some() {
            crate::Source::Catalog(self.source.clone())
        } else {
            crate::Source::File(self.source.clone())
        };
        s.overrides = self.overrides.clone();
        s.edited = self.edited;
        Ok(s)
    }
}
