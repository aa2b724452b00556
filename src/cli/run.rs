//! `faultline run`: one checked run, written into an output directory
//! that appears whole or not at all.

use std::path::{Path, PathBuf};
use std::time::Instant;

use faultline_reports::output::Staging;
use faultline_reports::summary::About;
use faultline_reports::{chart, csv_sink::CsvSink, summary, table};
use faultline_scenarios::failure::{self, FailureRecord};
use faultline_scenarios::{RunOptions, Scenario};
use faultline_sim::Execution;

use super::{internal, output_error, program, CliError, EXIT_CHECK_FAILED};

/// What one run produced, for printing.
pub(super) struct Report {
    pub(super) run: Execution,
    pub(super) dir: PathBuf,
    pub(super) wall_s: f64,
}

/// `faultline run`: runs, writes, prints; exit 1 when a check was violated.
pub(super) fn run(scenario: &Scenario, out: &Path) -> Result<u8, CliError> {
    let report = run_to_dir(scenario, out)?;
    print_report(scenario, &report);
    Ok(if report.run.verdict.passed() { 0 } else { EXIT_CHECK_FAILED })
}

/// Runs a scenario and writes its files into `out`, atomically. Nothing is written when the
/// destination cannot be used.
pub(super) fn run_to_dir(scenario: &Scenario, out: &Path) -> Result<Report, CliError> {
    let staging = Staging::new(out).map_err(output_error)?;
    println!("== {} (seed {}) ==", scenario.spec.name, scenario.spec.seed);
    if !scenario.description.is_empty() {
        println!("{}", scenario.description);
    }
    println!("{}", describe(scenario));
    let (staging, run, wall_s) = run_staged(staging, scenario)?;
    let dir = staging.commit().map_err(output_error)?;
    Ok(Report { run, dir, wall_s })
}

/// Runs a scenario and writes its files into a staging directory, not yet committed (unless
/// the run failed and writing the rest did not work: the directory is then committed with the
/// failure record in it). Returns the staging, the run and the wall seconds it took.
pub(super) fn run_staged(staging: Staging, scenario: &Scenario) -> Result<(Staging, Execution, f64), CliError> {
    let sink = CsvSink::create(staging.path()).map_err(|e| internal(format!("{}: {e}", staging.path().display())))?;
    let started = Instant::now();
    let run = faultline_scenarios::execute(scenario, &RunOptions::default(), Box::new(sink))
        .map_err(|e| internal(e.to_string()))?;
    let wall_s = started.elapsed().as_secs_f64();
    // A failure is recorded first: if anything after fails, the record is kept (the directory
    // is committed with it) and `faultline replay` can run the failure again.
    let failed = write_failure(staging.path(), scenario, &run)?;
    if let Err(e) = write_outputs(staging.path(), scenario, &run) {
        if failed {
            staging.commit().map_err(output_error)?;
        }
        return Err(e);
    }
    Ok((staging, run, wall_s))
}

/// Writes `failure.json` into `dir` if `run` violated a check; says whether it did.
pub(super) fn write_failure(dir: &Path, scenario: &Scenario, run: &Execution) -> Result<bool, CliError> {
    let Some(record) = FailureRecord::of(scenario, run, env!("CARGO_PKG_VERSION")) else { return Ok(false) };
    let path = dir.join(failure::FILE);
    table::write_json(&path, &record).map_err(|e| internal(format!("{}: {e}", path.display())))?;
    Ok(true)
}

/// A run's files besides its records: summary, scenario as run, charts.
fn write_outputs(dir: &Path, scenario: &Scenario, run: &Execution) -> Result<(), CliError> {
    // The files name the program `faultline` whatever built it, so that they are the same bytes
    // from a debug build, a release build or an installed binary; the terminal says how to run
    // it from here.
    let reproduce = format!("faultline {}", scenario.reproduce_args());
    let about = About { description: &scenario.description, reproduce: &reproduce, warnings: &scenario.warnings };
    summary::write_json(run, about, &dir.join("summary.json")).map_err(|e| internal(format!("summary.json: {e}")))?;
    if let Some(toml) = scenario.as_run_toml("faultline") {
        std::fs::write(dir.join("scenario.toml"), toml).map_err(|e| internal(format!("scenario.toml: {e}")))?;
    }
    chart::write_latency_chart(&run.output, dir).map_err(internal)?;
    if let Some(lag) = run.measures.series.get("read_model_lag") {
        let title = format!("{} (seed {}): read model lag", run.output.scenario, run.output.seed);
        let y = "lag (events not yet applied)";
        chart::write_series_chart(dir, "lag", &title, y, lag, &run.output.faults, run.output.end_s)
            .map_err(internal)?;
    }
    Ok(())
}

/// The configuration, logged before the run (seed and everything that shapes it).
fn describe(s: &Scenario) -> String {
    let spec = &s.spec;
    let mut lines = Vec::new();
    lines.push(format!(
        "  duration {} s, drain {} s, workload {:?} -> {}",
        spec.duration.as_secs_f64(),
        spec.drain.as_secs_f64(),
        spec.workload.arrivals,
        spec.workload.target
    ));
    for svc in &spec.services {
        lines.push(format!(
            "  service {} x{}: {} conc {} queue {} errors {} calls [{}]",
            svc.name,
            svc.replicas,
            svc.service_time,
            svc.concurrency,
            svc.queue,
            svc.error_rate,
            svc.calls.join(", ")
        ));
    }
    for (from, to) in spec.call_edges() {
        lines.push(format!("  edge {from}->{to}: {}", spec.stack(&from, &to).describe()));
    }
    // Seconds to the millisecond, without trailing zeros (`14.726`, not `14.725999999999999`).
    let secs = |d: std::time::Duration| {
        let s = format!("{:.3}", d.as_secs_f64());
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    };
    for f in &spec.faults.0 {
        let dur = f.duration.map_or("-".to_owned(), |d| format!("{} s", secs(d)));
        lines.push(format!("  fault at {} s for {dur}: {} on {}", secs(f.at), f.kind.name(), f.target));
    }
    if !s.overrides.is_empty() {
        lines.push(format!("  overrides: {}", s.overrides.join(" ")));
    }
    lines.join("\n")
}

pub(super) fn print_report(s: &Scenario, r: &Report) {
    let o = &r.run.output;
    println!();
    print!("{}", summary::edge_table(o));
    print!("{}", summary::outcome_lines(o));
    let values = &r.run.measures.values;
    if let Some(n) = values.get("dirty_reads") {
        println!(
            "isolation: {n} sagas refused an item while another saga held a unit it later gave back (dirty reads)"
        );
    }
    if let (Some(max), Some(at), Some(end), Some(end_at)) = (
        values.get("read_model_lag_max"),
        values.get("read_model_lag_max_at_s"),
        values.get("read_model_lag_end"),
        values.get("read_model_lag_end_at_s"),
    ) {
        println!("read model lag: max {max} events at {at:.1} s; {end} at the last event ({end_at:.1} s)");
    }
    for e in o.fault_effects.iter().filter(|e| e.writes_failed > 0) {
        println!(
            "faults[{}] ({} on {}): {} pending store writes failed to sync and were lost",
            e.id, e.kind, e.target, e.writes_failed
        );
    }
    if let (Some(mean), Some(max)) =
        (values.get("read_model_staleness_ms_mean"), values.get("read_model_staleness_ms_max"))
    {
        println!("read model staleness: an event reached the read model {mean:.1} ms after its append on average, {max:.1} ms at worst");
    }
    println!(
        "{} requests, {} events, {:.1} virtual s in {:.2} wall s ({:.0}x real time)",
        o.requests,
        o.events,
        o.end_s,
        r.wall_s,
        o.end_s / r.wall_s.max(1e-9)
    );
    print!("{}", summary::verdict_lines(&r.run.verdict));
    println!("fingerprint: {}", o.fingerprint);
    println!("reproduce: {} {}", program(), s.reproduce_args());
    println!("output: {}", r.dir.display());
}
