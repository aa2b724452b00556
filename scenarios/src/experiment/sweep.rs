//! Many seeds of one scenario, in-process on worker threads (each seed on its own runtime and
//! OS thread, as every run is), through the one pipeline.
//!
//! Seeds finish in whatever order the threads make; each result is handed to the caller as it
//! comes (to save it, to draw progress), and the results come back in seed order, so that what
//! a sweep writes does not depend on `jobs`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use faultline_sim::record::RecordSink;
use faultline_sim::{Execution, NullSink, RunError};

use super::outcome::SeedResult;
use crate::{execute, RunOptions, Scenario};

/// One seed, done.
pub struct SeedRun<'a> {
    /// The scenario as run for this seed (its `reproduce_args` replay it).
    pub scenario: &'a Scenario,
    /// Its figures.
    pub result: &'a SeedResult,
    /// The whole run (output, verdict, measures).
    pub execution: &'a Execution,
    /// Wall-clock seconds it took (for timing only: never part of a result).
    pub wall_s: f64,
}

/// How to run a sweep besides the scenario and seeds.
pub struct SweepOptions<'a> {
    /// Worker threads (at least 1).
    pub jobs: usize,
    /// Where each seed's records go (default: nowhere).
    pub sink: &'a (dyn Fn(&Scenario) -> Box<dyn RecordSink> + Sync),
    /// Called as each seed finishes, from the worker thread that ran it.
    pub on_done: &'a (dyn Fn(SeedRun<'_>) + Sync),
}

fn no_sink(_: &Scenario) -> Box<dyn RecordSink> {
    Box::new(NullSink)
}

fn nothing(_: SeedRun<'_>) {}

impl Default for SweepOptions<'_> {
    fn default() -> Self {
        let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
        SweepOptions { jobs, sink: &no_sink, on_done: &nothing }
    }
}

/// Runs `scenario` for every seed in `seeds`; returns the results in the order of `seeds`.
/// The first run that fails to run at all (a bug, not a violated check) stops the sweep.
pub fn sweep(scenario: &Scenario, seeds: &[u64], options: &SweepOptions<'_>) -> Result<Vec<SeedResult>, RunError> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<SeedResult>>> = Mutex::new(vec![None; seeds.len()]);
    let failure: Mutex<Option<RunError>> = Mutex::new(None);
    let worker = || {
        while failure.lock().map_or(true, |f| f.is_none()) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&seed) = seeds.get(i) else { return };
            let one = scenario.with_seed(seed);
            // lint: allow(determinism) wall time for timing.csv only, outside every simulation
            let started = Instant::now();
            match execute(&one, &RunOptions::default(), (options.sink)(&one)) {
                Ok(execution) => {
                    let result = SeedResult::of(&execution);
                    let wall_s = started.elapsed().as_secs_f64();
                    (options.on_done)(SeedRun { scenario: &one, result: &result, execution: &execution, wall_s });
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(result);
                    }
                }
                Err(e) => {
                    if let Ok(mut f) = failure.lock() {
                        f.get_or_insert(e);
                    }
                }
            }
        }
    };
    std::thread::scope(|s| {
        // More threads than seeds (or than any machine has cores for) would only wait.
        for _ in 0..options.jobs.clamp(1, seeds.len().clamp(1, 256)) {
            s.spawn(worker);
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(results.into_iter().flatten().collect())
}
