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
