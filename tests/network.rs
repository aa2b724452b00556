//! The transport's time model: a message takes its link's latency exactly, and at least 1 ms;
//! arrivals, service times and latencies below a millisecond keep their value.

use faultline::scenarios;
use faultline::sim::{self, NullSink, RunOutput};

use crate::support::{requests, run_rows};

fn chain3(sets: &[&str]) -> sim::SimSpec {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    scenarios::load("chain3", &sets, Some(3)).unwrap().spec
}

const INSTANT_SERVICES: [&str; 3] = [
    "services.a.service_time=\"const(0ms)\"",
    "services.b.service_time=\"const(0ms)\"",
    "services.c.service_time=\"const(0ms)\"",
];

/// Every call on each edge took exactly `us` µs (give or take the rounding of µs records).
fn assert_every_call_took(out: &sim::record::Rows, expected: &[(&str, u64)]) {
    let reqs = requests(out);
    for (edge, us) in expected {
        let on_edge: Vec<u64> = reqs.iter().filter(|r| r.edge == *edge).map(|r| r.end_us - r.start_us).collect();
        assert!(on_edge.len() > 1000, "{edge}: {} calls", on_edge.len());
        let (lo, hi) = (on_edge.iter().min().unwrap(), on_edge.iter().max().unwrap());
        assert!(*lo + 1 >= *us && *hi <= *us + 1, "{edge}: calls took {lo}..{hi} us, expected {us}");
    }
}

#[test]
fn a_message_takes_at_least_1_ms_so_a_zero_latency_hop_costs_2_ms_a_round_trip() {
    let mut sets = vec!["duration_s=10", "network.latency=\"const(0ms)\""];
    sets.extend(INSTANT_SERVICES);
    let (_, rows) = run_rows(chain3(&sets));
    assert_every_call_took(&rows, &[("b->c", 2_000), ("a->b", 4_000), ("client->a", 6_000)]);
}

#[test]
fn a_message_takes_its_link_latency_exactly_below_a_millisecond_too() {
    // 1.25 ms each way: the sub-millisecond part is kept (madsim's own sleeps would round it up).
    let mut sets = vec!["duration_s=10", "network.latency=\"const(1250us)\""];
    sets.extend(INSTANT_SERVICES);
    let (_, rows) = run_rows(chain3(&sets));
    assert_every_call_took(&rows, &[("b->c", 2_500), ("a->b", 5_000), ("client->a", 7_500)]);
    // A service time of 0.4 ms is 0.4 ms, not a millisecond.
    sets.push("services.c.service_time=\"const(400us)\"");
    let (_, rows) = run_rows(chain3(&sets));
    assert_every_call_took(&rows, &[("b->c", 2_900), ("a->b", 5_400)]);
}

#[test]
fn poisson_arrivals_far_above_1000_per_second_keep_their_rate() {
    let out: RunOutput = sim::run_unchecked(chain3(&["duration_s=10", "workload.rate_per_s=5000"]), Box::new(NullSink))
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = out.edge("client->a").unwrap().requests as f64;
    // 50,000 expected; a Poisson count's standard deviation is ~224.
    assert!((sent - 50_000.0).abs() < 1_500.0, "{sent} requests in 10 s at 5,000/s");
}

#[test]
fn a_message_sent_before_its_receiver_first_runs_waits_for_it() {
    // 100 clients call db at 0 s, when madsim may not yet have run db's task: those calls must
    // be answered (or refused by its full queue) at once, not lost until the 30 s call timeout.
    for seed in 1..=6 {
        let sets = ["edges.\"client->db\".retry.jitter=\"full\"".to_owned()];
        let spec = scenarios::load("herd", &sets, Some(seed)).unwrap().spec;
        let (_, rows) = run_rows(spec);
        let slowest = requests(&rows).iter().map(|r| r.end_us - r.start_us).max().unwrap();
        assert!(slowest < 10_000_000, "seed {seed}: a call took {slowest} us");
    }
}
