//! What a scenario expects besides its invariants: faults that do something (counted per
//! fault; one that affected nothing warns, or fails a strict run), and `sometimes`
//! expectations that fail a run where they never happened.

use faultline::scenarios::{catalog, from_str};
use faultline::sim::NullSink;

use super::support::{faultline, text, tmp};

fn run(text: &str, sets: &[&str]) -> faultline::sim::Execution {
    let sets: Vec<String> = sets.iter().map(|s| (*s).to_owned()).collect();
    let scenario = from_str(text, "test", &sets).unwrap_or_else(|e| panic!("{e}"));
    faultline::execute(&scenario, &Default::default(), Box::new(NullSink)).unwrap()
}

#[test]
fn each_fault_counts_what_it_did() {
    let run = run(catalog::get("shop-outage").unwrap(), &[]);
    let [outage, burst] = run.output.fault_effects.as_slice() else { panic!("{:?}", run.output.fault_effects) };
    assert_eq!((outage.kind.as_str(), burst.kind.as_str()), ("outage", "error_burst"));
    assert!(outage.messages_dropped > 0 && outage.calls_failed == 0, "{outage:?}");
    assert!(burst.calls_failed > 0 && burst.messages_dropped == 0, "{burst:?}");
    // About its rate: 30% of the calls inventory served while the burst lasted.
    let served = run.output.edge("orders->inventory").unwrap().requests as f64 * 20.0 / 120.0;
    let share = burst.calls_failed as f64 / served;
    assert!((0.2..0.4).contains(&share), "{} failed of ~{served:.0}", burst.calls_failed);
    assert!(run.verdict.warnings.is_empty(), "{:?}", run.verdict.warnings);
}

#[test]
fn a_fault_that_did_nothing_warns_and_fails_a_strict_run() {
    // crash-restart skews web-1's wall clock, which nothing in that system reads.
    let text = catalog::get("crash-restart").unwrap();
    let lenient = run(text, &[]);
    assert!(lenient.verdict.passed());
    assert_eq!(lenient.verdict.warnings.len(), 1, "{:?}", lenient.verdict.warnings);
    assert!(lenient.verdict.warnings[0].starts_with("faults[3] (clock_skew on web-1) affected nothing"));
    let strict = run(text, &["strict=true"]);
    let check = strict.verdict.check("faults").expect("a strict run has the faults check");
    assert_eq!(check.violations, 1);
    assert!(check.evidence[0].line > 1 && check.evidence[0].detail.contains("clock_skew"), "{check:?}");
    // A fault after the run's end never started: said so.
    let late = run(text, &["duration_s=20", "drain_s=5", "faults[0].at_s=30"]);
    assert!(
        late.verdict.warnings.iter().any(|w| w.contains("faults[0]") && w.contains("never started")),
        "{:?}",
        late.verdict.warnings
    );
    // Every fault of the outage scenario did something: strict holds.
    let outage = run(catalog::get("shop-outage").unwrap(), &["strict=true"]);
    assert!(outage.verdict.check("faults").is_some_and(|c| c.violations == 0), "{:?}", outage.verdict);
}

const BREAKER_OPENS: &str = r#"
[[sometimes]]
event = "breaker.open"
node = "orders"

[[sometimes]]
event = "retry.gave_up"
at_least = 10
"#;

#[test]
fn sometimes_expectations_hold_when_they_happen_and_fail_when_they_never_do() {
    let with_breaker = format!("{}\n{BREAKER_OPENS}", catalog::get("shop-outage-breaker").unwrap());
    let run_ok = run(&with_breaker, &[]);
    assert!(run_ok.verdict.check("sometimes").is_some_and(|c| c.violations == 0), "{:?}", run_ok.verdict);
    // The same expectations where no breaker exists: the first never happens.
    let without = format!("{}\n{BREAKER_OPENS}", catalog::get("shop-outage-resilient").unwrap());
    let failed = run(&without, &[]);
    let check = failed.verdict.check("sometimes").unwrap();
    assert_eq!(check.violations, 1, "{check:?}");
    assert!(
        check.evidence[0].detail.contains("expected breaker.open on orders at least 1 time, seen never"),
        "{check:?}"
    );
    assert!(!failed.verdict.passed());
}

#[test]
fn the_cli_reports_idle_faults_and_refuses_a_bad_expectation() {
    let dir = tmp("expectations");
    let o = faultline(&["run", "crash-restart", "--out", "a"], &dir);
    let (out, _) = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("warning: faults[3] (clock_skew on web-1) affected nothing"), "{out}");
    let summary = std::fs::read_to_string(dir.join("a/summary.json")).unwrap();
    assert!(summary.contains("\"fault_effects\"") && summary.contains("\"warnings\": ["), "{summary}");
    let o = faultline(&["run", "crash-restart", "--strict", "--out", "b"], &dir);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    assert!(text(&o).0.contains("CHECK FAILED: faults"), "{:?}", text(&o));
    std::fs::write(
        dir.join("bad.toml"),
        format!(
            "{}\n[[sometimes]]\nevent = \"breaker.open\"\nnode = \"ordrs\"\n",
            catalog::get("shop-outage").unwrap()
        ),
    )
    .unwrap();
    let o = faultline(&["run", "bad.toml", "--out", "c"], &dir);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("key `sometimes[0].node`") && err.contains("\"ordrs\""), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Collects the event kinds a run records.
struct Kinds(std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>);

impl faultline::sim::RecordSink for Kinds {
    fn request(&mut self, _record: &faultline::sim::record::RequestRecord) {}
    fn event(&mut self, event: &faultline::sim::Logged<'_>, _row: &str) {
        self.0.lock().unwrap().insert(event.kind.name());
    }
}

#[test]
fn every_event_kind_the_catalog_records_can_be_expected() {
    use faultline::scenarios::checkers::expect::EVENT_KINDS;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    for name in catalog::names() {
        let s = faultline::load(&name, &[], None).unwrap();
        faultline::execute(&s, &Default::default(), Box::new(Kinds(seen.clone()))).unwrap();
    }
    let seen = seen.lock().unwrap();
    let unknown: Vec<&String> = seen.iter().filter(|k| !EVENT_KINDS.contains(&k.as_str())).collect();
    assert!(unknown.is_empty(), "kinds the catalog records that [[sometimes]] would refuse: {unknown:?}");
    assert!(seen.len() > 30, "only {} kinds seen", seen.len());
    // A misspelt kind is refused when the file is read, with a suggestion.
    let text = format!("{}\n[[sometimes]]\nevent = \"breaker.opne\"\n", catalog::get("shop-outage").unwrap());
    let e = from_str(&text, "typo", &[]).unwrap_err().to_string();
    assert!(e.contains("key `sometimes[0].event`") && e.contains("did you mean \"breaker.open\""), "{e}");
    // A replica the service does not have is refused too (payment has 2).
    let text = format!(
        "{}\n[[sometimes]]\nevent = \"retry.scheduled\"\nnode = \"payment-9\"\n",
        catalog::get("shop-outage").unwrap()
    );
    let e = from_str(&text, "replica", &[]).unwrap_err().to_string();
    assert!(e.contains("key `sometimes[0].node`"), "{e}");
}
