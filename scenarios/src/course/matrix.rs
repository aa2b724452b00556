//! A selection matrix (seeds/004's "패턴 선택 매트릭스"): the notes rate patterns in stars for
//! complexity, performance impact, operational burden and cost. An experiment with `[[matrix]]`
//! rows measures each pattern twice, each a case of its own: calm (no faults) for what it
//! costs, and under a storm for what it buys. The stars are then checked against the
//! measurements by rank: the notes' order of the patterns on a column should be the order of
//! what measures it, by Spearman's rank correlation (at least [`RANK_AT_LEAST`]).
//!
//! What measures each column (calm case, variant minus base, means over the seeds):
//! - performance impact: how much the pattern moves the mean latency, either way (|Δ ms|);
//! - operational burden: the nodes it adds (replicas of services that serve requests);
//! - cost: the calls per client request it adds (work the system does for one request).
//!
//! Complexity is code and people, not a figure of a simulation: it is shown, not checked.
//! The cases a row names may expect nothing: they measure, and the rank checks are the
//! verdict (with any case that does expect something).

use serde::{Deserialize, Serialize};

use super::file::{Experiment, Row, Stars};

/// Agreement: Spearman's rho between the stars and the measure is at least this.
pub const RANK_AT_LEAST: f64 = 0.7;

/// One row, measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowResult {
    /// The row as written.
    pub row: Row,
    /// Calm: the mean latency it adds (negative: it saves), ms.
    pub added_ms: f64,
    /// Calm: the nodes it adds.
    pub added_nodes: f64,
    /// Calm: the calls per client request it adds.
    pub added_calls: f64,
    /// Storm: the share of requests answered, without and with it.
    pub storm_success: [f64; 2],
    /// Storm: the client p99, without and with it, ms.
    pub storm_p99_ms: [f64; 2],
    /// Storm: checker violations, without and with it (what a consistency pattern buys).
    pub storm_violations: [f64; 2],
}

/// One column of stars against its measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankCheck {
    /// The column (`performance`, `operations`, `cost`).
    pub column: String,
    /// What measures it, in English.
    pub measure: String,
    /// Spearman's rank correlation of the stars and the measure (`None` when either is
    /// constant or a figure is missing: no ranking to compare).
    pub rho: Option<f64>,
    /// The agreement wanted: [`RANK_AT_LEAST`].
    pub at_least: f64,
    /// rho >= `at_least`.
    pub holds: bool,
}

impl RankCheck {
    /// The check in English, as a condition of the verdict line.
    pub fn sentence(&self) -> String {
        let rho = self.rho.map_or("undefined".to_owned(), |r| format!("{r:.2}"));
        format!(
            "the notes' {} stars rank the patterns as {} does (rho {rho}, agreement at {})",
            self.column, self.measure, self.at_least
        )
    }
}

/// The matrix, measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixResult {
    /// Each row.
    pub rows: Vec<RowResult>,
    /// Each column checked.
    pub ranks: Vec<RankCheck>,
}

/// Measures `exp`'s matrix, or `None` when it has none. `figure(case, metric)` is a case's
/// base and variant means of a metric (NaN when not measured).
pub fn measure(exp: &Experiment, figure: &dyn Fn(&str, &str) -> [f64; 2]) -> Option<MatrixResult> {
    if exp.matrix.is_empty() {
        return None;
    }
    let added = |name: &str, metric: &str| {
        let [b, v] = figure(name, metric);
        v - b
    };
    let rows: Vec<RowResult> = exp
        .matrix
        .iter()
        .map(|row| RowResult {
            row: row.clone(),
            added_ms: added(&row.calm, "mean_ms"),
            added_nodes: added(&row.calm, "nodes"),
            added_calls: added(&row.calm, "calls_per_request"),
            storm_success: figure(&row.storm, "success"),
            storm_p99_ms: figure(&row.storm, "p99_ms"),
            storm_violations: figure(&row.storm, "violations"),
        })
        .collect();
    let column = |column: &str, measure: &str, stars: fn(&Stars) -> u8, value: fn(&RowResult) -> f64| {
        let s: Vec<f64> = rows.iter().map(|r| f64::from(stars(&r.row.stars))).collect();
        let m: Vec<f64> = rows.iter().map(value).collect();
        let rho = Some(spearman(&s, &m)).filter(|r| r.is_finite());
        let holds = rho.is_some_and(|r| r >= RANK_AT_LEAST);
        RankCheck { column: column.to_owned(), measure: measure.to_owned(), rho, at_least: RANK_AT_LEAST, holds }
    };
    let ranks = vec![
        column(
            "performance",
            "the latency each adds or saves (|Δ mean ms|, calm)",
            |s| s.performance,
            |r| r.added_ms.abs(),
        ),
        column("operations", "the nodes each adds (calm)", |s| s.operations, |r| r.added_nodes),
        column("cost", "the calls per request each adds (calm)", |s| s.cost, |r| r.added_calls),
    ];
    Some(MatrixResult { rows, ranks })
}

/// Spearman's rank correlation (average ranks for ties); NaN when either side is constant or
/// a value is missing.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() || a.len() < 2 || a.iter().chain(b).any(|x| !x.is_finite()) {
        return f64::NAN;
    }
    let (ra, rb) = (ranks(a), ranks(b));
    let n = a.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    if va == 0.0 || vb == 0.0 {
        return f64::NAN;
    }
    cov / (va * vb).sqrt()
}

/// 1-based ranks, ties sharing their average rank.
fn ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&i, &j| x[i].total_cmp(&x[j]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && x[order[j + 1]] == x[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for k in &order[i..=j] {
            r[*k] = avg;
        }
        i = j + 1;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::spearman;

    #[test]
    fn spearman_matches_hand_computed_values_and_handles_ties() {
        assert!((spearman(&[1., 2., 3., 4., 5.], &[10., 20., 30., 40., 50.]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1., 2., 3., 4., 5.], &[5., 4., 3., 2., 1.]) + 1.0).abs() < 1e-12);
        // d = (0, 0, 1, -1, 0): 1 - 6*2/(5*24) = 0.9.
        assert!((spearman(&[1., 2., 3., 4., 5.], &[1., 2., 4., 3., 5.]) - 0.9).abs() < 1e-12);
        // Ties: stars (2, 2, 3, 4, 5) ranks (1.5, 1.5, 3, 4, 5) against (1, 2, 3, 4, 5).
        let rho = spearman(&[2., 2., 3., 4., 5.], &[1., 2., 3., 4., 5.]);
        assert!((rho - 0.974_679_434_480_896_4).abs() < 1e-9, "{rho}");
        assert!(spearman(&[1., 1., 1.], &[1., 2., 3.]).is_nan());
        assert!(spearman(&[1., 2.], &[1., f64::NAN]).is_nan());
    }
}
