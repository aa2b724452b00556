//! CQRS: a query answered by a projector's read model never reaches the event store, is faster
//! than a load of the write model, and is stale by a measured amount; route latencies and run
//! measures reach experiments as metrics.

use faultline::scenarios::experiment::{compare::measured, compare::metric_named, SeedResult};

use crate::support::{assert_passed, checked};

fn calls(run: &faultline::sim::Execution, edge: &str) -> u64 {
    run.output.edges.iter().find(|e| e.edge == edge).map_or(0, |e| e.requests)
}

#[test]
fn a_read_model_answers_queries_without_the_event_store_faster_and_stale_by_a_measured_lag() {
    for seed in 1..=2 {
        let sets = ["duration_s=20"];
        let (write, _) = checked("cqrs-write-model", &sets, seed);
        let (read, _) = checked("cqrs-read-model", &sets, seed);
        assert_passed(&write, &format!("write model, seed {seed}"));
        assert_passed(&read, &format!("read model, seed {seed}"));
        assert!(read.verdict.check("E3").is_some(), "seed {seed}: E3 did not run on the read model");
        // Each query of the write model reads the stream; the read model's two replicas read
        // only the log (each event once, plus a head per round), however many queries there are.
        let queries = calls(&read, "gateway->balances");
        let (w_store, r_store) = (calls(&write, "balances->store"), calls(&read, "balances->store"));
        assert!(w_store > 5 * queries, "seed {seed}: {w_store} store calls for {queries} queries of the write model");
        assert!(
            4 * r_store < w_store,
            "seed {seed}: {r_store} store calls for the read model, {w_store} for the write model"
        );
        let (w, r) = (SeedResult::of(&write), SeedResult::of(&read));
        let (mean, read_mean) = metric_named("mean:/balance").expect("a metric");
        assert!(measured("mean:/balance", &w) && measured("mean:/balance", &r));
        assert!(!measured("mean:/nowhere", &w) && !measured("measure:read_model_staleness_ms_mean", &w));
        assert!(mean.what.contains("route /balance"), "{}", mean.what);
        let (slow, fast) = (read_mean(&w), read_mean(&r));
        assert!(
            fast > 0.0 && 2.0 * fast < slow,
            "seed {seed}: /balance {slow:.1} ms from the write model, {fast:.1} ms from the read model"
        );
        let (_, stale) = metric_named("measure:read_model_staleness_ms_mean").expect("a metric");
        let (_, worst) = metric_named("measure:read_model_staleness_ms_max").expect("a metric");
        assert_eq!(stale(&w), 0.0, "a write model is never stale");
        assert!(
            stale(&r) > 0.0 && stale(&r) <= worst(&r),
            "seed {seed}: staleness {} mean, {} max",
            stale(&r),
            worst(&r)
        );
        // The balance route's latency is its own, not the deposits'.
        let (_, deposit) = metric_named("mean:/deposit").expect("a metric");
        assert!(deposit(&r) > 2.0 * fast, "seed {seed}: /deposit {:.1} ms, /balance {fast:.1} ms", deposit(&r));
    }
}
