//! `faultline check`: the determinism check, through the same pipeline as `run`.

use faultline_scenarios::{RunOptions, Scenario};
use faultline_sim::record::Rows;
use faultline_sim::{Execution, MemorySink};

use super::{internal, program, CliError, EXIT_CHECK_FAILED};

/// Runs twice in fresh runtimes and compares fingerprints, every row and the verdicts.
pub(super) fn check(s: &Scenario) -> Result<u8, CliError> {
    let once = || -> Result<(Execution, Rows), CliError> {
        let sink = MemorySink::default();
        let run = faultline_scenarios::execute(s, &RunOptions::default(), Box::new(sink.clone()))
            .map_err(|e| internal(e.to_string()))?;
        Ok((run, sink.rows()))
    };
    let (a, rows_a) = once()?;
    let (b, rows_b) = once()?;
    let first_diff = |x: &[String], y: &[String]| {
        x.iter().zip(y).position(|(p, q)| p != q).or((x.len() != y.len()).then(|| x.len().min(y.len())))
    };
    let (req, ev) = (first_diff(&rows_a.requests, &rows_b.requests), first_diff(&rows_a.events, &rows_b.events));
    if req.is_none() && ev.is_none() && a == b {
        let o = &a.output;
        println!(
            "deterministic: two runs of {} seed {} gave fingerprint {} and identical rows ({} requests, {} events)",
            s.spec.name, s.spec.seed, o.fingerprint, o.requests, o.events
        );
        return Ok(0);
    }
    println!(
        "NOT deterministic: {} seed {}: fingerprints {} and {}",
        s.spec.name, s.spec.seed, a.output.fingerprint, b.output.fingerprint
    );
    if let Some(i) = req {
        println!("  first differing request row {i}: {:?} vs {:?}", rows_a.requests.get(i), rows_b.requests.get(i));
    }
    if let Some(i) = ev {
        println!("  first differing event row {i}: {:?} vs {:?}", rows_a.events.get(i), rows_b.events.get(i));
    }
    if a.verdict != b.verdict {
        println!("  the verdicts differ");
    }
    println!("reproduce: {} check {}", program(), s.reproduce_args().trim_start_matches("run "));
    Ok(EXIT_CHECK_FAILED)
}
