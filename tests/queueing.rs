//! The simulator against queueing theory.
//!
//! M/M/1 with service rate mu = 1/s: the mean time in system is 1/(mu - lambda) and, by
//! Little's law, the mean number in system is lambda * W. Sojourn times in a queue are strongly
//! autocorrelated, so the precision of a run's mean is measured, not assumed: each seed is an
//! independent replication, the standard error comes from the spread across seeds, and each
//! test first asserts that 5% is at least 3.5 standard errors (so a pass is meaningful and a
//! genuine 5% bias would fail with near certainty) before asserting the 5% bound itself.
//! Sized from a measurement: at rho = 0.8 one 50,000 s seed (~40k requests) has a relative
//! standard deviation of about 6%, so 16 seeds give ~1.5%.

use faultline::scenarios;
use faultline::sim::{self, NullSink, RunOutput};

fn replications(rate_per_s: f64, duration_s: u32, seeds: u64) -> Vec<RunOutput> {
    let sets = [format!("workload.rate_per_s={rate_per_s}"), format!("duration_s={duration_s}")];
    let specs: Vec<_> = (1..=seeds).map(|seed| scenarios::load("mm1", &sets, Some(seed)).unwrap().spec).collect();
    // Two at a time: this machine has two cores.
    let mut outputs = Vec::new();
    for pair in specs.chunks(2) {
        let handles: Vec<_> = pair
            .iter()
            .cloned()
            .map(|s| std::thread::spawn(move || sim::run_unchecked(s, Box::new(NullSink)).unwrap()))
            .collect();
        outputs.extend(handles.into_iter().map(|h| h.join().unwrap()));
    }
    outputs
}

fn mean_and_stderr(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

fn check_mm1(rate_per_s: f64, duration_s: u32, seeds: u64) {
    let mu = 1.0;
    let w_theory = 1.0 / (mu - rate_per_s);
    let l_theory = rate_per_s * w_theory;
    let runs = replications(rate_per_s, duration_s, seeds);
    let mut w = Vec::new();
    let mut l = Vec::new();
    for r in &runs {
        let e = r.edge("client->server").unwrap();
        assert_eq!(e.success_rate, 1.0, "seed {}: every request must complete", r.seed);
        let w_seed = e.mean_ms / 1e3;
        let lambda_seed = e.requests as f64 / r.end_s;
        let l_seed = r.services[0].mean_in_system;
        // Little's law on one sample path: the server's own time-average occupancy against
        // the client's records (which add ~2 ms of network per request).
        let little = lambda_seed * w_seed;
        assert!((l_seed - little).abs() / little < 0.01, "seed {}: L = {l_seed:.4} but lambda*W = {little:.4}", r.seed);
        w.push(w_seed);
        l.push(l_seed);
    }
    let (w_mean, w_se) = mean_and_stderr(&w);
    let (l_mean, l_se) = mean_and_stderr(&l);
    let total: u64 = runs.iter().map(|r| r.edge("client->server").unwrap().requests).sum();
    println!("rho {rate_per_s}: {total} requests, W = {w_mean:.4} s +- {w_se:.4} (theory {w_theory}), L = {l_mean:.4} +- {l_se:.4} (theory {l_theory})");
    assert!(3.5 * w_se < 0.05 * w_theory, "too few requests for a sound test: stderr {w_se:.4} s");
    assert!((w_mean - w_theory).abs() < 0.05 * w_theory, "mean time in system {w_mean:.4} s, theory {w_theory} s");
    assert!((l_mean - l_theory).abs() < 0.05 * l_theory, "mean number in system {l_mean:.4}, theory {l_theory}");
}

#[test]
fn mm1_at_utilisation_0_5_matches_theory() {
    check_mm1(0.5, 50_000, 8);
}

#[test]
fn mm1_at_utilisation_0_8_matches_theory() {
    check_mm1(0.8, 50_000, 16);
}
