//! `faultline trace`: a run's calls as a Perfetto trace, and one request's story as text.

use std::path::Path;

use faultline_reports::table;
use faultline_reports::trace::{self, Select};

use super::{usage, CliError};

fn window(w: &str) -> Result<(f64, f64), CliError> {
    let bad = || usage(format!("--window {w:?}: write A..B in seconds of virtual time, e.g. 40..45"));
    let (a, b) = w.split_once("..").ok_or_else(bad)?;
    Ok((a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?))
}

/// Writes the trace of `dir`'s selected calls to `out`; prints the tree of a request.
pub(super) fn trace(dir: &Path, request: Option<u64>, win: Option<&str>, out: &Path) -> Result<u8, CliError> {
    let select = match (request, win) {
        (Some(id), _) => Select::Request(id),
        (None, Some(w)) => {
            let (a, b) = window(w)?;
            Select::Window(a, b)
        }
        (None, None) => {
            return Err(usage("trace: say what to trace: --request ID (a client request) or --window A..B (seconds)"))
        }
    };
    if !dir.join("requests.csv").is_file() {
        return Err(usage(format!("{}: not a run's output (no requests.csv); trace reads one run", dir.display())));
    }
    let run = trace::read(dir).map_err(|e| usage(format!("{e}: not as faultline writes it")))?;
    let calls = run.select(select).map_err(usage)?;
    // Replace only a trace faultline wrote, never a user's file.
    if out.exists() {
        let ours = std::fs::read_to_string(out).is_ok_and(|t| t.contains("faultline (virtual time)"));
        if !ours {
            return Err(usage(format!(
                "--out {}: exists and is not a faultline trace; choose another file",
                out.display()
            )));
        }
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| usage(format!("--out {}: cannot create {}: {e}", out.display(), parent.display())))?;
    }
    table::write_json(out, &run.trace(&calls))
        .map_err(|e| usage(format!("--out {}: cannot write it: {e}", out.display())))?;
    if let Select::Request(_) = select {
        print!("{}", run.tree(&calls));
    }
    let n = calls.len();
    println!("trace: {n} call{} into {} (open it in ui.perfetto.dev)", if n == 1 { "" } else { "s" }, out.display());
    Ok(0)
}
