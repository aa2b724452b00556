//! What a sweep is, so that a resumed run, a shard and a merge can tell whether two
//! directories hold parts of the same sweep; and a seed's result as saved while it runs.

use serde::{Deserialize, Serialize};

use super::outcome::SeedResult;
use super::seeds::{SeedRange, Shard};
use crate::Scenario;

/// What a sweep is: two directories with equal keys hold parts of the same sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepKey {
    /// The faultline that ran it.
    pub faultline_version: String,
    /// Scenario name.
    pub scenario: String,
    /// The catalog name or file, as given.
    pub source: String,
    /// The `--set`s.
    pub overrides: Vec<String>,
    /// FNV-1a of the scenario file as run (every override applied), if it came from one.
    pub document: String,
    /// All the seeds of the sweep (not only this shard's).
    pub seeds: SeedRange,
    /// This part of them.
    pub shard: Shard,
    /// The shape of a seed's saved figures ([`RESULTS_FORMAT`]): results saved in another
    /// shape are run again, not read back with figures missing.
    #[serde(default)]
    pub results_format: u32,
}

/// The version of [`SeedResult`]'s saved shape; raised when figures are added or renamed.
pub const RESULTS_FORMAT: u32 = 2;

impl SweepKey {
    /// The key of sweeping `s` over shard `shard` of `seeds` with faultline `version`.
    pub fn of(s: &Scenario, seeds: SeedRange, shard: Shard, version: &str) -> SweepKey {
        let text = s.document.as_ref().map(|d| toml::to_string(d).unwrap_or_default()).unwrap_or_default();
        let hash = faultline_sim::rng::fnv1a(faultline_sim::rng::FNV_OFFSET, text.as_bytes());
        SweepKey {
            faultline_version: version.to_owned(),
            scenario: s.spec.name.clone(),
            source: s.source.as_arg().to_owned(),
            overrides: s.overrides.clone(),
            document: format!("{hash:016x}"),
            seeds,
            shard,
            results_format: RESULTS_FORMAT,
        }
    }
}

/// A finished seed as saved while a sweep runs.
#[derive(Serialize, Deserialize)]
pub struct Saved {
    /// The seed's figures.
    pub result: SeedResult,
    /// Wall seconds it took.
    pub wall_s: f64,
}
