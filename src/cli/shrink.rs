//! `faultline shrink RECORD --out DIR`: the smallest run found that fails like the recorded one.

use std::io::{IsTerminal, Write};
use std::path::Path;

use faultline_reports::output::Staging;
use faultline_reports::table;
use faultline_scenarios::shrink::{self, Progress, ShrinkOptions, Size};
use faultline_scenarios::Source;
use serde::Serialize;

use super::run::run_staged;
use super::{internal, output_error, program, usage, CliError, EXIT_CHECK_FAILED};

/// What `shrink.json` says.
#[derive(Serialize)]
struct ShrinkFile<'a> {
    record: String,
    checker: &'a str,
    seed: u64,
    before: Size,
    after: Size,
    steps: &'a [String],
    runs: usize,
    budget_spent: bool,
    reproduce: String,
}

/// Shrinks the record's run and writes the smallest into `out` (its scenario.toml, its run's
/// files, shrink.json); exit 1: the smaller run still fails, as it must.
pub(super) fn shrink(path: &Path, out: &Path, options: &ShrinkOptions) -> Result<u8, CliError> {
    let (file, record) = super::replay::read(path)?;
    super::replay::not_the_record(&file, out)?;
    if let Some(c) = &options.checker {
        if !record.violated.contains(c) {
            return Err(usage(format!(
                "--checker {c}: not one of the checks this run violates ({})",
                record.violated.join(", ")
            )));
        }
    }
    let scenario =
        record.scenario().map_err(|e| usage(format!("{}: its scenario does not load here: {e}", file.display())))?;
    let staging = Staging::new(out).map_err(output_error)?;
    println!("shrinking {} (seed {}) from {}", record.scenario, record.seed, file.display());
    let interactive = std::io::stderr().is_terminal();
    let mut progress = |p: &Progress| show_progress(p, interactive);
    let found = shrink::shrink(&scenario, options, &mut progress).map_err(|e| match e {
        shrink::ShrinkError::Run(m) => internal(format!("{}: {m}", file.display())),
        other => usage(format!("{}: {other}", file.display())),
    })?;
    if interactive {
        eprintln!();
    }
    // The smallest scenario is reproduced from the file written here, not from the catalog.
    let scenario_file = out.join("scenario.toml");
    let mut smallest = found.scenario.clone();
    smallest.source = Source::File(scenario_file.display().to_string());
    smallest.overrides.clear();
    let (staging, run, _) = run_staged(staging, &smallest)?;
    if run.output.fingerprint != found.run.output.fingerprint {
        return Err(internal(
            "the smallest scenario ran differently when written out (a bug in faultline: please report it)",
        ));
    }
    let summary = ShrinkFile {
        record: file.display().to_string(),
        checker: &found.checker,
        seed: record.seed,
        before: found.before,
        after: found.after,
        steps: &found.steps,
        runs: found.runs,
        budget_spent: found.budget_spent,
        reproduce: format!("faultline {}", smallest.reproduce_args()),
    };
    let json = staging.path().join("shrink.json");
    table::write_json(&json, &summary).map_err(|e| internal(format!("{}: {e}", json.display())))?;
    let dir = staging.commit().map_err(output_error)?;
    let n = |k: usize, one: &str| format!("{k} {one}{}", if k == 1 { "" } else { "s" });
    let spent = if found.budget_spent { " (the run budget ran out: --max-runs)" } else { "" };
    println!("kept {} in {}{spent}:", n(found.steps.len(), "reduction"), n(found.runs, "run"));
    for step in &found.steps {
        println!("  {step}");
    }
    println!("before: {}", found.before);
    println!("after:  {}", found.after);
    println!("{} still violated: {}", found.checker, found.run.verdict.first_violation().unwrap_or_default());
    println!("reproduce: {} {}", program(), smallest.reproduce_args());
    println!("output: {}", dir.display());
    Ok(EXIT_CHECK_FAILED)
}

fn show_progress(p: &Progress, interactive: bool) {
    let line = format!("shrink: run {}/{}: {}", p.runs, p.max_runs, p.size);
    if interactive {
        eprint!("\r{line}\x1b[K");
        let _ = std::io::stderr().flush();
    } else if let Some(kept) = p.kept {
        eprintln!("{line} (kept: {kept})");
    }
}
