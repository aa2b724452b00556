use super::*;
use crate::experiment::SeedResult;

fn seed(seed: u64, p99_ms: f64, success: f64) -> SeedResult {
    SeedResult {
        seed,
        fingerprint: String::new(),
        requests: 100,
        success,
        degraded: 0.0,
        p50_ms: 1.0,
        p99_ms,
        p999_ms: p99_ms,
        max_ms: p99_ms,
        mean_ms: 1.0,
        calls_per_request: 1.0,
        peak_in_flight: 1,
        edge_calls: Default::default(),
        edge_attempts: Default::default(),
        edge_success: Default::default(),
        latency_ms: Default::default(),
        nodes: 0,
        measures: Default::default(),
        route_success: Default::default(),
        recovery_s: Vec::new(),
        checks: Vec::new(),
        virtual_s: 1.0,
        series: Vec::new(),
    }
}

const FILE: &str = r#"
name = "t"
pattern = "Circuit breaker"
pattern_ko = "서킷 브레이커"
source = "seeds/002"
quote = "p99 30초 -> 500ms"
claim_en = "p99 from 30 s to 500 ms"

[[cases]]
name = "hang"
when_en = "the dependency hangs"
when_ko = "의존 서비스가 멈출 때"
base = "shop-outage"
[[cases.expect]]
metric = "p99_ms"
ratio_at_most = 0.1
finding = "better"

[[cases]]
name = "fails-fast"
when_en = "the dependency fails fast"
when_ko = "의존 서비스가 빨리 실패할 때"
base = "shop-outage"
[[cases.expect]]
metric = "p99_ms"
ratio_at_most = 0.1
"#;

#[test]
fn a_claim_holds_only_in_the_cases_whose_figures_meet_it() {
    let exp = parse(FILE, "t.toml").unwrap();
    assert_eq!(exp.seeds, "1..30");
    let base: Vec<SeedResult> = (1..=30).map(|s| seed(s, 30_000.0 + s as f64, 0.8)).collect();
    let hang: Vec<SeedResult> = (1..=30).map(|s| seed(s, 400.0 + s as f64, 0.8)).collect();
    let fast_base: Vec<SeedResult> = (1..=30).map(|s| seed(s, 100.0 + s as f64, 0.8)).collect();
    let fast: Vec<SeedResult> = (1..=30).map(|s| seed(s, 90.0 + s as f64, 0.8)).collect();
    let cases = vec![case_result(&exp.cases[0], &base, &hang), case_result(&exp.cases[1], &fast_base, &fast)];
    assert!(cases[0].holds, "{:?}", cases[0].expects);
    assert!(!cases[1].holds);
    assert!(cases[1].expects[0].missed[0].starts_with("ratio 0."), "{:?}", cases[1].expects[0].missed);
    let r = verdict(&exp, "1..30", cases);
    assert_eq!(r.verdict, Verdict::HoldsOnlyWhen);
    assert_eq!(r.line, "holds only when the dependency hangs; not when the dependency fails fast");
}

#[test]
fn a_wanted_finding_needs_significance_and_a_violated_check_voids_a_case() {
    let exp = parse(FILE, "t.toml").unwrap();
    let base: Vec<SeedResult> = (1..=30).map(|s| seed(s, 30_000.0, 0.8)).collect();
    // A tenth of the base on average, but half the seeds better and half worse: no finding.
    let mixed: Vec<SeedResult> = (1..=30).map(|s| seed(s, if s % 2 == 0 { 100.0 } else { 31_000.0 }, 0.8)).collect();
    assert!(!case_result(&exp.cases[0], &base, &mixed).holds);
    let mut broken: Vec<SeedResult> = (1..=30).map(|s| seed(s, 300.0, 0.8)).collect();
    broken[3].checks.push(crate::experiment::outcome::CheckResult { checker: "O1".into(), violations: 2, first: None });
    let c = case_result(&exp.cases[0], &base, &broken);
    assert!(c.expects[0].holds && !c.holds);
    assert_eq!(c.failed_checks[1], ("with".to_owned(), vec![4]));
    let r = verdict(&exp, "1..30", vec![c]);
    assert_eq!(r.verdict, Verdict::DoesNotHold);
    assert!(!r.checks_passed());
}

#[test]
fn bad_files_are_refused_naming_the_key() {
    let e = parse(
        &FILE.replace("p99_ms\"\nratio_at_most = 0.1\nfinding", "p98_ms\"\nratio_at_most = 0.1\nfinding"),
        "x.toml",
    )
    .unwrap_err();
    assert!(e.starts_with("x.toml: cases[0].expect[0].metric: \"p98_ms\" is not a metric"), "{e}");
    let e = parse(&FILE.replace("claim_en", "seeds = \"1..5\"\nclaim_en"), "x.toml").unwrap_err();
    assert!(e.contains("seeds: \"1..5\" is too few"), "{e}");
    let e = parse(&FILE.replace("metric = \"p99_ms\"\nratio_at_most = 0.1\n", "metric = \"p99_ms\"\n"), "x.toml")
        .unwrap_err();
    assert!(e.contains("cases[1].expect[0].metric: nothing is expected of it"), "{e}");
    let e = parse(&FILE.replace("when_en = \"the dependency hangs\"", "when = 1"), "x.toml").unwrap_err();
    assert!(e.contains("`when` is not a key here"), "{e}");
    assert!(load("no-such-experiment").unwrap_err().contains("no built-in experiment"));
}

#[test]
fn every_experiment_file_is_built_in_under_its_own_name_and_reads() {
    for name in names() {
        let exp = load(&name).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(exp.name, name, "the file's name and its catalog name");
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/experiments");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(names().contains(&stem), "{} is not in course::ENTRIES", path.display());
    }
}

#[test]
fn a_figure_no_seed_measured_fails_its_expectation_instead_of_reading_0() {
    let text = FILE.replace(
        "metric = \"p99_ms\"\nratio_at_most = 0.1\nfinding",
        "metric = \"p99:a->nowhere\"\nratio_at_most = 0.1\nfinding",
    );
    let exp = parse(&text, "t.toml").unwrap();
    let base: Vec<SeedResult> = (1..=30).map(|s| seed(s, 100.0, 0.8)).collect();
    let c = case_result(&exp.cases[0], &base, &base);
    assert!(!c.holds);
    assert!(c.expects[0].missed[0].contains("not measured"), "{:?}", c.expects[0].missed);
    // The ordinary metrics are always measured.
    let c = case_result(&exp.cases[1], &base, &base);
    assert!(c.expects[0].missed.iter().all(|m| !m.contains("not measured")), "{:?}", c.expects[0].missed);
}

/// Three patterns, each a calm and a storm case that expect nothing of their own.
fn matrix_file(stars_c: &str, storm_c: &str) -> String {
    let mut f = String::from(
        "name = \"m\"\npattern = \"Selection\"\npattern_ko = \"선택\"\nsource = \"seeds/004\"\nquote = \"q\"\nclaim_en = \"c\"\n",
    );
    for (p, stars, storm) in [("a", "1", "a-storm"), ("b", "2", "b-storm"), ("c", stars_c, storm_c)] {
        f += &format!(
            "[[matrix]]\npattern = \"{p}\"\npattern_ko = \"{p}\"\nsituation_en = \"s\"\nsituation_ko = \"s\"\n\
             stars = {{ complexity = 1, performance = {stars}, operations = {stars}, cost = {stars} }}\n\
             calm = \"{p}-calm\"\nstorm = \"{storm}\"\n"
        );
    }
    for p in ["a", "b", "c"] {
        for k in ["calm", "storm"] {
            f += &format!(
                "[[cases]]\nname = \"{p}-{k}\"\nwhen_en = \"{p} {k}\"\nwhen_ko = \"{p}\"\nbase = \"chain3\"\n"
            );
        }
    }
    f
}

#[test]
fn a_selection_matrix_is_judged_by_whether_each_column_of_stars_ranks_as_its_measure() {
    let exp = parse(&matrix_file("3", "c-storm"), "m.toml").unwrap();
    let with = |mean_ms: f64, nodes: u64| -> Vec<SeedResult> {
        (1..=30).map(|s| SeedResult { mean_ms, nodes, ..seed(s, 10.0, 0.9) }).collect()
    };
    // Calm: latency added 1, 5, 20 ms (the stars' order); nodes added 3, 2, 1 (the reverse);
    // calls per request added by none (no ranking).
    let base = with(10.0, 4);
    let mut cases = Vec::new();
    for (case, (added_ms, added_nodes)) in exp.cases.iter().step_by(2).zip([(1.0, 3), (5.0, 2), (20.0, 1)]) {
        cases.push(case_result(case, &base, &with(10.0 + added_ms, 4 + added_nodes)));
    }
    let storm: Vec<CaseResult> = exp.cases.iter().skip(1).step_by(2).map(|c| case_result(c, &base, &base)).collect();
    let cases: Vec<CaseResult> = cases.into_iter().zip(storm).flat_map(|(a, b)| [a, b]).collect();
    let r = verdict(&exp, "1..30", cases);
    let m = r.matrix.as_ref().expect("a matrix");
    assert!((m.rows[2].added_ms - 20.0).abs() < 1e-9 && (m.rows[0].added_nodes - 3.0).abs() < 1e-9);
    let rho: Vec<Option<f64>> = m.ranks.iter().map(|k| k.rho).collect();
    assert_eq!(rho, vec![Some(1.0), Some(-1.0), None]);
    assert_eq!(m.ranks.iter().map(|k| k.holds).collect::<Vec<_>>(), vec![true, false, false]);
    assert_eq!(r.verdict, Verdict::HoldsOnlyWhen);
    // The measuring cases hold (no check failed) and are not conditions of the verdict.
    assert!(r.line.starts_with("holds only when the notes' performance stars rank"), "{}", r.line);
    assert!(!r.line.contains("a calm"), "{}", r.line);
}

#[test]
fn a_selection_matrix_names_what_is_wrong_in_its_rows() {
    let e = parse(&matrix_file("6", "c-storm"), "m.toml").unwrap_err();
    assert_eq!(e, "m.toml: matrix[2].stars.performance: 6 is not allowed (expected 1 to 5 stars)");
    let e = parse(&matrix_file("3", "c-storm2"), "m.toml").unwrap_err();
    assert!(e.starts_with("m.toml: matrix[2].storm: \"c-storm2\" names no case (the cases are: a-calm, "), "{e}");
    // A case that no row names must expect something.
    let text = matrix_file("3", "b-storm");
    let e = parse(&text, "m.toml").unwrap_err();
    assert_eq!(e, "m.toml: cases[5].expect: [] is not allowed (expected at least one [[cases.expect]])");
}

#[test]
fn a_misspelt_measure_and_a_column_of_equal_stars_are_refused_when_the_file_is_read() {
    let text = FILE.replace(
        "metric = \"p99_ms\"\nratio_at_most = 0.1\nfinding",
        "metric = \"measure:read_model_stalness\"\nfinding",
    );
    let e = parse(&text, "t.toml").unwrap_err();
    assert!(e.starts_with("t.toml: cases[0].expect[0].metric: \"read_model_stalness\" is not a measure (expected one of: read_model_lag_max,"), "{e}");
    let e = parse(&matrix_file("1", "c-storm").replace("performance = 2", "performance = 1"), "m.toml").unwrap_err();
    assert_eq!(e, "m.toml: matrix.stars.performance: all 1: nothing to rank (expected stars that differ between rows)");
}
