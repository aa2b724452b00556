//! Each fault kind does what its documentation says, seen through the records.

use std::sync::{Arc, Mutex};

use faultline::sim::{self, FaultKind, NullSink, Probe, SimHandle};

use crate::support::*;

#[test]
fn outage_black_holes_calls_until_the_timeout() {
    let spec = api_db(1, 50.0, 30.0).fault(fault(FaultKind::Outage, "db", 10.0, Some(5.0)));
    let spec = with_stack(spec, "api", "db", vec![timeout_ms(200)]).build().unwrap();
    let (_, rows) = run_rows(spec);
    let reqs = requests(&rows);
    let (during, n) = share(&reqs, "api->db", 10.1, 14.9, "timeout");
    assert!(n > 100 && during == 1.0, "during the outage {during} of {n} db calls timed out");
    let (before, _) = share(&reqs, "api->db", 0.0, 9.9, "ok");
    let (after, _) = share(&reqs, "api->db", 15.1, 30.0, "ok");
    assert_eq!((before, after), (1.0, 1.0));
    let slow =
        reqs.iter().filter(|r| r.edge == "api->db" && r.outcome == "timeout").all(|r| r.end_us - r.start_us >= 200_000);
    assert!(slow, "a timed-out call ended before its 200 ms timeout");
}

#[test]
fn crash_refuses_calls_and_restart_brings_the_node_back() {
    let spec = api_db(2, 50.0, 30.0).fault(fault(FaultKind::Crash, "db", 10.0, Some(5.0))).build().unwrap();
    let (_, rows) = run_rows(spec);
    let reqs = requests(&rows);
    let (refused, n) = share(&reqs, "api->db", 10.1, 14.9, "refused");
    assert!(n > 100 && refused == 1.0, "{refused} of {n} calls refused during the crash");
    let quick = reqs.iter().filter(|r| r.outcome == "refused").all(|r| r.end_us - r.start_us < 100_000);
    assert!(quick, "a refusal should take one round trip, not a timeout");
    let (after, _) = share(&reqs, "api->db", 15.1, 30.0, "ok");
    assert_eq!(after, 1.0, "db did not come back after its restart");
    let kinds: Vec<&str> = rows.events.iter().map(|e| e.split(',').nth(2).unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "node.crash").count(), 2, "one crash event per replica");
    assert_eq!(kinds.iter().filter(|k| **k == "node.restart").count(), 2);
}

#[test]
fn restart_bounces_a_node_instantly() {
    let spec = api_db(3, 100.0, 20.0).fault(fault(FaultKind::Restart, "db-0", 10.0, None)).build().unwrap();
    let (out, rows) = run_rows(spec);
    let reqs = requests(&rows);
    // Calls in flight on db-0 at the bounce are lost (their callers wait for the 30 s call
    // timeout); calls after it succeed.
    let (after, n) = share(&reqs, "api->db", 10.1, 20.0, "ok");
    assert!(n > 500 && after == 1.0, "{after} of {n} calls after the bounce succeeded");
    assert!(rows.events.iter().any(|e| e.contains("db-0,node.restart")));
    assert!(out.edge("api->db").unwrap().outcomes.get("timeout").copied().unwrap_or(0) <= 5);
}

#[test]
fn pause_delays_calls_without_failing_them() {
    let spec = api_db(4, 50.0, 30.0).fault(fault(FaultKind::Pause, "db", 10.0, Some(3.0))).build().unwrap();
    let (_, rows) = run_rows(spec);
    let reqs = requests(&rows);
    let stuck: Vec<&Req> =
        reqs.iter().filter(|r| r.edge == "api->db" && r.start_us >= 10_100_000 && r.start_us < 12_900_000).collect();
    assert!(stuck.len() > 100);
    for r in &stuck {
        assert_eq!(r.outcome, "ok");
        assert!(r.end_us >= 13_000_000, "a call to a paused node finished at {} us, before the resume", r.end_us);
    }
}

#[test]
fn two_way_partition_drops_both_directions_and_one_way_only_one() {
    let admitted = |target: &str| {
        let spec = api_db(5, 50.0, 20.0).fault(fault(FaultKind::Partition, target, 5.0, Some(10.0)));
        let spec = with_stack(spec, "api", "db", vec![timeout_ms(100)]).build().unwrap();
        let (out, rows) = run_rows(spec);
        let reqs = requests(&rows);
        let (timeouts, _) = share(&reqs, "api->db", 5.1, 14.9, "timeout");
        let db = out.services.iter().find(|s| s.service == "db").unwrap().admitted;
        (timeouts, db)
    };
    let (t_both, db_both) = admitted("api<->db");
    let (t_req, db_req) = admitted("api->db");
    let (t_resp, db_resp) = admitted("db->api");
    // Every direction blocks the round trip...
    assert_eq!((t_both, t_req, t_resp), (1.0, 1.0, 1.0));
    // ...but only when replies are the dropped direction does db still see the requests.
    assert_eq!(db_both, db_req, "api->db and api<->db both stop requests reaching db");
    assert!(db_resp > db_req + 400, "with db->api cut, requests still reach db: {db_resp} vs {db_req}");
}

#[test]
fn packet_loss_loses_the_round_trip_at_the_expected_rate() {
    let spec = api_db(6, 100.0, 60.0).fault(fault(FaultKind::PacketLoss { rate: 0.5 }, "api->db", 0.0, Some(60.0)));
    let spec = with_stack(spec, "api", "db", vec![timeout_ms(100)]).build().unwrap();
    let (_, rows) = run_rows(spec);
    // Loss on the one-way link hits requests only: half the calls time out.
    let (lost, n) = share(&requests(&rows), "api->db", 0.0, 60.0, "timeout");
    assert!(n > 5000 && (lost - 0.5).abs() < 0.03, "{lost} of {n} lost at a 50% rate");
}

#[test]
fn duplication_delivers_requests_twice() {
    let mut net = faultline::sim::NetworkSpec::default();
    net.links.insert(("api".into(), "db".into()), faultline::sim::LinkModel { duplicate: 1.0, ..Default::default() });
    let spec = api_db(7, 50.0, 20.0).network(net).build().unwrap();
    let (out, _) = run_rows(spec);
    let calls = out.edge("api->db").unwrap().requests;
    let db = out.services.iter().find(|s| s.service == "db").unwrap().admitted;
    assert_eq!(db, 2 * calls, "every request delivered twice");
    assert_eq!(out.edge("api->db").unwrap().success_rate, 1.0, "duplicate replies are ignored");
}

#[test]
fn reordering_holds_messages_back() {
    let p50 = |reorder: f64| {
        let mut net = faultline::sim::NetworkSpec::default();
        net.default.latency = dist("const(5ms)");
        net.default.reorder = reorder;
        net.default.reorder_window = secs(0.040);
        run(api_db(8, 50.0, 20.0).network(net).build().unwrap()).edge("api->db").unwrap().mean_ms
    };
    let (plain, reordered) = (p50(0.0), p50(1.0));
    // Each way is held back by U(0, 40 ms): +20 ms per message, +40 ms per round trip.
    assert!((reordered - plain - 40.0).abs() < 3.0, "mean latency {plain} -> {reordered}");
}

#[test]
fn error_burst_and_latency_spike_change_answers_only_while_active() {
    let spec = api_db(9, 100.0, 40.0)
        .fault(fault(FaultKind::ErrorBurst { rate: 0.3 }, "db", 10.0, Some(10.0)))
        .fault(fault(FaultKind::LatencySpike { add: dist("const(100ms)") }, "db", 25.0, Some(5.0)))
        .build()
        .unwrap();
    let (_, rows) = run_rows(spec);
    let reqs = requests(&rows);
    let (errors, n) = share(&reqs, "api->db", 10.1, 19.9, "error");
    assert!(n > 800 && (errors - 0.3).abs() < 0.05, "error share {errors} of {n}");
    assert_eq!(share(&reqs, "api->db", 0.0, 9.9, "error").0, 0.0);
    let slow = |from: f64, to: f64| {
        let xs: Vec<u64> = reqs
            .iter()
            .filter(|r| r.edge == "api->db" && r.start_us as f64 >= from * 1e6 && (r.start_us as f64) < to * 1e6)
            .map(|r| r.end_us - r.start_us)
            .collect();
        xs.iter().sum::<u64>() as f64 / xs.len() as f64 / 1e3
    };
    assert!(slow(25.1, 29.9) > slow(31.0, 40.0) + 90.0, "the spike added no latency");
}

fn probe(
    f: impl Fn(SimHandle) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync + 'static,
) -> Option<Probe> {
    Some(Arc::new(f))
}

#[test]
fn durable_store_keeps_synced_writes_across_a_crash() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let run_with = |crash: bool| {
        let seen = seen.clone();
        let mut b = api_db(10, 10.0, 20.0);
        if crash {
            b = b.fault(fault(FaultKind::Crash, "db-0", 5.0, Some(2.0)));
        }
        let p = probe(move |h: SimHandle| {
            let seen = seen.clone();
            Box::pin(async move {
                let store = h.store("db-0");
                store.put("synced", b"1");
                store.sync();
                store.put("unsynced", b"2");
                tokio::time::sleep(secs(8.0)).await; // the crash lasts from 5 s to 7 s
                assert!(h.is_alive("db-0"));
                seen.lock().unwrap().push((store.get("synced"), store.get("unsynced")));
            })
        });
        sim::run_with_probe(b.build().unwrap(), Box::new(NullSink), p).unwrap();
    };
    run_with(false);
    run_with(true);
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0], (Some(b"1".to_vec()), Some(b"2".to_vec())), "without a crash both writes are there");
    assert_eq!(seen[1], (Some(b"1".to_vec()), None), "a crash loses only the unsynced write");
}

#[test]
fn disk_faults_fail_syncs_and_lose_the_pending_writes_only_while_active() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    for kind in [FaultKind::DiskFull, FaultKind::FsyncFail] {
        let seen = seen.clone();
        let b = api_db(10, 10.0, 20.0).fault(fault(kind.clone(), "db-0", 5.0, Some(2.0)));
        let p = probe(move |h: SimHandle| {
            let seen = seen.clone();
            Box::pin(async move {
                let store = h.store("db-0");
                store.put("before", b"1");
                let before = store.try_sync();
                tokio::time::sleep(secs(6.0)).await; // inside the fault, 5 s to 7 s
                store.put("during", b"2");
                let during = store.try_sync();
                store.put("ignored", b"3");
                store.sync(); // not looking: the write is gone all the same
                tokio::time::sleep(secs(2.0)).await;
                store.put("after", b"4");
                let after = store.try_sync();
                let kept: Vec<bool> =
                    ["before", "during", "ignored", "after"].iter().map(|k| store.get(k).is_some()).collect();
                seen.lock().unwrap().push((before, during, after, kept));
            })
        });
        let out = sim::run_with_probe(b.build().unwrap(), Box::new(NullSink), p).unwrap();
        assert_eq!(out.fault_effects[0].writes_failed, 2, "{kind:?}: the write synced and the one not looked at");
    }
    use faultline::sim::store::DiskError;
    let seen = seen.lock().unwrap();
    for (i, error) in [DiskError::Full, DiskError::FsyncFailed].into_iter().enumerate() {
        assert_eq!(seen[i], (Ok(()), Err(error), Ok(()), vec![true, false, false, true]), "{error}");
    }
}

#[test]
fn clock_skew_moves_one_node_wall_clock() {
    let offsets = Arc::new(Mutex::new(Vec::new()));
    let o = offsets.clone();
    let spec = api_db(11, 10.0, 20.0)
        .fault(fault(FaultKind::ClockSkew { offset_ms: -4000 }, "api-1", 5.0, Some(5.0)))
        .build()
        .unwrap();
    let p = probe(move |h: SimHandle| {
        let o = o.clone();
        Box::pin(async move {
            for t in [2.0, 7.0, 12.0] {
                tokio::time::sleep_until(tokio::time::Instant::now() + secs(t) - h.elapsed()).await;
                o.lock().unwrap().push(h.wall_clock_ms("api-1") - h.wall_clock_ms("api-0"));
            }
        })
    });
    sim::run_with_probe(spec, Box::new(NullSink), p).unwrap();
    assert_eq!(*offsets.lock().unwrap(), vec![0, -4000, 0]);
}

#[test]
fn clock_drift_grows_one_node_offset_at_its_rate_until_it_ends() {
    let offsets = Arc::new(Mutex::new(Vec::new()));
    let o = offsets.clone();
    let spec = api_db(11, 10.0, 20.0)
        .fault(fault(FaultKind::ClockDrift { rate: 0.01 }, "api-1", 4.0, Some(10.0)))
        .build()
        .unwrap();
    let p = probe(move |h: SimHandle| {
        let o = o.clone();
        Box::pin(async move {
            for t in [2.0, 6.0, 12.0, 15.0] {
                tokio::time::sleep_until(tokio::time::Instant::now() + secs(t) - h.elapsed()).await;
                o.lock().unwrap().push(h.wall_clock_ms("api-1") - h.wall_clock_ms("api-0"));
            }
        })
    });
    sim::run_with_probe(spec, Box::new(NullSink), p).unwrap();
    // 1% fast from 4 s: 20 ms ahead at 6 s, 80 ms at 12 s; right again after 14 s.
    assert_eq!(*offsets.lock().unwrap(), vec![0, 20, 80, 0]);
}

#[test]
fn without_a_timeout_layer_the_network_hard_timeout_ends_hung_calls() {
    let net = faultline::sim::NetworkSpec { call_timeout: secs(2.0), ..Default::default() };
    let spec =
        api_db(12, 50.0, 20.0).network(net).fault(fault(FaultKind::Outage, "db", 5.0, Some(5.0))).build().unwrap();
    let (_, rows) = run_rows(spec);
    let reqs = requests(&rows);
    let hung: Vec<u64> =
        reqs.iter().filter(|r| r.edge == "api->db" && r.outcome == "timeout").map(|r| r.end_us - r.start_us).collect();
    assert!(hung.len() > 200, "{} calls timed out", hung.len());
    // Exactly the timeout, give or take the rounding of µs records.
    assert!(
        hung.iter().all(|&us| (2_000_000..=2_000_001).contains(&us)),
        "hung calls ended after {:?} us",
        (hung.iter().min(), hung.iter().max())
    );
    assert_eq!(share(&reqs, "api->db", 10.1, 20.0, "ok").0, 1.0);
}

#[test]
fn the_watchdog_reports_a_quiet_system_with_work_pending() {
    // Known bug K9 (docs/sources.md; tower #408): a system can go quiet with work pending. Here db is black-holed
    // for good and nothing times out for 10 hours: requests pile up, none completes.
    let stuck = |layers: Vec<faultline::scenarios::stack::LayerSpec>| {
        let net = faultline::sim::NetworkSpec { call_timeout: secs(36_000.0), ..Default::default() };
        let b = api_db(14, 20.0, 30.0).network(net).drain(secs(100.0)).stall_after(Some(secs(20.0)));
        let b = b.fault(fault(FaultKind::Outage, "db", 5.0, Some(10_000.0)));
        let spec = with_stack(b, "api", "db", layers).build().unwrap();
        let sink = faultline::sim::MemorySink::default();
        let run = faultline::scenarios::execute_spec(&spec, &Default::default(), Box::new(sink.clone())).unwrap();
        (run, sink.rows())
    };
    let (run, rows) = stuck(vec![]);
    let stall = run.verdict.check("stall").expect("the stall checker applies");
    assert_eq!(stall.violations, 1, "{stall:?}");
    assert!(stall.evidence[0].detail.contains("none completed for 20 s"), "{stall:?}");
    assert!(rows.events.iter().any(|e| e.contains(",sim.stall,")));
    // With a timeout the same outage is loud, not quiet: calls fail, nothing stalls.
    let (run, _) = stuck(vec![timeout_ms(500)]);
    assert!(run.verdict.passed(), "{:?}", run.verdict.first_violation());
}

#[test]
fn a_failed_fsync_fails_the_outbox_commits_cleanly_but_a_broker_that_ignores_it_loses_messages() {
    let storm = |target: &str| format!("storms=[{{storm=\"fsync_failure\",target=\"{target}\",at_s=10,duration_s=5}}]");
    for seed in 1..=2 {
        // The outbox writer commits through the patterns' Store port: the failed sync is an
        // error, the order fails, and nothing committed is lost or published twice.
        let (run, _) = checked("outbox", &[&storm("orders")], seed);
        assert_passed(&run, &format!("fsync failure on the outbox writer, seed {seed}"));
        let effect = &run.output.fault_effects[3];
        assert!(effect.kind == "fsync_fail" && effect.writes_failed > 0, "seed {seed}: {effect:?}");
        let (calm, _) = checked("outbox", &[], seed);
        let ok = |r: &faultline::sim::Execution| r.output.edges[0].success_rate;
        assert!(ok(&run) < ok(&calm), "seed {seed}: orders fail while fsync does");
        // The broker syncs without looking at the result: what it acknowledged is gone.
        let (broker, _) = checked("outbox", &[&storm("broker")], seed);
        assert!(broker.verdict.is_violated("O2"), "seed {seed}: the broker's lost messages went unnoticed");
    }
}
