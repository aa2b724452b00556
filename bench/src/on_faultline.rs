//! The chain on faultline: the catalog scenario `chain3`, into a sink that keeps nothing.

use faultline::scenarios;
use faultline::sim::{self, NullSink};

use crate::Chain;

/// Runs the chain; returns the end-to-end requests answered.
pub fn run(chain: &Chain) -> u64 {
    let mut sets = vec![format!("duration_s={}", chain.virtual_s), format!("workload.rate_per_s={}", chain.rate_per_s)];
    if chain.patterns {
        for edge in ["client->a", "a->b", "b->c"] {
            sets.push(format!("edges.\"{edge}\".stack=[\"retry\",\"timeout\"]"));
        }
    }
    let spec = scenarios::load("chain3", &sets, Some(chain.seed)).expect("chain3 loads").spec;
    let out = sim::run_unchecked(spec, Box::new(NullSink)).expect("chain3 runs");
    out.edge("client->a").map_or(0, |e| e.outcomes.get("ok").copied().unwrap_or(0))
}
