//! Commands: `faultline` (the demo), `list`, `show`, `run`, `check`. Parsing (clap) and exit
//! codes live here; every command that runs a scenario goes through the library's one pipeline
//! (`faultline_scenarios::execute`), so the verdict it prints is the verdict it writes.

mod check;
mod run;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
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
    /// Print a built-in scenario's TOML, to copy and edit.
    Show {
        /// A catalog name (see `faultline list`).
        name: String,
    },
    /// Run one scenario for one seed with every checker that applies, and write requests.csv,
    /// events.csv, summary.json (with the verdict), scenario.toml and charts.
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
    /// Output directory (default: out/<scenario>-seed<seed>). faultline replaces only its own
    /// earlier outputs, never a directory holding other files.
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
        None => run::demo(),
        Some(Command::List) => {
            list();
            Ok(0)
        }
        Some(Command::Show { name }) => show(&name),
        Some(Command::Run(args)) => {
            let scenario = load(&args.scenario)?;
            let out = args.out.unwrap_or_else(|| default_out(&scenario));
            run::run(&scenario, &out)
        }
        Some(Command::Check(args)) => check::check(&load(&args)?),
    }
}

fn load(args: &ScenarioArgs) -> Result<Scenario, CliError> {
    let scenario = faultline_scenarios::load(&args.scenario, &args.set, args.seed).map_err(|e| usage(e.to_string()))?;
    for w in &scenario.warnings {
        eprintln!("faultline: warning: {w}");
    }
    Ok(scenario)
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
