//! Every catalog scenario through the one pipeline (`scenarios::execute`): the checkers that
//! apply, and each one's verdict. Planted bugs must fail exactly the checkers listed for them
//! and hold every other; correct variants must hold everything that applies.

use std::collections::BTreeMap;

use faultline::scenarios::{self, catalog, RunOptions};
use faultline::sim::verdict::Status;
use faultline::sim::NullSink;

/// A scenario, its overrides, and the checkers that apply to it (`!`: expected violated).
type Case = (&'static str, &'static [&'static str], &'static [&'static str]);

const SAGA: &[&str] = &["S1", "S2", "S3", "stall"];
const OUTBOX: &[&str] = &["O1", "O2", "O3", "stall"];
const SHOP: &[&str] = &["S1", "S2", "S3", "O1", "O2", "O3", "stall"];

/// The catalog at its own seeds, as it ships: nothing violated but the scenario that shows
/// what the exactly-once check catches.
const CATALOG: &[Case] = &[
    ("payment-duplicates", &[], &["exactly_once!", "stall"]),
    ("payment-idempotent", &[], &["exactly_once", "stall"]),
    ("outbox", &[], OUTBOX),
    ("duplicate-storm", &[], OUTBOX),
    ("concurrent-writers", &[], &["E2", "stall"]),
    ("account-snapshots", &[], &["E1", "E2", "stall"]),
    ("projection-lag", &[], &["E2", "E3", "stall"]),
    ("cqrs-write-model", &[], &["E1", "E2", "stall"]),
    ("cqrs-read-model", &[], &["E1", "E2", "E3", "stall"]),
    ("account-crud", &[], &["stall"]),
    ("occ-herd", &[], &["E2", "stall"]),
    ("account-events", &[], &["E1", "E2", "stall"]),
    ("order-saga", &[], SAGA),
    ("order-saga-participant-crash", &[], SAGA),
    ("order-saga-compensation-failure", &[], SAGA),
    ("order-saga-choreography", &[], SAGA),
    ("order-saga-hot-items", &[], SAGA),
    ("order-saga-semantic-lock", &[], &["S1", "S2", "S3", "SL", "stall"]),
    ("shop", &[], SHOP),
    ("shop-resilient", &[], SHOP),
    ("order-flow-async", &[], OUTBOX),
];

/// Each planted bug, at the catalog seed: the checker it is planted for fails, the others hold.
const PLANTED: &[Case] = &[
    ("outbox", &["services.orders.outbox_mode=dual_write_commit_first"], &["O1!", "O2", "O3!", "stall"]),
    ("outbox", &["services.orders.outbox_mode=dual_write_publish_first"], &["O1!", "O2", "O3", "stall"]),
    ("outbox", &["services.shipping.dedup=false"], &["O1", "O2!", "O3", "stall"]),
    ("outbox", &["services.orders.relay_parallel=true"], &["O1", "O2", "O3!", "stall"]),
    ("outbox", &["services.orders.relay=\"log_tailing\""], OUTBOX),
    ("order-saga", &["services.orders.saga_compensate=false"], &["S1", "S2!", "S3", "stall"]),
    ("order-saga", &["services.payment.non_idempotent=[\"refund\"]"], &["S1", "S2", "S3!", "stall"]),
    ("order-saga-choreography", &["services.inventory.saga_compensate=false"], &["S1!", "S2", "S3", "stall"]),
    ("projection-lag", &["services.projector.projection_atomic=false"], &["E2", "E3!", "stall"]),
    ("account-snapshots", &["services.accounts.snapshot_off_by_one=true"], &["E1!", "E2", "stall"]),
    ("concurrent-writers", &["services.store.version_check=false"], &["E2!", "stall"]),
];

/// Runs `cases` on the machine's cores, each through `scenarios::execute`, and returns each
/// case's checkers as `id` or `id!` (violated), in the verdict's order.
fn verdicts(cases: &[(&str, Vec<String>)]) -> Vec<Vec<String>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(BTreeMap::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(cases.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((name, sets)) = cases.get(i) else { return };
                let s = scenarios::load(name, sets, None).unwrap_or_else(|e| panic!("{name}: {e}"));
                let run = scenarios::execute(&s, &RunOptions::default(), Box::new(NullSink))
                    .unwrap_or_else(|e| panic!("{name} {sets:?}: {e}"));
                let got = run
                    .verdict
                    .checks
                    .iter()
                    .map(|c| if c.status == Status::Violated { format!("{}!", c.checker) } else { c.checker.clone() })
                    .collect();
                results.lock().unwrap().insert(i, got);
            });
        }
    });
    results.into_inner().unwrap().into_values().collect()
}

fn check(table: &[Case], also: impl Fn(&str) -> bool) {
    let mut cases: Vec<(&str, Vec<String>)> =
        table.iter().map(|(n, sets, _)| (*n, sets.iter().map(|s| s.to_string()).collect())).collect();
    let extra: Vec<String> =
        catalog::names().into_iter().filter(|n| also(n) && !table.iter().any(|(t, _, _)| t == n)).collect();
    cases.extend(extra.iter().map(|n| (n.as_str(), Vec::new())));
    let got = verdicts(&cases);
    for (i, (name, sets)) in cases.iter().enumerate() {
        let expected: Vec<&str> = table.get(i).map_or(&["stall"][..], |c| c.2).to_vec();
        assert_eq!(got[i], expected, "{name} {sets:?}: checkers and verdicts");
    }
}

#[test]
fn every_catalog_scenario_has_the_verdict_it_ships_with() {
    // The resilience scenarios check only that nothing stalls; the consistency ones their
    // invariants. Every name is run: a new scenario lands in one group or the other.
    let listed = |n: &str| CATALOG.iter().any(|c| c.0 == n);
    check(CATALOG, |n| !listed(n));
    assert!(catalog::FAILING_ON_PURPOSE
        .iter()
        .all(|n| CATALOG.iter().any(|c| c.0 == *n && c.2.iter().any(|x| x.ends_with('!')))));
}

#[test]
fn every_planted_bug_fails_its_checker_and_only_it() {
    check(PLANTED, |_| false);
}

#[test]
fn every_planted_bug_that_faultline_list_shows_is_one_run_here() {
    for (name, set, _) in faultline::scenarios::catalog::PLANTED_BUGS {
        assert!(
            PLANTED.iter().any(|(n, sets, _)| n == name && sets.iter().any(|s| s == set)),
            "{name} --set {set} is listed but not run here"
        );
    }
}
