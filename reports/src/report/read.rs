//! Reading an output directory back: a run's, a sweep's or a comparison's, told apart by the
//! files faultline wrote there. A directory that is none of them, or whose files do not parse,
//! is refused with one line naming the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use faultline_sim::{RunOutput, Verdict};
use serde::Deserialize;

/// Why a directory cannot be reported on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAnOutput {
    /// The directory or file.
    pub path: PathBuf,
    /// What is wrong.
    pub why: String,
}

impl std::fmt::Display for NotAnOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.why)
    }
}

/// A run's `summary.json`, as much as a report reads.
#[derive(Debug, Clone, Deserialize)]
pub struct RunSummary {
    /// The faultline that wrote it.
    pub faultline_version: String,
    /// The scenario's description.
    #[serde(default)]
    pub description: String,
    /// The command that reproduces it.
    pub reproduce: String,
    /// Every check.
    pub verdict: Verdict,
    /// The figures (flattened into the summary's top level).
    #[serde(flatten)]
    pub output: RunOutput,
}

/// One row of `events.csv`.
#[derive(Debug, Clone, Deserialize)]
pub struct EventRow {
    /// Virtual time, µs.
    pub t_us: u64,
    /// Node.
    pub node: String,
    /// `pattern.kind` or the simulator's kind.
    pub kind: String,
    /// Details.
    #[serde(default)]
    pub detail: String,
}

/// A run's output directory.
#[derive(Debug, Clone)]
pub struct RunFiles {
    /// `summary.json`.
    pub summary: RunSummary,
    /// `events.csv`.
    pub events: Vec<EventRow>,
    /// `scenario.toml`, parsed (absent for a scenario built in Rust).
    pub scenario: Option<toml::Table>,
    /// The client edge's calls from `requests.csv`: start and latency (µs), and outcome.
    pub client_calls: Vec<(u64, u64, String)>,
    /// `levels.csv` (empty in outputs from before it).
    pub levels: Vec<crate::csv_sink::LevelCsvRow>,
}

/// One difference of a comparison's `summary.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct DiffRow {
    /// The metric.
    pub metric: MetricRow,
    /// The variant.
    pub variant: String,
    /// Means.
    pub base_mean: f64,
    /// The variant's.
    pub variant_mean: f64,
    /// Mean paired difference.
    pub mean_diff: f64,
    /// CI.
    pub ci_low: f64,
    /// CI.
    pub ci_high: f64,
    /// Wilcoxon p.
    pub p_value: f64,
    /// `better`, `worse` or `no_detectable_difference`.
    pub finding: String,
}

/// A metric as a comparison names it.
#[derive(Debug, Clone, Deserialize)]
pub struct MetricRow {
    /// Its name.
    pub name: String,
    /// `higher` or `lower`.
    pub better: String,
}

/// A comparison's `summary.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct CompareSummary {
    /// The base's name.
    pub base: String,
    /// The others.
    pub variants: Vec<String>,
    /// `A..B`.
    pub seeds: String,
    /// Every check held everywhere.
    pub passed: bool,
    /// Per variant, failing seeds.
    pub failing_seeds: BTreeMap<String, Vec<u64>>,
    /// Every difference.
    pub differences: Vec<DiffRow>,
    /// The fault windows (the same in every variant and seed).
    #[serde(default)]
    pub faults: Vec<faultline_sim::FaultWindow>,
}

/// One bin of a seed's client series (`results.jsonl`).
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct BinRow {
    /// Start, s.
    pub t_s: f64,
    /// Share answered.
    pub success: f64,
    /// p99, ms.
    pub p99_ms: f64,
    /// p99 of the answered, ms (none answered, or a file from before it: `None`).
    #[serde(default)]
    pub ok_p99_ms: Option<f64>,
}

/// A seed's result, as much as a report reads.
#[derive(Debug, Clone, Deserialize)]
pub struct SeedRow {
    /// The seed.
    pub seed: u64,
    /// Its client series.
    pub series: Vec<BinRow>,
}

/// A comparison's directory.
#[derive(Debug, Clone)]
pub struct CompareFiles {
    /// `summary.json`.
    pub summary: CompareSummary,
    /// Per variant (base first), its seeds.
    pub variants: Vec<(String, Vec<SeedRow>)>,
    /// The base's `sweep.json` (scenario, overrides, seeds).
    pub key: serde_json::Value,
    /// `compare.json`: every variant's name and key.
    pub keys: serde_json::Value,
}

/// A sweep's directory.
#[derive(Debug, Clone)]
pub struct SweepFiles {
    /// `summary.json`, as JSON.
    pub summary: serde_json::Value,
    /// `sweep.json`.
    pub key: serde_json::Value,
}

/// What a directory holds.
#[derive(Debug, Clone)]
pub enum Output {
    /// One run.
    Run(Box<RunFiles>),
    /// A comparison.
    Compare(Box<CompareFiles>),
    /// A sweep.
    Sweep(Box<SweepFiles>),
    /// An experiment (`experiment.json`) and its cases' comparisons.
    Experiment(Box<ExperimentFiles>),
    /// A course (`course.json`) and its experiments.
    Course(Box<CourseFiles>),
}

/// A course's directory.
#[derive(Debug, Clone)]
pub struct CourseFiles {
    /// `course.json`.
    pub course: super::claims::CourseFile,
    /// Each experiment's `experiment.json`, in course order.
    pub experiments: Vec<super::claims::ExperimentFile>,
}

/// An experiment's directory.
#[derive(Debug, Clone)]
pub struct ExperimentFiles {
    /// `experiment.json`.
    pub result: super::claims::ExperimentFile,
    /// Per case, its comparison.
    pub cases: Vec<CompareFiles>,
    /// The faultline that wrote it.
    pub version: String,
}

fn bad(path: &Path, why: impl Into<String>) -> NotAnOutput {
    NotAnOutput { path: path.to_path_buf(), why: why.into() }
}

fn json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, NotAnOutput> {
    let text = std::fs::read_to_string(path).map_err(|e| bad(path, e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| bad(path, format!("does not parse as faultline wrote it ({e})")))
}

/// Reads `dir`.
pub fn read(dir: &Path) -> Result<Output, NotAnOutput> {
    if !dir.is_dir() {
        return Err(bad(dir, "is not a directory (give a run's, a sweep's or a comparison's --out)"));
    }
    if dir.join("course.json").is_file() {
        let course: super::claims::CourseFile = json(&dir.join("course.json"))?;
        let experiments = course
            .experiments
            .iter()
            .map(|e| json(&dir.join(&e.name).join("experiment.json")))
            .collect::<Result<_, _>>()?;
        return Ok(Output::Course(Box::new(CourseFiles { course, experiments })));
    }
    if dir.join("experiment.json").is_file() {
        let result: super::claims::ExperimentFile = json(&dir.join("experiment.json"))?;
        let cases: Vec<CompareFiles> =
            result.cases.iter().map(|c| read_compare(&dir.join(&c.case.name))).collect::<Result<_, _>>()?;
        let version = cases.first().and_then(|c| c.key["faultline_version"].as_str()).unwrap_or("?").to_owned();
        return Ok(Output::Experiment(Box::new(ExperimentFiles { result, cases, version })));
    }
    if dir.join("compare.json").is_file() {
        return read_compare(dir).map(|c| Output::Compare(Box::new(c)));
    }
    if dir.join("sweep.json").is_file() {
        let summary = json(&dir.join("summary.json"))?;
        return Ok(Output::Sweep(Box::new(SweepFiles { summary, key: json(&dir.join("sweep.json"))? })));
    }
    if dir.join("summary.json").is_file() && dir.join("events.csv").is_file() {
        return read_run(dir).map(|r| Output::Run(Box::new(r)));
    }
    Err(bad(dir, "holds no faultline output (no summary.json with events.csv, sweep.json, compare.json, experiment.json or course.json)"))
}

fn read_run(dir: &Path) -> Result<RunFiles, NotAnOutput> {
    let summary: RunSummary = json(&dir.join("summary.json"))?;
    let path = dir.join("events.csv");
    let mut reader = csv::Reader::from_path(&path).map_err(|e| bad(&path, e.to_string()))?;
    let events = reader
        .deserialize()
        .collect::<Result<Vec<EventRow>, _>>()
        .map_err(|e| bad(&path, format!("does not parse as faultline wrote it ({e})")))?;
    let toml_path = dir.join("scenario.toml");
    let scenario = match std::fs::read_to_string(&toml_path) {
        Ok(text) => Some(text.parse::<toml::Table>().map_err(|e| bad(&toml_path, e.to_string()))?),
        Err(_) => None,
    };
    let client = summary.output.edges.first().map(|e| e.edge.clone()).unwrap_or_default();
    let path = dir.join("requests.csv");
    let rows = crate::csv_sink::read_requests(&path).map_err(|e| bad(&path, e))?;
    let client_calls =
        rows.into_iter().filter(|r| r.edge == client).map(|r| (r.start_us, r.latency_us, r.outcome)).collect();
    let path = dir.join("levels.csv");
    let levels = crate::csv_sink::read_levels(&path).map_err(|e| bad(&path, e))?;
    Ok(RunFiles { summary, events, scenario, client_calls, levels })
}

fn read_compare(dir: &Path) -> Result<CompareFiles, NotAnOutput> {
    let summary: CompareSummary = json(&dir.join("summary.json"))?;
    let mut variants = Vec::new();
    for name in std::iter::once(&summary.base).chain(&summary.variants) {
        let path = dir.join(name).join("results.jsonl");
        let text = std::fs::read_to_string(&path).map_err(|e| bad(&path, e.to_string()))?;
        let seeds = text
            .lines()
            .map(serde_json::from_str::<SeedRow>)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(&path, format!("does not parse as faultline wrote it ({e})")))?;
        variants.push((name.clone(), seeds));
    }
    let key = json(&dir.join(&summary.base).join("sweep.json"))?;
    Ok(CompareFiles { summary, variants, key, keys: json(&dir.join("compare.json"))? })
}
