//! faultline: a deterministic simulation testbed for distributed-system patterns.
//!
//! This facade re-exports the workspace's crates; the `faultline` binary is in `src/main.rs`.
//! - [`execute`]: run a scenario with every checker that applies, and get its verdict (what
//!   the CLI's `run`, `check` and demo call).
//! - [`sim`]: the simulator (specs, runs, typed records, verdicts) on madsim.
//! - [`patterns`]: the resilience and consistency patterns, runtime-agnostic.
//! - [`scenarios`]: the scenario format, `--set` overrides, the catalog, the checkers.
//! - `reports` (feature `cli`, on by default): CSV, JSON and charts from a run's records.
//! - [`testing`]: faultline in your own tests: seeds, every checker, one replay line on failure.
//!
//! ```
//! let scenario = faultline::load("outbox", &["duration_s=5".to_owned()], Some(7)).unwrap();
//! let run = faultline::execute(&scenario, &Default::default(), Box::new(faultline::sim::NullSink)).unwrap();
//! assert!(run.verdict.passed(), "{}", run.verdict.first_violation().unwrap_or_default());
//! assert!(run.verdict.check("O1").is_some(), "the outbox checkers applied");
//! ```
#![forbid(unsafe_code)]

// faultline's simulator is madsim: a build without `--cfg madsim` would run the real tokio and
// fail in ways that say nothing about this. Say it once, clearly.
#[cfg(not(any(madsim, doc)))]
compile_error!(
    "faultline needs the simulation build: add `--cfg madsim` to RUSTFLAGS, e.g. in .cargo/config.toml: [build] rustflags = [\"--cfg\", \"madsim\"] (see docs/testing.md)"
);

pub mod testing;

pub use faultline_patterns as patterns;
#[cfg(feature = "cli")]
pub use faultline_reports as reports;
pub use faultline_scenarios as scenarios;
pub use faultline_scenarios::{execute, load, RunOptions, Scenario};
pub use faultline_sim as sim;
