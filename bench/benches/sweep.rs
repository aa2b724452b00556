//! `cargo bench -p faultline-bench --bench sweep`: how a sweep scales and what it costs.
//!
//! - scaling: the same 20 seeds of `shop-outage-breaker` with 2 worker threads and with 1, in
//!   alternating rounds; the ratio of wall times, per round, median over 3 rounds;
//! - seeds per wall second for a scenario of about 100 client requests (`chain3` for 1 virtual
//!   second at 100/s), 500 seeds on every core;
//! - peak resident memory (VmHWM) of this process after 100 and after 1,000 seeds of that
//!   scenario: a sweep keeps one small result per seed, not its runs.

use std::time::Instant;

use faultline::scenarios::experiment::{sweep, SweepOptions};

fn wall(scenario: &faultline::Scenario, seeds: &[u64], jobs: usize) -> f64 {
    let started = Instant::now();
    let results = sweep(scenario, seeds, &SweepOptions { jobs, ..SweepOptions::default() }).expect("the sweep runs");
    assert_eq!(results.len(), seeds.len());
    started.elapsed().as_secs_f64()
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    kb / 1024.0
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let shop = faultline::load("shop-outage-breaker", &[], None).expect("catalog");
    let seeds: Vec<u64> = (1..=20).collect();
    let mut ratios = Vec::new();
    for round in 0..3 {
        let (one, two) = if round % 2 == 0 {
            let one = wall(&shop, &seeds, 1);
            (one, wall(&shop, &seeds, 2))
        } else {
            let two = wall(&shop, &seeds, 2);
            (wall(&shop, &seeds, 1), two)
        };
        println!("round {round}: --jobs 1 {one:.2} s, --jobs 2 {two:.2} s, ratio {:.2}x", one / two);
        ratios.push(one / two);
    }
    ratios.sort_by(f64::total_cmp);
    println!("sweep scaling --jobs 2 / --jobs 1 on {cores} cores (20 seeds of shop-outage-breaker): {:.2}x (median of 3 rounds)", ratios[1]);

    let small =
        faultline::load("chain3", &["duration_s=1".into(), "workload.rate_per_s=100".into(), "drain_s=5".into()], None)
            .expect("catalog");
    let before = peak_rss_mib();
    let hundred: Vec<u64> = (1..=100).collect();
    wall(&small, &hundred, cores);
    let after_100 = peak_rss_mib();
    let thousand: Vec<u64> = (1..=1000).collect();
    let t = wall(&small, &thousand, cores);
    let after_1000 = peak_rss_mib();
    println!(
        "seeds per wall second, ~100 client requests per seed, {cores} threads: {:.0} (1,000 seeds in {t:.2} s)",
        1000.0 / t
    );
    println!("peak memory: {before:.1} MiB before, {after_100:.1} MiB after 100 seeds, {after_1000:.1} MiB after 1,000 seeds");
}
