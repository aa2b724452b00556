//! Patterns inside the simulator: each changes the numbers the way its documentation says.

use faultline::scenarios;
use faultline::sim::{self, NullSink};

use faultline::scenarios::stack::{BudgetSpec, RetryOn};
use faultline::sim::{Arrivals, CallError, ServiceSpec, SimSpec, Workload};

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
    assert!(
        payment.outcomes.get("shed").copied().unwrap_or(0) > 1000,
        "the open breaker sheds calls: {:?}",
        payment.outcomes
    );
    // Sheds happen only while payment is dark (40-60 s) and shortly after, never well before
    // (a call started at 39.9 s may retry into the open breaker).
    let reqs = requests(&rows);
    assert_eq!(share(&reqs, "orders->payment", 0.0, 39.0, "shed").0, 0.0);
    assert_eq!(share(&reqs, "orders->payment", 65.0, 120.0, "shed").0, 0.0, "the breaker closed again");
    let kinds: Vec<&str> =
        rows.events.iter().filter_map(|e| e.split(',').nth(2)).filter(|k| k.starts_with("breaker.")).collect();
    assert!(
        kinds.contains(&"breaker.open")
            && kinds.contains(&"breaker.half_open")
            && kinds.last() == Some(&"breaker.closed"),
        "{kinds:?}"
    );
}

#[test]
fn retry_lifts_success_under_transient_errors() {
    // The seeds' claim "95% -> 99.9% with 3 retries": 5% independent errors, 3 attempts.
    let base = |stack: Vec<faultline::scenarios::stack::LayerSpec>| {
        let mut spec = with_stack(api_db(21, 200.0, 60.0), "api", "db", stack).build().unwrap();
        spec.services[1].error_rate = 0.05;
        sim::run_unchecked(spec, Box::new(NullSink)).unwrap().edge("api->db").unwrap().success_rate
    };
    let bare = base(vec![]);
    let retried = base(vec![retry(3, RetryOn::default(), BudgetSpec::None)]);
    println!("5% errors: success {:.4}% bare, {:.4}% with 3 attempts", bare * 100.0, retried * 100.0);
    assert!((bare - 0.95).abs() < 0.01, "bare success {bare}");
    assert!(retried > 0.999, "with 3 attempts {retried} (theory 1 - 0.05^3 = 0.999875)");
}

/// client -> l1 -> l2 -> l3 -> l4 -> leaf, the leaf always failing, 3 attempts on every edge.
/// Returns (requests offered, calls that reached the leaf).
fn five_layers(on: RetryOn, budget: BudgetSpec) -> (u64, u64) {
    let names = ["l1", "l2", "l3", "l4", "leaf"];
    let mut b = SimSpec::builder("five-layers").seed(31).duration(secs(60.0)).drain(secs(120.0));
    for (i, n) in names.iter().enumerate() {
        let mut s = ServiceSpec::new(*n).service_time(dist("const(1ms)")).capacity(5000, 100_000);
        if let Some(next) = names.get(i + 1) {
            s = s.calls([*next]);
        } else {
            s = s.error_rate(1.0);
        }
        b = b.service(s);
    }
    b = b.workload(Workload::new("l1", Arrivals::Poisson { rate_per_s: 5.0 }));
    let callers = ["client", "l1", "l2", "l3", "l4"];
    for (from, to) in callers.iter().zip(names) {
        b = with_stack(b, from, to, vec![retry(3, on.clone(), budget.clone())]);
    }
    let out = run(b.build().unwrap());
    let offered = out.edge("client->l1").unwrap().requests;
    let leaf = out.services.iter().find(|s| s.service == "leaf").unwrap().admitted;
    (offered, leaf)
}

#[test]
fn retries_multiply_across_layers_and_budgets_bound_them() {
    // Known bug K7 (docs/sources.md): 3 tries at 5 layers = 243x the offered load at the bottom.
    let (offered, leaf) = five_layers(RetryOn::default(), BudgetSpec::None);
    assert_eq!(leaf, 243 * offered, "{offered} requests offered");

    // A 10% budget per layer: each layer adds at most ~10%, so the leaf sees at most ~1.1^5.
    let budget = BudgetSpec::Ratio { ratio: 0.1, min_per_s: 0.0, ttl_s: 10 };
    let (offered, leaf) = five_layers(RetryOn::default(), budget.clone());
    let amplification = leaf as f64 / offered as f64;
    println!("per-layer 10% budgets: leaf load {amplification:.3}x offered");
    assert!(amplification <= 1.1f64.powi(5) * 1.02, "leaf load {amplification:.3}x");

    // Budgets, and a failure that a lower layer already retried is not retried again
    // (Google SRE): only the layer next to the failure retries, so the leaf sees at most
    // (1 + budget) x the offered load.
    let own_errors_only =
        RetryOn([CallError::Server, CallError::Timeout, CallError::Rejected, CallError::Refused].into_iter().collect());
    let (offered, leaf) = five_layers(own_errors_only, budget);
    let amplification = leaf as f64 / offered as f64;
    println!("budgets + no retry of dependency errors: leaf load {amplification:.3}x offered");
    assert!(amplification <= 1.1 * 1.02, "leaf load {amplification:.3}x");
    assert!(amplification > 1.05, "the budget allowed no retries at all: {amplification:.3}x");
}

#[test]
fn bulkhead_timeout_and_fallback_keep_a_page_up_when_an_optional_dependency_crawls() {
    let (bare, _) = run_named("product-page", &[]);
    let (guarded, rows) = run_named("product-page-fallback", &[]);
    assert!(
        bare.edges[0].success_rate < 0.85,
        "the bare page should fail under the spike: {}",
        bare.edges[0].success_rate
    );
    assert_eq!(guarded.edges[0].success_rate, 1.0, "every page is served");
    // ... a third of them without a price, which the client sees as degraded answers.
    let degraded = guarded.edges[0].degraded_rate;
    assert!((0.25..0.45).contains(&degraded), "degraded pages at the client: {degraded}");
    assert!(guarded.edges[0].p99_ms < 200.0, "p99 {} ms", guarded.edges[0].p99_ms);
    let reqs = requests(&rows);
    // Degraded answers only while pricing crawls (30-60 s).
    assert_eq!(share(&reqs, "web->pricing", 0.0, 29.0, "fallback").0, 0.0);
    assert!(share(&reqs, "web->pricing", 31.0, 59.0, "fallback").0 > 0.95);
    assert_eq!(share(&reqs, "web->pricing", 61.0, 90.0, "fallback").0, 0.0);
    let full: usize = rows.events.iter().filter(|e| e.contains(",bulkhead.full,")).count();
    assert!(full > 100, "the bulkhead refused {full} calls");
}

#[test]
fn hedging_cuts_the_tail_for_a_few_percent_more_reads() {
    let (bare, _) = run_named("tail-latency", &[]);
    let (hedged, _) = run_named("tail-latency-hedged", &[]);
    let reads =
        |o: &faultline::sim::RunOutput| o.services.iter().find(|s| s.service == "store").unwrap().admitted as f64;
    let extra = reads(&hedged) / reads(&bare) - 1.0;
    println!("p99 {} -> {} ms, {:.1}% extra reads", bare.edges[0].p99_ms, hedged.edges[0].p99_ms, extra * 100.0);
    assert!(hedged.edges[0].p99_ms < bare.edges[0].p99_ms * 0.6);
    assert!(extra > 0.0 && extra <= 0.055, "the 5% hedge budget held: {:.2}% extra", extra * 100.0);
}

#[test]
fn adaptive_throttling_with_k_2_rejects_about_one_request_per_request_served() {
    // Google SRE, "Handling Overload": with K = 2 the backend rejects about as many requests
    // as it accepts, instead of several times as many.
    let (bare, _) = run_named("overload", &[]);
    let (throttled, _) = run_named("overload-throttled", &[]);
    let backend = |o: &faultline::sim::RunOutput| o.services.iter().find(|s| s.service == "backend").unwrap().clone();
    let (b, t) = (backend(&bare), backend(&throttled));
    let ratio = t.rejected as f64 / t.admitted as f64;
    println!(
        "backend rejected/served: {:.2} without throttling, {:.2} with K = 2",
        b.rejected as f64 / b.admitted as f64,
        ratio
    );
    assert!((0.8..=1.25).contains(&ratio), "rejected per served {ratio:.2}");
    assert!(b.rejected as f64 / b.admitted as f64 > 3.0);
}

#[test]
fn balancing_and_ejection_route_around_bad_replicas() {
    let (blind, _) = run_named("bad-replicas", &[]);
    let (balanced, rows) = run_named("bad-replicas-balanced", &[]);
    assert!(blind.edges[0].success_rate < 0.8 && blind.edges[0].p99_ms > 200.0);
    assert!(balanced.edges[0].success_rate > 0.995, "success {}", balanced.edges[0].success_rate);
    assert!(balanced.edges[0].p99_ms < 50.0, "p99 {} ms", balanced.edges[0].p99_ms);
    // The failing replica is ejected, returns after 30 s, and is ejected again for longer.
    let ejections: Vec<&String> = rows.events.iter().filter(|e| e.contains("balance.ejected")).collect();
    assert!(
        ejections.iter().any(|e| e.contains("endpoint=1 for_s=30"))
            && ejections.iter().any(|e| e.contains("endpoint=1 for_s=60")),
        "{ejections:?}"
    );
    assert!(ejections.iter().all(|e| e.contains("endpoint=1")), "only the failing replica is ejected: {ejections:?}");
}

#[test]
fn a_shared_dependency_in_readiness_drops_the_fleet_unless_the_balancer_fails_open() {
    // Known bug K10 (docs/sources.md; spring-boot #15479).
    let (closed, rows) = run_named("shared-dependency", &[]);
    let (open, _) = run_named("shared-dependency-fail-open", &[]);
    let reqs = requests(&rows);
    let (refused, n) = share(&reqs, "client->web", 36.0, 49.0, "shed");
    assert!(n > 1000 && refused == 1.0, "failing closed refuses everything mid-outage: {refused} of {n}");
    assert_eq!(share(&reqs, "client->web", 55.0, 80.0, "ok").0, 1.0, "and recovers after");
    assert_eq!(open.edges[0].success_rate, 1.0, "failing open serves every page");
    let downs = rows.events.iter().filter(|e| e.contains(",health.down,")).count();
    assert_eq!(downs, 4, "all four replicas taken out once each");
    assert!(closed.edges[0].success_rate < 0.85);
}

#[test]
fn synchronized_retries_without_jitter_collide_brooker_2015() {
    // Known bug K8 (docs/sources.md) and Brooker's "Exponential Backoff And Jitter". Work = calls reaching the
    // db; done = when the last client finished. Averaged over three seeds.
    let measure = |jitter: &str| {
        let mut work = 0.0;
        let mut done = 0.0;
        for seed in 1..=3u64 {
            let sets = [format!("edges.\"client->db\".retry.jitter={jitter}")];
            let s = scenarios::load("herd", &sets, Some(seed)).unwrap();
            let (out, rows) = run_rows(s.spec);
            assert_eq!(out.edges[0].success_rate, 1.0, "{jitter}: every client finishes");
            let db = out.services.iter().find(|s| s.service == "db").unwrap();
            work += (db.admitted + db.rejected) as f64 / 3.0;
            done += requests(&rows).iter().map(|r| r.end_us).max().unwrap() as f64 / 3e6;
        }
        println!("{jitter:>12}: {work:.0} db calls, last client done at {done:.2} s");
        (work, done)
    };
    let (none, full, equal) = (measure("none"), measure("full"), measure("equal"));
    let _decorrelated = measure("decorrelated");
    assert!(none.1 > 10.0 * full.1, "without jitter the clients finish much later");
    assert!(none.0 > 1.3 * full.0, "and do much more work");
    assert!(equal.1 > full.1, "equal jitter finishes later than full jitter");
}

#[test]
fn cache_aside_cuts_latency_and_database_load() {
    // course note 000: "cache: 500 ms -> 50 ms, DB load -90%".
    let (direct, _) = run_named("product-db", &[]);
    let (cached, _) = run_named("product-cache-aside", &[]);
    let db = |o: &faultline::sim::RunOutput| o.services.iter().find(|s| s.service == "db").unwrap().admitted as f64;
    let saved = 1.0 - db(&cached) / db(&direct);
    println!("p50 {} -> {} ms, db load -{:.0}%", direct.edges[0].p50_ms, cached.edges[0].p50_ms, saved * 100.0);
    assert!(direct.edges[0].p50_ms > 450.0 && cached.edges[0].p50_ms < 50.0);
    assert!(saved > 0.8, "db load fell only {:.0}%", saved * 100.0);
    assert_eq!(cached.edges[0].success_rate, 1.0);
}

#[test]
fn a_gateway_authenticates_limits_clients_and_composes_with_partial_answers() {
    // course note 001: the product API behind a gateway; stock is unreachable from 30 s to 50 s.
    let (serial, _) = run_named("api-gateway", &[]);
    let (composed, rows) = run_named("api-gateway-composed", &[]);
    let outcomes = |o: &faultline::sim::RunOutput, k: &str| o.edges[0].outcomes.get(k).copied().unwrap_or(0);
    // Auth and limits are the same in both: ~3% unauthorized, the noisy client limited.
    for o in [&serial, &composed] {
        let n = o.edges[0].requests as f64;
        assert!((outcomes(o, "unauthorized") as f64 / n - 0.03).abs() < 0.005);
        assert!(outcomes(o, "rate_limited") > 3000, "the noisy client is limited");
    }
    // During the outage the serial product API fails; the composed one answers partially.
    let reqs = requests(&rows);
    assert_eq!(outcomes(&serial, "partial"), 0);
    assert!(outcomes(&serial, "error") > 4000);
    assert_eq!(outcomes(&composed, "error"), 0);
    assert!(share(&reqs, "gateway->product", 31.0, 49.0, "partial").0 > 0.99);
    assert_eq!(share(&reqs, "gateway->product", 55.0, 80.0, "partial").0, 0.0);
    // In parallel, a request takes the slowest part, not the sum.
    assert!(composed.edges[0].p50_ms < serial.edges[0].p50_ms * 0.7);
}

#[test]
fn a_retry_storm_multiplies_load_and_budgets_stop_it() {
    let (storm, _) = run_named("retry-storm", &[]);
    let (fixed, _) = run_named("retry-storm-budget", &[]);
    let db = |o: &faultline::sim::RunOutput| o.services.iter().find(|s| s.service == "db").unwrap().admitted as f64;
    println!("db calls: {} with plain retries, {} with budgets", db(&storm), db(&fixed));
    assert!(db(&storm) > 50.0 * db(&fixed));
    assert!(db(&fixed) < 1.1 * fixed.edges[0].requests as f64 * 1.05, "within (1 + budget) of the offered load");
}

#[test]
fn a_propagated_deadline_stops_work_for_callers_that_left() {
    let (per_hop, _) = run_named("deadline-chain", &[]);
    let (propagated, _) = run_named("deadline-chain-propagated", &[]);
    let wip = |o: &faultline::sim::RunOutput| o.services.iter().find(|s| s.service == "c").unwrap().mean_in_system;
    println!(
        "work in progress at c: {:.1} -> {:.1}; answered {:.3} -> {:.3}",
        wip(&per_hop),
        wip(&propagated),
        per_hop.edges[0].success_rate,
        propagated.edges[0].success_rate
    );
    assert!(wip(&propagated) * 10.0 < wip(&per_hop), "the last hop still works for callers that left");
    assert!(propagated.edges[0].success_rate > per_hop.edges[0].success_rate + 0.05);
    // No hop below waits longer than the client's 200 ms.
    assert!(propagated.edge("b->c").unwrap().max_ms <= 200.0);
}

#[test]
fn a_liveness_probe_restarts_a_stuck_replica() {
    let (stuck, _) = run_named("stuck-replica", &[]);
    let (probed, rows) = run_named("stuck-replica-liveness", &[]);
    assert!(stuck.edges[0].success_rate < 0.8);
    assert!(probed.edges[0].success_rate > 0.94, "{}", probed.edges[0].success_rate);
    let restarts: Vec<&String> = rows.events.iter().filter(|e| e.contains("liveness.restart")).collect();
    assert_eq!(restarts.len(), 1, "{restarts:?}");
    let at_s: f64 = restarts[0].split(',').next().unwrap().parse::<f64>().unwrap() / 1e6;
    assert!((12.0..16.0).contains(&at_s), "restarted at {at_s} s (frozen at 10 s, 3 probes 1 s apart)");
    // While it starts again it refuses connections: fast failures, not timeouts.
    let reqs = requests(&rows);
    assert!(share(&reqs, "api->db", at_s, at_s + 1.9, "refused").0 > 0.2);
    assert_eq!(share(&reqs, "api->db", at_s + 2.5, 60.0, "timeout").0, 0.0, "no timeouts once it is back");
}

#[test]
fn a_gateway_routes_by_path_and_an_outage_stays_on_its_route() {
    let (out, rows) = run_named("gateway-routes", &[]);
    let (products, orders) = (out.edge("gateway->product").unwrap(), out.edge("gateway->orders").unwrap());
    let share = products.requests as f64 / (products.requests + orders.requests) as f64;
    assert!((share - 0.8).abs() < 0.02, "/products got {share:.3} of requests");
    assert_eq!(products.success_rate, 1.0, "the payments outage does not touch /products");
    let reqs = requests(&rows);
    assert_eq!(
        super::support::share(&reqs, "gateway->orders", 20.5, 39.5, "error").0,
        1.0,
        "/orders fails during the outage"
    );
    // Every client request took exactly one route: one call to one of the two services.
    assert_eq!(products.requests + orders.requests, out.edges[0].requests);
}

#[test]
fn service_discovery_drops_a_replica_that_stops_heartbeating() {
    let (out, rows) = run_named("stuck-replica-discovery", &[]);
    assert!(
        out.edges[0].success_rate > 0.95 && out.edges[0].p99_ms < 100.0,
        "{} {}",
        out.edges[0].success_rate,
        out.edges[0].p99_ms
    );
    let changes: Vec<(f64, String)> = rows
        .events
        .iter()
        .filter(|e| e.contains(",api-0,discovery.changed,"))
        .map(|e| (e.split(',').next().unwrap().parse::<f64>().unwrap() / 1e6, e.rsplit('=').next().unwrap().to_owned()))
        .collect();
    // db-1 froze at 10 s: out of api-0's rotation 3-5 s later, back after it thaws at 70 s.
    let out_at = changes.iter().find(|c| c.1 == "0+2").map(|c| c.0).expect("db-1 left the rotation");
    assert!((12.0..15.5).contains(&out_at), "left at {out_at} s");
    assert!(changes.iter().any(|c| c.0 > 70.0 && c.1 == "0+1+2"), "db-1 rejoined: {changes:?}");
}
