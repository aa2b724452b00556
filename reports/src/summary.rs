//! `summary.json` and the per-edge table printed after a run.

use std::fmt::Write as _;
use std::path::Path;

use faultline_sim::RunOutput;

/// Writes `summary.json` (pretty, with a final newline; byte-identical for identical runs).
pub fn write_json(out: &RunOutput, path: &Path) -> std::io::Result<()> {
    let mut text = serde_json::to_string_pretty(out).map_err(std::io::Error::other)?;
    text.push('\n');
    std::fs::write(path, text)
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
