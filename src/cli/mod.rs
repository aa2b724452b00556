//! Commands: `faultline` (the demo), `list`, `show`, `run`, `check`. Parsing (clap) and exit
//! codes live here; every command that runs a scenario goes through the library's one pipeline
//! (`faultline_scenarios::execute`), so the verdict it prints is the verdict it writes.

mod check;
mod compare;
mod course;
mod experiment;
mod merge;
mod replay;
mod run;
mod shrink;
mod sweep;
mod trace;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use faultline_scenarios::experiment::{SeedRange, Shard};
use faultline_scenarios::{catalog, Scenario};

/// Exit code: a check failed.
pub const EXIT_CHECK_FAILED: u8 = 1;
/// Exit code: bad usage or a bad scenario.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: a bug in faultline.
pub const EXIT_INTERNAL: u8 = 3;

/// Deterministic simulation of distributed-system patterns under failure.
///
/// Without a command, runs the built-in demo: a small shop whose payment service goes dark,
/// with no patterns, with retry + timeout, and with a circuit breaker added, compared over
/// seeds 1..10.
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
    /// Print a built-in scenario's TOML, to copy and edit.
    Show {
        /// A catalog name (see `faultline list`).
        name: String,
    },
    /// Run one scenario for one seed with every checker that applies, and write requests.csv,
    /// attempts.csv, levels.csv, events.csv, summary.json (with the verdict), scenario.toml and charts, and
    /// failure.json when a check fails.
    Run(RunArgs),
    /// Run a scenario twice and fail (exit 1) unless both runs are identical.
    Check(ScenarioArgs),
    /// Run a scenario over many seeds on worker threads; write seeds.csv (a row per seed),
    /// summary.json (aggregates with 95% CIs, failing seeds and their replay commands) and the
    /// failing seeds' own files. Exit 1 if any seed violates a check. Resumes when rerun.
    Sweep(SweepArgs),
    /// Compare variants over the same seeds (paired: each seed has the same arrivals and
    /// faults in every variant): per metric a mean difference with a 95% CI, a p-value and a
    /// finding; comparison.csv, summary.json and charts. Exit 1 if a check is violated.
    Compare(CompareArgs),
    /// Test one claim of the course notes: each of its cases compares a base and a variant
    /// over the same seeds; experiment.json holds every expectation measured and the verdict
    /// (holds / holds only when / does not hold). Exit 1 if a check is violated.
    Experiment {
        /// A built-in experiment (`faultline list`) or an experiment file.
        name: String,
        /// Seeds (default: the experiment's, at least 30).
        #[arg(long, value_name = "A..B")]
        seeds: Option<String>,
        /// Worker threads (default: the machine's cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Output directory (default: out/experiment-<name>).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        report: ReportArg,
    },
    /// Run every built-in experiment and write the course report: a contents page with each
    /// claim's verdict, and a report per experiment with its charts. Resumes when rerun.
    Course {
        /// en (English) or ko (Korean).
        #[arg(long, default_value = "en")]
        lang: String,
        /// Output directory.
        #[arg(long, default_value = "out/course")]
        out: PathBuf,
        /// Seeds for every experiment (default: each experiment's, at least 30).
        #[arg(long, value_name = "A..B")]
        seeds: Option<String>,
        /// Worker threads (default: the machine's cores).
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Write a teaching report (one self-contained HTML file and the same as Markdown) from a
    /// run's, a sweep's or a comparison's output directory, in English or Korean.
    Report {
        /// The output directory.
        dir: PathBuf,
        /// en (English) or ko (Korean).
        #[arg(long, default_value = "en")]
        lang: String,
    },
    /// Run a failure again from its record (a failing run's failure.json, or its directory):
    /// the same scenario as run, the same seed; says whether the fingerprint and the violation
    /// are the same. Exit 1 when the failure reproduces.
    Replay {
        /// The record, or the output directory that holds it.
        record: PathBuf,
        /// Output directory (default: out/<scenario>-seed<seed>-replay).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Shrink a failure: the smallest scenario found (same seed) that still violates the same
    /// check, by removing and weakening faults, shortening the run, lightening the workload,
    /// and dropping replicas, pattern layers and link settings. Deterministic; writes the
    /// smallest scenario.toml, its run's files and shrink.json. Exit 1 (it still fails).
    Shrink {
        /// The record (a failing run's failure.json), or the output directory that holds it.
        record: PathBuf,
        /// Where to write the smallest run.
        #[arg(long)]
        out: PathBuf,
        /// The check to keep violated (default: the first the run violates).
        #[arg(long)]
        checker: Option<String>,
        /// At most this many runs, the first included.
        #[arg(long, default_value_t = 300)]
        max_runs: usize,
    },
    /// Write a run's calls as a Chrome/Perfetto trace (opens in ui.perfetto.dev) and print the
    /// story of one request: its calls hop by hop.
    Trace {
        /// A run's output directory.
        dir: PathBuf,
        /// One client request (requests.csv's id, where parent is 0) and every call it caused.
        #[arg(long, conflicts_with = "window")]
        request: Option<u64>,
        /// Calls that overlap A..B seconds of virtual time, e.g. --window 40..45.
        #[arg(long, value_name = "A..B")]
        window: Option<String>,
        /// The trace file to write (JSON).
        #[arg(long)]
        out: PathBuf,
    },
    /// Join the shards of one sweep (`sweep --shard K/N`) into what one machine would have
    /// written; refuses shards of different sweeps and incomplete or overlapping sets.
    Merge {
        /// The shards' output directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where to write the merged sweep.
        #[arg(long)]
        out: PathBuf,
    },
}

/// `--report [en|ko]` on the commands that write an output.
#[derive(Debug, clap::Args)]
struct ReportArg {
    /// Also write a teaching report into the output (report.<lang>.html and .md): en or ko.
    #[arg(long = "report", value_name = "en|ko", num_args = 0..=1, default_missing_value = "en")]
    lang: Option<String>,
}

/// How many seeds an experiment runs, and on how many threads.
#[derive(Debug, clap::Args)]
struct ManySeeds {
    /// Seeds: A..B (both ends included) or N (1..N).
    #[arg(long, default_value = "1..20", value_name = "A..B")]
    seeds: String,
    /// Worker threads (default: the machine's cores).
    #[arg(long)]
    jobs: Option<usize>,
}

#[derive(Debug, clap::Args)]
struct CompareArgs {
    /// The base, then the variants: catalog names or scenario files.
    #[arg(required = true)]
    scenarios: Vec<String>,
    /// A variant made from the base: its name, then the overrides that make it, e.g.
    /// --vary 'open500 edges.orders->payment.breaker.open_ms=500' (repeatable).
    #[arg(long, value_name = "'NAME KEY=VALUE...'")]
    vary: Vec<String>,
    /// Override a key in every variant (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    #[command(flatten)]
    many: ManySeeds,
    /// Output directory (default: out/compare-<base>-seeds<A>-<B>).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    report: ReportArg,
}

#[derive(Debug, clap::Args)]
struct SweepArgs {
    /// A catalog name (see `faultline list`) or a scenario file path.
    scenario: String,
    /// Override a scenario key for every seed (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    #[command(flatten)]
    many: ManySeeds,
    /// Output directory (default: out/<scenario>-seeds<A>-<B>, with the shard if any).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep every seed's files (requests.csv, attempts.csv, events.csv...; failing seeds' are
    /// always kept, with their failure.json).
    #[arg(long)]
    keep_runs: bool,
    /// A fault that affects nothing fails its seed (the `faults` check) instead of warning;
    /// the same as --set strict=true.
    #[arg(long)]
    strict: bool,
    /// Draw the faults (and `[swarm]` knobs) from the seed within the scenario's `[swarm]`
    /// ranges (defaults: every service, most kinds), with a liveness phase after them; the
    /// draw is written into scenario.toml, so a replay needs no --swarm.
    #[arg(long)]
    swarm: bool,
    #[command(flatten)]
    report: ReportArg,
    /// Run only shard K of N of the seeds (1 <= K <= N); `faultline merge` joins the shards.
    #[arg(long, value_name = "K/N", conflicts_with = "shard_from_env")]
    shard: Option<String>,
    /// Take the shard from the environment: K from Kubernetes Indexed Jobs'
    /// JOB_COMPLETION_INDEX (counted from 0), N from FAULTLINE_SHARDS.
    #[arg(long)]
    shard_from_env: bool,
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
    /// A fault that affects nothing fails the run (the `faults` check) instead of warning;
    /// the same as --set strict=true.
    #[arg(long)]
    strict: bool,
    /// Draw the faults (and `[swarm]` knobs) from the seed within the scenario's `[swarm]`
    /// ranges (defaults: every service, most kinds), with a liveness phase after them; the
    /// draw is written into scenario.toml, so a replay needs no --swarm.
    #[arg(long)]
    swarm: bool,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Output directory (default: out/<scenario>-seed<seed>). faultline replaces only its own
    /// earlier outputs, never a directory holding other files.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    report: ReportArg,
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
        None => compare::demo(),
        Some(Command::List) => {
            list();
            Ok(0)
        }
        Some(Command::Show { name }) => show(&name),
        Some(Command::Run(args)) => {
            check_lang(&args.report.lang)?;
            let scenario = load(&args.scenario)?;
            let out = args.out.clone().unwrap_or_else(|| default_out(&scenario));
            with_report(run::run(&scenario, &out), &out, &args.report.lang)
        }
        Some(Command::Check(args)) => check::check(&load(&args)?),
        Some(Command::Sweep(args)) => {
            check_lang(&args.report.lang)?;
            let plan = sweep_plan(&args)?;
            let scenario = load(&ScenarioArgs {
                scenario: args.scenario.clone(),
                seed: None,
                set: args.set.clone(),
                strict: args.strict,
                swarm: args.swarm,
            })?;
            let out = args.out.clone().unwrap_or_else(|| sweep_out(&scenario, &plan));
            with_report(sweep::run(&scenario, &plan, &out), &out, &args.report.lang)
        }
        Some(Command::Merge { dirs, out }) => merge::merge(&dirs, &out),
        Some(Command::Replay { record, out }) => replay::replay(&record, out),
        Some(Command::Shrink { record, out, checker, max_runs }) => {
            if max_runs == 0 {
                return Err(usage("--max-runs 0: at least one run is needed (the run to shrink)"));
            }
            shrink::shrink(&record, &out, &faultline_scenarios::shrink::ShrinkOptions { checker, max_runs })
        }
        Some(Command::Trace { dir, request, window, out }) => trace::trace(&dir, request, window.as_deref(), &out),
        Some(Command::Experiment { name, seeds, jobs: j, out, report }) => {
            check_lang(&report.lang)?;
            experiment::command(&name, seeds.as_deref(), jobs(j)?, out, &report.lang)
        }
        Some(Command::Course { lang, out, seeds, jobs: j }) => {
            check_lang(&Some(lang.clone()))?;
            course::course(seeds.as_deref(), jobs(j)?, &out, &lang)
        }
        Some(Command::Report { dir, lang }) => {
            report(&dir, &lang)?;
            Ok(0)
        }
        Some(Command::Compare(args)) => {
            check_lang(&args.report.lang)?;
            let seeds: SeedRange = args.many.seeds.parse().map_err(usage)?;
            check_count(seeds, Shard::ALL)?;
            let plan =
                sweep::Plan { seeds, shard: Shard::ALL, jobs: jobs(args.many.jobs)?, keep_runs: false, quiet: false };
            let variants = compare_variants(&args)?;
            compare::check_names(&variants)?;
            let base = &variants[0].name;
            let mut name = format!("compare-{base}-seeds{}-{}", seeds.first, seeds.last);
            let given: Vec<&str> =
                args.scenarios.iter().chain(&args.vary).chain(&args.set).map(String::as_str).collect();
            if given.len() > 2 || !args.vary.is_empty() || !args.set.is_empty() {
                name.push_str(&format!("-{}", short_hash(&given)));
            }
            let out = args.out.clone().unwrap_or_else(|| PathBuf::from("out").join(name));
            with_report(compare::compare(&variants, &plan, &out), &out, &args.report.lang)
        }
    }
}

fn jobs(given: Option<usize>) -> Result<usize, CliError> {
    match given {
        Some(0) => Err(usage("--jobs 0: at least one worker thread is needed")),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// The base and the variants of `compare`: each scenario named, then each `--vary` of the base.
fn compare_variants(args: &CompareArgs) -> Result<Vec<compare::Variant>, CliError> {
    let mut variants = Vec::new();
    for name in &args.scenarios {
        let scenario = load(&ScenarioArgs {
            scenario: name.clone(),
            seed: None,
            set: args.set.clone(),
            strict: false,
            swarm: false,
        })?;
        // A file is named by its file name (an edited copy of a catalog scenario keeps the
        // catalog's `name` inside, and must not collide with it).
        let name = match &scenario.source {
            faultline_scenarios::Source::File(path) => std::path::Path::new(path)
                .file_stem()
                .map_or(scenario.spec.name.clone(), |s| s.to_string_lossy().into_owned()),
            _ => scenario.spec.name.clone(),
        };
        variants.push(compare::Variant { name, scenario });
    }
    for vary in &args.vary {
        let mut words = vary.split_whitespace();
        let name = words.next().unwrap_or_default().to_owned();
        let sets: Vec<String> = args.set.iter().cloned().chain(words.map(str::to_owned)).collect();
        if sets.len() == args.set.len() {
            return Err(usage(format!("--vary {vary:?}: write a name, then at least one KEY=VALUE")));
        }
        let scenario = load(&ScenarioArgs {
            scenario: args.scenarios[0].clone(),
            seed: None,
            set: sets,
            strict: false,
            swarm: false,
        })?;
        variants.push(compare::Variant { name, scenario });
    }
    Ok(variants)
}

/// Eight hex digits that tell apart experiments with other scenarios or overrides, for the
/// default output directory's name.
fn short_hash(parts: &[&str]) -> String {
    let text = parts.join("\u{1f}");
    let h = faultline_sim::rng::fnv1a(faultline_sim::rng::FNV_OFFSET, text.as_bytes());
    format!("{:08x}", h >> 32)
}

fn check_count(seeds: SeedRange, shard: Shard) -> Result<(), CliError> {
    let max = faultline_scenarios::experiment::seeds::MAX_SEEDS;
    let n = shard.count(seeds);
    if n > max {
        return Err(usage(format!(
            "--seeds {seeds}: {n} seeds in one process, more than {max}: shard the range (--shard K/N)"
        )));
    }
    Ok(())
}

fn sweep_plan(args: &SweepArgs) -> Result<sweep::Plan, CliError> {
    let seeds: SeedRange = args.many.seeds.parse().map_err(usage)?;
    let jobs = jobs(args.many.jobs)?;
    let shard = match (&args.shard, args.shard_from_env) {
        (Some(s), _) => s.parse().map_err(usage)?,
        (None, true) => shard_from_env()?,
        (None, false) => Shard::ALL,
    };
    check_count(seeds, shard)?;
    Ok(sweep::Plan { seeds, shard, jobs, keep_runs: args.keep_runs, quiet: false })
}

fn shard_from_env() -> Result<Shard, CliError> {
    let read = |name: &str| -> Result<u64, CliError> {
        let v = std::env::var(name).map_err(|_| usage(format!("--shard-from-env: {name} is not set")))?;
        v.trim().parse().map_err(|_| usage(format!("--shard-from-env: {name}={v:?} is not a whole number")))
    };
    Shard::from_index(read("JOB_COMPLETION_INDEX")?, read("FAULTLINE_SHARDS")?)
        .map_err(|e| usage(format!("--shard-from-env: {e}")))
}

fn sweep_out(s: &Scenario, plan: &sweep::Plan) -> PathBuf {
    let mut name = format!("{}-seeds{}-{}", s.spec.name, plan.seeds.first, plan.seeds.last);
    if !s.overrides.is_empty() || matches!(s.source, faultline_scenarios::Source::File(_)) {
        let parts: Vec<&str> =
            std::iter::once(s.source.as_arg()).chain(s.overrides.iter().map(String::as_str)).collect();
        name.push_str(&format!("-{}", short_hash(&parts)));
    }
    if plan.shard != Shard::ALL {
        name.push_str(&format!("-shard{}of{}", plan.shard.k, plan.shard.n));
    }
    PathBuf::from("out").join(name)
}

fn output_error(e: faultline_reports::output::OutputError) -> CliError {
    match e {
        faultline_reports::output::OutputError::NotOurs { .. } => usage(e.to_string()),
        faultline_reports::output::OutputError::Io { .. } => internal(e.to_string()),
    }
}

fn load(args: &ScenarioArgs) -> Result<Scenario, CliError> {
    let mut sets = args.set.clone();
    if args.strict {
        sets.push("strict=true".to_owned());
    }
    let mut scenario = faultline_scenarios::load(&args.scenario, &sets, args.seed).map_err(|e| usage(e.to_string()))?;
    if args.swarm {
        scenario = scenario.with_swarm().map_err(|e| usage(e.to_string()))?;
    }
    for w in &scenario.warnings {
        eprintln!("faultline: warning: {w}");
    }
    Ok(scenario)
}

fn default_out(s: &Scenario) -> PathBuf {
    PathBuf::from("out").join(format!("{}-seed{}", s.spec.name, s.spec.seed))
}

/// The catalog in groups: systems, planted bugs, experiments.
fn list() {
    let names = catalog::names();
    let experiments = faultline_scenarios::course::names();
    let width = names.iter().chain(&experiments).map(String::len).max().unwrap_or(0);
    let description = |name: &str| {
        faultline_scenarios::load(name, &[], None).map(|s| s.description).unwrap_or_else(|e| format!("(broken: {e})"))
    };
    println!("Systems (`faultline run NAME`; `faultline show NAME` prints one to edit):");
    for name in names.iter().filter(|n| !catalog::FAILING_ON_PURPOSE.contains(&n.as_str())) {
        println!("{name:<width$}  {}", description(name));
    }
    println!("\nPlanted bugs (a check fails on purpose: `faultline run NAME --set KEY=VALUE`):");
    for name in catalog::FAILING_ON_PURPOSE {
        println!("{name:<width$}  {}", description(name));
    }
    for (name, set, caught) in catalog::PLANTED_BUGS {
        println!("{name:<width$}  --set '{set}': caught by {caught}");
    }
    println!("\nStorms (fault-plan fragments for a scenario's [[storms]]: storm = NAME, at_s, ...; docs/scenario-format.md):");
    for (name, what) in faultline_scenarios::file::storm::STORMS {
        println!("{name:<width$}  {what}");
    }
    println!("\nExperiments (a claim of the course notes tested: `faultline experiment NAME`; `faultline course` runs them all):");
    for name in &experiments {
        let line = faultline_scenarios::course::load(name)
            .map(|e| format!("{}: {} ({})", e.pattern, e.claim_en, e.source))
            .unwrap_or_else(|e| format!("(broken: {e})"));
        println!("{name:<width$}  {line}");
    }
}

fn show(name: &str) -> Result<u8, CliError> {
    match catalog::get(name) {
        Some(text) => {
            print!("{text}");
            Ok(0)
        }
        None => Err(usage(format!(
            "no built-in scenario \"{name}\"{}; `faultline list` shows the catalog",
            faultline_scenarios::did_you_mean(name, &catalog::names())
        ))),
    }
}

fn check_lang(lang: &Option<String>) -> Result<(), CliError> {
    match lang {
        Some(l) => l.parse::<faultline_reports::report::Lang>().map(|_| ()).map_err(usage),
        None => Ok(()),
    }
}

/// After a command that wrote `out`: its report too, if asked for. The command's exit code
/// stands (a violated check is still exit 1 with its report written).
fn with_report(done: Result<u8, CliError>, out: &std::path::Path, lang: &Option<String>) -> Result<u8, CliError> {
    let code = done?;
    if let Some(lang) = lang {
        report(out, lang)?;
    }
    Ok(code)
}

/// Writes the report of `dir` in `lang` and says where it is.
fn report(dir: &std::path::Path, lang: &str) -> Result<(), CliError> {
    let html = report_quietly(dir, lang)?;
    println!("report: {} (and report.{lang}.md beside it)", html.display());
    Ok(())
}

/// Writes the report of `dir` in `lang`; returns its HTML file.
fn report_quietly(dir: &std::path::Path, lang: &str) -> Result<PathBuf, CliError> {
    use faultline_reports::report::{self, ReportError};
    let lang: report::Lang = lang.parse().map_err(usage)?;
    match report::write(dir, lang) {
        Ok(html) => Ok(html),
        Err(e @ ReportError::NotAnOutput(_)) => Err(usage(format!("report: {e}"))),
        Err(e) => Err(internal(format!("report: {e}"))),
    }
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
