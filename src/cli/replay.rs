//! `faultline replay RECORD`: a failing run again, from its `failure.json` alone.

use std::path::{Path, PathBuf};

use faultline_reports::table;
use faultline_scenarios::failure::{self, FailureRecord};

use super::run::{print_report, run_to_dir};
use super::{usage, CliError, EXIT_CHECK_FAILED};

/// Reads a record (a `failure.json` or the directory that holds one).
pub(super) fn read(path: &Path) -> Result<(PathBuf, FailureRecord), CliError> {
    if !path.exists() {
        return Err(usage(format!("{}: no such file or directory", path.display())));
    }
    let file = if path.is_dir() { path.join(failure::FILE) } else { path.to_path_buf() };
    if path.is_dir() && !file.exists() {
        let why = if path.join("summary.json").is_file() {
            "the run passed (it wrote no failure.json): there is no failure to replay or shrink"
        } else {
            "holds no failure.json (a failing run writes one into its output directory)"
        };
        return Err(usage(format!("{}: {why}", path.display())));
    }
    let record = table::read_json::<FailureRecord>(&file).map_err(|e| {
        usage(format!("{e}: not a failure record as faultline writes it (a failing run's {})", failure::FILE))
    })?;
    Ok((file, record))
}

/// Refuses an output directory that holds the record itself: writing there would replace it.
pub(super) fn not_the_record(record: &Path, out: &Path) -> Result<(), CliError> {
    let dir = record.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let same = match (std::fs::canonicalize(dir), std::fs::canonicalize(out)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Err(usage(format!(
            "--out {}: holds the record {} itself, which this would replace; choose another directory",
            out.display(),
            record.display()
        )));
    }
    Ok(())
}

/// Runs the record's scenario and seed again, says whether the fingerprint and the violation
/// are the same, and exits 1 when the failure reproduces.
pub(super) fn replay(path: &Path, out: Option<PathBuf>) -> Result<u8, CliError> {
    let (file, record) = read(path)?;
    let version = env!("CARGO_PKG_VERSION");
    if record.faultline_version != version {
        eprintln!(
            "faultline: warning: {} was recorded by faultline {}, and this is {version}: the run may differ",
            file.display(),
            record.faultline_version
        );
    }
    let scenario =
        record.scenario().map_err(|e| usage(format!("{}: its scenario does not load here: {e}", file.display())))?;
    let out =
        out.unwrap_or_else(|| PathBuf::from("out").join(format!("{}-seed{}-replay", record.scenario, record.seed)));
    not_the_record(&file, &out)?;
    let report = run_to_dir(&scenario, &out)?;
    print_report(&scenario, &report);
    let now = &report.run.output.fingerprint;
    if *now == record.fingerprint {
        println!("replay: the same fingerprint as recorded ({now})");
    } else {
        println!("replay: fingerprint {now}, recorded {}: this run differs from the recorded one", record.fingerprint);
    }
    let violated: Vec<String> = report.run.verdict.violated().map(|c| c.checker.clone()).collect();
    if violated.is_empty() {
        println!("replay: the failure did NOT reproduce (recorded: {})", record.first_violation);
        return Ok(0);
    }
    let same = if violated == record.violated { "the same checks" } else { "other checks than recorded" };
    println!("replay: the failure reproduces ({same}: {})", violated.join(", "));
    Ok(EXIT_CHECK_FAILED)
}
