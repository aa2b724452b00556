//! `faultline sweep`: one scenario over many seeds, on worker threads, into a directory that
//! appears whole, resumes after an interruption, and merges from shards.
//!
//! The directory: `sweep.json` (what was swept: the key a resumed or merged sweep must match),
//! `seeds.csv` (one row per seed, seed order), `results.jsonl` (the same with the entry edge
//! over time, for charts and merges), `summary.json` (aggregates, failing seeds and their
//! replay commands), `timing.csv` (wall seconds per seed: the only file that differs between
//! machines), and `runs/seed-N/` (the run's own files) for failing seeds, or every seed with
//! `--keep-runs`. While it runs, each finished seed is saved in the hidden `.partial`
//! directory, so the same command after an interruption runs only the seeds still missing.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use faultline_reports::output::Staging;
use faultline_reports::summary::About;
use faultline_reports::{csv_sink::CsvSink, summary, table};
use faultline_scenarios::experiment::aggregate::{checkers, seeds_header, seeds_row, summarise, SweepSummary};
use faultline_scenarios::experiment::{sweep, Saved, SeedRange, SeedResult, SeedRun, Shard, SweepKey, SweepOptions};
use faultline_scenarios::{RunOptions, Scenario};
use faultline_sim::record::RecordSink;
use faultline_sim::{Execution, NullSink};

use super::{internal, output_error, CliError, EXIT_CHECK_FAILED};

/// The file naming what a sweep directory holds.
pub(super) const KEY_FILE: &str = "sweep.json";

/// The key as written in `sweep.json`.
pub(super) fn key_text(key: &SweepKey) -> String {
    serde_json::to_string_pretty(key).unwrap_or_default() + "\n"
}

/// How a sweep runs.
pub(super) struct Plan {
    pub(super) seeds: SeedRange,
    pub(super) shard: Shard,
    pub(super) jobs: usize,
    pub(super) keep_runs: bool,
    pub(super) quiet: bool,
}

/// `faultline sweep`: runs, writes, prints; exit 1 when any seed violated a check.
pub(super) fn run(scenario: &Scenario, plan: &Plan, out: &Path) -> Result<u8, CliError> {
    let started = Instant::now();
    let (results, _) = sweep_into(scenario, plan, out)?;
    let summary = summarise(scenario, &plan.seeds.to_string(), &results, "faultline");
    print_summary(&summary, plan, started.elapsed().as_secs_f64(), out);
    Ok(if summary.passed { 0 } else { EXIT_CHECK_FAILED })
}

/// Runs the plan's seeds not already saved in `out`'s partial directory, then writes and
/// commits the directory. Returns the results and wall times in seed order.
pub(super) fn sweep_into(
    scenario: &Scenario,
    plan: &Plan,
    out: &Path,
) -> Result<(Vec<SeedResult>, Vec<f64>), CliError> {
    let key = SweepKey::of(scenario, plan.seeds, plan.shard, env!("CARGO_PKG_VERSION"));
    refuse_another_sweep(out, &key)?;
    let staging = Staging::resume(out, KEY_FILE, &key_text(&key)).map_err(output_error)?;
    let dir = staging.path().to_path_buf();
    if staging.replaced_other() && !plan.quiet {
        eprintln!("faultline: note: {} held an unfinished, different sweep; it was discarded", dir.display());
    }
    let done_dir = dir.join("done");
    std::fs::create_dir_all(&done_dir).map_err(|e| internal(format!("{}: {e}", done_dir.display())))?;
    let mut saved = load_saved(&done_dir)?;
    let wanted = plan.shard.seeds(plan.seeds);
    saved.retain(|seed, _| wanted.contains(seed));
    let todo: Vec<u64> = wanted.iter().copied().filter(|s| !saved.contains_key(s)).collect();
    if !saved.is_empty() && !plan.quiet {
        eprintln!("resuming: {} of {} seeds already done in {}", saved.len(), wanted.len(), dir.display());
    }
    let progress = Progress::new(todo.len(), plan.quiet);
    let fresh: Mutex<Vec<Saved>> = Mutex::new(Vec::new());
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let runs_dir = dir.join("runs");
    let sink = |s: &Scenario| -> Box<dyn RecordSink> {
        if plan.keep_runs {
            run_sink(&runs_dir, s).unwrap_or_else(|e| {
                push(&errors, e);
                Box::new(NullSink)
            })
        } else {
            Box::new(NullSink)
        }
    };
    let on_done = |r: SeedRun<'_>| {
        let one = Saved { result: r.result.clone(), wall_s: r.wall_s };
        if let Err(e) = save_seed(&r, &one, plan.keep_runs, (&runs_dir, &done_dir)) {
            push(&errors, e);
        }
        progress.step(!r.result.passed());
        if let Ok(mut f) = fresh.lock() {
            f.push(one);
        }
    };
    let options = SweepOptions { jobs: plan.jobs, sink: &sink, on_done: &on_done };
    sweep(scenario, &todo, &options).map_err(|e| internal(e.to_string()))?;
    progress.finish();
    if let Some(e) = errors.into_inner().unwrap_or_default().into_iter().next() {
        return Err(internal(format!("saving a seed's results: {e}")));
    }
    for s in fresh.into_inner().unwrap_or_default() {
        saved.insert(s.result.seed, s);
    }
    let (results, walls): (Vec<SeedResult>, Vec<f64>) = saved.into_values().map(|s| (s.result, s.wall_s)).unzip();
    write_outputs(&dir, scenario, &key, &results, &walls)?;
    std::fs::remove_dir_all(&done_dir).map_err(|e| internal(format!("{}: {e}", done_dir.display())))?;
    staging.commit().map_err(output_error)?;
    Ok((results, walls))
}

/// Refuses an `out` that holds a finished sweep with another key (exit 2), saying what differs.
fn refuse_another_sweep(out: &Path, key: &SweepKey) -> Result<(), CliError> {
    match table::read_json::<SweepKey>(&out.join(KEY_FILE)) {
        Ok(there) if &there != key => Err(super::usage(format!(
            "{}: holds another sweep ({}); choose another --out, or remove that directory to replace it",
            out.display(),
            differences(&there, key)
        ))),
        _ => Ok(()),
    }
}

/// What differs between two sweeps' keys, in words.
pub(super) fn differences(there: &SweepKey, here: &SweepKey) -> String {
    let mut d = Vec::new();
    if there.scenario != here.scenario || there.source != here.source {
        d.push(format!("scenario {} there, {} here", there.source, here.source));
    }
    if there.overrides != here.overrides {
        d.push(format!("--set {:?} there, {:?} here", there.overrides, here.overrides));
    }
    if there.document != here.document && there.source == here.source {
        d.push("the scenario file changed".to_owned());
    }
    if there.seeds != here.seeds {
        d.push(format!("seeds {} there, {} here", there.seeds, here.seeds));
    }
    if there.shard != here.shard {
        d.push(format!("shard {} there, {} here", there.shard, here.shard));
    }
    if there.faultline_version != here.faultline_version {
        d.push(format!("faultline {} there, {} here", there.faultline_version, here.faultline_version));
    }
    d.join("; ")
}

/// Keeps a finished seed: its run's files when asked for (always for a failing seed), then
/// its result in `done/`, last, so that a seed whose result is saved is complete.
fn save_seed(r: &SeedRun<'_>, one: &Saved, keep_runs: bool, (runs, done): (&Path, &Path)) -> Result<(), String> {
    if keep_runs {
        write_run_files(runs, r.scenario, r.execution)?;
    } else if !r.result.passed() {
        rerun_into(runs, r.scenario)?;
    }
    table::write_json(&done.join(format!("{}.json", r.result.seed)), one).map_err(|e| e.to_string())
}

fn push(errors: &Mutex<Vec<String>>, e: String) {
    if let Ok(mut v) = errors.lock() {
        v.push(e);
    }
}

fn load_saved(done: &Path) -> Result<BTreeMap<u64, Saved>, CliError> {
    let mut saved = BTreeMap::new();
    let entries = std::fs::read_dir(done).map_err(|e| internal(format!("{}: {e}", done.display())))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "json") {
            // A file that does not parse was cut short: its seed runs again.
            if let Ok(s) = table::read_json::<Saved>(&path) {
                saved.insert(s.result.seed, s);
            }
        }
    }
    Ok(saved)
}

fn seed_dir(runs: &Path, s: &Scenario) -> PathBuf {
    runs.join(format!("seed-{}", s.spec.seed))
}

fn run_sink(runs: &Path, s: &Scenario) -> Result<Box<dyn RecordSink>, String> {
    let dir = seed_dir(runs, s);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(Box::new(CsvSink::create(&dir).map_err(|e| format!("{}: {e}", dir.display()))?))
}

/// A failing seed's records, when they were not kept: the run again, which is the same run.
fn rerun_into(runs: &Path, s: &Scenario) -> Result<(), String> {
    let sink = run_sink(runs, s)?;
    let execution = faultline_scenarios::execute(s, &RunOptions::default(), sink).map_err(|e| e.to_string())?;
    write_run_files(runs, s, &execution)
}

fn write_run_files(runs: &Path, s: &Scenario, execution: &Execution) -> Result<(), String> {
    let dir = seed_dir(runs, s);
    super::run::write_failure(&dir, s, execution).map_err(|e| e.message)?;
    let reproduce = format!("faultline {}", s.reproduce_args());
    let about = About { description: &s.description, reproduce: &reproduce, warnings: &s.warnings };
    summary::write_json(execution, about, &dir.join("summary.json")).map_err(|e| format!("{}: {e}", dir.display()))?;
    if let Some(toml) = s.as_run_toml("faultline") {
        std::fs::write(dir.join("scenario.toml"), toml).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    Ok(())
}

/// Writes the sweep's files into `dir` (see the module docs).
pub(super) fn write_outputs(
    dir: &Path,
    scenario: &Scenario,
    key: &SweepKey,
    results: &[SeedResult],
    walls: &[f64],
) -> Result<(), CliError> {
    let io = |what: &str, e: std::io::Error| internal(format!("{}: {e}", dir.join(what).display()));
    let names = checkers(results);
    let faults = results.first().map_or(0, |r| r.recovery_s.len());
    let rows = results.iter().map(|r| seeds_row(r, &names, faults));
    table::write_csv(&dir.join("seeds.csv"), &seeds_header(&names, faults), rows).map_err(|e| io("seeds.csv", e))?;
    table::write_json_lines(&dir.join("results.jsonl"), results).map_err(|e| io("results.jsonl", e))?;
    let summary = summarise(scenario, &key.seeds.to_string(), results, "faultline");
    table::write_json(&dir.join("summary.json"), &summary).map_err(|e| io("summary.json", e))?;
    let timing = results.iter().zip(walls).map(|(r, w)| vec![r.seed.to_string(), format!("{w:.3}")]);
    table::write_csv(&dir.join("timing.csv"), &["seed".into(), "wall_s".into()], timing)
        .map_err(|e| io("timing.csv", e))?;
    table::write_whole(&dir.join(KEY_FILE), key_text(key).as_bytes()).map_err(|e| io(KEY_FILE, e))
}

/// A one-line progress bar on a terminal; nothing otherwise.
struct Progress {
    total: usize,
    done: AtomicUsize,
    failing: AtomicUsize,
    started: Instant,
    shown: bool,
}

impl Progress {
    fn new(total: usize, quiet: bool) -> Progress {
        let shown = !quiet && std::io::stderr().is_terminal() && total > 0;
        Progress { total, done: AtomicUsize::new(0), failing: AtomicUsize::new(0), started: Instant::now(), shown }
    }

    fn step(&self, failed: bool) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let failing = self.failing.fetch_add(usize::from(failed), Ordering::Relaxed) + usize::from(failed);
        if self.shown {
            let width = 30;
            let filled = done * width / self.total.max(1);
            let elapsed = self.started.elapsed().as_secs_f64();
            let eta = elapsed / done as f64 * (self.total - done) as f64;
            eprint!(
                "\r[{}{}] {done}/{} seeds, {failing} failing, {elapsed:.0} s, ~{eta:.0} s left ",
                "#".repeat(filled),
                " ".repeat(width - filled),
                self.total
            );
        }
    }

    fn finish(&self) {
        if self.shown {
            eprintln!();
        }
    }
}

fn print_summary(s: &SweepSummary, plan: &Plan, wall_s: f64, out: &Path) {
    println!(
        "sweep {}: seeds {} (shard {}), {} runs on {} threads in {:.1} wall s",
        s.scenario, s.seeds, plan.shard, s.runs, plan.jobs, wall_s
    );
    println!("{:<22} {:>12} {:>27} {:>12} {:>12}", "metric", "mean", "95% CI of the mean", "median", "p90");
    for a in &s.metrics {
        println!(
            "{:<22} {:>12.4} {:>27} {:>12.4} {:>12.4}",
            a.metric,
            a.mean,
            format!("[{:.4}, {:.4}]", a.ci_low, a.ci_high),
            a.p50,
            a.p90
        );
    }
    for (checker, seeds) in &s.checks {
        let word = if *seeds == 0 { "held on every seed".to_owned() } else { format!("VIOLATED on {seeds} seeds") };
        println!("check {checker:<8} {word}");
    }
    if !s.failing.is_empty() {
        println!("{} failing seeds; the first:", s.failing.len());
        for f in s.failing.iter().take(5) {
            println!("  seed {}: {}", f.seed, f.first_violation);
            let args = f.reproduce.strip_prefix("faultline ").unwrap_or(&f.reproduce);
            println!("    replay: {} {args}", super::program());
        }
    }
    println!("output: {}", out.display());
}
