//! faultline: a deterministic simulation testbed for distributed-system patterns.
//!
//! This facade re-exports the workspace's crates; the `faultline` binary is in `src/main.rs`.
//! - [`sim`]: the simulator (specs, runs, records) on madsim.
//! - [`patterns`]: the resilience patterns, runtime-agnostic.
//! - [`scenarios`]: the scenario format, `--set` overrides and the catalog.
//! - [`reports`]: CSV, JSON and charts from a run's records.
#![forbid(unsafe_code)]

pub use faultline_patterns as patterns;
pub use faultline_reports as reports;
pub use faultline_scenarios as scenarios;
pub use faultline_sim as sim;
