//! `faultline compare`: variants of a system over the same seeds, each seed paired across
//! variants (common random numbers), with a paired difference, its CI, a p-value and a finding
//! per metric, a table, `comparison.csv`, `summary.json` and two charts.
//!
//! The directory: one sweep directory per variant (`<name>/`, see `sweep.rs`), then
//! `comparison.csv` (a row per metric and variant), `summary.json`, `over_time.png`/`.svg` and
//! `differences.png`/`.svg`. It resumes like a sweep: rerun the same command.

use std::collections::BTreeMap;
use std::path::Path;

use faultline_reports::compare_chart::{self, Band, BandPoint, ForestRow, OverTime};
use faultline_reports::output::{check_destination, Staging, MANIFEST};
use faultline_reports::table;
use faultline_scenarios::experiment::compare::Direction;
use faultline_scenarios::experiment::stats::quantile;
use faultline_scenarios::experiment::{differences, Difference, Finding, SeedRange, SeedResult, Shard, SweepKey};
use faultline_scenarios::{catalog, Scenario};
use serde::Serialize;

use super::sweep::{sweep_into, Plan};
use super::{output_error, usage, CliError, EXIT_CHECK_FAILED};

/// One configuration compared.
pub(super) struct Variant {
    pub(super) name: String,
    pub(super) scenario: Scenario,
}

/// `summary.json` of a comparison.
#[derive(Serialize)]
struct Summary<'a> {
    base: &'a str,
    variants: Vec<&'a str>,
    seeds: String,
    /// True when every check held on every seed of every variant.
    passed: bool,
    /// Per variant: seeds with a violated check.
    failing_seeds: BTreeMap<&'a str, Vec<u64>>,
    differences: &'a [Difference],
    /// The fault windows (the same in every variant and seed), for reports.
    faults: &'a [faultline_sim::FaultWindow],
}

/// The bare command: the demo shop three ways over seeds 1..10, compared.
pub(super) fn demo() -> Result<u8, CliError> {
    println!(
        "faultline demo: a shop whose payment service goes dark, three ways: no patterns; retry + timeout; retry + breaker + timeout.\nEach over seeds 1..10, every seed with the same arrivals and faults in all three, so the differences are the patterns'.\n"
    );
    let mut variants = Vec::new();
    for name in catalog::DEMO {
        let scenario = faultline_scenarios::load(name, &[], None)
            .map_err(|e| super::internal(format!("built-in scenario {name}: {e}")))?;
        variants.push(Variant { name: (*name).to_owned(), scenario });
    }
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let plan =
        Plan { seeds: SeedRange { first: 1, last: 10 }, shard: Shard::ALL, jobs, keep_runs: false, quiet: false };
    let out = Path::new("out/demo");
    remove_old_demo(out);
    let code = compare(&variants, &plan, out)?;
    println!("One run, with its requests, events and charts: `{} run shop-outage-breaker`.", super::program());
    Ok(code)
}

/// Removes what an earlier faultline's demo wrote into `out` (one run directory per demo
/// scenario, each with its manifest, and nothing else), which the comparison replaces.
fn remove_old_demo(out: &Path) {
    if out.join(MANIFEST).exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(out) else { return };
    let names: Vec<_> = entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    let old = !names.is_empty()
        && names.iter().all(|n| {
            let dir = out.join(n);
            catalog::DEMO.contains(&n.as_str()) && dir.join(MANIFEST).is_file() && check_destination(&dir).is_ok()
        });
    if old {
        let _ = std::fs::remove_dir_all(out);
    }
}

/// Checks variant names: distinct, and usable as directory names.
pub(super) fn check_names(variants: &[Variant]) -> Result<(), CliError> {
    let mut seen = Vec::new();
    for v in variants {
        let allowed = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
        if v.name.is_empty() || v.name.chars().count() > 80 || !v.name.chars().all(allowed) {
            return Err(usage(format!(
                "variant name {:?}: it names a directory: 1 to 80 letters, digits, '-' or '_'",
                v.name
            )));
        }
        if seen.contains(&&v.name) {
            return Err(usage(format!(
                "variant name {:?} twice: name a --vary variant differently, or compare a scenario once",
                v.name
            )));
        }
        seen.push(&v.name);
    }
    if variants.len() < 2 {
        return Err(usage("compare: name a base and at least one variant (a scenario, or --vary 'NAME KEY=VALUE...')"));
    }
    Ok(())
}

/// Runs every variant over the plan's seeds and writes the comparison into `out`.
pub(super) fn compare(variants: &[Variant], plan: &Plan, out: &Path) -> Result<u8, CliError> {
    let done = compare_into(variants, plan, out)?;
    print_table(&done.results[0].0, &done.diffs, plan);
    for (name, seeds) in done.failing.iter().filter(|(_, s)| !s.is_empty()) {
        println!("{name}: a check was violated on seeds {seeds:?}; see {}/{name}/summary.json", done.dest.display());
    }
    println!("\noutput: {} (comparison.csv, summary.json, over_time.png, differences.png)", done.dest.display());
    Ok(if done.passed() { 0 } else { EXIT_CHECK_FAILED })
}

/// A finished comparison.
pub(super) struct Compared {
    /// Per variant, base first: its name and its seeds' results.
    pub(super) results: Vec<(String, Vec<SeedResult>)>,
    /// Every variant against the base, per metric.
    pub(super) diffs: Vec<Difference>,
    /// Per variant: seeds with a violated check.
    pub(super) failing: BTreeMap<String, Vec<u64>>,
    /// Where it was written.
    pub(super) dest: std::path::PathBuf,
}

impl Compared {
    fn passed(&self) -> bool {
        self.failing.values().all(Vec::is_empty)
    }
}

/// Runs (or, when `out` already holds this very comparison, reads) every variant over the
/// plan's seeds and writes the comparison into `out`; prints nothing but progress.
pub(super) fn compare_into(variants: &[Variant], plan: &Plan, out: &Path) -> Result<Compared, CliError> {
    check_names(variants)?;
    if let Some(done) = finished(variants, plan, out) {
        return Ok(done);
    }
    let key = key(variants, plan);
    let staging = Staging::resume(out, "compare.json", &key).map_err(output_error)?;
    let mut all: Vec<(String, Vec<SeedResult>)> = Vec::new();
    for v in variants {
        if !plan.quiet {
            println!("== {} ({} seeds {})", v.name, v.scenario.source.as_arg(), plan.seeds);
        }
        let (results, _) = sweep_into(&v.scenario, plan, &staging.path().join(&v.name))?;
        all.push((v.name.clone(), results));
    }
    let diffs = all_differences(&all);
    let dir = staging.path();
    let io =
        |what: &'static str| move |e: std::io::Error| super::internal(format!("{}: {e}", dir.join(what).display()));
    let base_name = &all[0].0;
    table::write_csv(&dir.join("comparison.csv"), &csv_header(), diffs.iter().map(|d| csv_row(base_name, d)))
        .map_err(io("comparison.csv"))?;
    let failing = failing_seeds(&all);
    let passed = failing.values().all(Vec::is_empty);
    let faults = fault_windows(&variants[0]);
    let summary = Summary {
        base: base_name,
        variants: all[1..].iter().map(|(n, _)| n.as_str()).collect(),
        seeds: plan.seeds.to_string(),
        passed,
        failing_seeds: failing.iter().map(|(k, v)| (k.as_str(), v.clone())).collect(),
        differences: &diffs,
        faults: &faults,
    };
    table::write_json(&dir.join("summary.json"), &summary).map_err(io("summary.json"))?;
    draw(dir, &all, &diffs, &faults, plan).map_err(super::internal)?;
    let dest = staging.commit().map_err(output_error)?;
    Ok(Compared { results: all, diffs, failing, dest })
}

fn all_differences(all: &[(String, Vec<SeedResult>)]) -> Vec<Difference> {
    let base = &all[0].1;
    all[1..].iter().flat_map(|(name, r)| differences(base, name, r)).collect()
}

fn failing_seeds(all: &[(String, Vec<SeedResult>)]) -> BTreeMap<String, Vec<u64>> {
    all.iter().map(|(n, r)| (n.clone(), r.iter().filter(|r| !r.passed()).map(|r| r.seed).collect())).collect()
}

/// What a comparison is (`compare.json`): every variant's name and sweep key, which holds its
/// scenario document's hash, so an edited scenario is another comparison.
fn key(variants: &[Variant], plan: &Plan) -> String {
    let version = env!("CARGO_PKG_VERSION");
    let keys: Vec<(&str, SweepKey)> = variants
        .iter()
        .map(|v| (v.name.as_str(), SweepKey::of(&v.scenario, plan.seeds, plan.shard, version)))
        .collect();
    serde_json::to_string_pretty(&keys).unwrap_or_default() + "\n"
}

/// The comparison already in `out` when it is this one (the same key) and whole: its results,
/// read back instead of run again (a rerun of a finished experiment or course costs nothing).
pub(super) fn finished(variants: &[Variant], plan: &Plan, out: &Path) -> Option<Compared> {
    let key = key(variants, plan);
    if std::fs::read_to_string(out.join("compare.json")).ok()? != key || !out.join(MANIFEST).is_file() {
        return None;
    }
    let mut all = Vec::new();
    for v in variants {
        let results: Vec<SeedResult> = table::read_json_lines(&out.join(&v.name).join("results.jsonl")).ok()?;
        all.push((v.name.clone(), results));
    }
    let diffs = all_differences(&all);
    let failing = failing_seeds(&all);
    Some(Compared { results: all, diffs, failing, dest: out.to_path_buf() })
}

fn csv_header() -> Vec<String> {
    [
        "metric",
        "variant",
        "base",
        "base_mean",
        "variant_mean",
        "mean_diff",
        "ci_low",
        "ci_high",
        "p_value",
        "noise_band",
        "seeds",
        "finding",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn csv_row(base: &str, d: &Difference) -> Vec<String> {
    let g = |x: f64| format!("{x:.6}");
    vec![
        d.metric.name.clone(),
        d.variant.clone(),
        base.to_owned(),
        g(d.base_mean),
        g(d.variant_mean),
        g(d.mean_diff),
        g(d.ci_low),
        g(d.ci_high),
        format!("{:.6}", d.p_value),
        g(d.noise_band),
        d.seeds.to_string(),
        d.finding.as_str().to_owned(),
    ]
}

fn print_table(base: &str, diffs: &[Difference], plan: &Plan) {
    let mut variant = "";
    for d in diffs {
        if d.variant != variant {
            variant = &d.variant;
            println!("\n{variant} vs {base} (base), paired over seeds {}:", plan.seeds);
            println!(
                "{:<18} {:>12} {:>12} {:>12} {:>25} {:>8}  finding",
                "metric", "base", "variant", "difference", "95% CI", "p"
            );
        }
        println!(
            "{:<18} {:>12.4} {:>12.4} {:>+12.4} {:>25} {:>8}  {}",
            d.metric.name,
            d.base_mean,
            d.variant_mean,
            d.mean_diff,
            format!("[{:+.4}, {:+.4}]", d.ci_low, d.ci_high),
            if d.p_value < 1e-4 { "<0.0001".to_owned() } else { format!("{:.4}", d.p_value) },
            d.finding.as_str()
        );
    }
    println!(
        "\nfinding: better/worse only when the whole 95% CI is beyond the noise band (1% of the base, or the metric's floor) and p < 0.05 (docs/experiments.md)."
    );
}

/// The quartiles across seeds of one figure per time bin.
fn band(
    name: &str,
    results: &[SeedResult],
    figure: impl Fn(&faultline_scenarios::experiment::outcome::Bin) -> Option<f64>,
) -> Band {
    // A bin where no seed has the figure (no request answered) is left out: the chart breaks
    // its line there instead of drawing a latency nobody got.
    let mut bins: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for b in results.iter().flat_map(|r| &r.series) {
        if let Some(v) = figure(b) {
            bins.entry((b.t_s * 1000.0).round() as i64).or_default().push(v);
        }
    }
    let points = bins
        .into_iter()
        .map(|(t, xs)| BandPoint {
            t_s: t as f64 / 1000.0,
            q25: quantile(&xs, 0.25),
            q50: quantile(&xs, 0.5),
            q75: quantile(&xs, 0.75),
        })
        .collect();
    Band { name: name.to_owned(), points }
}

fn draw(
    dir: &Path,
    all: &[(String, Vec<SeedResult>)],
    diffs: &[Difference],
    faults: &[faultline_sim::FaultWindow],
    plan: &Plan,
) -> Result<(), String> {
    let p99: Vec<Band> = all.iter().map(|(n, r)| band(n, r, |b| b.ok_p99_ms)).collect();
    let success: Vec<Band> = all.iter().map(|(n, r)| band(n, r, |b| Some(100.0 * b.success))).collect();

    let end_s = all.iter().flat_map(|(_, r)| r).map(|r| r.virtual_s).fold(1.0, f64::max);
    let title = format!("{} variants over seeds {}: median across seeds, IQR shaded", all.len(), plan.seeds);
    compare_chart::write_over_time(dir, &OverTime { title: &title, p99: &p99, success: &success, faults, end_s })?;
    let rows: Vec<ForestRow> = diffs
        .iter()
        .filter(|d| d.mean_diff.is_finite())
        .map(|d| {
            // Relative to the larger of the two means, so that a metric whose base is 0
            // (violations, degraded answers) still shows.
            let scale = d.base_mean.abs().max(d.variant_mean.abs()).max(1e-12);
            let rel = |x: f64| 100.0 * x / scale;
            let better = match d.finding {
                Finding::Better => Some(true),
                Finding::Worse => Some(false),
                Finding::NoDetectableDifference => None,
            };
            let arrow = if d.metric.better == Direction::Higher { "higher is better" } else { "lower is better" };
            ForestRow {
                label: format!("{}: {} ({arrow})", d.variant, d.metric.name),
                diff: rel(d.mean_diff),
                lo: rel(d.ci_low),
                hi: rel(d.ci_high),
                better,
            }
        })
        .collect();
    let title = format!("paired differences vs {} over seeds {} (95% CI)", all[0].0, plan.seeds);
    compare_chart::write_forest(
        dir,
        &title,
        "difference, % of the larger of the two means (green better, red worse, grey neither)",
        &rows,
    )
}

/// The fault windows of a variant's plan (the same whatever the seed).
fn fault_windows(variant: &Variant) -> Vec<faultline_sim::FaultWindow> {
    let spec = &variant.scenario.spec;
    spec.faults
        .0
        .iter()
        .map(|f| faultline_sim::FaultWindow {
            kind: f.kind.name().to_owned(),
            target: f.target.to_string(),
            start_s: f.at.as_secs_f64(),
            end_s: f.end().map_or(spec.duration.as_secs_f64(), |e| e.as_secs_f64()),
        })
        .collect()
}
