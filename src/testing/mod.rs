//! faultline in a user's own tests and CI: run a scenario over seeds with every checker that
//! applies, and fail with one line that replays the failure.
//!
//! ```no_run
//! // tests/resilience.rs of a user's crate (built with `--cfg madsim`: see docs/testing.md)
//! #[test]
//! fn the_outbox_never_loses_an_event() {
//!     let scenario = faultline::load("outbox", &[], None).unwrap();
//!     faultline::testing::assert_seeds_pass(&scenario, 1..=20);
//! }
//! ```
//!
//! On a failure the panic message is the first failing seed's violation and the command that
//! replays it (`faultline replay <record>`), and a failure record is written under
//! `target/faultline-failures/` (or `$FAULTLINE_FAILURES`), so a CI job can keep it as an
//! artefact. Set `FAULTLINE_SEEDS=A..B` to run other seeds than the test names (a nightly job
//! with many seeds, the same test).

#[cfg(feature = "proptest")]
pub mod strategies;

use std::path::PathBuf;

use faultline_scenarios::experiment::{sweep, SeedRange, SweepOptions};
use faultline_scenarios::failure::{self, FailureRecord};
use faultline_scenarios::{execute, RunOptions, Scenario};
use faultline_sim::Execution;

/// The seeds to run: `FAULTLINE_SEEDS` (`A..B` or `N`) when set, else `seeds`.
pub fn seeds(seeds: impl IntoIterator<Item = u64>) -> Vec<u64> {
    match std::env::var("FAULTLINE_SEEDS") {
        Ok(v) => match v.parse::<SeedRange>() {
            Ok(r) => r.seeds().collect(),
            Err(e) => panic!("FAULTLINE_SEEDS: {e}"),
        },
        Err(_) => seeds.into_iter().collect(),
    }
}

/// Where failure records go: `$FAULTLINE_FAILURES`, else `target/faultline-failures`.
pub fn failures_dir() -> PathBuf {
    std::env::var_os("FAULTLINE_FAILURES").map_or_else(|| PathBuf::from("target/faultline-failures"), PathBuf::from)
}

/// Runs `scenario` for every seed (see [`seeds`]) on every core, with every checker that
/// applies. Returns the failures' replay lines (empty when every check held on every seed),
/// and writes a record for each failing seed.
pub fn failing_seeds(scenario: &Scenario, seeds_to_run: impl IntoIterator<Item = u64>) -> Vec<String> {
    let seeds = seeds(seeds_to_run);
    let results = sweep(scenario, &seeds, &SweepOptions::default())
        .unwrap_or_else(|e| panic!("faultline could not run {}: {e}", scenario.spec.name));
    results.iter().filter(|r| !r.passed()).map(|r| record(scenario, r.seed)).collect()
}

/// Panics unless every check holds on every seed; the message names the first failing seed's
/// violation and the one line that replays it.
pub fn assert_seeds_pass(scenario: &Scenario, seeds_to_run: impl IntoIterator<Item = u64>) {
    let failures = failing_seeds(scenario, seeds_to_run);
    if let Some(first) = failures.first() {
        panic!("{} of the seeds failed; the first: {first}", failures.len());
    }
}

/// Runs `scenario` once, at its own seed, with every checker that applies: `Err` with the
/// violation and the line that replays it (a record is written, see [`failures_dir`]) when a
/// check fails. For property tests, where each case is a scenario of its own (generated faults
/// or settings: see [`strategies`](crate::testing)).
pub fn check(scenario: &Scenario) -> Result<(), String> {
    let seed = scenario.spec.seed;
    let run = execute(scenario, &RunOptions::default(), Box::new(faultline_sim::NullSink))
        .map_err(|e| format!("{} at seed {seed} could not run: {e}", scenario.spec.name))?;
    match write_record(scenario, &run, true) {
        None => Ok(()),
        Some(line) => Err(line),
    }
}

/// Runs one failing seed again to record it; returns its violation and replay line.
fn record(scenario: &Scenario, seed: u64) -> String {
    let one = scenario.with_seed(seed);
    let run = match execute(&one, &RunOptions::default(), Box::new(faultline_sim::NullSink)) {
        Ok(run) => run,
        Err(e) => return format!("seed {seed}: {e}"),
    };
    write_record(&one, &run, false).unwrap_or_else(|| {
        format!("seed {seed} failed, then passed when run again (a bug in faultline: please report it)")
    })
}

/// Writes the record of a failing run and returns its violation and replay line; `None` when
/// the run passed. With `by_fingerprint` the record's directory is told apart by the run's
/// fingerprint (a property test's cases share a scenario name and often a seed).
fn write_record(scenario: &Scenario, run: &Execution, by_fingerprint: bool) -> Option<String> {
    let rec = FailureRecord::of(scenario, run, env!("CARGO_PKG_VERSION"))?;
    let seed = rec.seed;
    let mut name = format!("{}-seed{seed}", rec.scenario);
    if by_fingerprint {
        name.push('-');
        name.push_str(rec.fingerprint.get(..8).unwrap_or(&rec.fingerprint));
    }
    let dir = failures_dir().join(name);
    let path = dir.join(failure::FILE);
    let written = std::fs::create_dir_all(&dir)
        .and_then(|_| serde_json::to_string_pretty(&rec).map_err(std::io::Error::other))
        .and_then(|text| std::fs::write(&path, text + "\n"));
    let replay = match written {
        Ok(()) => format!("faultline replay {}", path.display()),
        Err(_) => rec.reproduce.clone(),
    };
    Some(format!("seed {seed}: {}; replay: {replay}", rec.first_violation))
}
