//! proptest strategies for what a property test varies: fault plans, the workload, and the
//! pattern settings of an edge (feature `proptest`, on by default).
//!
//! Faults come as a [`FaultPlan`] for [`Scenario::with_faults`](crate::Scenario::with_faults);
//! workload and pattern settings come as `--set` overrides for
//! [`Scenario::with_sets`](crate::Scenario::with_sets), so that a failure's record and its
//! replay line carry them. Every value drawn is one the scenario format accepts.
//!
//! ```no_run
//! use faultline::testing::{self, strategies};
//! use proptest::prelude::*;
//!
//! proptest! {
//!     #![proptest_config(ProptestConfig::with_cases(16))]
//!     #[test]
//!     fn payment_never_charges_twice(plan in strategies::fault_plan(&["payment", "checkout"], 20.0, 3),
//!                                    seed in 1..1000u64) {
//!         let base = faultline::load("payment-idempotent", &["duration_s=20".into()], Some(seed)).unwrap();
//!         let scenario = base.with_faults(&plan).unwrap();
//!         if let Err(replay) = testing::check(&scenario) {
//!             prop_assert!(false, "{}", replay);
//!         }
//!     }
//! }
//! ```

use std::time::Duration;

use faultline_sim::{Dist, Fault, FaultKind, FaultPlan, Target};
use proptest::prelude::*;

/// Up to `max_faults` faults on `targets` (service or node names) within the first `run_s`
/// seconds: the kinds of [`kind`], each with a duration within the run (a restart has none),
/// rates from 1% to 100%, extra latency up to 500 ms. With two targets or more, partitions
/// between two of them as well.
pub fn fault_plan(targets: &[&str], run_s: f64, max_faults: usize) -> impl Strategy<Value = FaultPlan> {
    prop::collection::vec(fault(targets, run_s), 0..=max_faults).prop_map(FaultPlan)
}

/// One fault on one of `targets` within the first `run_s` seconds (see [`fault_plan`]).
pub fn fault(targets: &[&str], run_s: f64) -> impl Strategy<Value = Fault> {
    assert!(!targets.is_empty(), "fault: give at least one target");
    assert!(run_s >= 0.2, "fault: the run must last at least 0.2 s");
    let names: Vec<String> = targets.iter().map(|t| (*t).to_owned()).collect();
    let links = names.len() >= 2;
    let target = prop::sample::select(names.clone()).prop_map(Target::Node);
    let link = (prop::sample::select(names.clone()), prop::sample::select(names), any::<bool>())
        .prop_filter_map("two different ends", |(from, to, both)| {
            (from != to).then_some(Target::Link { from, to, both })
        });
    let at = (0u64..(run_s * 1000.0) as u64).prop_map(Duration::from_millis);
    let length = (100u64..=((run_s * 500.0) as u64).max(100)).prop_map(Duration::from_millis);
    let on_node = (kind(), target, at.clone(), length.clone()).prop_map(|(kind, target, at, length)| {
        let duration = (kind != FaultKind::Restart).then_some(length);
        Fault::new(kind, target, at, duration)
    });
    let partition = (link, at, length).prop_map(|(t, at, d)| Fault::new(FaultKind::Partition, t, at, Some(d)));
    if links {
        prop_oneof![4 => on_node, 1 => partition].boxed()
    } else {
        on_node.boxed()
    }
}

/// What a fault on a node does: every kind but a partition (a link's) and a clock skew
/// (nothing in faultline's services reads a wall clock, so a skew would only warn that it
/// affected nothing; add it yourself for a probe or application that reads one).
pub fn kind() -> impl Strategy<Value = FaultKind> {
    prop_oneof![
        Just(FaultKind::Outage),
        (0.01f64..=1.0).prop_map(|rate| FaultKind::ErrorBurst { rate: round(rate) }),
        (1u64..=500).prop_map(|ms| FaultKind::LatencySpike { add: Dist::Const(Duration::from_millis(ms)) }),
        Just(FaultKind::Crash),
        Just(FaultKind::Restart),
        Just(FaultKind::Pause),
        (0.01f64..=1.0).prop_map(|rate| FaultKind::PacketLoss { rate: round(rate) }),
    ]
}

/// The workload as one override: requests to `target`, Poisson, constant or closed-loop, at a
/// rate within `min_rate..=max_rate` per second (closed: that many clients, at least 1). It
/// replaces the whole `[workload]` table (keys and routes included).
pub fn workload_sets(target: &str, min_rate: f64, max_rate: f64) -> impl Strategy<Value = Vec<String>> {
    let target = target.to_owned();
    let kind = prop::sample::select(vec!["poisson", "constant", "closed"]);
    (kind, (min_rate..=max_rate).prop_map(round)).prop_map(move |(kind, rate)| {
        let arrivals = if kind == "closed" {
            format!("clients = {}", (rate.round() as u64).max(1))
        } else {
            format!("rate_per_s = {rate}")
        };
        vec![format!("workload={{ target = \"{target}\", kind = \"{kind}\", {arrivals} }}")]
    })
}

/// The pattern stack of `edge` (`"caller->callee"`) as one override: any of retry, breaker
/// and timeout, outermost first, each with settings drawn from its valid range. It replaces the
/// edge's whole table (other layers and their settings included).
pub fn pattern_sets(edge: &str) -> impl Strategy<Value = Vec<String>> {
    let edge = edge.to_owned();
    let retry = (1u32..=5, 1u64..=100, 100u64..=2000, prop::sample::select(vec!["none", "full", "equal"]));
    let breaker = (10u32..=90, 5u32..=50, 100u64..=5000, 1u32..=5);
    let timeout = 10u64..=2000;
    (prop::option::of(retry), prop::option::of(breaker), prop::option::of(timeout)).prop_map(move |(r, b, t)| {
        let mut stack = Vec::new();
        let mut tables = Vec::new();
        if let Some((attempts, base, cap, jitter)) = r {
            stack.push("\"retry\"");
            tables.push(format!(
                "retry = {{ max_attempts = {attempts}, backoff = \"exponential\", base_ms = {base}, cap_ms = {}, jitter = \"{jitter}\" }}",
                cap.max(base)
            ));
        }
        if let Some((rate, minimum, open, permits)) = b {
            stack.push("\"breaker\"");
            tables.push(format!(
                "breaker = {{ failure_rate = {rate}, minimum_calls = {minimum}, open_ms = {open}, half_open_permits = {permits} }}"
            ));
        }
        if let Some(ms) = t {
            stack.push("\"timeout\"");
            tables.push(format!("timeout = {{ timeout_ms = {ms} }}"));
        }
        let body: Vec<String> = std::iter::once(format!("stack = [{}]", stack.join(", "))).chain(tables).collect();
        vec![format!("edges.{edge}={{ {} }}", body.join(", "))]
    })
}

/// Three decimals: what a person would write, and what reads back the same from TOML.
fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
