//! Failure records and `faultline replay`: a failing run, again, from its record alone.

use super::support::{faultline, text, tmp};

const BUG: &[&str] = &["run", "outbox", "--seed", "3", "--set", "services.orders.outbox_mode=dual_write_commit_first"];

#[test]
fn a_failing_run_leaves_a_record_that_replays_the_same_failure() {
    let dir = tmp("replay");
    let mut args = BUG.to_vec();
    args.extend_from_slice(&["--out", "f"]);
    let o = faultline(&args, &dir);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let record = std::fs::read_to_string(dir.join("f/failure.json")).unwrap();
    for field in
        ["\"seed\": 3", "\"violated\"", "\"O1\"", "\"scenario_toml\"", "\"fingerprint\"", "\"faultline_version\""]
    {
        assert!(record.contains(field), "failure.json has no {field}: {record}");
    }
    // The record alone is enough: it carries the scenario as run, overrides applied.
    let o = faultline(&["replay", &dir.join("f/failure.json").display().to_string(), "--out", "again"], &dir);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let fingerprint = record.split("\"fingerprint\": \"").nth(1).unwrap().split('"').next().unwrap();
    assert!(out.contains(&format!("replay: the same fingerprint as recorded ({fingerprint})")), "{out}");
    assert!(out.contains("the failure reproduces (the same checks: O1"), "{out}");
    // A passing run leaves no record.
    let o = faultline(&["run", "outbox", "--seed", "3", "--out", "ok"], &dir);
    assert!(o.status.success() && !dir.join("ok/failure.json").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_sweep_records_each_failing_seed_and_a_bad_record_is_refused() {
    let dir = tmp("replay-sweep");
    let args = [
        "sweep",
        "outbox",
        "--set",
        "services.orders.outbox_mode=dual_write_commit_first",
        "--seeds",
        "2",
        "--out",
        "s",
    ];
    assert_eq!(faultline(&args, &dir).status.code(), Some(1));
    let o = faultline(&["replay", "s/runs/seed-2", "--out", "r2"], &dir);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    assert!(text(&o).0.contains("the same fingerprint as recorded"), "{:?}", text(&o));
    // Truncated, or from another version.
    let record = std::fs::read_to_string(dir.join("s/runs/seed-1/failure.json")).unwrap();
    std::fs::write(dir.join("cut.json"), &record[..record.len() / 2]).unwrap();
    let o = faultline(&["replay", "cut.json"], &dir);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("cut.json") && err.trim().lines().count() == 1, "{err}");
    std::fs::write(dir.join("old.json"), record.replace("\"faultline_version\": \"", "\"faultline_version\": \"0.0."))
        .unwrap();
    let o = faultline(&["replay", "old.json", "--out", "r1"], &dir);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    assert!(text(&o).1.contains("was recorded by faultline 0.0."), "{:?}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_trace_follows_a_request_across_hops_and_keeps_the_format_rules() {
    let dir = tmp("trace");
    assert!(faultline(&["run", "shop-outage-breaker", "--set", "duration_s=50", "--out", "r"], &dir).status.success());
    let o = faultline(&["trace", "r", "--request", "1", "--out", "one.json"], &dir);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    // The story: the client's call, then the gateway's, then orders' two calls, indented.
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("client->gateway [ok]"), "{out}");
    assert!(lines[1].starts_with("  gateway->orders [ok]"), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("    orders->payment")), "{out}");
    for (args, file) in [(vec!["--request", "1"], "one.json"), (vec!["--window", "39..42"], "window.json")] {
        let mut a = vec!["trace", "r", "--out", file];
        a.extend(args);
        assert!(faultline(&a, &dir).status.success());
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
        let events = json["traceEvents"].as_array().unwrap();
        let mut open = std::collections::BTreeMap::new();
        let mut last_ts: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
        for e in events {
            let (ph, ts, tid) = (e["ph"].as_str().unwrap(), e["ts"].as_u64(), e["tid"].as_u64());
            // Calls and attempts are async slices, each with its own id.
            let id = || format!("{}/{}", e["cat"], e["id"]);
            match ph {
                "b" => assert!(open.insert(id(), ts.unwrap()).is_none(), "a slice begins twice"),
                "e" => {
                    let began = open.remove(&id()).expect("an end without its begin");
                    assert!(ts.unwrap() >= began, "a call ends before it begins");
                }
                "i" => {
                    // Instant events come in time order on their track.
                    let t = ts.unwrap();
                    let prev = last_ts.insert(tid.unwrap(), t).unwrap_or(0);
                    assert!(t >= prev, "time goes back on track {tid:?}");
                }
                "M" => {}
                other => panic!("unexpected phase {other}"),
            }
        }
        assert!(open.is_empty(), "{} calls never end", open.len());
        assert!(events.len() > 4, "{file}: {} events", events.len());
    }
    // Every finished call has a row per attempt in attempts.csv, and names its replica.
    let calls = faultline::reports::csv_sink::read_requests(&dir.join("r/requests.csv")).unwrap();
    let attempts = faultline::reports::csv_sink::read_attempts(&dir.join("r/attempts.csv")).unwrap();
    let mut per_call = std::collections::BTreeMap::new();
    for a in &attempts {
        *per_call.entry(a.call).or_insert(0u32) += 1;
    }
    for c in calls.iter().filter(|c| c.outcome != "unfinished") {
        assert_eq!(per_call.get(&c.id).copied().unwrap_or(0), c.attempts, "call {}", c.id);
        // A call that got an answer names the replica that gave it.
        assert!(c.outcome != "ok" || c.replica.contains('-'), "call {} names no replica", c.id);
    }
    // A retried call's story shows its attempts, their replicas, and the retry decision.
    let retried = calls.iter().find(|c| c.attempts >= 2 && c.edge == "orders->inventory").expect("a retried call");
    let mut root = retried;
    while root.parent != 0 {
        root = calls.iter().find(|c| c.id == root.parent).unwrap();
    }
    let o = faultline(&["trace", "r", "--request", &root.id.to_string(), "--out", "retried.json"], &dir);
    let (out, _) = text(&o);
    assert!(out.contains("  - attempt 2 to inventory-") && out.contains("retry.scheduled attempt=2"), "{out}");
    // What is not there is refused, with one line.
    for (args, says) in
        [(vec!["--request", "99999999"], "no client request"), (vec!["--window", "500..600"], "within the run")]
    {
        let mut a = vec!["trace", "r", "--out", "x.json"];
        a.extend(args);
        let o = faultline(&a, &dir);
        assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
        assert!(text(&o).1.contains(says) && text(&o).1.trim().lines().count() == 1, "{:?}", text(&o));
    }
    std::fs::write(dir.join("mine.json"), "{\"my\": 1}").unwrap();
    let o = faultline(&["trace", "r", "--request", "1", "--out", "mine.json"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(dir.join("mine.json")).unwrap(), "{\"my\": 1}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_users_test_fails_with_one_replay_line_and_a_record() {
    // What a user's own test calls (faultline::testing).
    let passing = faultline::load("chain3", &["duration_s=2".to_owned()], None).unwrap();
    faultline::testing::assert_seeds_pass(&passing, 1..=3);
    let sets = ["services.orders.outbox_mode=dual_write_commit_first".to_owned()];
    let buggy = faultline::load("outbox", &sets, None).unwrap();
    let failures = faultline::testing::failing_seeds(&buggy, [4]);
    assert_eq!(failures.len(), 1, "{failures:?}");
    let line = &failures[0];
    assert!(line.starts_with("seed 4: O1 violated at events.csv line"), "{line}");
    let record = line.split("replay: faultline replay ").nth(1).expect("a replay line");
    assert!(record.ends_with("outbox-seed4/failure.json"), "{line}");
    // The line works as written.
    let dir = tmp("testing-api");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(record);
    let o = faultline(&["replay", &path.display().to_string(), "--out", "r"], &dir);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    assert!(text(&o).0.contains("the same fingerprint as recorded"));
    let caught =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| faultline::testing::assert_seeds_pass(&buggy, [4])));
    let message = caught.expect_err("a failing seed fails the test");
    let message = message.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("1 of the seeds failed; the first: seed 4: O1") && message.contains("replay:"),
        "{message}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
