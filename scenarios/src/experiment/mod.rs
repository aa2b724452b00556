//! Experiments: many seeds of a scenario (a sweep), and variants compared on the same seeds
//! with paired statistics. Everything here is computation over runs of the one pipeline
//! ([`crate::execute`]); writing files and drawing charts is the reports crate's job.

pub mod aggregate;
pub mod compare;
pub mod key;
pub mod outcome;
pub mod seeds;
pub mod stats;
pub mod sweep;

pub use compare::{differences, Difference, Finding};
pub use key::{Saved, SweepKey, RESULTS_FORMAT};
pub use outcome::SeedResult;
pub use seeds::{SeedRange, Shard};
pub use sweep::{sweep, SeedRun, SweepOptions};
