//! `faultline course`: every built-in experiment (a claim of the course notes each), into one
//! directory with a report per experiment and a contents page: `<out>/<experiment>/` as
//! `faultline experiment` writes it, `course.json` (each verdict), and the reports. The
//! directory appears whole and resumes: experiments already done are read back, not run again.

use std::path::Path;
use std::time::Instant;

use faultline_reports::output::{Staging, MANIFEST};
use faultline_reports::table;
use faultline_scenarios::course::{self, Verdict};
use faultline_scenarios::experiment::Shard;
use serde::Serialize;

use super::sweep::Plan;
use super::{experiment, output_error, CliError, EXIT_CHECK_FAILED};

/// `course.json`: the verdicts, for the contents page and for a pipeline.
#[derive(Serialize)]
struct CourseFile {
    faultline_version: &'static str,
    /// `--seeds` when given (each experiment's own otherwise).
    seeds: Option<String>,
    experiments: Vec<Entry>,
}

#[derive(Serialize)]
struct Entry {
    name: String,
    pattern: String,
    pattern_ko: String,
    seeds: String,
    verdict: Verdict,
    line: String,
    checks_passed: bool,
}

/// The file naming what a course directory holds.
const KEY_FILE: &str = "course-key.json";

/// Runs the course into `out` and writes its reports in `lang`; exit 1 when a check the
/// experiments do not measure was violated.
pub(super) fn course(seeds: Option<&str>, jobs: usize, out: &Path, lang: &str) -> Result<u8, CliError> {
    let started = Instant::now();
    if let Some(s) = seeds {
        experiment::warn_few(s.parse().map_err(super::usage)?);
    }
    let names = course::names();
    let exps: Vec<_> = names.iter().map(|n| experiment::load(n)).collect::<Result<_, _>>()?;
    // The experiments' contents are in the key: a changed experiment is another course.
    let version = (env!("CARGO_PKG_VERSION"), faultline_scenarios::experiment::RESULTS_FORMAT);
    let key = serde_json::to_string_pretty(&(&exps, seeds, version)).unwrap_or_default() + "\n";
    // A finished course with this key is read back in place (each experiment reads back its
    // cases); anything else is written into a staging directory that appears whole.
    let finished = std::fs::read_to_string(out.join(KEY_FILE)).is_ok_and(|k| k == key) && out.join(MANIFEST).is_file();
    // Another finished course there (other experiments, seeds or faultline) is an earlier
    // version of this one: replaced when this one is done.
    let earlier = out.join(KEY_FILE).is_file() && out.join("course.json").is_file();
    let start = if earlier { Staging::resume_replacing } else { Staging::resume };
    let staging = if finished { None } else { Some(start(out, KEY_FILE, &key).map_err(output_error)?) };
    let root = staging.as_ref().map_or(out, |s| s.path()).to_path_buf();
    let mut entries = Vec::new();
    for (i, (name, exp)) in names.iter().zip(&exps).enumerate() {
        let seeds = experiment::seeds(exp, seeds)?;
        super::check_count(seeds, Shard::ALL)?;
        let plan = Plan { seeds, shard: Shard::ALL, jobs, keep_runs: false, quiet: true };
        let t = Instant::now();
        let r = experiment::run(exp, &plan, &root.join(name))?;
        super::report_quietly(&root.join(name), lang)?;
        let secs = t.elapsed().as_secs_f64();
        println!("[{}/{}] {name} ({}, seeds {seeds}, {secs:.0} s): {}", i + 1, names.len(), exp.pattern, r.line);
        entries.push(Entry {
            name: name.clone(),
            pattern: exp.pattern.clone(),
            pattern_ko: exp.pattern_ko.clone(),
            seeds: r.seeds.clone(),
            verdict: r.verdict,
            line: r.line.clone(),
            checks_passed: r.checks_passed(),
        });
    }
    let seeds = seeds.map(str::to_owned);
    let file = CourseFile { faultline_version: env!("CARGO_PKG_VERSION"), seeds, experiments: entries };
    let path = root.join("course.json");
    table::write_json(&path, &file).map_err(|e| super::internal(format!("{}: {e}", path.display())))?;
    let dest = match staging {
        Some(s) => s.commit().map_err(output_error)?,
        None => out.to_path_buf(),
    };
    super::report(&dest, lang)?;
    let broken: Vec<&str> = file.experiments.iter().filter(|e| !e.checks_passed).map(|e| e.name.as_str()).collect();
    println!("\ncourse: {} experiments in {:.0} s", names.len(), started.elapsed().as_secs_f64());
    if !broken.is_empty() {
        println!("a check was violated in: {} (see their experiment.json)", broken.join(", "));
        return Ok(EXIT_CHECK_FAILED);
    }
    Ok(0)
}
