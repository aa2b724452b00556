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

/// The notes' stars for one pattern.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct StarsDef {
    /// 복잡도.
    pub complexity: u8,
    /// 성능 영향.
    pub performance: u8,
    /// 운영 부담.
    pub operations: u8,
    /// 비용.
    pub cost: u8,
}

/// A selection matrix's row as written.
#[derive(Debug, Clone, Deserialize)]
pub struct MatrixRowDef {
    /// Pattern, English.
    pub pattern: String,
    /// Pattern, Korean.
    pub pattern_ko: String,
    /// Situation, English.
    pub situation_en: String,
    /// Situation, Korean.
    pub situation_ko: String,
    /// The stars.
    pub stars: StarsDef,
}

/// A selection matrix's row, measured.
#[derive(Debug, Clone, Deserialize)]
pub struct MatrixRow {
    /// As written.
    pub row: MatrixRowDef,
    /// Calm: mean latency added, ms.
    pub added_ms: f64,
    /// Calm: nodes added.
    pub added_nodes: f64,
    /// Calm: calls per request added.
    pub added_calls: f64,
    /// Storm: success without, with.
    pub storm_success: [f64; 2],
    /// Storm: p99 without, with, ms.
    pub storm_p99_ms: [f64; 2],
    /// Storm: violations without, with.
    pub storm_violations: [f64; 2],
}

/// One column of stars against its measure.
#[derive(Debug, Clone, Deserialize)]
pub struct RankRow {
    /// `performance`, `operations` or `cost`.
    pub column: String,
    /// Spearman's rho (`None`: undefined).
    pub rho: Option<f64>,
    /// The agreement wanted.
    pub at_least: f64,
    /// It agrees.
    pub holds: bool,
}

/// A selection matrix, measured.
#[derive(Debug, Clone, Deserialize)]
pub struct MatrixFile {
    /// Its rows.
    pub rows: Vec<MatrixRow>,
    /// Its rank checks.
    pub ranks: Vec<RankRow>,
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
    /// A selection matrix, when the experiment has one.
    #[serde(default)]
    pub matrix: Option<MatrixFile>,
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
