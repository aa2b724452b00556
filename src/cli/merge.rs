//! `faultline merge`: the shards of one sweep, joined into what one machine would have written.
//!
//! Every shard directory must hold a finished sweep (`sweep.json`, `results.jsonl`) of the
//! same scenario, overrides, scenario file, faultline version and seed range, with the same
//! shard count; together they must cover every shard once and every seed once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use faultline_reports::output::Staging;
use faultline_reports::table;
use faultline_scenarios::experiment::{SeedResult, Shard, SweepKey};

use super::sweep::{key_text, write_outputs, KEY_FILE};
use super::{internal, output_error, usage, CliError, EXIT_CHECK_FAILED};

/// One shard as read back.
struct Part {
    dir: PathBuf,
    key: SweepKey,
    results: Vec<SeedResult>,
    walls: BTreeMap<u64, f64>,
}

fn read_part(dir: &Path) -> Result<Part, CliError> {
    let key: SweepKey = table::read_json(&dir.join(KEY_FILE)).map_err(|_| {
        usage(format!(
            "merge: {} is not a finished sweep (no readable {KEY_FILE}); if its shard was interrupted, run its command again to finish it",
            dir.display()
        ))
    })?;
    let results: Vec<SeedResult> = table::read_json_lines(&dir.join("results.jsonl")).map_err(usage)?;
    let walls = read_timing(&dir.join("timing.csv"));
    Ok(Part { dir: dir.to_path_buf(), key, results, walls })
}

fn read_timing(path: &Path) -> BTreeMap<u64, f64> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .filter_map(|(s, w)| Some((s.parse().ok()?, w.parse().ok()?)))
        .collect()
}

/// Checks that `parts` are the shards of one sweep, each once, covering every seed once.
fn check_parts(parts: &[Part]) -> Result<SweepKey, CliError> {
    let first = parts.first().ok_or_else(|| usage("merge: name at least one shard directory"))?;
    let whole = SweepKey { shard: Shard::ALL, ..first.key.clone() };
    let n = first.key.shard.n;
    let mut seen = BTreeMap::new();
    for p in parts {
        let same = SweepKey { shard: Shard::ALL, ..p.key.clone() };
        if same != whole || p.key.shard.n != n {
            let mut why = super::sweep::differences(&first.key, &p.key);
            if p.key.shard.n != n {
                why = format!("{n} shards there, {} here", p.key.shard.n);
            }
            return Err(usage(format!(
                "merge: {} is not a shard of the same sweep as {} ({why}); merge only the shards of one sweep",
                p.dir.display(),
                first.dir.display()
            )));
        }
        if let Some(other) = seen.insert(p.key.shard.k, &p.dir) {
            return Err(usage(format!(
                "merge: shard {} twice ({} and {})",
                p.key.shard,
                other.display(),
                p.dir.display()
            )));
        }
        let want = p.key.shard.seeds(p.key.seeds);
        let got: Vec<u64> = p.results.iter().map(|r| r.seed).collect();
        if got != want {
            return Err(usage(format!(
                "merge: {} does not hold exactly the seeds of shard {}",
                p.dir.display(),
                p.key.shard
            )));
        }
    }
    let missing: Vec<String> = (1..=n).filter(|k| !seen.contains_key(k)).map(|k| format!("{k}/{n}")).collect();
    if !missing.is_empty() {
        return Err(usage(format!("merge: the shard set is incomplete: missing {}", missing.join(", "))));
    }
    Ok(whole)
}

/// `faultline merge DIR... --out DIR`.
pub(super) fn merge(dirs: &[PathBuf], out: &Path) -> Result<u8, CliError> {
    let parts = dirs.iter().map(|d| read_part(d)).collect::<Result<Vec<_>, _>>()?;
    let key = check_parts(&parts)?;
    let scenario = faultline_scenarios::load(&key.source, &key.overrides, None)
        .map_err(|e| usage(format!("merge: the scenario {} no longer loads: {e}", key.source)))?;
    let mut all: BTreeMap<u64, (SeedResult, f64)> = BTreeMap::new();
    for p in parts {
        for r in p.results {
            let wall = p.walls.get(&r.seed).copied().unwrap_or(0.0);
            all.insert(r.seed, (r, wall));
        }
    }
    let (results, walls): (Vec<SeedResult>, Vec<f64>) = all.into_values().unzip();
    let staging = Staging::resume(out, KEY_FILE, &key_text(&key)).map_err(output_error)?;
    for d in dirs {
        copy_runs(&d.join("runs"), &staging.path().join("runs"))?;
    }
    write_outputs(staging.path(), &scenario, &key, &results, &walls)?;
    let dest = staging.commit().map_err(output_error)?;
    let failing: Vec<&SeedResult> = results.iter().filter(|r| !r.passed()).collect();
    let (n, shown) = (failing.len(), dirs.len());
    println!("merged {shown} shards: {} seeds {} ({n} failing) into {}", key.scenario, key.seeds, dest.display());
    for r in failing.iter().take(5) {
        let first = r.checks.iter().find_map(|c| c.first.clone()).unwrap_or_default();
        println!(
            "  seed {}: {first}\n    replay: {} {}",
            r.seed,
            super::program(),
            scenario.with_seed(r.seed).reproduce_args()
        );
    }
    if n > 5 {
        println!("  ... and {} more in {}/summary.json", n - 5, dest.display());
    }
    Ok(if failing.is_empty() { 0 } else { EXIT_CHECK_FAILED })
}

fn copy_runs(from: &Path, to: &Path) -> Result<(), CliError> {
    let Ok(entries) = std::fs::read_dir(from) else { return Ok(()) };
    let io = |p: &Path, e: std::io::Error| internal(format!("{}: {e}", p.display()));
    for seed_dir in entries.flatten() {
        let target = to.join(seed_dir.file_name());
        std::fs::create_dir_all(&target).map_err(|e| io(&target, e))?;
        for f in std::fs::read_dir(seed_dir.path()).map_err(|e| io(&seed_dir.path(), e))?.flatten() {
            std::fs::copy(f.path(), target.join(f.file_name())).map_err(|e| io(&f.path(), e))?;
        }
    }
    Ok(())
}
