//! faultline against the simulators a user would pick instead, on one workload: `chain3`, a
//! three-hop call chain (client -> a -> b -> c) under Poisson arrivals, 1 ms of service time per
//! hop and one-way latency of about 1-10 ms. Every side replays the same arrival times (drawn as
//! faultline's workload draws them) and counts the end-to-end requests answered; the benchmark
//! (`benches/peers.rs`) divides each count by the wall time it took.
//!
//! - [`on_faultline`]: the catalog scenario `chain3`, bare or with retry + timeout on every edge.
//! - [`on_madsim`]: the same chain written directly on madsim's RPC endpoints.
//! - [`on_turmoil`]: the same chain on turmoil, over persistent multiplexed TCP connections.
//!
//! The retry + timeout variants of the peers are written by hand as a user of each would: at
//! most 3 attempts, each bounded by 1 s, exponential backoff from 100 ms (faultline's defaults).

pub mod on_faultline;
pub mod on_madsim;
pub mod on_turmoil;

use std::time::Duration;

use faultline::sim::{rng, Arrivals};

/// What every side runs.
#[derive(Debug, Clone, Copy)]
pub struct Chain {
    /// The root seed (arrivals; each simulator's own randomness).
    pub seed: u64,
    /// Poisson arrivals per virtual second.
    pub rate_per_s: f64,
    /// How long arrivals come, in virtual seconds.
    pub virtual_s: u64,
    /// Retry + timeout on every edge.
    pub patterns: bool,
}

/// Attempts per call with patterns.
pub const ATTEMPTS: u32 = 3;
/// Each attempt's bound with patterns.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);
/// The first backoff with patterns (doubling).
pub const BACKOFF: Duration = Duration::from_millis(100);
/// Service time at each hop.
pub const SERVICE_TIME: Duration = Duration::from_millis(1);

impl Chain {
    /// The arrival times, from the start: the schedule faultline's open-loop workload draws
    /// for this seed and rate.
    pub fn arrivals(&self) -> Vec<Duration> {
        let mut rng = rng::stream(self.seed, "workload");
        let arrivals = Arrivals::Poisson { rate_per_s: self.rate_per_s };
        let run = Duration::from_secs(self.virtual_s);
        let mut out = Vec::new();
        let mut t = Duration::ZERO;
        while let Some(next) = arrivals.next_arrival(t, run, &mut rng) {
            out.push(next);
            t = next;
        }
        out
    }
}
