//! From measured comparisons to a claim's verdict.
//!
//! A case **holds** when every expectation holds on the means over the seeds, and a wanted
//! finding is the paired comparison's (so "better" needs the whole 95% CI beyond the noise band
//! and p < 0.05: docs/experiments.md). A case whose checks were violated (outside a planted
//! bug that the case measures) does not hold: its figures come from a broken run. The claim
//! **holds** when every case holds, **holds only when** some do (the cases that hold are the
//! conditions it needs), and **does not hold** when none does.

use serde::{Deserialize, Serialize};

use super::file::{Case, Expect, Experiment, Want};
use super::matrix::{self, MatrixResult};
use crate::experiment::compare::{measured, metric_named, paired};
use crate::experiment::{Finding, SeedResult};

/// A claim's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// In every case.
    Holds,
    /// In some cases only.
    HoldsOnlyWhen,
    /// In no case.
    DoesNotHold,
}

/// One expectation, measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectResult {
    /// What was expected.
    pub expect: Expect,
    /// The metric in words.
    pub what: String,
    /// The base's mean over the seeds (`None`: not measured, e.g. an edge no seed crossed).
    pub base_mean: Option<f64>,
    /// The variant's.
    pub variant_mean: Option<f64>,
    /// Variant / base (`None` when the base is 0 or a mean is missing).
    pub ratio: Option<f64>,
    /// 95% CI of the mean paired difference.
    pub ci_low: Option<f64>,
    /// Upper end.
    pub ci_high: Option<f64>,
    /// Wilcoxon p-value.
    pub p_value: Option<f64>,
    /// The paired finding.
    pub finding: Finding,
    /// Every condition held.
    pub holds: bool,
    /// The conditions that did not, in English (`ratio 0.42 > 0.1`).
    pub missed: Vec<String>,
}

/// One case, measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    /// The case as written.
    pub case: Case,
    /// Seeds whose checks were violated, per label (empty when the case measures checks).
    pub failed_checks: Vec<(String, Vec<u64>)>,
    /// Each expectation.
    pub expects: Vec<ExpectResult>,
    /// The base's and the variant's means of the figures every case reports ([`FIGURES`]).
    #[serde(default)]
    pub figures: Vec<Figure>,
    /// Every expectation held and no check failed.
    pub holds: bool,
}

/// The figures every case reports, whatever it expects (a selection matrix reads them).
pub const FIGURES: [&str; 6] = ["success", "mean_ms", "p99_ms", "calls_per_request", "nodes", "violations"];

/// One figure of a case: the base's and the variant's means over the seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// A metric name.
    pub metric: String,
    /// [base, variant].
    pub means: [f64; 2],
}

/// An experiment, measured: what `experiment.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentResult {
    /// The experiment as written.
    pub experiment: Experiment,
    /// The seeds run.
    pub seeds: String,
    /// Each case.
    pub cases: Vec<CaseResult>,
    /// A selection matrix's rows and rank checks, when the experiment has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<MatrixResult>,
    /// The verdict.
    pub verdict: Verdict,
    /// The verdict in one English line.
    pub line: String,
}

impl ExperimentResult {
    /// True when no case had a violated check it does not measure.
    pub fn checks_passed(&self) -> bool {
        self.cases.iter().all(|c| c.failed_checks.iter().all(|(_, s)| s.is_empty()))
    }
}

/// Measures one case from its base's and variant's results (same seeds, same order).
pub fn case_result(case: &Case, base: &[SeedResult], variant: &[SeedResult]) -> CaseResult {
    let expects: Vec<ExpectResult> =
        case.expect.iter().map(|e| expect_result(e, &case.labels[1], base, variant)).collect();
    let failed_checks: Vec<(String, Vec<u64>)> = if case.measure_checks {
        Vec::new()
    } else {
        let failing = |r: &[SeedResult]| r.iter().filter(|r| !r.passed()).map(|r| r.seed).collect::<Vec<u64>>();
        vec![(case.labels[0].clone(), failing(base)), (case.labels[1].clone(), failing(variant))]
    };
    let holds = expects.iter().all(|e| e.holds) && failed_checks.iter().all(|(_, s)| s.is_empty());
    let figures = FIGURES
        .iter()
        .map(|m| {
            let (_, read) = metric_named(m).expect("a standard metric");
            let mean = |r: &[SeedResult]| r.iter().map(&read).sum::<f64>() / r.len().max(1) as f64;
            Figure { metric: (*m).to_owned(), means: [mean(base), mean(variant)] }
        })
        .collect();
    CaseResult { case: case.clone(), failed_checks, expects, figures, holds }
}

fn expect_result(e: &Expect, label: &str, base: &[SeedResult], variant: &[SeedResult]) -> ExpectResult {
    // The file was checked: the metric exists.
    let (metric, read) = metric_named(&e.metric).expect("metric checked when the file was read");
    let what = metric.what.clone();
    let d = paired(metric, &read, base, label, variant);
    let finite = |x: f64| x.is_finite().then_some(x);
    let unmeasured = base.iter().chain(variant).all(|r| !measured(&e.metric, r))
        || base.iter().chain(variant).any(|r| !read(r).is_finite());
    let (b, v) = (finite(d.base_mean), finite(d.variant_mean));
    let ratio = match (b, v) {
        (Some(b), Some(v)) if b != 0.0 => Some(v / b),
        _ => None,
    };
    let missed = if unmeasured {
        vec![format!("{} was not measured on every seed (no such edge, route, check or fault?)", e.metric)]
    } else {
        missed(e, &d, d.variant_mean, ratio)
    };
    ExpectResult {
        expect: e.clone(),
        what,
        base_mean: b,
        variant_mean: v,
        ratio,
        ci_low: finite(d.ci_low),
        ci_high: finite(d.ci_high),
        p_value: finite(d.p_value),
        finding: d.finding,
        holds: missed.is_empty(),
        missed,
    }
}

/// The conditions of `e` that the measured difference `d` does not meet, in English.
fn missed(e: &Expect, d: &crate::experiment::Difference, mean: f64, ratio: Option<f64>) -> Vec<String> {
    let mut missed = Vec::new();
    let g = |x: f64| format!("{x:.4}");
    if let Some(want) = e.finding {
        let got = match d.finding {
            Finding::Better => Want::Better,
            Finding::Worse => Want::Worse,
            Finding::NoDetectableDifference => Want::Same,
        };
        if got != want {
            missed.push(format!("finding {} (wanted {})", d.finding.as_str(), want_str(want)));
        }
    }
    let mut bound = |name: &str, value: f64, limit: Option<f64>, most: bool| {
        if let Some(l) = limit {
            let ok = if most { value <= l } else { value >= l };
            if !ok {
                missed.push(format!("{name} {} {} {}", g(value), if most { ">" } else { "<" }, g(l)));
            }
        }
    };
    bound("mean", mean, e.at_most, true);
    bound("mean", mean, e.at_least, false);
    match ratio {
        Some(r) => {
            bound("ratio", r, e.ratio_at_most, true);
            bound("ratio", r, e.ratio_at_least, false);
        }
        None if e.ratio_at_most.is_some() || e.ratio_at_least.is_some() => {
            missed.push("no ratio (the base's mean is 0)".to_owned());
        }
        None => {}
    }
    missed
}

/// How a wanted finding is written.
pub fn want_str(w: Want) -> &'static str {
    match w {
        Want::Better => "better",
        Want::Worse => "worse",
        Want::Same => "no detectable difference",
    }
}

/// The verdict over measured cases, with its English line.
pub fn verdict(experiment: &Experiment, seeds: &str, cases: Vec<CaseResult>) -> ExperimentResult {
    let figure = |case: &str, metric: &str| {
        let c = cases.iter().find(|c| c.case.name == case);
        c.and_then(|c| c.figures.iter().find(|f| f.metric == metric)).map_or([f64::NAN; 2], |f| f.means)
    };
    let matrix = matrix::measure(experiment, &figure);
    // The conditions: each case that expects something (a case only measuring for a matrix
    // counts when a check failed: its figures are from a broken run), and each rank check.
    let mut items: Vec<(String, bool)> = cases
        .iter()
        .filter(|c| !c.case.expect.is_empty() || !c.holds)
        .map(|c| (c.case.when_en.clone(), c.holds))
        .collect();
    items.extend(matrix.iter().flat_map(|m| &m.ranks).map(|r| (r.sentence(), r.holds)));
    let verdict = match items.iter().filter(|(_, h)| *h).count() {
        n if n == items.len() => Verdict::Holds,
        0 => Verdict::DoesNotHold,
        _ => Verdict::HoldsOnlyWhen,
    };
    let when = |hold: bool| items.iter().filter(|i| i.1 == hold).map(|i| i.0.as_str()).collect::<Vec<_>>().join("; ");
    let line = match verdict {
        Verdict::Holds => format!("holds: {}", when(true)),
        Verdict::HoldsOnlyWhen => format!("holds only when {}; not when {}", when(true), when(false)),
        Verdict::DoesNotHold => {
            let ranks = matrix.iter().flat_map(|m| &m.ranks).map(|r| format!("; not: {}", r.sentence()));
            let counted: Vec<CaseResult> =
                cases.iter().filter(|c| !c.case.expect.is_empty() || !c.holds).cloned().collect();
            format!("does not hold: {}{}", why_not(&counted), ranks.collect::<String>())
        }
    };
    ExperimentResult { experiment: experiment.clone(), seeds: seeds.to_owned(), cases, matrix, verdict, line }
}

/// The first thing that failed in each case, for the "does not hold" line.
fn why_not(cases: &[CaseResult]) -> String {
    cases
        .iter()
        .map(|c| {
            let first = c
                .expects
                .iter()
                .find(|e| !e.holds)
                .map(|e| format!("{}: {}", e.expect.metric, e.missed.join(", ")))
                .unwrap_or_else(|| "a check was violated".to_owned());
            format!("{} ({first})", c.case.when_en)
        })
        .collect::<Vec<_>>()
        .join("; ")
}
