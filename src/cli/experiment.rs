//! `faultline experiment`: one claim of the course notes, tested. Each case is a comparison
//! (`compare.rs`) of its base and variant over the experiment's seeds, written into
//! `<out>/<case>/`; `experiment.json` holds every expectation measured and the verdict. The
//! directory appears whole and resumes like a sweep.

use std::path::{Path, PathBuf};

use faultline_reports::output::{Staging, MANIFEST};
use faultline_reports::table;
use faultline_scenarios::course::{self, Experiment, ExperimentResult};
use faultline_scenarios::experiment::{SeedRange, Shard};

use super::compare::{compare_into, finished, Variant};
use super::sweep::Plan;
use super::{output_error, usage, CliError, ScenarioArgs, EXIT_CHECK_FAILED};

/// The file naming what an experiment directory holds.
const KEY_FILE: &str = "experiment-key.json";

/// Loads an experiment by name or path, with a usage error.
pub(super) fn load(name: &str) -> Result<Experiment, CliError> {
    course::load(name).map_err(usage)
}

/// Says so when `seeds` are too few for any finding (Wilcoxon's p cannot go below 0.05 with 5
/// seeds or fewer): every expectation that wants one will be missed.
pub(super) fn warn_few(seeds: SeedRange) {
    let n = seeds.last.saturating_sub(seeds.first) + 1;
    if n <= 5 {
        eprintln!(
            "faultline: warning: --seeds {seeds}: with {n} seeds no difference can be a finding (p cannot go below 0.05), so an expectation that wants one does not hold; use 6 or more (30 for a verdict)"
        );
    }
}

/// The seeds to run: `--seeds` when given, else the file's.
pub(super) fn seeds(exp: &Experiment, given: Option<&str>) -> Result<SeedRange, CliError> {
    given.unwrap_or(&exp.seeds).parse().map_err(usage)
}

/// `faultline experiment`: runs `name` (a built-in experiment or a file) over `seeds` (default:
/// its own), writes it into `out` (default `out/experiment-<name>`), prints the verdict, writes
/// the report if asked; exit 1 when a check the cases do not measure was violated.
pub(super) fn command(
    name: &str,
    seeds: Option<&str>,
    jobs: usize,
    out: Option<PathBuf>,
    lang: &Option<String>,
) -> Result<u8, CliError> {
    let exp = load(name)?;
    let seeds = self::seeds(&exp, seeds)?;
    super::check_count(seeds, Shard::ALL)?;
    let plan = Plan { seeds, shard: Shard::ALL, jobs, keep_runs: false, quiet: false };
    warn_few(seeds);
    let out = out.unwrap_or_else(|| PathBuf::from("out").join(format!("experiment-{}", exp.name)));
    let result = run(&exp, &plan, &out)?;
    print(&result);
    println!("\noutput: {} (experiment.json; a comparison per case)", out.display());
    let code = if result.checks_passed() { 0 } else { EXIT_CHECK_FAILED };
    super::with_report(Ok(code), &out, lang)
}

/// Runs every case of `exp` (or reads a finished experiment back) and writes the experiment
/// into `out`. Every case's scenarios are loaded before anything runs, so a bad case fails at
/// once.
pub(super) fn run(exp: &Experiment, plan: &Plan, out: &Path) -> Result<ExperimentResult, CliError> {
    let all: Vec<Vec<Variant>> = (0..exp.cases.len()).map(|i| variants(exp, i)).collect::<Result<_, _>>()?;
    for (i, variants) in all.iter().enumerate() {
        check_figures(exp, i, variants)?;
    }
    let version = (env!("CARGO_PKG_VERSION"), faultline_scenarios::experiment::RESULTS_FORMAT);
    let key = serde_json::to_string_pretty(&(exp, plan.seeds.to_string(), version)).unwrap_or_default() + "\n";
    if let Some(result) = read_back(exp, plan, out, &key, &all) {
        if !plan.quiet {
            println!("== {}: already done in {}, read back", exp.name, out.display());
        }
        return Ok(result);
    }
    let staging = match earlier_version(exp, out, &key) {
        true => {
            if !plan.quiet {
                println!(
                    "== {}: {} holds an earlier version of it, replaced when this one is done",
                    exp.name,
                    out.display()
                );
            }
            Staging::resume_replacing(out, KEY_FILE, &key)
        }
        false => Staging::resume(out, KEY_FILE, &key),
    }
    .map_err(output_error)?;
    let mut cases = Vec::new();
    for (case, variants) in exp.cases.iter().zip(&all) {
        if !plan.quiet {
            println!("== {}: {} ({} vs {})", exp.name, case.name, case.labels[0], case.labels[1]);
        }
        let done = compare_into(variants, plan, &staging.path().join(&case.name))?;
        cases.push(course::case_result(case, &done.results[0].1, &done.results[1].1));
    }
    let result = course::verdict(exp, &plan.seeds.to_string(), cases);
    let path = staging.path().join("experiment.json");
    table::write_json(&path, &result).map_err(|e| super::internal(format!("{}: {e}", path.display())))?;
    staging.commit().map_err(output_error)?;
    Ok(result)
}

/// Whether `out` holds a finished run of another version of `exp` (the same name: the file was
/// edited), which this run may replace.
fn earlier_version(exp: &Experiment, out: &Path, key: &str) -> bool {
    let Ok(there) = std::fs::read_to_string(out.join(KEY_FILE)) else { return false };
    let name = table::read_json::<serde_json::Value>(&out.join("experiment.json"))
        .ok()
        .and_then(|v| v["experiment"]["name"].as_str().map(str::to_owned));
    there != key && name.as_deref() == Some(exp.name.as_str())
}

/// The experiment already in `out`, when it is this one and every case's comparison is still
/// the same (a case's key holds its scenarios' hashes: an edited scenario file runs again).
fn read_back(exp: &Experiment, plan: &Plan, out: &Path, key: &str, all: &[Vec<Variant>]) -> Option<ExperimentResult> {
    if std::fs::read_to_string(out.join(KEY_FILE)).ok()? != key || !out.join(MANIFEST).is_file() {
        return None;
    }
    let mut cases = Vec::new();
    for (case, variants) in exp.cases.iter().zip(all) {
        let done = finished(variants, plan, &out.join(&case.name))?;
        cases.push(course::case_result(case, &done.results[0].1, &done.results[1].1));
    }
    Some(course::verdict(exp, &plan.seeds.to_string(), cases))
}

/// Refuses, before anything runs, an expectation on an edge or a route that neither the base
/// nor the variant has (a misspelt `attempts:api->stor` would otherwise run the whole
/// experiment to report it unmeasured).
fn check_figures(exp: &Experiment, i: usize, variants: &[Variant]) -> Result<(), CliError> {
    let edges: Vec<String> =
        variants.iter().flat_map(|v| v.scenario.spec.call_edges()).map(|(a, b)| format!("{a}->{b}")).collect();
    let routes: Vec<String> =
        variants.iter().flat_map(|v| v.scenario.spec.workload.routes.iter().map(|r| r.0.clone())).collect();
    for (j, e) in exp.cases[i].expect.iter().enumerate() {
        let (kind, arg) = e.metric.split_once(':').unwrap_or(("", ""));
        let known = match kind {
            "calls" | "attempts" | "success" => (&edges, "edge"),
            "mean" | "p50" | "p99" if arg.starts_with('/') => (&routes, "route"),
            "mean" | "p50" | "p99" => (&edges, "edge"),
            "route" => (&routes, "route"),
            _ => continue,
        };
        if !known.0.iter().any(|k| k == arg) {
            let mut names = known.0.clone();
            names.sort();
            names.dedup();
            return Err(usage(format!(
                "experiment {}: cases[{i}].expect[{j}].metric: \"{}\" names no {} of {} or {}{} (they have: {})",
                exp.name,
                e.metric,
                known.1,
                exp.cases[i].labels[0],
                exp.cases[i].labels[1],
                faultline_scenarios::did_you_mean(arg, &names),
                if names.is_empty() { "none".to_owned() } else { names.join(", ") }
            )));
        }
    }
    Ok(())
}

/// A case's base and variant, loaded with their overrides.
fn variants(exp: &Experiment, i: usize) -> Result<Vec<Variant>, CliError> {
    let case = &exp.cases[i];
    let load = |scenario: &str, set: &[String]| {
        super::load(&ScenarioArgs {
            scenario: scenario.to_owned(),
            seed: None,
            set: set.to_vec(),
            strict: false,
            swarm: false,
        })
        .map_err(|e| usage(format!("experiment {}: cases[{i}] ({}): {}", exp.name, case.name, e.message)))
    };
    let base = load(&case.base, &case.base_set)?;
    let variant = load(case.variant.as_deref().unwrap_or(&case.base), &case.set)?;
    Ok(vec![
        Variant { name: case.labels[0].clone(), scenario: base },
        Variant { name: case.labels[1].clone(), scenario: variant },
    ])
}

/// The cases, each expectation measured, and the verdict.
pub(super) fn print(r: &ExperimentResult) {
    let e = &r.experiment;
    println!("\n{} ({}): \"{}\"\n  {}", e.pattern, e.source, e.quote, e.claim_en);
    for c in &r.cases {
        println!("\n  {} [{}]: {}", c.case.when_en, c.case.name, if c.holds { "holds" } else { "does not hold" });
        for x in &c.expects {
            println!(
                "    {:<22} {:>12} -> {:>12} ({})  {}{}",
                x.expect.metric,
                x.base_mean.map_or("-".to_owned(), |v| format!("{v:.4}")),
                x.variant_mean.map_or("-".to_owned(), |v| format!("{v:.4}")),
                x.ratio.map_or("no ratio".to_owned(), |r| format!("x{r:.3}")),
                x.finding.as_str(),
                if x.missed.is_empty() { String::new() } else { format!("; missed: {}", x.missed.join(", ")) }
            );
        }
        for (label, seeds) in c.failed_checks.iter().filter(|(_, s)| !s.is_empty()) {
            println!("    {label}: a check was violated on seeds {seeds:?}");
        }
    }
    if let Some(m) = &r.matrix {
        print_matrix(m);
    }
    println!("\nverdict ({} seeds {}): {}", e.name, r.seeds, r.line);
}

/// A selection matrix: the notes' stars beside what was measured, then each column's ranking.
fn print_matrix(m: &course::matrix::MatrixResult) {
    println!(
        "\n  {:<18} {:>4} {:>4} {:>4} {:>4} | {:>9} {:>6} {:>7} | {:>15} {:>19}",
        "pattern", "cplx", "perf", "ops", "cost", "+ms calm", "+nodes", "+calls", "storm success", "storm p99 ms"
    );
    for r in &m.rows {
        let s = r.row.stars;
        println!(
            "  {:<18} {:>4} {:>4} {:>4} {:>4} | {:>9.1} {:>6.1} {:>7.2} | {:>6.2}% -> {:>5.2}% {:>8.0} -> {:>7.0}",
            r.row.pattern,
            s.complexity,
            s.performance,
            s.operations,
            s.cost,
            r.added_ms,
            r.added_nodes,
            r.added_calls,
            100.0 * r.storm_success[0],
            100.0 * r.storm_success[1],
            r.storm_p99_ms[0],
            r.storm_p99_ms[1]
        );
    }
    for k in &m.ranks {
        println!("  {}: {}", if k.holds { "agrees" } else { "disagrees" }, k.sentence());
    }
}
