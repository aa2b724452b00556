//! `summary.json` and the per-edge table printed after a run.

use std::fmt::Write as _;
use std::path::Path;

use faultline_sim::{Execution, Measures, RunOutput, Verdict};
use serde::Serialize;

/// What `summary.json` holds: the verdict first, then the run's figures.
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    /// The faultline version that ran it.
    pub faultline_version: &'a str,
    /// The scenario's description.
    pub description: &'a str,
    /// The command that reproduces the run.
    pub reproduce: &'a str,
    /// Warnings about the scenario (a fault that never fires...).
    pub warnings: &'a [String],
    /// True when every check held.
    pub passed: bool,
    /// Every checker that applied, held or violated, with its first evidence.
    pub verdict: &'a Verdict,
    /// Figures the checkers measured.
    pub measures: &'a Measures,
    /// The run's output.
    #[serde(flatten)]
    pub output: &'a RunOutput,
}

/// What a summary says besides the execution.
#[derive(Debug, Clone, Copy)]
pub struct About<'a> {
    /// The scenario's description.
    pub description: &'a str,
    /// The command that reproduces the run.
    pub reproduce: &'a str,
    /// Warnings about the scenario.
    pub warnings: &'a [String],
}

/// Writes `summary.json` (pretty, with a final newline; byte-identical for identical runs).
pub fn write_json(run: &Execution, about: About<'_>, path: &Path) -> std::io::Result<()> {
    let summary = Summary {
        faultline_version: env!("CARGO_PKG_VERSION"),
        description: about.description,
        reproduce: about.reproduce,
        warnings: about.warnings,
        passed: run.verdict.passed(),
        verdict: &run.verdict,
        measures: &run.measures,
        output: &run.output,
    };
    let mut text = serde_json::to_string_pretty(&summary).map_err(std::io::Error::other)?;
    text.push('\n');
    std::fs::write(path, text)
}

/// The verdict as lines: one per check (`held` or `VIOLATED (N)`), and under each violated
/// one its first violations with the exact number of others.
pub fn verdict_lines(verdict: &Verdict) -> String {
    let mut s = String::new();
    for c in &verdict.checks {
        match c.status {
            faultline_sim::verdict::Status::Held => {
                let _ = writeln!(s, "check {:<12} held      {}", c.checker, c.invariant);
            }
            faultline_sim::verdict::Status::Violated => {
                let n = c.violations;
                let plural = if n == 1 { "" } else { "s" };
                let _ = writeln!(s, "check {:<12} VIOLATED  {} ({n} violation{plural})", c.checker, c.invariant);
                for e in &c.evidence {
                    let _ = writeln!(s, "CHECK FAILED: {} {}", c.checker, e.describe());
                }
                let more = c.violations.saturating_sub(c.evidence.len() as u64);
                if more > 0 {
                    let _ = writeln!(s, "CHECK FAILED: and {more} more {} violations", c.checker);
                }
            }
        }
    }
    for w in &verdict.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}

/// The per-edge table: requests, success rate, latency percentiles, attempts.
pub fn edge_table(out: &RunOutput) -> String {
    let width = out.edges.iter().map(|e| e.edge.len()).max().unwrap_or(4).max(4);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<width$}  {:>9}  {:>8}  {:>8}  {:>9}  {:>9}  {:>9}  {:>9}  {:>8}",
        "edge", "requests", "success", "degraded", "p50 ms", "p95 ms", "p99 ms", "max ms", "attempts"
    );
    for e in &out.edges {
        let _ = writeln!(
            s,
            "{:<width$}  {:>9}  {:>7.2}%  {:>7.2}%  {:>9.1}  {:>9.1}  {:>9.1}  {:>9.1}  {:>8.2}",
            e.edge,
            e.requests,
            e.success_rate * 100.0,
            e.degraded_rate * 100.0,
            e.p50_ms,
            e.p95_ms,
            e.p99_ms,
            e.max_ms,
            e.mean_attempts
        );
    }
    s
}

/// Outcome counts per edge, one line each (`ok=… timeout=…`).
pub fn outcome_lines(out: &RunOutput) -> String {
    let mut s = String::new();
    for e in &out.edges {
        let parts: Vec<String> = e.outcomes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(s, "  {}: {}", e.edge, parts.join(" "));
    }
    s
}
