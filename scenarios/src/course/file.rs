//! An experiment file (`scenarios/experiments/NAME.toml`): a claim of the course notes, quoted,
//! and the cases it is tested under, each a comparison of a base and a variant with what the
//! claim expects of them.

use serde::{Deserialize, Serialize};
use toml::Value;

use crate::experiment::compare::metric_named;
use crate::experiment::SeedRange;
use crate::read::de::{de_at, err, KeyError};

/// The fewest seeds an experiment file may name: a claim is tested over many seeds, not one.
pub const MIN_SEEDS: u64 = 30;

/// A claim and the cases it is tested under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Its name (the file stem; a directory name).
    pub name: String,
    /// The pattern the claim is about, in English (a section of the course).
    pub pattern: String,
    /// The same in Korean.
    pub pattern_ko: String,
    /// Where the claim is: `seeds/002, line 54`.
    pub source: String,
    /// The claim as the notes say it (verbatim).
    pub quote: String,
    /// The claim in English.
    pub claim_en: String,
    /// The seeds every case runs, `A..B` (at least [`MIN_SEEDS`]).
    #[serde(default = "default_seeds")]
    pub seeds: String,
    /// The conditions the claim is tested under.
    pub cases: Vec<Case>,
    /// A selection matrix's rows (the `matrix` module measures them); empty for other claims.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matrix: Vec<Row>,
}

fn default_seeds() -> String {
    format!("1..{MIN_SEEDS}")
}

/// One condition: a base and a variant compared on the same seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// A directory name.
    pub name: String,
    /// The condition in English ("when the dependency hangs behind a 30 s timeout").
    pub when_en: String,
    /// The same in Korean.
    pub when_ko: String,
    /// The base: a catalog scenario or a file path.
    pub base: String,
    /// Overrides of the base.
    #[serde(default)]
    pub base_set: Vec<String>,
    /// The variant's scenario (default: the base's).
    #[serde(default)]
    pub variant: Option<String>,
    /// Overrides of the variant.
    #[serde(default)]
    pub set: Vec<String>,
    /// What the base and the variant are called in tables and charts.
    #[serde(default = "default_labels")]
    pub labels: [String; 2],
    /// Checker violations are part of what is measured (a planted bug is the base) rather than
    /// a failed check.
    #[serde(default)]
    pub measure_checks: bool,
    /// What the claim expects of the variant against the base (nothing, only in a case that
    /// measures a selection matrix's row).
    #[serde(default)]
    pub expect: Vec<Expect>,
}

/// The notes' stars for one pattern, 1 to 5 each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stars {
    /// 복잡도.
    pub complexity: u8,
    /// 성능 영향.
    pub performance: u8,
    /// 운영 부담.
    pub operations: u8,
    /// 비용 (💰).
    pub cost: u8,
}

/// One row of the matrix as the file gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// The pattern, in English.
    pub pattern: String,
    /// The same in Korean.
    pub pattern_ko: String,
    /// The situation the notes recommend it for, in English.
    pub situation_en: String,
    /// The same in Korean.
    pub situation_ko: String,
    /// The notes' stars.
    pub stars: Stars,
    /// The case measuring it without faults.
    pub calm: String,
    /// The case measuring it under a storm.
    pub storm: String,
}

fn default_labels() -> [String; 2] {
    ["without".to_owned(), "with".to_owned()]
}

/// The finding a claim wants on a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Want {
    /// Better beyond noise (docs/experiments.md).
    Better,
    /// Worse beyond noise.
    Worse,
    /// No detectable difference.
    Same,
}

/// What a claim expects of one metric. Every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// A metric name (see `experiment::compare::metric_named`).
    pub metric: String,
    /// The paired comparison's finding.
    #[serde(default)]
    pub finding: Option<Want>,
    /// The variant's mean is at most this.
    #[serde(default)]
    pub at_most: Option<f64>,
    /// The variant's mean is at least this.
    #[serde(default)]
    pub at_least: Option<f64>,
    /// Variant mean / base mean is at most this (0.1: "cut by 90%").
    #[serde(default)]
    pub ratio_at_most: Option<f64>,
    /// Variant mean / base mean is at least this.
    #[serde(default)]
    pub ratio_at_least: Option<f64>,
}

impl Expect {
    fn has_condition(&self) -> bool {
        self.finding.is_some()
            || self.at_most.is_some()
            || self.at_least.is_some()
            || self.ratio_at_most.is_some()
            || self.ratio_at_least.is_some()
    }
}

/// Reads and checks an experiment file's text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Experiment, String> {
    let value: Value = toml::from_str(text).map_err(|e| format!("{file}: not TOML: {}", one_line(&e.to_string())))?;
    let exp: Experiment = de_at("", value).map_err(|e| at(file, e))?;
    check(&exp).map_err(|e| at(file, e))?;
    Ok(exp)
}

fn one_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

fn at(file: &str, e: KeyError) -> String {
    let key = if e.key.is_empty() { "(top level)" } else { e.key.as_str() };
    format!("{file}: {key}: {}", e.message)
}

fn dir_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 80 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn check(exp: &Experiment) -> Result<(), KeyError> {
    if !dir_name(&exp.name) {
        return err("name", format!("{:?} is not allowed (expected 1 to 80 letters, digits, '-' or '_')", exp.name));
    }
    let seeds: SeedRange = exp.seeds.parse().map_err(|e: String| KeyError { key: "seeds".into(), message: e })?;
    if seeds.last - seeds.first + 1 < MIN_SEEDS {
        return err("seeds", format!("{:?} is too few (a claim is tested over at least {MIN_SEEDS} seeds)", exp.seeds));
    }
    if exp.cases.is_empty() {
        return err("cases", "[] is not allowed (expected at least one [[cases]])");
    }
    check_matrix(exp)?;
    for (i, case) in exp.cases.iter().enumerate() {
        let key = |k: &str| format!("cases[{i}].{k}");
        if !dir_name(&case.name) {
            return err(
                key("name"),
                format!("{:?} is not allowed (expected 1 to 80 letters, digits, '-' or '_')", case.name),
            );
        }
        if exp.cases[..i].iter().any(|c| c.name == case.name) {
            return err(key("name"), format!("{:?} twice (every case needs its own name)", case.name));
        }
        if case.labels.iter().any(|l| !dir_name(l)) || case.labels[0] == case.labels[1] {
            return err(
                key("labels"),
                format!(
                    "{:?} is not allowed (expected two distinct names of letters, digits, '-' or '_')",
                    case.labels
                ),
            );
        }
        let measures_a_row = exp.matrix.iter().any(|r| r.calm == case.name || r.storm == case.name);
        if case.expect.is_empty() && !measures_a_row {
            return err(key("expect"), "[] is not allowed (expected at least one [[cases.expect]])");
        }
        for (j, e) in case.expect.iter().enumerate() {
            let key = |k: &str| format!("cases[{i}].expect[{j}].{k}");
            if let Some(m) = e.metric.strip_prefix("measure:") {
                if !crate::checkers::measures::MEASURE_NAMES.contains(&m) {
                    let known = crate::checkers::measures::MEASURE_NAMES.join(", ");
                    return err(key("metric"), format!("{m:?} is not a measure (expected one of: {known})"));
                }
            }
            if metric_named(&e.metric).is_none() {
                return err(key("metric"), format!("{:?} is not a metric (expected success, degraded, mean_ms, nodes, p50_ms, p99_ms, p999_ms, calls_per_request, peak_in_flight, violations, recovery_s_N, calls:A->B, attempts:A->B, success:A->B, mean:X, p50:X or p99:X (X an edge A->B or a route /PATH), route:/PATH, measure:NAME or check:NAME)", e.metric));
            }
            let bounds = [
                ("at_most", e.at_most),
                ("at_least", e.at_least),
                ("ratio_at_most", e.ratio_at_most),
                ("ratio_at_least", e.ratio_at_least),
            ];
            if let Some((k, Some(v))) = bounds.iter().find(|(_, v)| v.is_some_and(|v| !v.is_finite())) {
                return err(key(k), format!("{v} is not allowed (expected a finite number)"));
            }
            if !e.has_condition() {
                return err(
                    key("metric"),
                    "nothing is expected of it (give finding, at_most, at_least, ratio_at_most or ratio_at_least)",
                );
            }
        }
    }
    Ok(())
}

fn check_matrix(exp: &Experiment) -> Result<(), KeyError> {
    if !exp.matrix.is_empty() && exp.matrix.len() < 3 {
        return err("matrix", format!("{} rows are too few (expected at least 3 to rank)", exp.matrix.len()));
    }
    type Column = fn(&Stars) -> u8;
    let columns: [(&str, Column); 3] =
        [("performance", |s| s.performance), ("operations", |s| s.operations), ("cost", |s| s.cost)];
    for (name, stars) in columns {
        let first = exp.matrix.first().map(|r| stars(&r.stars));
        if exp.matrix.iter().all(|r| Some(stars(&r.stars)) == first) {
            if let Some(n) = first {
                return err(
                    format!("matrix.stars.{name}"),
                    format!("all {n}: nothing to rank (expected stars that differ between rows)"),
                );
            }
        }
    }
    for (i, row) in exp.matrix.iter().enumerate() {
        let key = |k: &str| format!("matrix[{i}].{k}");
        let s = row.stars;
        let stars = [
            ("complexity", s.complexity),
            ("performance", s.performance),
            ("operations", s.operations),
            ("cost", s.cost),
        ];
        if let Some((k, v)) = stars.iter().find(|(_, v)| !(1..=5).contains(v)) {
            return err(key(&format!("stars.{k}")), format!("{v} is not allowed (expected 1 to 5 stars)"));
        }
        for (k, name) in [("calm", &row.calm), ("storm", &row.storm)] {
            if !exp.cases.iter().any(|c| &c.name == name) {
                let names: Vec<&str> = exp.cases.iter().map(|c| c.name.as_str()).collect();
                return err(key(k), format!("{name:?} names no case (the cases are: {})", names.join(", ")));
            }
        }
    }
    Ok(())
}
