//! Consistency patterns and their checkers (issue 4, first part: event sourcing and CQRS).

use faultline::scenarios::checkers::event_sourcing::{
    check_e2, check_e3, concurrent_writers, Account, AccountEvent, Attempt,
};
use faultline_patterns::event_sourcing::{EventStore, ExpectedVersion, MemoryEventStore, Projection};

#[test]
fn optimistic_concurrency_holds_e1_e2_e3_over_many_interleavings() {
    for seed in 1..=500 {
        let run = concurrent_writers(seed, 5, 2, 6, true);
        assert!(run.violation.is_none(), "seed {seed}: {}", run.violation.unwrap());
        assert!(run.balances.values().all(|b| *b >= 0), "seed {seed}: {:?}", run.balances);
        let refused = run.attempts.iter().filter(|a| a.accepted.is_none()).count();
        if seed == 1 {
            assert!(refused > 0, "no append was ever refused: the interleavings test nothing");
        }
    }
}

#[test]
fn appends_without_the_version_check_are_caught_within_a_few_seeds() {
    // The planted bug: last writer wins. Seeds to detection (E2 names the lost update).
    let first = (1..=100u64).find(|&seed| concurrent_writers(seed, 5, 2, 6, false).violation.is_some());
    let first = first.expect("the planted bug was never caught in 100 seeds");
    let run = concurrent_writers(first, 5, 2, 6, false);
    let v = run.violation.unwrap();
    println!("no version check: caught at seed {first}: {v}");
    assert!(first <= 5, "caught only at seed {first}");
    assert_eq!(v.checker, "E2");
    assert!(v.detail.contains("lost update"), "{v}");
    let caught = (1..=100u64).filter(|&seed| concurrent_writers(seed, 5, 2, 6, false).violation.is_some()).count();
    println!("caught in {caught} of 100 seeds");
}

#[test]
fn e2_rejects_two_winners_for_one_expected_version() {
    let a = |writer, expected, accepted| Attempt { writer, stream: "s".into(), expected, accepted };
    assert_eq!(check_e2(&[a(0, 1, Some(2)), a(1, 1, None), a(1, 2, Some(3))]), None);
    let v = check_e2(&[a(0, 1, Some(2)), a(1, 1, Some(3))]).unwrap();
    assert_eq!((v.checker, v.at), ("E2", 1));
}

#[tokio::test]
async fn projections_lag_then_catch_up_and_e3_catches_a_wrong_read_model() {
    let store = MemoryEventStore::<AccountEvent>::default();
    for i in 0..10 {
        store
            .append(&format!("account-{}", i % 3), ExpectedVersion::Any, vec![AccountEvent::Deposited(i)])
            .await
            .unwrap();
    }
    let mut p = Projection::<Account>::default();
    assert_eq!(p.lag(&store).await, 10);
    p.catch_up(&store, 4).await;
    assert_eq!((p.checkpoint, p.lag(&store).await), (4, 6), "lag is head - checkpoint");
    assert_eq!(check_e3(&store, &p), None, "a partial read model at its checkpoint is consistent");
    while p.catch_up(&store, 4).await > 0 {}
    assert_eq!(p.lag(&store).await, 0);
    p.views.get_mut("account-1").unwrap().balance += 1;
    assert_eq!(check_e3(&store, &p).map(|v| v.checker), Some("E3"));
}

#[test]
fn retries_charge_twice_unless_commands_carry_idempotency_keys() {
    let load = |name: &str| faultline::scenarios::load(name, &[], None).unwrap().spec;
    let (dup, rows) = crate::support::run_rows(load("payment-duplicates"));
    let duplicates = rows.events.iter().filter(|e| e.contains(",exactly_once.duplicate,")).count();
    println!("duplicate charges without idempotency keys: {duplicates} of {} requests", dup.edges[0].requests);
    assert!(duplicates > 100);
    assert!(dup.failed_checks[0].contains("more than once"), "{:?}", dup.failed_checks.first());
    let keyed = crate::support::run(load("payment-idempotent"));
    assert!(keyed.failed_checks.is_empty(), "{:?}", keyed.failed_checks);
    assert_eq!(keyed.edges[0].success_rate, 1.0, "duplicates wait for the first execution instead of failing");
}

mod sagas {
    use faultline::scenarios::{self, checkers};
    use faultline_patterns::saga::SagaOutcome;

    fn run(sets: &[String], seed: u64) -> (faultline::sim::RunOutput, Vec<String>) {
        let s = scenarios::load("order-saga", sets, Some(seed)).unwrap();
        let (out, rows) = crate::support::run_rows(s.spec);
        (out, rows.events)
    }

    fn short(extra: &[&str]) -> Vec<String> {
        let mut sets = vec!["duration_s=20".to_owned(), "faults[0].at_s=8".to_owned()];
        sets.extend(extra.iter().map(|s| s.to_string()));
        sets
    }

    #[test]
    fn the_order_saga_keeps_s1_s2_s3_across_seeds_and_a_crash() {
        for seed in 1..=20 {
            let (_, events) = run(&short(&[]), seed);
            let violations = checkers::saga::check(events.iter().map(String::as_str));
            assert!(violations.is_empty(), "seed {seed}: {}", violations[0]);
            let outcomes = checkers::saga::outcomes(events.iter().map(String::as_str));
            assert!(
                outcomes.values().any(|o| *o == SagaOutcome::Compensated)
                    && outcomes.values().any(|o| *o == SagaOutcome::Completed)
            );
        }
    }

    #[test]
    fn an_orchestrator_crash_at_any_point_resumes_to_the_same_outcome() {
        // S4. Without transient errors a saga's outcome is fixed by its id (payment declines
        // every 7th): a run without the crash gives exactly that, so every crash run must too,
        // including for the sagas it had to resume.
        let expected = |id: u64| if id % 7 == 0 { SagaOutcome::Compensated } else { SagaOutcome::Completed };
        let mut resumed = 0;
        for crash_ms in [0u64, 8_003, 8_517, 11_041, 14_909] {
            let mut extra = vec![
                "services.inventory.error_rate=0".to_owned(),
                "services.payment.error_rate=0".to_owned(),
                "services.shipping.error_rate=0".to_owned(),
            ];
            if crash_ms == 0 {
                extra.push("faults=[]".to_owned());
            } else {
                extra.push(format!("faults[0].at_s={}", crash_ms as f64 / 1000.0));
            }
            let sets: Vec<String> = ["duration_s=20".to_owned()].into_iter().chain(extra).collect();
            let (_, events) = run(&sets, 3);
            assert!(checkers::saga::check(events.iter().map(String::as_str)).is_empty(), "crash at {crash_ms} ms");
            for (id, outcome) in checkers::saga::outcomes(events.iter().map(String::as_str)) {
                assert_eq!(outcome, expected(id), "saga {id}, crash at {crash_ms} ms");
            }
            resumed += events.iter().filter(|e| e.contains(",saga.resume,")).count();
        }
        assert!(resumed >= 3, "the crashes interrupted only {resumed} sagas: the test proves little");
    }

    #[test]
    fn regression_a_duplicated_charge_after_its_step_failed_is_refunded() {
        // Found by faultline on order-saga (seed 53): the network duplicated a charge, the first
        // copy failed, the saga recorded the step failed and did not refund it, and the second
        // copy charged. Failed steps are now compensated too; a participant records a
        // compensation with nothing to undo as a tombstone and refuses the late action.
        let (_, events) = run(&[], 53);
        let v = checkers::saga::check(events.iter().map(String::as_str));
        assert!(v.is_empty(), "{}", v[0]);
        let handled = events.iter().filter(|e| e.contains("applied=0") || e.contains(",participant.refused,")).count();
        assert!(handled > 0, "the race never happened: the test proves nothing");
    }

    #[test]
    fn failing_compensations_are_retried_until_done() {
        let s = scenarios::load("order-saga-compensation-failure", &[], None).unwrap();
        let (_, rows) = crate::support::run_rows(s.spec);
        let events: Vec<&str> = rows.events.iter().map(String::as_str).collect();
        assert!(checkers::saga::check(events.iter().copied()).is_empty());
        // Refunds that failed were retried until payment took them: every saga with a failed
        // refund still finished compensated with its charge refunded.
        let ids_with = |needle: &str| -> std::collections::BTreeSet<String> {
            events
                .iter()
                .filter(|e| e.contains(needle))
                .filter_map(|e| e.split("id=").nth(1))
                .map(|r| r.split(' ').next().unwrap().to_owned())
                .collect()
        };
        let failed_refunds = ids_with("op=refund error=");
        let refunded = ids_with("record=compensated:1");
        let retried = failed_refunds.intersection(&refunded).count();
        assert_eq!(retried, failed_refunds.len(), "a saga gave up on a failed refund");
        assert!(retried > 5, "only {retried} sagas waited for payment to accept their refund");
    }

    const CRASH: &str = "faults=[{kind=\"crash\",target=\"orders\",at_s=10,duration_s=2}]";

    #[test]
    fn without_isolation_sagas_act_on_uncommitted_stock_and_a_semantic_lock_prevents_it() {
        let (mut dirty, mut waits) = (0, 0);
        for seed in 1..=3 {
            let events = crate::support::catalog_events("order-saga-hot-items", &["duration_s=20"], seed);
            let rows = || events.iter().map(String::as_str);
            let v = checkers::saga::check(rows());
            assert!(v.is_empty(), "hot items, seed {seed}: {}", v[0]);
            dirty += checkers::saga::dirty_reads(rows()).len();
            // The same orders with the lock, and an orchestrator crash in the middle.
            let events = crate::support::catalog_events("order-saga-semantic-lock", &["duration_s=20", CRASH], seed);
            let rows = || events.iter().map(String::as_str);
            let v: Vec<_> =
                checkers::saga::check(rows()).into_iter().chain(checkers::saga::dirty_reads(rows())).collect();
            assert!(v.is_empty(), "semantic lock, seed {seed}: {}", v[0]);
            waits += events.iter().filter(|e| e.contains(",stock.locked,")).count();
        }
        println!("3 seeds: {dirty} dirty reads without the lock; none with it ({waits} waits for a lock)");
        assert!(dirty >= 10, "only {dirty} dirty reads without the lock: the scenario does not show the anomaly");
        assert!(waits > 100, "only {waits} waits: the lock was hardly ever contended");
    }

    #[test]
    fn regression_resumed_sagas_waiting_on_each_others_locks_do_not_deadlock() {
        // Found by faultline: a restarted orchestrator resumed its sagas one by one, and a
        // resumed saga waiting for an item held by one later in the queue waited forever
        // (306 sagas never finished, seed 73). They are now resumed all at once.
        let events = crate::support::catalog_events("order-saga-semantic-lock", &[CRASH], 73);
        let v = checkers::saga::check(events.iter().map(String::as_str));
        assert!(v.is_empty(), "{} (and {} more)", v[0], v.len() - 1);
        assert!(
            events.iter().filter(|e| e.contains(",saga.resume,")).count() > 5,
            "too few sagas were resumed to test anything"
        );
    }

    #[test]
    fn planted_saga_bugs_are_caught_within_a_few_seeds() {
        for (bug, sets, checker) in [
            ("no compensation", vec!["services.orders.saga_compensate=false"], "S2"),
            ("non-idempotent refund", vec!["services.payment.non_idempotent=[\"refund\"]"], "S3"),
        ] {
            let first = (1..=20u64).find(|&seed| {
                let (_, events) = run(&short(&sets), seed);
                checkers::saga::check(events.iter().map(String::as_str)).iter().any(|v| v.checker == checker)
            });
            println!("{bug}: caught by {checker} at seed {first:?}");
            assert!(first.is_some_and(|s| s <= 3), "{bug}: first caught at {first:?}");
        }
    }
}

mod choreography {
    use faultline::scenarios::{self, checkers};
    use faultline_patterns::saga::SagaOutcome;

    fn events(extra: &[&str], seed: u64) -> Vec<String> {
        let mut sets: Vec<String> = ["duration_s=20", "faults[0].at_s=5", "faults[1].at_s=10", "faults[2].at_s=14"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        sets.extend(extra.iter().map(|s| s.to_string()));
        let s = scenarios::load("order-saga-choreography", &sets, Some(seed)).unwrap();
        crate::support::run_rows(s.spec).1.events
    }

    #[test]
    fn the_choreographed_saga_keeps_s1_s2_s3_under_crashes_a_partition_and_duplicates() {
        for seed in 1..=10 {
            let events = events(&[], seed);
            let v = checkers::saga::check(events.iter().map(String::as_str));
            assert!(v.is_empty(), "seed {seed}: {}", v[0]);
            let outcomes = checkers::saga::outcomes(events.iter().map(String::as_str));
            assert!(outcomes.len() > 300, "seed {seed}: only {} sagas finished", outcomes.len());
            assert!(
                outcomes.values().any(|o| *o == SagaOutcome::Compensated)
                    && outcomes.values().any(|o| *o == SagaOutcome::Completed)
            );
        }
    }

    #[test]
    fn each_saga_ends_as_its_declines_decide_whatever_crashes_and_duplicates_do() {
        // Without transient errors, a saga's outcome is fixed by its id (payment declines every
        // 7th, shipping every 11th): crashes, a partition, redeliveries and duplicates must not
        // change a single one. This is S4 for the choreography.
        let calm =
            ["services.inventory.error_rate=0", "services.payment.error_rate=0", "services.shipping.error_rate=0"];
        let events = events(&calm, 2);
        let outcomes = checkers::saga::outcomes(events.iter().map(String::as_str));
        assert!(outcomes.len() > 300, "only {} sagas finished", outcomes.len());
        for (id, outcome) in &outcomes {
            let expected = if id % 7 == 0 || id % 11 == 0 { SagaOutcome::Compensated } else { SagaOutcome::Completed };
            assert_eq!(*outcome, expected, "saga {id}");
        }
        let refunds = events.iter().filter(|e| e.contains("op=refund") && e.contains("applied=1")).count();
        assert!(refunds > 5, "only {refunds} refunds: shipping's declines were never compensated upstream");
    }

    #[test]
    fn a_semantic_lock_parks_sagas_on_held_items_instead_of_blocking_the_partition() {
        // Popular items with little stock, a slow payment that declines every 3rd order.
        let hot = [
            "services.inventory.stock=5",
            "workload.keys=100",
            "workload.key_skew=1.0",
            "services.payment.service_time=\"exp(100ms)\"",
            "services.payment.decline_every=3",
            "services.broker.partitions=16",
            "services.payment.concurrency=256",
        ];
        let (mut dirty, mut parked) = (0, 0);
        for seed in 1..=3 {
            let unlocked = events(&hot, seed);
            dirty += checkers::saga::dirty_reads(unlocked.iter().map(String::as_str)).len();
            let locked = events(&[&hot[..], &["services.orders.semantic_lock=true"]].concat(), seed);
            let rows = || locked.iter().map(String::as_str);
            let v: Vec<_> =
                checkers::saga::check(rows()).into_iter().chain(checkers::saga::dirty_reads(rows())).collect();
            assert!(v.is_empty(), "seed {seed}: {} (and {} more)", v[0], v.len() - 1);
            parked += locked.iter().filter(|e| e.contains(",saga.parked,")).count();
        }
        println!("choreography, 3 seeds: {dirty} dirty reads without the lock; none with it ({parked} sagas parked)");
        assert!(dirty >= 10 && parked >= 100, "{dirty} dirty reads, {parked} parked: the scenario shows nothing");
    }

    #[test]
    fn a_participant_ignoring_failures_stalls_sagas_and_s1_catches_it() {
        let first = (1..=5u64).find(|&seed| {
            checkers::saga::check(
                events(&["services.inventory.saga_compensate=false"], seed).iter().map(String::as_str),
            )
            .iter()
            .any(|v| v.checker == "S1")
        });
        println!("choreography without compensation: caught by S1 at seed {first:?}");
        assert_eq!(first, Some(1));
    }
}

mod outbox {
    use faultline::scenarios::{self, checkers};

    fn violations(sets: &[&str], seed: u64) -> Vec<checkers::Violation> {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let s = scenarios::load("outbox", &sets, Some(seed)).unwrap();
        let (_, rows) = crate::support::run_rows(s.spec);
        checkers::outbox::check(rows.events.iter().map(String::as_str))
    }

    #[test]
    fn the_outbox_keeps_o1_o2_o3_under_crashes_partitions_and_duplicates() {
        for seed in 1..=15 {
            let v = violations(&[], seed);
            assert!(v.is_empty(), "seed {seed}: {}", v[0]);
        }
    }

    #[test]
    fn a_log_tailing_relay_keeps_o1_o2_o3_and_publishes_sooner_than_polling() {
        for seed in 1..=8 {
            let v = violations(&["services.orders.relay=log_tailing"], seed);
            assert!(v.is_empty(), "log tailing, seed {seed}: {}", v[0]);
        }
        let median_delay = |relay: &str| {
            let s = scenarios::load("outbox", &[format!("services.orders.relay={relay}")], Some(1)).unwrap();
            let (_, rows) = crate::support::run_rows(s.spec);
            let mut d = checkers::outbox::publish_delays(rows.events.iter().map(String::as_str));
            d.sort_unstable();
            assert!(d.len() > 1000, "{relay}: only {} events published", d.len());
            d[d.len() / 2]
        };
        let (polling, tailing) = (median_delay("polling"), median_delay("log_tailing"));
        println!("commit to publish, median: polling {polling} us, log tailing {tailing} us");
        assert!(tailing < polling, "log tailing {tailing} us, polling {polling} us");
    }

    #[test]
    fn each_planted_outbox_bug_is_caught_within_a_few_seeds() {
        for (bug, set, checker, needle) in [
            ("dual write, commit first", "services.orders.outbox_mode=dual_write_commit_first", "O1", "lost"),
            ("dual write, publish first", "services.orders.outbox_mode=dual_write_publish_first", "O1", "phantom"),
            ("consumer without dedup", "services.shipping.dedup=false", "O2", "applied"),
            ("relay losing per-key order", "services.orders.relay_parallel=true", "O3", "applied after"),
        ] {
            let first = (1..=10u64).find(|&seed| {
                violations(&[set], seed).iter().any(|v| v.checker == checker && v.detail.contains(needle))
            });
            println!("{bug}: caught by {checker} at seed {first:?}");
            assert!(first.is_some_and(|s| s <= 5), "{bug}: first caught at {first:?}");
        }
    }
}

mod event_store_node {
    use faultline::scenarios::{self, checkers};

    fn e2(sets: &[&str], seed: u64) -> (Option<checkers::Violation>, usize) {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let s = scenarios::load("concurrent-writers", &sets, Some(seed)).unwrap();
        let (_, rows) = crate::support::run_rows(s.spec);
        let conflicts = rows.events.iter().filter(|e| e.contains(",es.conflict,")).count();
        (
            checkers::event_sourcing::check_e2(&checkers::event_sourcing::attempts_from_events(
                rows.events.iter().map(String::as_str),
            )),
            conflicts,
        )
    }

    #[test]
    fn concurrent_writers_on_a_simulated_store_keep_e2() {
        for seed in 1..=5 {
            let (v, conflicts) = e2(&["duration_s=10", "faults[0].at_s=5"], seed);
            assert!(v.is_none(), "seed {seed}: {}", v.unwrap());
            assert!(conflicts > 100, "seed {seed}: only {conflicts} conflicts: no contention to test");
        }
    }

    fn projection(sets: &[&str], seed: u64) -> Vec<String> {
        crate::support::catalog_events("projection-lag", sets, seed)
    }

    #[test]
    fn a_read_model_falls_behind_in_a_burst_catches_up_and_keeps_e3_across_a_crash() {
        use checkers::event_sourcing::{check_e3_events, projection_lag};
        for seed in 1..=4 {
            let events = projection(&[], seed);
            let rows = || events.iter().map(String::as_str);
            assert_eq!(check_e3_events(rows()), None, "seed {seed}");
            assert_eq!(
                checkers::event_sourcing::check_e2(&checkers::event_sourcing::attempts_from_events(rows())),
                None,
                "seed {seed}"
            );
            let lag = projection_lag(rows());
            let worst = |from_s: u64, to_s: u64| {
                lag.iter()
                    .filter(|(t, _)| (from_s * 1_000_000..to_s * 1_000_000).contains(t))
                    .map(|(_, l)| *l)
                    .max()
                    .unwrap_or(0)
            };
            // The first burst (15-18 s) outruns the projector; it has caught up before the
            // second (30 s); the crash (34-36 s) adds to the second; all is applied at the end.
            let (in_burst, before_next, after_crash) = (worst(15, 19), worst(29, 30), worst(36, 37));
            if seed == 1 {
                println!("read model lag, seed 1: {in_burst} events in the first burst, {before_next} before the second, {after_crash} after the crash");
            }
            assert!(in_burst > 500, "seed {seed}: lag only {in_burst} in the burst");
            assert!(before_next < 50, "seed {seed}: lag {before_next} before the second burst: it never caught up");
            assert!(after_crash > in_burst, "seed {seed}: the crash added no lag ({after_crash} vs {in_burst})");
            assert_eq!(lag.last().map(|l| l.1), Some(0), "seed {seed}: events left unapplied");
        }
    }

    #[test]
    fn a_projector_writing_its_checkpoint_apart_from_its_read_model_is_caught_by_e3() {
        let caught = |seed: u64| {
            checkers::event_sourcing::check_e3_events(
                projection(&["services.projector.projection_atomic=false"], seed).iter().map(String::as_str),
            )
        };
        let hits: Vec<u64> = (1..=6u64).filter(|&seed| caught(seed).is_some()).collect();
        println!("projector checkpointing apart from its read model: caught by E3 at seeds {hits:?} of 1-6");
        assert!(hits.first().is_some_and(|s| *s <= 2), "first caught at {:?}", hits.first());
        assert!(hits.len() >= 3, "caught in only {} of 6 seeds", hits.len());
        assert!(caught(hits[0]).unwrap().detail.contains("the log up to it has"));
    }

    fn accounts(sets: &[&str], seed: u64) -> (Vec<String>, f64) {
        let mut all = vec!["duration_s=10", "faults[0].at_s=5"];
        all.extend_from_slice(sets);
        let events = crate::support::catalog_events("account-snapshots", &all, seed);
        let replayed: Vec<f64> = checkers::event_rows(events.iter().map(String::as_str))
            .filter(|r| r.kind == "es.load")
            .filter_map(|r| r.number("replayed"))
            .map(|n| n as f64)
            .collect();
        let mean = replayed.iter().sum::<f64>() / replayed.len().max(1) as f64;
        (events, mean)
    }

    #[test]
    fn accounts_loaded_from_snapshots_match_a_full_replay_under_contention_and_a_crash() {
        for seed in 1..=3 {
            let (events, with) = accounts(&[], seed);
            let rows = || events.iter().map(String::as_str);
            assert_eq!(checkers::event_sourcing::check_e1_events(rows()), None, "seed {seed}");
            assert_eq!(
                checkers::event_sourcing::check_e2(&checkers::event_sourcing::attempts_from_events(rows())),
                None,
                "seed {seed}"
            );
            let snapshot_loads = checkers::event_rows(rows())
                .filter(|r| r.kind == "es.load" && r.number("snapshot").is_some_and(|s| s > 0))
                .count();
            assert!(snapshot_loads > 100, "seed {seed}: only {snapshot_loads} loads from a snapshot");
            assert!(with < 25.0, "seed {seed}: {with:.1} events replayed per load with snapshots every 25");
            if seed == 1 {
                let (events, without) = accounts(&["services.accounts.snapshot_every=0"], seed);
                assert_eq!(
                    checkers::event_sourcing::check_e1_events(events.iter().map(String::as_str)),
                    None,
                    "no snapshots"
                );
                println!("events replayed per load: {with:.1} with snapshots every 25, {without:.1} without");
                assert!(without > 4.0 * with, "{with:.1} events per load with snapshots, {without:.1} without");
            }
        }
    }

    #[test]
    fn a_snapshot_holding_the_state_before_its_event_is_caught_by_e1() {
        let first = (1..=5u64).find(|&seed| {
            checkers::event_sourcing::check_e1_events(
                accounts(&["services.accounts.snapshot_off_by_one=true"], seed).0.iter().map(String::as_str),
            )
            .is_some()
        });
        println!("snapshot off by one: caught by E1 at seed {first:?}");
        assert_eq!(first, Some(1));
    }

    #[test]
    fn a_store_without_the_version_check_loses_updates() {
        let first =
            (1..=10u64).find(|&seed| e2(&["duration_s=10", "services.store.version_check=false"], seed).0.is_some());
        println!("no version check on the simulated store: caught by E2 at seed {first:?}");
        assert_eq!(first, Some(1));
    }
}
