//! `experiment.json` and `course.json` as a report reads them (the simulator's crates write
//! them; a report only reads files).

use serde::Deserialize;

/// An experiment as written.
#[derive(Debug, Clone, Deserialize)]
pub struct ExperimentDef {
    /// Its name.
    pub name: String,
    /// The pattern, in English.
    pub pattern: String,
    /// In Korean.
    pub pattern_ko: String,
    /// Where the notes say it.
    pub source: String,
    /// The notes' words.
    pub quote: String,
    /// In English.
    pub claim_en: String,
}

/// A case as written.
#[derive(Debug, Clone, Deserialize)]
pub struct CaseDef {
    /// Its directory.
    pub name: String,
    /// The condition, in English.
    pub when_en: String,
    /// In Korean.
    pub when_ko: String,
    /// Base and variant names.
    pub labels: [String; 2],
    /// Checker violations are measured.
    #[serde(default)]
    pub measure_checks: bool,
}

/// An expectation as written.
#[derive(Debug, Clone, Deserialize)]
pub struct ExpectDef {
    /// The metric.
    pub metric: String,
    /// The wanted finding (`better`, `worse`, `same`).
    pub finding: Option<String>,
    /// Bounds on the variant's mean.
    pub at_most: Option<f64>,
    /// Lower bound.
    pub at_least: Option<f64>,
    /// Bounds on variant / base.
    pub ratio_at_most: Option<f64>,
    /// Lower bound.
    pub ratio_at_least: Option<f64>,
}

/// An expectation, measured.
#[derive(Debug, Clone, Deserialize)]
pub struct ExpectRow {
    /// As written.
    pub expect: ExpectDef,
    /// Base mean (`None`: not measured).
    pub base_mean: Option<f64>,
    /// Variant mean.
    pub variant_mean: Option<f64>,
    /// Variant / base.
    pub ratio: Option<f64>,
    /// CI of the paired difference.
    pub ci_low: Option<f64>,
    /// Upper end.
    pub ci_high: Option<f64>,
    /// Wilcoxon p.
    pub p_value: Option<f64>,
    /// `better`, `worse`, `no_detectable_difference`.
    pub finding: String,
    /// It held.
    pub holds: bool,
}

/// A case, measured.
#[derive(Debug, Clone, Deserialize)]
pub struct CaseRow {
    /// As written.
    pub case: CaseDef,
    /// Seeds with violated checks, per label.
    pub failed_checks: Vec<(String, Vec<u64>)>,
    /// Each expectation.
    pub expects: Vec<ExpectRow>,
    /// It held.
    pub holds: bool,
}

/// `experiment.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct ExperimentFile {
    /// As written.
    pub experiment: ExperimentDef,
    /// Seeds run.
    pub seeds: String,
    /// The cases.
    pub cases: Vec<CaseRow>,
    /// `holds`, `holds_only_when`, `does_not_hold`.
    pub verdict: String,
}

/// One experiment in `course.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct CourseEntry {
    /// Its directory.
    pub name: String,
    /// Pattern, English.
    pub pattern: String,
    /// Pattern, Korean.
    pub pattern_ko: String,
    /// Seeds run.
    pub seeds: String,
    /// The verdict.
    pub verdict: String,
    /// No unmeasured check failed.
    pub checks_passed: bool,
}

/// `course.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct CourseFile {
    /// The faultline that wrote it.
    pub faultline_version: String,
    /// `--seeds` when the course was run with them.
    #[serde(default)]
    pub seeds: Option<String>,
    /// Every experiment, in course order.
    pub experiments: Vec<CourseEntry>,
}
