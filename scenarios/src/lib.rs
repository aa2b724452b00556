//! Scenarios: the TOML format, `--set` overrides, the built-in catalog, and pattern stacks.
//!
//! Where to start: [`load`] turns a catalog name or a file path plus overrides into a
//! [`Scenario`] (a validated `SimSpec` and where it came from); [`execute`] runs it with every
//! checker that applies and returns its verdict. [`catalog`] lists the built-in scenarios;
//! [`file`](mod@file) is the format; [`stack`] puts patterns on edges; [`checkers`] are the invariants.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod catalog;
pub mod checkers;
pub mod course;
mod edit;
pub mod experiment;
pub mod failure;
pub mod file;
mod layers;
mod load;
pub mod overrides;
pub mod pipeline;
mod read;
pub mod shrink;
pub mod stack;
mod suggest;
pub mod swarm;

use std::fmt;

use faultline_sim::SimSpec;

pub use load::{from_str, load};
pub use overrides::Override;
pub use pipeline::{execute, execute_spec, RunOptions};
pub use suggest::did_you_mean;

/// Where a scenario came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A built-in scenario, by name.
    Catalog(String),
    /// A file, by the path given.
    File(String),
    /// Built in Rust (`SimSpec::builder`), named as the spec is.
    Code(String),
}

impl Source {
    /// The name or path as the user would type it.
    pub fn as_arg(&self) -> &str {
        match self {
            Source::Catalog(n) | Source::File(n) | Source::Code(n) => n,
        }
    }
}

/// A loaded, validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// What to run.
    pub spec: SimSpec,
    /// From the file's `description`.
    pub description: String,
    /// Where it came from.
    pub source: Source,
    /// The `--set` overrides applied, as given.
    pub overrides: Vec<String>,
    /// The scenario file as run (every override applied), when it came from a file.
    pub document: Option<toml::Table>,
    /// Things in the scenario that are allowed but probably not meant (a fault that starts
    /// after the run ends, say), one line each.
    pub warnings: Vec<String>,
    /// What it expects to happen besides the invariants (`strict`, `[[sometimes]]`).
    pub expect: checkers::expect::Expectations,
    /// The ranges `--swarm` draws from (`[swarm]`), when the file declares them.
    pub swarm: Option<swarm::SwarmSpec>,
    /// The scenario before a swarm drew its faults, when one did ([`Scenario::with_swarm`]):
    /// another seed draws again from it.
    pub swarm_base: Option<Box<Scenario>>,
    /// Its faults were replaced in code ([`Scenario::with_faults`]): the source and overrides
    /// no longer say what runs, only the document does.
    pub edited: bool,
}

impl Scenario {
    /// A scenario built in Rust (`SimSpec::builder`), with no file behind it.
    pub fn from_spec(spec: SimSpec) -> Scenario {
        let source = Source::Code(spec.name.clone());
        Scenario {
            spec,
            description: String::new(),
            source,
            overrides: Vec::new(),
            document: None,
            warnings: Vec::new(),
            expect: Default::default(),
            swarm: None,
            swarm_base: None,
            edited: false,
        }
    }

    /// The same scenario on another seed (with a swarm, the faults that seed draws).
    pub fn with_seed(&self, seed: u64) -> Scenario {
        if let Some(base) = &self.swarm_base {
            return base
                .with_seed(seed)
                .with_swarm()
                .expect("a swarm draws only what its ranges allow (checked when the scenario was read)");
        }
        let mut s = self.clone();
        s.spec.seed = seed;
        s
    }

    /// The scenario as it ran, as TOML: the file with every override applied and the seed set,
    /// under a comment with the command that reproduces it. `None` for a scenario built in Rust.
    pub fn as_run_toml(&self, program: &str) -> Option<String> {
        let mut doc = self.document.clone()?;
        doc.insert("name".to_owned(), toml::Value::String(self.spec.name.clone()));
        doc.insert("seed".to_owned(), toml::Value::Integer(self.spec.seed as i64));
        let body = toml::to_string(&doc).ok()?;
        Some(format!(
            "# The scenario as run: {}{}.\n# reproduce: {program} {}\n\n{body}",
            self.source.as_arg(),
            if self.edited {
                " as changed in code"
            } else if self.overrides.is_empty() {
                ""
            } else {
                " with every --set applied"
            },
            if self.edited { format!("run scenario.toml --seed {}", self.spec.seed) } else { self.reproduce_args() }
        ))
    }

    /// The arguments of `faultline run` that reproduce this scenario and seed exactly.
    /// For a scenario built in Rust there is no such command: it says so.
    pub fn reproduce_args(&self) -> String {
        if let Source::Code(name) = &self.source {
            return format!("(built in Rust: {name}, seed {})", self.spec.seed);
        }
        if self.edited {
            return format!(
                "(changed in code: {} at seed {}; its scenario.toml or failure.json says what ran)",
                self.source.as_arg(),
                self.spec.seed
            );
        }
        let mut s = format!("run {} --seed {}", shell_quote(self.source.as_arg()), self.spec.seed);
        for o in &self.overrides {
            s.push_str(&format!(" --set {}", shell_quote(o)));
        }
        if self.swarm_base.is_some() {
            s.push_str(" --swarm");
        }
        s
    }
}

fn shell_quote(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,".contains(c)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Why a scenario could not be loaded. Every variant is the user's input, not a bug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScenarioError {
    /// Neither a catalog name nor a readable file.
    NotFound {
        /// What was given.
        given: String,
        /// The catalog's names.
        catalog: Vec<String>,
    },
    /// The file could not be read.
    Io {
        /// The path.
        file: String,
        /// The OS error.
        message: String,
    },
    /// The file is not valid TOML.
    Syntax {
        /// The path.
        file: String,
        /// The parser's message with line and column.
        message: String,
    },
    /// A key or value is wrong.
    Key {
        /// The path (or catalog name).
        file: String,
        /// Dotted key.
        key: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// A `--set` is malformed or leads nowhere.
    Override(String),
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioError::NotFound { given, catalog } => write!(
                f,
                "no scenario \"{given}\": not a file, and not in the catalog ({}); `faultline list` shows the catalog",
                catalog.join(", ")
            ),
            ScenarioError::Io { file, message } => write!(f, "{file}: cannot read: {message}"),
            ScenarioError::Syntax { file, message } => {
                // The parser's message is a multi-line snippet; keep it on one line.
                let parts: Vec<&str> = message.lines().map(str::trim).filter(|l| !l.is_empty() && *l != "|").collect();
                write!(f, "{file}: not valid TOML: {}", parts.join(" "))
            }
            ScenarioError::Key { file, key, message } => write!(f, "{file}: key `{key}`: {message}"),
            ScenarioError::Override(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ScenarioError {}
