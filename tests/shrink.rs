//! `faultline shrink`: a failing run made small, the same check still violated.

use faultline::scenarios::shrink::{shrink, ShrinkError, ShrinkOptions};
use faultline::scenarios::{catalog, from_str};

use super::support::{faultline, text, tmp};

/// Faults that have nothing to do with the planted bugs, added to make the shrink work.
fn noise(target: &str) -> String {
    format!(
        r#"
[[faults]]
kind = "latency_spike"
target = "{target}"
add = "const(2ms)"
at_s = 3
duration_s = 2

[[faults]]
kind = "packet_loss"
target = "{target}"
rate = 0.01
at_s = 6
duration_s = 3

[[faults]]
kind = "clock_skew"
target = "{target}"
offset_ms = 50
at_s = 9
duration_s = 5
"#
    )
}

#[test]
fn each_planted_bug_shrinks_to_at_most_one_fault_and_far_fewer_requests() {
    for (name, set, target, seed, checker) in [
        ("order-saga-participant-crash", "services.orders.saga_compensate=false", "inventory", 53, "S2"),
        ("outbox", "services.orders.outbox_mode=dual_write_commit_first", "shipping", 3, "O1"),
        ("projection-lag", "services.projector.projection_atomic=false", "writer", 11, "E3"),
    ] {
        let text = format!("{}\n{}", catalog::get(name).unwrap(), noise(target));
        let mut scenario = from_str(&text, name, &[set.to_owned()]).unwrap();
        scenario.spec.seed = seed;
        let found = shrink(&scenario, &ShrinkOptions::default(), &mut |_| {}).unwrap();
        let (b, a) = (found.before, found.after);
        println!("{name}: {b} -> {a} in {} runs: {:?}", found.runs, found.steps);
        assert_eq!(found.checker, checker, "{name}");
        assert!(found.run.verdict.is_violated(checker), "{name}: the smallest run passes {checker}");
        assert!(b.faults >= 4 && a.faults <= 1, "{name}: {b} -> {a}");
        assert!(a.requests * 5 <= b.requests, "{name}: {b} -> {a}");
        assert!(a.virtual_s < b.virtual_s, "{name}: {b} -> {a}");
        assert!(!found.budget_spent, "{name}: the budget ran out after {} runs", found.runs);
        if name != "outbox" {
            continue;
        }
        // Deterministic: the same shrink again finds the same scenario.
        let again = shrink(&scenario, &ShrinkOptions::default(), &mut |_| {}).unwrap();
        assert_eq!(again.steps, found.steps, "{name}");
        assert_eq!(again.run.output.fingerprint, found.run.output.fingerprint, "{name}");
    }
}

#[test]
fn a_run_that_passes_or_another_check_cannot_be_shrunk() {
    let ok = faultline::load("outbox", &[], Some(3)).unwrap();
    let e = shrink(&ok, &ShrinkOptions::default(), &mut |_| {}).unwrap_err();
    assert!(matches!(e, ShrinkError::DoesNotFail(_)), "{e}");
    let bug =
        faultline::load("outbox", &["services.orders.outbox_mode=dual_write_commit_first".into()], Some(3)).unwrap();
    let other = ShrinkOptions { checker: Some("S2".into()), ..ShrinkOptions::default() };
    let e = shrink(&bug, &other, &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("does not violate S2") && e.contains("O1"), "{e}");
}

#[test]
fn the_cli_writes_the_smallest_scenario_which_runs_and_still_fails() {
    let dir = tmp("shrink");
    let bug = ["run", "outbox", "--seed", "3", "--set", "services.orders.outbox_mode=dual_write_commit_first"];
    let o = faultline(&[&bug[..], &["--out", "f"]].concat(), &dir);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let o = faultline(&["shrink", "f", "--out", "small"], &dir);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    for line in ["before: 3 faults", "after:  ", "O1 still violated", "reproduce: "] {
        assert!(out.contains(line), "no {line:?} in {out}");
    }
    for file in ["scenario.toml", "shrink.json", "failure.json", "requests.csv", "summary.json"] {
        assert!(dir.join("small").join(file).is_file(), "no {file}");
    }
    // The file written is the whole story: running it fails the same check.
    let o = faultline(&["run", "small/scenario.toml", "--out", "again"], &dir);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let summary = std::fs::read_to_string(dir.join("again/summary.json")).unwrap();
    assert!(summary.contains("\"O1\""), "{summary}");
    // The record's own directory is never the output: it would replace the record.
    let record = std::fs::read_to_string(dir.join("f/failure.json")).unwrap();
    let o = faultline(&["shrink", "f", "--out", "f"], &dir);
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    assert!(text(&o).1.contains("holds the record"), "{:?}", text(&o));
    assert_eq!(std::fs::read_to_string(dir.join("f/failure.json")).unwrap(), record);
    // A passing run: exit 2, one line that says so, nothing written.
    assert!(faultline(&["run", "outbox", "--seed", "3", "--out", "ok"], &dir).status.success());
    let o = faultline(&["shrink", "ok", "--out", "nothing"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("the run passed"), "{:?}", text(&o));
    let _ = std::fs::write(dir.join("ok/failure.json"), "{\"truncated\": ");
    let o = faultline(&["shrink", "ok", "--out", "nothing"], &dir);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!dir.join("nothing").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
