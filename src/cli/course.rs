//! `faultline course`: every built-in experiment (a claim of the course notes each), into one
//! directory with a report per experiment and a contents page: `<out>/<experiment>/` as
//! `faultline experiment` writes it, `course.json` (each verdict), and the reports. The
//! directory appears whole and resumes: experiments already done are read back, not run again.

use std::path::Path;
use std::time::Instant;

use faultline_reports::output::Staging;
use faultline_reports::table;
use faultline_scenarios::course::{self, Verdict};
use serde::Serialize;

use super::sweep::Plan;
use super::{experiment, output_error, CliError, EXIT_CHECK_FAILED};

/// `course.json`: the verdicts, for the contents page and for a pipeline.
#[derive(Serialize)]
struct CourseFile {
    faultline_version: &'static str,
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

/// Runs the course into `out` and writes its reports in `lang`; exit 1 when a check the
/// experiments do not measure was violated.
pub(super) fn course(seeds: Option<&str>, jobs: usize, out: &Path, lang: &str) -> Result<u8, CliError> {
    let started = Instant::now();
    let names = course::names();
    let key = serde_json::to_string_pretty(&(&names, seeds, env!("CARGO_PKG_VERSION"))).unwrap_or_default() + "\n";
    let staging = Staging::resume(out, "course-key.json", &key).map_err(output_error)?;
    let mut entries = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let exp = experiment::load(name)?;
        let plan = Plan {
            seeds: experiment::seeds(&exp, seeds)?,
            shard: faultline_scenarios::experiment::Shard::ALL,
            jobs,
            keep_runs: false,
            quiet: true,
        };
        let t = Instant::now();
        let r = experiment::run(&exp, &plan, &staging.path().join(name))?;
        println!(
            "[{}/{}] {name} ({}, seeds {}, {:.0} s): {}",
            i + 1,
            names.len(),
            exp.pattern,
            plan.seeds,
            t.elapsed().as_secs_f64(),
            r.line
        );
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
    let file = CourseFile { faultline_version: env!("CARGO_PKG_VERSION"), experiments: entries };
    let path = staging.path().join("course.json");
    table::write_json(&path, &file).map_err(|e| super::internal(format!("{}: {e}", path.display())))?;
    let dest = staging.commit().map_err(output_error)?;
    for name in &names {
        super::report_quietly(&dest.join(name), lang)?;
    }
    super::report(&dest, lang)?;
    let broken: Vec<&str> = file.experiments.iter().filter(|e| !e.checks_passed).map(|e| e.name.as_str()).collect();
    println!("\ncourse: {} experiments in {:.0} s", names.len(), started.elapsed().as_secs_f64());
    if !broken.is_empty() {
        println!("a check was violated in: {} (see their experiment.json)", broken.join(", "));
        return Ok(EXIT_CHECK_FAILED);
    }
    Ok(0)
}
