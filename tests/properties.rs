//! `faultline::testing` in a property test: generated fault plans, workloads and pattern
//! settings, checked runs, and a failure that replays from its record alone.

use faultline::sim::{FaultKind, FaultPlan};
use faultline::testing::{self, strategies};
use proptest::prelude::*;

use super::support::{fault, faultline, text, tmp};

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every value the strategies draw is one the scenario format accepts, and what is drawn
    /// is what runs.
    #[test]
    fn generated_faults_and_settings_are_valid_scenarios(
        plan in strategies::fault_plan(&["checkout", "payment", "payment-1"], 30.0, 4),
        workload in strategies::workload_sets("checkout", 1.0, 200.0),
        patterns in strategies::pattern_sets("checkout->payment"),
    ) {
        let base = faultline::load("payment-idempotent", &[], None).unwrap();
        let sets: Vec<String> = workload.into_iter().chain(patterns).collect();
        let s = base.with_sets(&sets).map_err(|e| TestCaseError::fail(format!("{sets:?}: {e}")))?;
        let s = s.with_faults(&plan).map_err(|e| TestCaseError::fail(format!("{plan:?}: {e}")))?;
        prop_assert_eq!(&s.spec.faults, &plan);
        prop_assert!(s.edited);
        // The scenario as run reads back to the same spec (what a failure record replays).
        let text = s.as_run_toml("faultline").unwrap();
        let again = faultline::scenarios::from_str(&text, "again", &[]).unwrap();
        prop_assert_eq!(&again.spec.faults, &plan);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// An idempotent payment service charges once per request whatever the faults.
    #[test]
    fn idempotent_payment_holds_under_generated_faults(
        plan in strategies::fault_plan(&["checkout", "payment"], 10.0, 3),
        seed in 1..1000u64,
    ) {
        let base = faultline::load("payment-idempotent", &["duration_s=10".into(), "drain_s=10".into()], Some(seed)).unwrap();
        if let Err(replay) = testing::check(&base.with_faults(&plan).unwrap()) {
            prop_assert!(false, "{}", replay);
        }
    }
}

#[test]
fn a_generated_failure_replays_from_its_record_with_the_faults_it_had() {
    let base = faultline::load("outbox", &["services.orders.outbox_mode=dual_write_commit_first".into()], Some(3));
    let plan = FaultPlan(vec![fault(FaultKind::Crash, "orders", 5.0, Some(1.5))]);
    let scenario = base.unwrap().with_faults(&plan).unwrap();
    let line = testing::check(&scenario).expect_err("the planted bug fails");
    assert!(line.starts_with("seed 3: O1 violated"), "{line}");
    let record = line.split("replay: faultline replay ").nth(1).expect("a replay line");
    let json = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(record)).unwrap();
    assert!(json.contains("\"edited\": true") && json.contains("changed in code"), "{json}");
    let dir = tmp("properties");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(record);
    let o = faultline(&["replay", &path.display().to_string(), "--out", "r"], &dir);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("the same fingerprint as recorded"), "{out}");
    assert!(out.contains("fault at 5 s for 1.5 s: crash on orders"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
