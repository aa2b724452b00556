//! Commands: `faultline` (the demo), `list`, `run`, `check`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Parser, Subcommand};
use faultline_reports::{chart, csv_sink::CsvSink, output::Staging, summary};
use faultline_scenarios::{catalog, Scenario};
use faultline_sim::{MemorySink, RunOutput};

/// Exit code: a check failed.
pub const EXIT_CHECK_FAILED: u8 = 1;
/// Exit code: bad usage or a bad scenario.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: a bug in faultline.
pub const EXIT_INTERNAL: u8 = 3;

/// Deterministic simulation of distributed-system patterns under failure.
///
/// Without a command, runs the built-in demo: a small shop whose payment service goes dark,
/// with no patterns, with retry + timeout, and with a circuit breaker added.
#[derive(Debug, Parser)]
#[command(name = "faultline", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the built-in scenarios.
    List,
    /// Run one scenario for one seed and write requests.csv, events.csv, summary.json and charts.
    Run(RunArgs),
    /// Run a scenario twice and fail (exit 1) unless both runs are identical.
    Check(ScenarioArgs),
}

#[derive(Debug, clap::Args)]
struct ScenarioArgs {
    /// A catalog name (see `faultline list`) or a scenario file path.
    scenario: String,
    /// Root seed (default: the scenario's `seed`).
    #[arg(long)]
    seed: Option<u64>,
    /// Override a scenario key, e.g. --set workload.rate_per_s=80 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Output directory (default: out/<scenario>-seed<seed>).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// A failure with its exit code and one-line message.
#[derive(Debug)]
pub struct CliError {
    /// Exit code.
    pub code: u8,
    /// What to print.
    pub message: String,
}

fn usage(message: impl Into<String>) -> CliError {
    CliError { code: EXIT_USAGE, message: message.into() }
}

fn internal(message: impl Into<String>) -> CliError {
    CliError { code: EXIT_INTERNAL, message: message.into() }
}

/// Runs a parsed command line.
pub fn execute(cli: Cli) -> Result<u8, CliError> {
    match cli.command {
        None => demo(),
        Some(Command::List) => {
            list();
            Ok(0)
        }
        Some(Command::Run(args)) => {
            let scenario = load(&args.scenario)?;
            let out = args.out.unwrap_or_else(|| default_out(&scenario));
            let mut report = run_to_dir(&scenario, &out)?;
            // The invariant checkers that apply read the event log the run wrote.
            let events = std::fs::read_to_string(report.dir.join("events.csv"))
                .map_err(|e| internal(format!("events.csv: {e}")))?;
            let rows: Vec<&str> = events.lines().skip(1).collect();
            for v in faultline_scenarios::checkers::for_run(&scenario.spec, rows.iter().copied()) {
                report.output.failed_checks.push(v.to_string());
            }
            print_report(&scenario, &report);
            if scenario.spec.services.iter().any(|s| s.stock.is_some()) {
                let n = faultline_scenarios::checkers::saga::dirty_reads(rows.iter().copied()).len();
                println!("isolation: {n} sagas refused an item while another saga held a unit it later gave back (dirty reads)");
            }
            if scenario.spec.services.iter().any(|s| s.app_name() == Some("projector")) {
                print_projection_lag(&faultline_scenarios::checkers::event_sourcing::projection_lag(
                    rows.iter().copied(),
                ));
            }
            if report.output.failed_checks.is_empty() {
                Ok(0)
            } else {
                print_failed_checks(&report.output.failed_checks);
                Ok(EXIT_CHECK_FAILED)
            }
        }
        Some(Command::Check(args)) => check(&load(&args)?),
    }
}

/// How far a read model fell behind its event store, and where it ended.
fn print_projection_lag(lag: &[(u64, u64)]) {
    let Some(&(end_us, end)) = lag.last() else { return };
    let (max_at_us, max) = lag.iter().fold((0, 0), |best, &(t, l)| if l > best.1 { (t, l) } else { best });
    println!(
        "read model lag: max {max} events at {:.1} s; {end} at the last event ({:.1} s)",
        max_at_us as f64 / 1e6,
        end_us as f64 / 1e6
    );
}

/// The failed checks, at most three per checker (a stalled run can break S1 once per saga),
/// with how many more there were.
fn print_failed_checks(checks: &[String]) {
    const SHOWN: usize = 3;
    let mut shown: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for c in checks {
        let checker = c.split_whitespace().next().unwrap_or("");
        let n = shown.entry(checker).or_insert(0);
        *n += 1;
        if *n <= SHOWN {
            println!("CHECK FAILED: {c}");
        }
    }
    for (checker, n) in shown.into_iter().filter(|(_, n)| *n > SHOWN) {
        println!("CHECK FAILED: and {} more {checker} violations", n - SHOWN);
    }
}

fn load(args: &ScenarioArgs) -> Result<Scenario, CliError> {
    faultline_scenarios::load(&args.scenario, &args.set, args.seed).map_err(|e| usage(e.to_string()))
}

fn default_out(s: &Scenario) -> PathBuf {
    PathBuf::from("out").join(format!("{}-seed{}", s.spec.name, s.spec.seed))
}

fn list() {
    let names = catalog::names();
    let width = names.iter().map(String::len).max().unwrap_or(0);
    for name in names {
        let description = faultline_scenarios::load(&name, &[], None)
            .map(|s| s.description)
            .unwrap_or_else(|e| format!("(broken: {e})"));
        println!("{name:<width$}  {description}");
    }
}

/// What one run produced, for printing.
struct Report {
    output: RunOutput,
    dir: PathBuf,
    wall_s: f64,
}

/// Runs a scenario and writes its files into `out`, atomically.
fn run_to_dir(scenario: &Scenario, out: &Path) -> Result<Report, CliError> {
    println!("== {} (seed {}) ==", scenario.spec.name, scenario.spec.seed);
    println!("{}", describe(scenario));
    let staging =
        Staging::new(out).map_err(|e| usage(format!("{}: cannot create the output directory: {e}", out.display())))?;
    let sink = CsvSink::create(staging.path())
        .map_err(|e| usage(format!("{}: cannot write: {e}", staging.path().display())))?;
    let started = Instant::now();
    let output = faultline_sim::run(scenario.spec.clone(), Box::new(sink)).map_err(|e| internal(e.to_string()))?;
    let wall_s = started.elapsed().as_secs_f64();
    summary::write_json(&output, &staging.path().join("summary.json"))
        .map_err(|e| internal(format!("summary.json: {e}")))?;
    chart::write_latency_chart(&output, staging.path()).map_err(internal)?;
    if scenario.spec.services.iter().any(|s| s.app_name() == Some("projector")) {
        write_lag_chart(&output, staging.path())?;
    }
    let dir =
        staging.commit().map_err(|e| usage(format!("{}: cannot move the output into place: {e}", out.display())))?;
    Ok(Report { output, dir, wall_s })
}

/// `lag.png`/`.svg`: the read model's lag (its largest in each quarter second) from the
/// events just written.
fn write_lag_chart(output: &RunOutput, dir: &Path) -> Result<(), CliError> {
    let events = std::fs::read_to_string(dir.join("events.csv")).map_err(|e| internal(format!("events.csv: {e}")))?;
    let lag = faultline_scenarios::checkers::event_sourcing::projection_lag(events.lines().skip(1));
    let mut bins: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
    for (t_us, l) in lag {
        let bin = bins.entry(t_us / 250_000).or_insert(0);
        *bin = (*bin).max(l);
    }
    let points: Vec<(f64, f64)> = bins.into_iter().map(|(b, l)| (b as f64 * 0.25, l as f64)).collect();
    let title = format!("{} (seed {}): read model lag", output.scenario, output.seed);
    chart::write_series_chart(dir, "lag", &title, "lag (events not yet applied)", &points, &output.faults, output.end_s)
        .map_err(internal)
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
    for f in &spec.faults.0 {
        let dur = f.duration.map_or("-".to_owned(), |d| format!("{} s", d.as_secs_f64()));
        lines.push(format!("  fault at {} s for {dur}: {} on {}", f.at.as_secs_f64(), f.kind.name(), f.target));
    }
    if !s.overrides.is_empty() {
        lines.push(format!("  overrides: {}", s.overrides.join(" ")));
    }
    lines.join("\n")
}

/// How to invoke faultline again: `cargo run --release --` from a checkout, else `faultline`.
fn program() -> String {
    let exe = std::env::args().next().unwrap_or_default();
    if exe.contains("target/release") {
        "cargo run --release --".to_owned()
    } else if exe.contains("target/debug") {
        "cargo run --".to_owned()
    } else {
        "faultline".to_owned()
    }
}

fn print_report(s: &Scenario, r: &Report) {
    let o = &r.output;
    println!();
    print!("{}", summary::edge_table(o));
    print!("{}", summary::outcome_lines(o));
    println!(
        "{} requests, {} events, {:.1} virtual s in {:.2} wall s ({:.0}x real time)",
        o.requests,
        o.events,
        o.end_s,
        r.wall_s,
        o.end_s / r.wall_s.max(1e-9)
    );
    println!("fingerprint: {}", o.fingerprint);
    println!("reproduce: {} {}", program(), s.reproduce_args());
    println!("output: {}", r.dir.display());
}

fn demo() -> Result<u8, CliError> {
    println!(
        "faultline demo: the same shop, seed and faults: no patterns; retry + timeout; retry + breaker + timeout.\n"
    );
    let mut reports = Vec::new();
    for name in catalog::DEMO {
        let scenario = faultline_scenarios::load(name, &[], None)
            .map_err(|e| internal(format!("built-in scenario {name}: {e}")))?;
        let out = PathBuf::from("out").join("demo").join(name);
        let report = run_to_dir(&scenario, &out)?;
        print_report(&scenario, &report);
        println!();
        reports.push((scenario, report));
    }
    println!("== comparison: what the client saw ==");
    println!("{:<24} {:>9} {:>9} {:>10} {:>10}  fingerprint", "scenario", "requests", "success", "p50 ms", "p99 ms");
    for (s, r) in &reports {
        if let Some(e) = r.output.edges.first() {
            println!(
                "{:<24} {:>9} {:>8.2}% {:>10.1} {:>10.1}  {}",
                s.spec.name,
                e.requests,
                e.success_rate * 100.0,
                e.p50_ms,
                e.p99_ms,
                r.output.fingerprint
            );
        }
    }
    println!("\nCharts: out/demo/*/latency.png (and .svg). Catalog: `{} list`.", program());
    Ok(0)
}

/// Runs twice and compares fingerprints and every row.
fn check(s: &Scenario) -> Result<u8, CliError> {
    let once = || -> Result<(RunOutput, faultline_sim::record::Rows), CliError> {
        let sink = MemorySink::default();
        let out = faultline_sim::run(s.spec.clone(), Box::new(sink.clone())).map_err(|e| internal(e.to_string()))?;
        Ok((out, sink.rows()))
    };
    let (a, rows_a) = once()?;
    let (b, rows_b) = once()?;
    let first_diff = |x: &[String], y: &[String]| {
        x.iter().zip(y).position(|(p, q)| p != q).or((x.len() != y.len()).then(|| x.len().min(y.len())))
    };
    match (first_diff(&rows_a.requests, &rows_b.requests), first_diff(&rows_a.events, &rows_b.events)) {
        (None, None) if a == b => {
            println!(
                "deterministic: two runs of {} seed {} gave fingerprint {} and identical rows ({} requests, {} events)",
                s.spec.name, s.spec.seed, a.fingerprint, a.requests, a.events
            );
            Ok(0)
        }
        (req, ev) => {
            println!(
                "NOT deterministic: {} seed {}: fingerprints {} and {}",
                s.spec.name, s.spec.seed, a.fingerprint, b.fingerprint
            );
            if let Some(i) = req {
                println!(
                    "  first differing request row {i}: {:?} vs {:?}",
                    rows_a.requests.get(i),
                    rows_b.requests.get(i)
                );
            }
            if let Some(i) = ev {
                println!("  first differing event row {i}: {:?} vs {:?}", rows_a.events.get(i), rows_b.events.get(i));
            }
            println!("reproduce: {} check {}", program(), s.reproduce_args().trim_start_matches("run "));
            Ok(EXIT_CHECK_FAILED)
        }
    }
}
