//! Experiments: a claim tested in several cases ends in a verdict, written to the terminal,
//! `experiment.json` and the report alike; bad experiment files are refused in one line.

use crate::support::{faultline, text, tmp};

/// retry-success in small: 5% of calls fail at random, or all together for half a second of
/// ten; retrying three times fixes the first and not the second.
const EXPERIMENT: &str = r#"
name = "retry-small"
pattern = "Retry"
pattern_ko = "재시도"
source = "seeds/000, line 88"
quote = "- Paddle API 호출 성공률 95% → 99.9% 향상"
claim_en = "Paddle API call success rate rises from 95% to 99.9%"

[[cases]]
name = "independent"
when_en = "calls fail at random"
when_ko = "호출이 무작위로 실패할 때"
base = "chain3"
base_set = ["duration_s=10", "workload.rate_per_s=100", "services.c.error_rate=0.05"]
set = ["duration_s=10", "workload.rate_per_s=100", "services.c.error_rate=0.05", 'edges."client->a".stack=["retry"]', 'edges."client->a".retry={max_attempts=3,base_ms=50,cap_ms=200}']
labels = ["no-retry", "retry"]
[[cases.expect]]
metric = "success"
finding = "better"
at_least = 0.999

[[cases]]
name = "correlated"
when_en = "the failures come together"
when_ko = "실패가 한꺼번에 몰릴 때"
base = "chain3"
base_set = ["duration_s=10", "workload.rate_per_s=100", 'faults[0]={kind="error_burst",target="c",rate=1.0,at_s=4,duration_s=0.5}']
set = ["duration_s=10", "workload.rate_per_s=100", 'faults[0]={kind="error_burst",target="c",rate=1.0,at_s=4,duration_s=0.5}', 'edges."client->a".stack=["retry"]', 'edges."client->a".retry={max_attempts=3,base_ms=50,cap_ms=200}']
labels = ["no-retry", "retry"]
[[cases.expect]]
metric = "success"
finding = "better"
at_least = 0.999
"#;

#[test]
fn an_experiment_ends_in_one_verdict_on_the_terminal_in_its_file_and_in_its_report() {
    let dir = tmp("experiment");
    std::fs::write(dir.join("retry-small.toml"), EXPERIMENT).unwrap();
    let args = ["experiment", "retry-small.toml", "--seeds", "1..8", "--jobs", "2", "--out", "e", "--report", "ko"];
    let o = faultline(&args, &dir);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.contains("verdict (retry-small seeds 1..8): holds only when calls fail at random; not when the failures come together"),
        "{out}"
    );
    let file = std::fs::read_to_string(dir.join("e/experiment.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&file).unwrap();
    assert_eq!(json["verdict"], "holds_only_when");
    assert_eq!(json["cases"][0]["holds"], true);
    assert_eq!(json["cases"][1]["holds"], false);
    let report = std::fs::read_to_string(dir.join("e/report.ko.html")).unwrap();
    assert!(report.contains("다음 조건에서만 성립한다: 호출이 무작위로 실패할 때"), "the Korean verdict");
    assert!(report.contains("id=\"chart-claim\"") && report.contains("id=\"chart-over_time_correlated\""));
    // Run again: the cases are read back, not run again, and the verdict is the same bytes.
    let o = faultline(&args, &dir);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o).0.contains("== retry-small: already done in e, read back"), "{}", text(&o).0);
    assert_eq!(std::fs::read_to_string(dir.join("e/experiment.json")).unwrap(), file);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_bad_experiment_file_is_refused_in_one_line_naming_the_key() {
    let dir = tmp("experiment-bad");
    std::fs::write(dir.join("bad.toml"), EXPERIMENT.replacen("metric = \"success\"", "metric = \"sucess\"", 1))
        .unwrap();
    std::fs::write(dir.join("few.toml"), EXPERIMENT.replace("claim_en", "seeds = \"1..3\"\nclaim_en")).unwrap();
    std::fs::write(
        dir.join("edge.toml"),
        EXPERIMENT.replacen("metric = \"success\"", "metric = \"attempts:a->bb\"", 1),
    )
    .unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["experiment", "bad.toml"], "bad.toml: cases[0].expect[0].metric: \"sucess\" is not a metric"),
        (&["experiment", "few.toml"], "few.toml: seeds: \"1..3\" is too few"),
        (&["experiment", "no-such"], "no built-in experiment \"no-such\""),
        (
            &["experiment", "edge.toml"],
            "cases[0].expect[0].metric: \"attempts:a->bb\" names no edge of no-retry or retry; did you mean \"a->b\"",
        ),
        (&["course", "--lang", "fr"], "fr"),
    ];
    for (args, want) in cases {
        let o = faultline(args, &dir);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_saga_participant_calls_its_own_dependencies_before_each_operation() {
    // The shop's payment charges through the external payment API: every operation orders
    // sends payment is one call to paddle (no patterns in `shop`, so no retries).
    let sets = ["duration_s=20".to_owned(), "storms=[]".to_owned()];
    let scenario = faultline::scenarios::load("shop", &sets, Some(3)).expect("the shop loads");
    let run = faultline::scenarios::execute(&scenario, &Default::default(), Box::new(faultline::sim::NullSink))
        .expect("the shop runs");
    let calls = |edge: &str| run.output.edges.iter().find(|e| e.edge == edge).map_or(0, |e| e.requests);
    assert!(calls("orders->payment") > 50, "orders sent payment {} operations", calls("orders->payment"));
    assert_eq!(calls("payment->paddle"), calls("orders->payment"));
    assert!(run.verdict.passed(), "{:?}", run.verdict.first_violation());
    // Each order's event reaches notification through the outbox and the broker.
    let orders = calls("bff_web->order_events") + calls("bff_mobile->order_events");
    assert!(
        orders > 50 && calls("broker->notification") >= orders,
        "{orders} order events, {} notifications",
        calls("broker->notification")
    );
    assert!(run.verdict.check("O1").is_some() && run.verdict.check("S1").is_some());
}

#[test]
fn a_scenario_file_an_experiment_names_is_found_beside_the_experiment() {
    let dir = tmp("experiment-beside");
    std::fs::create_dir_all(dir.join("lab")).unwrap();
    let system = faultline::scenarios::catalog::get("chain3").unwrap().replace("duration_s = 60", "duration_s = 5");
    std::fs::write(dir.join("lab/my-chain.toml"), system).unwrap();
    let exp = EXPERIMENT.replace("base = \"chain3\"", "base = \"my-chain.toml\"");
    std::fs::write(dir.join("lab/exp.toml"), exp).unwrap();
    let o = faultline(&["experiment", "lab/exp.toml", "--seeds", "1..3", "--out", "e"], &dir);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("no-retry (lab/my-chain.toml seeds 1..3)"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_edited_experiment_replaces_its_earlier_version_and_never_another_output() {
    let dir = tmp("experiment-edited");
    std::fs::write(dir.join("x.toml"), EXPERIMENT).unwrap();
    let args = ["experiment", "x.toml", "--seeds", "1..3", "--out", "e"];
    assert_eq!(faultline(&args, &dir).status.code(), Some(0));
    let edited = EXPERIMENT.replace("when_en = \"calls fail at random\"", "when_en = \"calls fail independently\"");
    std::fs::write(dir.join("x.toml"), edited).unwrap();
    let o = faultline(&args, &dir);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("holds an earlier version of it, replaced"), "{out}");
    assert!(err.contains("with 3 seeds no difference can be a finding"), "{err}");
    let json = std::fs::read_to_string(dir.join("e/experiment.json")).unwrap();
    assert!(json.contains("calls fail independently"));
    // Another experiment's directory is not replaced.
    let other = EXPERIMENT.replace("name = \"retry-small\"", "name = \"other\"");
    std::fs::write(dir.join("y.toml"), other).unwrap();
    let o = faultline(&["experiment", "y.toml", "--seeds", "1..3", "--out", "e"], &dir);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o).1);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_storm_that_did_nothing_is_named_as_the_file_names_it() {
    // chain3's c is idle after the workload stops: an outage there then drops nothing.
    let sets = [
        "duration_s=5".to_owned(),
        "drain_s=1".to_owned(),
        "storms=[{storm=\"dependency_outage\",target=\"c\",at_s=5.5,duration_s=0.2}]".to_owned(),
    ];
    let scenario = faultline::scenarios::load("chain3", &sets, None).expect("chain3 with a storm loads");
    assert!(
        scenario.warnings.iter().any(|w| w.starts_with("storms[0] (dependency_outage)")),
        "{:?}",
        scenario.warnings
    );
    let run =
        faultline::scenarios::execute(&scenario, &Default::default(), Box::new(faultline::sim::NullSink)).unwrap();
    let w = run.verdict.warnings.join("\n");
    assert!(w.contains("storms[0] (dependency_outage): outage on c affected nothing"), "{w}");
}
