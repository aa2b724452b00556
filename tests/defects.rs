//! Defects a new user hit (issue 8), each pinned by a regression test: output directories,
//! values that panicked or were silently misread, misspelt names, type errors in the scenario's
//! words, names in any script, and the record of what ran.

use faultline::scenarios;

use crate::support::{faultline, text, tmp};

fn set_err(name: &str, sets: &[&str]) -> String {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    scenarios::load(name, &sets, None).map(|_| ()).expect_err("accepted").to_string()
}

#[test]
fn regression_out_onto_a_users_directory_or_file_deletes_and_writes_nothing() {
    let dir = tmp("out-users");
    std::fs::create_dir_all(dir.join("mine")).unwrap();
    std::fs::write(dir.join("mine/notes.md"), "keep me").unwrap();
    std::fs::write(dir.join("report"), "a file of mine").unwrap();
    for target in ["mine", "report"] {
        let o = faultline(&["run", "mm1", "--set", "duration_s=5", "--out", target], &dir);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "--out {target}: {out}{err}");
        assert!(err.contains("faultline replaces only its own outputs"), "{err}");
    }
    assert_eq!(std::fs::read_to_string(dir.join("mine/notes.md")).unwrap(), "keep me");
    assert_eq!(std::fs::read_to_string(dir.join("report")).unwrap(), "a file of mine");
    let left: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(left.iter().all(|n| !n.starts_with('.')), "something hidden was left: {left:?}");
    // Its own earlier output is replaced.
    for _ in 0..2 {
        let o = faultline(&["run", "mm1", "--set", "duration_s=5", "--out", "ours"], &dir);
        assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn regression_every_duration_key_is_range_checked_instead_of_panicking() {
    let dir = tmp("huge-duration");
    for set in ["edges.\"orders->payment\".timeout.timeout_ms=1e30", "drain_s=1e300", "faults[0].at_s=-1"] {
        let o = faultline(&["run", "shop-outage-breaker", "--set", set], &dir);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{set}: {out}{err}");
        assert!(!err.contains("panicked") && err.lines().count() == 1, "{set}: {err}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn regression_a_misspelt_service_or_key_in_a_set_is_an_error_with_a_suggestion() {
    let e = set_err("shop-outage", &["services.pament.error_rate=0.1"]);
    assert!(e.contains("no service \"pament\"") && e.contains("did you mean \"payment\""), "{e}");
    let e = set_err("shop-outage", &["services.payment.eror_rate=0.1"]);
    assert!(e.contains("services.payment.eror_rate") && e.contains("did you mean \"error_rate\""), "{e}");
    let e = set_err("shop-outage-breaker", &["edges.\"orders->payment\".breaker.failur_rate=5"]);
    assert!(e.contains("did you mean \"failure_rate\""), "{e}");
}

#[test]
fn regression_values_that_were_silently_misread_are_errors_or_warnings() {
    let e = set_err("shop-outage-breaker", &["edges.\"orders->payment\".timeout.timeout_ms=0.5"]);
    assert!(e.contains("timeout_ms") && e.contains("at least 1 ms"), "{e}");
    let s = scenarios::load(
        "shop-outage-breaker",
        &["edges.\"orders->payment\".breaker.failure_rate=0.5".into(), "faults[1].at_s=500".into()],
        None,
    )
    .unwrap();
    assert!(s.warnings.iter().any(|w| w.contains("failure_rate = 0.5 is a percentage")), "{:?}", s.warnings);
    assert!(
        s.warnings.iter().any(|w| w.contains("faults[1]") && w.contains("workload has stopped")),
        "{:?}",
        s.warnings
    );
    // The warnings reach the summary, not only the terminal.
    let dir = tmp("warnings");
    let o = faultline(&["run", "shop-outage-breaker", "--set", "faults[1].at_s=500", "--out", "w"], &dir);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(text(&o).1.contains("warning: faults[1]"));
    let summary = std::fs::read_to_string(dir.join("w/summary.json")).unwrap();
    assert!(summary.contains("workload has stopped"), "warnings are not in summary.json");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn type_errors_say_what_is_allowed_in_the_scenarios_words() {
    for (set, words) in [
        ("services.payment.replicas=\"two\"", "a whole number"),
        ("services.orders.calls=\"payment\"", "a list of service names"),
        ("network.call_timeout_ms=\"long\"", "a number of milliseconds"),
        ("duration_s=true", "a number of seconds"),
        ("services.payment.error_rate=\"high\"", "a probability from 0 to 1"),
        ("services.payment.parallel=1", "true or false"),
    ] {
        let e = set_err("shop-outage", &[set]);
        assert!(e.contains(words), "{set}: {e}");
        assert!(!e.contains("expected u32") && !e.contains("expected f64") && !e.contains("a sequence"), "{e}");
    }
}

#[test]
fn names_in_any_script_run_end_to_end() {
    let text_toml = r#"
name = "결제-데모"
description = "결제 서비스가 멈춘다"
duration_s = 5
[services."주문"]
calls = ["결제"]
[services."결제"]
service_time = "exp(5ms)"
[workload]
target = "주문"
kind = "poisson"
rate_per_s = 20
[[faults]]
kind = "outage"
target = "결제"
at_s = 2
duration_s = 1
"#;
    let dir = tmp("unicode");
    std::fs::write(dir.join("shop.toml"), text_toml).unwrap();
    let o = faultline(&["run", "shop.toml", "--out", "결과"], &dir);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("결제 서비스가 멈춘다") && out.contains("주문->결제"), "{out}");
    let events = std::fs::read_to_string(dir.join("결과/events.csv")).unwrap();
    assert!(events.contains("target=결제"), "{events}");
    let summary = std::fs::read_to_string(dir.join("결과/summary.json")).unwrap();
    assert!(summary.contains("\"description\": \"결제 서비스가 멈춘다\""), "{summary}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn every_output_records_the_scenario_as_run_and_its_command() {
    let dir = tmp("as-run");
    let sets = ["--set", "duration_s=20", "--set", "workload.rate_per_s=50"];
    let o = faultline(&[&["run", "flaky-network", "--seed", "5", "--out", "a"], &sets[..]].concat(), &dir);
    let (out, _) = text(&o);
    let fingerprint = out.lines().find_map(|l| l.strip_prefix("fingerprint: ")).expect("a fingerprint").to_owned();
    let as_run = std::fs::read_to_string(dir.join("a/scenario.toml")).unwrap();
    assert!(as_run.contains("seed = 5") && as_run.contains("rate_per_s = 50"), "{as_run}");
    assert!(as_run.contains("# reproduce: ") && as_run.contains("--set workload.rate_per_s=50"), "{as_run}");
    let summary = std::fs::read_to_string(dir.join("a/summary.json")).unwrap();
    // The files say `faultline`, not how this binary was built, so they are the same bytes from
    // any build.
    assert!(summary.contains("\"reproduce\": \"faultline run flaky-network --seed 5"), "{summary}");
    // The recorded scenario runs again, by itself, to the same fingerprint.
    std::fs::copy(dir.join("a/scenario.toml"), dir.join("again.toml")).unwrap();
    let o = faultline(&["run", "again.toml", "--out", "b"], &dir);
    assert!(text(&o).0.contains(&format!("fingerprint: {fingerprint}")), "{:?}", text(&o));
    // `show` prints a catalog scenario to copy and edit.
    let o = faultline(&["show", "flaky-network"], &dir);
    let shown = text(&o).0;
    assert!(scenarios::from_str(&shown, "shown.toml", &[]).is_ok());
    let o = faultline(&["show", "flaky-netwrk"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("did you mean \"flaky-network\""));
    let _ = std::fs::remove_dir_all(dir);
}
