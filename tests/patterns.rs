//! Patterns inside the simulator: each changes the numbers the way its documentation says.

use faultline::scenarios;
use faultline::sim::{self, NullSink};

use crate::support::*;

fn run_named(name: &str, sets: &[&str]) -> (faultline::sim::RunOutput, faultline::sim::record::Rows) {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    run_rows(scenarios::load(name, &sets, None).unwrap().spec)
}

#[test]
fn a_breaker_fails_fast_during_an_outage_and_closes_after_it() {
    let (without, _) = run_named("shop-outage-resilient", &[]);
    let (with, rows) = run_named("shop-outage-breaker", &[]);
    let (p99_without, p99_with) = (without.edges[0].p99_ms, with.edges[0].p99_ms);
    assert!(p99_with * 10.0 < p99_without, "client p99 {p99_without} ms -> {p99_with} ms");
    let payment = with.edge("orders->payment").unwrap();
    assert!(payment.outcomes.get("shed").copied().unwrap_or(0) > 1000, "the open breaker sheds calls: {:?}", payment.outcomes);
    // Sheds happen only while payment is dark (40-60 s) and shortly after, never well before
    // (a call started at 39.9 s may retry into the open breaker).
    let reqs = requests(&rows);
    assert_eq!(share(&reqs, "orders->payment", 0.0, 39.0, "shed").0, 0.0);
    assert_eq!(share(&reqs, "orders->payment", 65.0, 120.0, "shed").0, 0.0, "the breaker closed again");
    let kinds: Vec<&str> = rows.events.iter().filter_map(|e| e.split(',').nth(2)).filter(|k| k.starts_with("breaker.")).collect();
    assert!(kinds.contains(&"breaker.open") && kinds.contains(&"breaker.half_open") && kinds.last() == Some(&"breaker.closed"), "{kinds:?}");
}

#[test]
fn retry_lifts_success_under_transient_errors() {
    // The seeds' claim "95% -> 99.9% with 3 retries": 5% independent errors, 3 attempts.
    let base = |stack: Vec<faultline::scenarios::stack::LayerSpec>| {
        let mut spec = with_stack(api_db(21, 200.0, 60.0), "api", "db", stack).build().unwrap();
        spec.services[1].error_rate = 0.05;
        sim::run(spec, Box::new(NullSink)).unwrap().edge("api->db").unwrap().success_rate
    };
    let bare = base(vec![]);
    let retried = base(vec![faultline::scenarios::stack::LayerSpec::Retry(faultline_patterns::retry::RetryConfig { max_attempts: 3, ..Default::default() })]);
    assert!((bare - 0.95).abs() < 0.01, "bare success {bare}");
    assert!(retried > 0.999, "with 3 attempts {retried} (theory 1 - 0.05^3 = 0.999875)");
}
