//! Scenarios: the TOML format, `--set` overrides, the built-in catalog, and pattern stacks.
//!
//! Where to start: [`load`] turns a catalog name or a file path plus overrides into a
//! [`Scenario`] (a validated `SimSpec` and where it came from); [`execute`] runs it with every
//! checker that applies and returns its verdict. [`catalog`] lists the built-in scenarios;
//! [`file`] is the format; [`stack`] puts patterns on edges; [`checkers`] are the invariants.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod catalog;
pub mod checkers;
pub mod file;
pub mod overrides;
pub mod pipeline;
pub mod stack;
mod suggest;

use std::fmt;
use std::path::Path;

use faultline_sim::SimSpec;

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
}

impl Source {
    /// The name or path as the user would type it.
    pub fn as_arg(&self) -> &str {
        match self {
            Source::Catalog(n) | Source::File(n) => n,
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
}

impl Scenario {
    /// A scenario built in Rust (`SimSpec::builder`), with no file behind it.
    pub fn from_spec(spec: SimSpec) -> Scenario {
        let source = Source::File(spec.name.clone());
        Scenario {
            spec,
            description: String::new(),
            source,
            overrides: Vec::new(),
            document: None,
            warnings: Vec::new(),
        }
    }

    /// The scenario as it ran, as TOML: the file with every override applied and the seed set,
    /// under a comment with the command that reproduces it. `None` for a scenario built in Rust.
    pub fn as_run_toml(&self, program: &str) -> Option<String> {
        let mut doc = self.document.clone()?;
        doc.insert("name".to_owned(), toml::Value::String(self.spec.name.clone()));
        doc.insert("seed".to_owned(), toml::Value::Integer(self.spec.seed as i64));
        let body = toml::to_string(&doc).ok()?;
        Some(format!(
            "# The scenario as run: {} with every --set applied.\n# reproduce: {program} {}\n\n{body}",
            self.source.as_arg(),
            self.reproduce_args()
        ))
    }

    /// The arguments of `faultline run` that reproduce this scenario and seed exactly.
    pub fn reproduce_args(&self) -> String {
        let mut s = format!("run {} --seed {}", shell_quote(self.source.as_arg()), self.spec.seed);
        for o in &self.overrides {
            s.push_str(&format!(" --set {}", shell_quote(o)));
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

/// Loads a catalog name or a file, applies `overrides` and `seed`, and validates the result.
pub fn load(name_or_path: &str, overrides: &[String], seed: Option<u64>) -> Result<Scenario, ScenarioError> {
    let path = Path::new(name_or_path);
    let (text, label, default_name, source) = if let Some(text) = catalog::get(name_or_path) {
        (
            text.to_owned(),
            format!("catalog/{name_or_path}.toml"),
            name_or_path.to_owned(),
            Source::Catalog(name_or_path.to_owned()),
        )
    } else if path.is_file() || name_or_path.ends_with(".toml") || name_or_path.contains('/') {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScenarioError::Io { file: name_or_path.to_owned(), message: e.to_string() })?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("scenario").to_owned();
        (text, name_or_path.to_owned(), stem, Source::File(name_or_path.to_owned()))
    } else {
        return Err(ScenarioError::NotFound { given: name_or_path.to_owned(), catalog: catalog::names() });
    };
    let parsed: Vec<Override> =
        overrides.iter().map(|o| Override::parse(o)).collect::<Result<_, _>>().map_err(ScenarioError::Override)?;
    let (mut spec, description, document) = parse(&text, &label, &default_name, &parsed)?;
    if let Some(seed) = seed {
        spec.seed = seed;
    }
    let overrides = overrides.to_vec();
    Ok(Scenario { spec, description, source, overrides, document: Some(document), warnings: Vec::new() })
}

/// Parses scenario text (named `label` in messages) with overrides applied.
fn parse(
    text: &str,
    label: &str,
    default_name: &str,
    overrides: &[Override],
) -> Result<(SimSpec, String, toml::Table), ScenarioError> {
    let mut doc: toml::Table =
        toml::from_str(text).map_err(|e| ScenarioError::Syntax { file: label.to_owned(), message: e.to_string() })?;
    overrides::apply_all(&mut doc, overrides).map_err(ScenarioError::Override)?;
    let file: file::ScenarioFile = serde_path_to_error::deserialize(toml::Value::Table(doc.clone())).map_err(|e| {
        let key = e.path().to_string();
        // The toml crate appends "\nin `key`" to its messages; the key is already named.
        let message = e.into_inner().to_string();
        let message = message
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("in `"))
            .collect::<Vec<_>>()
            .join("; ");
        ScenarioError::Key { file: label.to_owned(), key: if key == "." { "(top level)".into() } else { key }, message }
    })?;
    let (spec, description) = file.into_spec(default_name).map_err(|e| ScenarioError::Key {
        file: label.to_owned(),
        key: e.key,
        message: e.message,
    })?;
    Ok((spec, description, doc))
}

/// Parses scenario text directly (for tests and tools), naming it `label` in errors.
pub fn from_str(text: &str, label: &str, overrides: &[String]) -> Result<Scenario, ScenarioError> {
    let parsed: Vec<Override> =
        overrides.iter().map(|o| Override::parse(o)).collect::<Result<_, _>>().map_err(ScenarioError::Override)?;
    let (spec, description, document) = parse(text, label, label, &parsed)?;
    let source = Source::File(label.to_owned());
    Ok(Scenario {
        spec,
        description,
        source,
        overrides: overrides.to_vec(),
        document: Some(document),
        warnings: Vec::new(),
    })
}
