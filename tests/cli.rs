//! The binary as a user meets it: the demo, `list`, `run`, `check`, exit codes and messages.

use std::process::Command;

use crate::support::{faultline, text, tmp};

#[test]
fn a_reader_that_leaves_early_is_not_an_error() {
    // `faultline list | head -1`: stdout is a pipe nobody reads any more.
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let o = Command::new(env!("CARGO_BIN_EXE_faultline")).arg("list").stdout(writer).output().expect("the binary runs");
    let (_, err) = text(&o);
    assert_eq!((o.status.code(), err.as_str()), (Some(0), ""));
}

#[test]
fn the_bare_command_runs_the_demo() {
    let dir = tmp("demo");
    let o = faultline(&[], &dir);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("shop-outage-breaker vs shop-outage (base), paired over seeds 1..10"), "{out}");
    let finding = |variant: &str, metric: &str| {
        let section = out.split(&format!("{variant} vs shop-outage")).nth(1).unwrap_or_default();
        section.lines().find(|l| l.starts_with(metric)).map(|l| l.to_owned()).unwrap_or_default()
    };
    // What the demo teaches: both pattern stacks answer more and cut the p99 of the outage.
    for v in ["shop-outage-resilient", "shop-outage-breaker"] {
        assert!(finding(v, "success ").ends_with("better"), "{v}: {out}");
        assert!(finding(v, "p99_ms ").ends_with("better"), "{v}: {out}");
    }
    let demo = dir.join("out/demo");
    for f in ["comparison.csv", "summary.json", "over_time.png", "over_time.svg", "differences.png", "differences.svg"]
    {
        assert!(demo.join(f).is_file(), "missing {f}");
    }
    for v in ["shop-outage", "shop-outage-resilient", "shop-outage-breaker"] {
        let seeds = std::fs::read_to_string(demo.join(v).join("seeds.csv")).unwrap();
        assert_eq!(seeds.lines().count(), 11, "{v}: ten seeds");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn run_writes_its_files_and_its_reproduce_command_reproduces_them() {
    let dir = tmp("run");
    let o = faultline(&["run", "flaky-network", "--seed", "11", "--set", "duration_s=20", "--out", "first"], &dir);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    let fingerprint = out.lines().find_map(|l| l.strip_prefix("fingerprint: ")).expect("a fingerprint line").to_owned();
    assert_eq!(fingerprint.len(), 16);
    assert!(out.contains("client->api") && out.contains("p99 ms"), "no per-edge summary: {out}");
    let repro = out.lines().find_map(|l| l.strip_prefix("reproduce: ")).expect("a reproduce line");
    // The program part is `faultline` or `cargo run --` (from a checkout); the rest is ours.
    let ours =
        repro.rsplit_once(" -- ").map(|x| x.1).or_else(|| repro.strip_prefix("faultline ")).expect("a program prefix");
    let args: Vec<&str> = ours.split_whitespace().collect();
    assert_eq!(args, ["run", "flaky-network", "--seed", "11", "--set", "duration_s=20"]);
    let mut again: Vec<&str> = args.clone();
    again.extend(["--out", "second"]);
    let o2 = faultline(&again, &dir);
    assert!(text(&o2).0.contains(&format!("fingerprint: {fingerprint}")));
    for f in ["requests.csv", "events.csv", "summary.json", "latency.svg", "latency.png"] {
        let (a, b) =
            (std::fs::read(dir.join("first").join(f)).unwrap(), std::fs::read(dir.join("second").join(f)).unwrap());
        assert!(a == b, "{f} differs between a run and its reproduction");
    }
    let rows = faultline::reports::csv_sink::read_requests(&dir.join("first/requests.csv")).unwrap();
    assert!(rows.len() > 1000 && rows.iter().all(|r| r.end_us >= r.start_us));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_run_with_a_read_model_charts_its_lag_and_a_planted_bug_fails_it() {
    let dir = tmp("lag");
    let args = ["run", "projection-lag", "--set", "duration_s=20", "--set", "faults[0].at_s=16"];
    let o = faultline(&[&args[..], &["--out", "first"]].concat(), &dir);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    let lag_line = out.lines().find(|l| l.starts_with("read model lag: max ")).expect("a lag line");
    let max: u64 = lag_line["read model lag: max ".len()..].split(' ').next().unwrap().parse().unwrap();
    assert!(max > 500, "{lag_line}: the burst at 15 s should leave the projector behind");
    faultline(&[&args[..], &["--out", "second"]].concat(), &dir);
    for f in ["lag.png", "lag.svg"] {
        let (a, b) =
            (std::fs::read(dir.join("first").join(f)).unwrap(), std::fs::read(dir.join("second").join(f)).unwrap());
        assert!(a.len() > 1000 && a == b, "{f} is missing, empty or differs between two runs");
    }
    // The same scenario with the planted bug (its catalog seed shows it): E3 fails the run.
    let o = faultline(
        &["run", "projection-lag", "--set", "services.projector.projection_atomic=false", "--out", "bug"],
        &dir,
    );
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("CHECK FAILED: E3 violated"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_run_says_what_a_disk_fault_lost_and_the_check_it_broke() {
    let dir = tmp("disk");
    let storm = r#"storms=[{storm="fsync_failure",target="broker",at_s=10,duration_s=5}]"#;
    let o = faultline(&["run", "outbox", "--seed", "1", "--set", storm, "--out", "run"], &dir);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    let line = out.lines().find(|l| l.starts_with("faults[3] (fsync_fail on broker): ")).expect("a disk fault line");
    assert!(line.ends_with("pending store writes failed to sync and were lost"), "{line}");
    assert!(out.contains("CHECK FAILED: O2 violated"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn list_shows_the_catalog() {
    let o = faultline(&["list"], &std::env::temp_dir());
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(0));
    for name in faultline::scenarios::catalog::names() {
        assert!(out.lines().any(|l| l.starts_with(&name)), "{name} missing from: {out}");
    }
}

#[test]
fn check_confirms_determinism() {
    let o = faultline(&["check", "crash-restart", "--set", "duration_s=15"], &std::env::temp_dir());
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.starts_with("deterministic:"), "{out}");
}

#[test]
fn bad_input_exits_2_with_one_clear_line_and_no_panic() {
    let dir = tmp("bad");
    std::fs::write(dir.join("typo.toml"), "duration_s = 10\nduraton = 5\n").unwrap();
    let cases: &[(&[&str], &[&str])] = &[
        (&["run", "nope"], &["no scenario \"nope\"", "faultline list"]),
        (&["run", "typo.toml"], &["typo.toml", "duraton", "duration_s"]),
        (&["run", "mm1", "--set", "services.server.queue=-1"], &["services.server.queue", "-1"]),
        (&["run", "mm1", "--set", "nonsense"], &["--set \"nonsense\"", "key=value"]),
        (&["run", "mm1", "--seed", "abc"], &["abc"]),
        (&["run", "mm1", "--bogus"], &["--bogus"]),
        (&["frobnicate"], &["frobnicate"]),
    ];
    for (args, parts) in cases {
        let o = faultline(args, &dir);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {out}{err}");
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
        for p in *parts {
            assert!(err.contains(p), "{args:?}: stderr lacks {p:?}: {err}");
        }
    }
    assert!(!dir.join("out").exists(), "a failed run left output behind");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_stalled_run_exits_1_with_the_failed_check() {
    let dir = tmp("stall");
    let sets = [
        "duration_s=60",
        "drain_s=100",
        "stall_after_s=20",
        "faults[0]={kind=\"outage\",target=\"server\",at_s=5,duration_s=100000}",
    ];
    let mut args = vec!["run", "mm1", "--out", "stalled"];
    for s in &sets {
        args.extend(["--set", s]);
    }
    let o = faultline(&args, &dir);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("CHECK FAILED: stall violated at events.csv line"), "{out}");
    assert!(out.contains("none completed for 20 s"), "{out}");
    assert!(dir.join("stalled/events.csv").is_file(), "the output is still written");
    let _ = std::fs::remove_dir_all(dir);
}
