//! `--swarm`: each seed draws its own faults within the scenario's ranges, written into the
//! scenario as run; and the liveness phase after them (`converge`).

use faultline::scenarios::{catalog, from_str};
use faultline::sim::{FaultKind, NullSink, Target};

use super::support::{fault, faultline, text, tmp};

fn swarmed(name: &str, seed: u64) -> faultline::Scenario {
    faultline::load(name, &[], Some(seed)).unwrap().with_swarm().unwrap()
}

#[test]
fn each_seed_draws_its_own_plan_within_the_ranges_and_the_same_seed_the_same() {
    let services = ["gateway", "orders", "inventory", "payment"];
    let mut plans = std::collections::BTreeSet::new();
    for seed in 1..=30 {
        let s = swarmed("shop-outage-resilient", seed);
        let again = swarmed("shop-outage-resilient", seed);
        assert_eq!(s.spec.faults, again.spec.faults, "seed {seed}");
        let faults = &s.spec.faults.0;
        assert!((1..=3).contains(&faults.len()), "seed {seed}: {faults:?}");
        for f in faults {
            assert!(f.at.as_secs_f64() <= 60.0, "seed {seed}: starts after the window: {f:?}");
            assert!(f.kind != (FaultKind::ClockSkew { offset_ms: 0 }) && f.kind.name() != "clock_skew");
            match &f.target {
                Target::Node(n) => assert!(services.contains(&n.as_str()), "{f:?}"),
                Target::Link { from, to, .. } => {
                    assert!(s.spec.call_edges().contains(&(from.clone(), to.clone())), "{f:?}")
                }
            }
            // Every fault heals: a liveness phase follows.
            assert!(f.kind == FaultKind::Restart || f.duration.is_some(), "{f:?}");
        }
        assert!(s.expect.liveness.is_some());
        plans.insert(format!("{:?}", s.spec.faults));
        // Another seed from a swarmed scenario draws that seed's plan.
        assert_eq!(swarmed("shop-outage-resilient", 1).with_seed(seed).spec.faults, s.spec.faults);
    }
    assert!(plans.len() >= 28, "only {} different plans in 30 seeds", plans.len());
}

#[test]
fn declared_ranges_bound_the_draw_and_bad_ones_are_refused() {
    let base = catalog::get("shop-outage").unwrap();
    let text = format!(
        "{base}\n[swarm]\nkinds = [\"error_burst\"]\ntargets = [\"payment\"]\nfaults = [2, 2]\nwindow_s = [10, 20]\nrate = [0.1, 0.2]\nknobs = {{ \"workload.rate_per_s\" = [50, 60] }}\n"
    );
    for seed in 1..=10 {
        let s = from_str(&text, "ranges", &[]).unwrap().with_seed(seed).with_swarm().unwrap();
        assert_eq!(s.spec.faults.0.len(), 2);
        for f in &s.spec.faults.0 {
            let FaultKind::ErrorBurst { rate } = f.kind else { panic!("{f:?}") };
            assert!((0.1..=0.2).contains(&rate) && (10.0..=20.0).contains(&f.at.as_secs_f64()), "{f:?}");
        }
        let rate = s.document.as_ref().unwrap()["workload"]["rate_per_s"].as_integer().unwrap();
        assert!((50..=60).contains(&rate), "{rate}");
    }
    for (bad, key) in [
        ("kinds = [\"meteor\"]", "swarm.kinds"),
        ("targets = [\"paymnt\"]", "swarm.targets"),
        ("faults = [3, 1]", "swarm.faults"),
        ("targets = [\"payment\", \"payment\"]", "swarm.targets"),
        ("window_s = [0, 1000]", "swarm.window_s"),
        // Knobs are checked at both ends of their range when the file is read, not when drawn.
        ("knobs = { \"workload.rate_per_s\" = [-100, 300] }", "swarm.knobs.\"workload.rate_per_s\""),
        ("knobs = { \"services.nope.error_rate\" = [0.1, 0.3] }", "swarm.knobs.\"services.nope.error_rate\""),
    ] {
        let e = from_str(&format!("{base}\n[swarm]\n{bad}\n"), "bad", &[]).unwrap_err().to_string();
        assert!(e.contains(&format!("key `{key}`")), "{bad}: {e}");
    }
}

#[test]
fn a_swarmed_run_replays_from_its_scenario_without_the_swarm() {
    let dir = tmp("swarm");
    let o = faultline(&["run", "shop-outage-resilient", "--swarm", "--seed", "7", "--out", "a"], &dir);
    let (out, err) = text(&o);
    assert!(o.status.success() || o.status.code() == Some(1), "{out}{err}");
    assert!(out.contains("--seed 7 --swarm"), "{out}");
    let fingerprint = |out: &str| out.lines().find(|l| l.starts_with("fingerprint: ")).unwrap().to_owned();
    // The scenario as run carries the drawn faults: run as a file, without --swarm, it is the same run.
    let o2 = faultline(&["run", "a/scenario.toml", "--out", "b"], &dir);
    assert_eq!(fingerprint(&out), fingerprint(&text(&o2).0));
    assert!(std::fs::read_to_string(dir.join("a/scenario.toml")).unwrap().contains("[[faults]]"));
    // A sweep draws per seed: the seeds' fault plans differ.
    let o =
        faultline(&["sweep", "shop-outage-resilient", "--swarm", "--seeds", "1..4", "--keep-runs", "--out", "s"], &dir);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{:?}", text(&o));
    let plans: std::collections::BTreeSet<String> = (1..=4)
        .map(|seed| {
            let t = std::fs::read_to_string(dir.join(format!("s/runs/seed-{seed}/scenario.toml"))).unwrap();
            t.split("[[faults]]").skip(1).collect::<Vec<_>>().join("|")
        })
        .collect();
    assert_eq!(plans.len(), 4, "{plans:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_breaker_that_stays_open_after_the_faults_heal_fails_the_liveness_phase() {
    let run = |open_ms: u32| {
        let sets = vec!["liveness.budget_s=10".to_owned(), format!("edges.orders->payment.breaker.open_ms={open_ms}")];
        let s = faultline::load("shop-outage-breaker", &sets, None).unwrap();
        faultline::execute(&s, &Default::default(), Box::new(NullSink)).unwrap()
    };
    let fine = run(2000);
    assert!(fine.verdict.check("converge").is_some_and(|c| c.violations == 0), "{:?}", fine.verdict);
    // A stuck breaker is a violation even when no client request is left to judge the phase by.
    let sets = ["liveness.budget_s=20".to_owned(), "edges.orders->payment.breaker.open_ms=600000".to_owned()];
    let late = faultline::load("shop-outage-breaker", &sets, None).unwrap();
    let late = faultline::execute(&late, &Default::default(), Box::new(NullSink)).unwrap();
    assert!(late.verdict.check("converge").is_some_and(|c| c.violations > 0), "{:?}", late.verdict);
    let stuck = run(600_000);
    let c = stuck.verdict.check("converge").expect("the liveness phase applies");
    assert!(c.violations >= 2, "{c:?}");
    assert!(
        c.evidence[0].detail.contains("the breaker on orders-")
            && c.evidence[0].detail.contains("stayed so to the end"),
        "{c:?}"
    );
    assert!(c.evidence.iter().any(|e| e.detail.contains("of client requests failed after the faults healed")), "{c:?}");
    // A fault that never heals: no liveness phase to judge, and the run says so.
    let plan = faultline::sim::FaultPlan(vec![fault(FaultKind::Crash, "payment-1", 30.0, None)]);
    let never = faultline::load("shop-outage", &["liveness.budget_s=5".into()], None).unwrap().with_faults(&plan);
    let never = faultline::execute(&never.unwrap(), &Default::default(), Box::new(NullSink)).unwrap();
    assert!(never.verdict.check("converge").is_none());
    assert!(never.verdict.warnings.iter().any(|w| w.starts_with("converge: untested")), "{:?}", never.verdict.warnings);
}

#[test]
fn a_read_model_that_never_catches_up_fails_the_liveness_phase() {
    let run = |sets: &[&str]| {
        let mut sets: Vec<String> = sets.iter().map(|s| (*s).to_owned()).collect();
        sets.push("liveness.budget_s=3".to_owned());
        let s = faultline::load("projection-lag", &sets, None).unwrap();
        faultline::execute(&s, &Default::default(), Box::new(NullSink)).unwrap()
    };
    // As in the catalog: the projector catches up after its crash.
    let fine = run(&[]);
    assert!(fine.verdict.check("converge").is_some_and(|c| c.violations == 0), "{:?}", fine.verdict);
    // One event per round trip and no time to settle: still behind when the run ends.
    let behind = run(&["services.projector.projection_batch=1", "settle_s=0", "drain_s=0"]);
    let c = behind.verdict.check("converge").expect("the liveness phase applies");
    assert!(c.evidence.iter().any(|e| e.detail.contains("the read model was still")), "{c:?}");
}
