//! Sweeps, shards and comparisons through the CLI: the same bytes whatever the threads or
//! shards, resumption after a kill, verdicts in every file, and bad input refused with exit 2.

use std::path::Path;

use super::support::{faultline, text, tmp};

/// A quick scenario with a fault (so that recovery is measured) and a checker.
const QUICK: &[&str] = &["shop-outage-breaker", "--set", "duration_s=50", "--set", "drain_s=5"];

fn sweep(dir: &Path, out: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["sweep"];
    args.extend_from_slice(QUICK);
    args.extend_from_slice(&["--out", out]);
    args.extend_from_slice(extra);
    faultline(&args, dir)
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const SAME: &[&str] = &["seeds.csv", "results.jsonl", "summary.json", "sweep.json"];

#[test]
fn a_sweep_writes_the_same_bytes_whatever_the_threads_and_shards() {
    let dir = tmp("sweep-bytes");
    assert!(sweep(&dir, "one", &["--seeds", "3..8", "--jobs", "1"]).status.success());
    assert!(sweep(&dir, "three", &["--seeds", "3..8", "--jobs", "3"]).status.success());
    for k in 1..=3 {
        let o = sweep(&dir, &format!("part{k}"), &["--seeds", "3..8", "--shard", &format!("{k}/3")]);
        assert!(o.status.success(), "{:?}", text(&o));
    }
    let o = faultline(&["merge", "part2", "part1", "part3", "--out", "merged"], &dir);
    assert!(o.status.success(), "{:?}", text(&o));
    for f in SAME {
        assert!(read(&dir.join("one").join(f)) == read(&dir.join("three").join(f)), "{f} differs with --jobs");
        assert!(read(&dir.join("one").join(f)) == read(&dir.join("merged").join(f)), "{f} differs merged");
    }
    let csv = String::from_utf8(read(&dir.join("one/seeds.csv"))).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 7, "a header and six seeds:\n{csv}");
    assert!(lines[0].starts_with("seed,fingerprint,requests,success,degraded,p50_ms,p99_ms,p999_ms,max_ms"));
    assert!(lines[0].contains("recovery_s_1") && lines[0].contains("check_stall"), "{}", lines[0]);
    let seeds: Vec<&str> = lines[1..].iter().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(seeds, ["3", "4", "5", "6", "7", "8"]);
    assert!(!csv.contains("wall"), "wall times belong in timing.csv only");
    // An incomplete shard set and shards of another sweep are refused.
    let o = faultline(&["merge", "part1", "part2", "--out", "m2"], &dir);
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    assert!(text(&o).1.contains("missing 3/3"), "{:?}", text(&o));
    assert!(sweep(&dir, "other", &["--seeds", "3..8", "--shard", "3/3", "--set", "workload.rate_per_s=150"])
        .status
        .success());
    let o = faultline(&["merge", "part1", "part2", "other", "--out", "m3"], &dir);
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    assert!(!dir.join("m2").exists() && !dir.join("m3").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_killed_sweep_resumes_without_losing_or_repeating_a_seed() {
    let dir = tmp("sweep-resume");
    let mut args = vec!["sweep"];
    args.extend_from_slice(QUICK);
    args.extend_from_slice(&["--seeds", "1..40", "--jobs", "1", "--out", "s"]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(&args)
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let done = dir.join(".s.partial/done");
    let started = std::time::Instant::now();
    while std::fs::read_dir(&done).map_or(0, |d| d.count()) < 3 {
        assert!(started.elapsed().as_secs() < 120, "the sweep saved nothing");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    let _ = child.wait();
    assert!(!dir.join("s").exists(), "a killed sweep left a finished-looking output");
    let saved = std::fs::read_dir(&done).unwrap().count();
    let o = faultline(&args, &dir);
    assert!(o.status.success(), "{:?}", text(&o));
    let (_, err) = text(&o);
    assert!(err.contains("resuming:") && err.contains("of 40 seeds already done"), "{err}");
    assert!(saved < 40, "the sweep finished before it was killed");
    let timing = String::from_utf8(read(&dir.join("s/timing.csv"))).unwrap();
    assert_eq!(timing.lines().count(), 41, "every seed once:\n{timing}");
    // The same as a sweep never interrupted.
    let fresh: Vec<&str> = args.iter().map(|a| if *a == "s" { "fresh" } else { a }).collect();
    assert!(faultline(&fresh, &dir).status.success());
    for f in SAME {
        assert!(read(&dir.join("s").join(f)) == read(&dir.join("fresh").join(f)), "{f} differs after resuming");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_sweep_with_a_violation_fails_everywhere_with_a_replay_line() {
    let dir = tmp("sweep-fail");
    let o = faultline(
        &[
            "sweep",
            "outbox",
            "--set",
            "services.orders.outbox_mode=dual_write_commit_first",
            "--seeds",
            "2",
            "--out",
            "f",
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let (out, _) = text(&o);
    assert!(
        out.contains("replay: ")
            && out.contains("run outbox --seed 1 --set services.orders.outbox_mode=dual_write_commit_first"),
        "{out}"
    );
    let summary = String::from_utf8(read(&dir.join("f/summary.json"))).unwrap();
    assert!(summary.contains("\"passed\": false") && summary.contains("\"O1\": 2"), "{summary}");
    assert!(summary.contains("faultline run outbox --seed 2"), "{summary}");
    assert!(String::from_utf8(read(&dir.join("f/seeds.csv"))).unwrap().contains("violated"));
    // The failing seeds' own files are kept, with the verdict in their summary.
    let run = String::from_utf8(read(&dir.join("f/runs/seed-1/summary.json"))).unwrap();
    assert!(run.contains("\"passed\": false"));
    assert!(read(&dir.join("f/runs/seed-1/events.csv")).len() > 1000);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_experiment_input_is_refused_with_exit_2_and_one_line() {
    let dir = tmp("sweep-bad");
    for (args, says) in [
        (vec!["sweep", "chain3", "--seeds", "9..3"], "reversed"),
        (vec!["sweep", "chain3", "--seeds", "0"], "empty"),
        (vec!["sweep", "chain3", "--jobs", "0"], "--jobs 0"),
        (vec!["sweep", "chain3", "--shard", "3/2"], "3/2"),
        (vec!["compare", "chain3", "chain3"], "twice"),
        (vec!["compare", "chain3"], "at least one variant"),
        (vec!["compare", "chain3", "--vary", "fast"], "KEY=VALUE"),
    ] {
        let o = faultline(&args, &dir);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says) && err.trim().lines().count() == 1, "{args:?}: {err}");
    }
    // An --out holding another sweep is not replaced.
    assert!(faultline(&["sweep", "chain3", "--set", "duration_s=5", "--seeds", "2", "--out", "x"], &dir)
        .status
        .success());
    let before = read(&dir.join("x/seeds.csv"));
    let o = faultline(&["sweep", "chain3", "--set", "duration_s=5", "--seeds", "3", "--out", "x"], &dir);
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    assert!(text(&o).1.contains("holds another sweep (seeds 1..2 there, 1..3 here)"), "{:?}", text(&o));
    assert_eq!(read(&dir.join("x/seeds.csv")), before);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_comparison_pairs_seeds_and_finds_what_the_patterns_do() {
    let dir = tmp("compare");
    let mut args = vec!["compare", "shop-outage-breaker", "shop-outage", "--vary", "same workload.rate_per_s=200"];
    args.extend_from_slice(&["--vary", "slow-open edges.orders->payment.breaker.open_ms=8000"]);
    args.extend_from_slice(&["--set", "duration_s=70", "--set", "drain_s=5", "--seeds", "1..8", "--out", "c"]);
    let o = faultline(&args, &dir);
    assert!(o.status.success(), "{:?}", text(&o));
    let csv = String::from_utf8(read(&dir.join("c/comparison.csv"))).unwrap();
    let row = |metric: &str, variant: &str| {
        csv.lines()
            .find(|l| l.starts_with(&format!("{metric},{variant},")))
            .unwrap_or_else(|| panic!("no {metric} row for {variant}:\n{csv}"))
            .to_owned()
    };
    // Without the breaker, threads hang on the black-holed payment service for 30 s.
    assert!(row("p99_ms", "shop-outage").ends_with(",worse"), "{csv}");
    assert!(row("peak_in_flight", "shop-outage").ends_with(",worse"), "{csv}");
    // The base's own configuration again: no difference at all, and no finding.
    for m in ["success", "p99_ms", "calls_per_request", "recovery_s_1"] {
        let r = row(m, "same");
        assert!(r.contains(",0.000000,0.000000,0.000000,") && r.ends_with(",no detectable difference"), "{r}");
    }
    // A breaker that stays open longer refuses more calls after payment is back.
    assert!(row("success", "slow-open").ends_with(",worse"), "{csv}");
    for f in ["over_time.png", "over_time.svg", "differences.png", "differences.svg", "summary.json"] {
        assert!(read(&dir.join("c").join(f)).len() > 1000, "{f}");
    }
    // Common random numbers: every variant ran the same seeds with the same requests count.
    let requests = |v: &str| -> Vec<String> {
        let t = String::from_utf8(read(&dir.join("c").join(v).join("seeds.csv"))).unwrap();
        t.lines().skip(1).map(|l| l.split(',').take(3).skip(2).collect()).collect()
    };
    assert_eq!(requests("shop-outage"), requests("shop-outage-breaker"));
    assert_eq!(requests("shop-outage-breaker"), requests("slow-open"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_deploy_recipes_shards_merge_into_the_one_machine_sweep() {
    // deploy/run-local.sh starts exactly what the Kubernetes Indexed Job and the GitHub
    // Actions matrix start: deploy/shard.sh with JOB_COMPLETION_INDEX = 0..N-1.
    let dir = tmp("deploy");
    let toml =
        text(&faultline(&["show", "shop-outage-breaker"], &dir)).0.replace("duration_s = 120", "duration_s = 45");
    std::fs::write(dir.join("quick.toml"), toml).unwrap();
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let o = std::process::Command::new("sh")
        .arg(deploy.join("run-local.sh"))
        .arg("3")
        .env("FAULTLINE", env!("CARGO_BIN_EXE_faultline"))
        .env("SCENARIO", "quick.toml")
        .env("SEEDS", "4..10")
        .env("OUT_DIR", "results")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(faultline(&["sweep", "quick.toml", "--seeds", "4..10", "--out", "one"], &dir).status.success());
    for f in SAME {
        assert!(read(&dir.join("one").join(f)) == read(&dir.join("results/merged").join(f)), "{f} differs");
    }
    for k in 0..3 {
        assert!(dir.join(format!("results/shard-{k}/seeds.csv")).is_file());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
