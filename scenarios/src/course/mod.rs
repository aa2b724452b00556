//! The course: the claims of the course notes (`../shared/seeds/`), each an experiment that
//! compares configurations over many seeds and ends in a verdict: holds, holds only when, or
//! does not hold. The experiments are compiled in from `scenarios/experiments/*.toml`
//! ([`file`](mod@file) is their format, [`verdict`](mod@verdict) the rule); running them is the CLI's
//! (`faultline experiment`, `faultline course`).

pub mod file;
pub mod matrix;
pub mod verdict;

pub use file::{parse, Case, Expect, Experiment, Want};
pub use verdict::{case_result, verdict, CaseResult, ExperimentResult, Figure, Verdict};

/// (name, file text), in the course's order.
const ENTRIES: &[(&str, &str)] = &[
    ("shop-patterns", include_str!("../../experiments/shop-patterns.toml")),
    ("breaker-p99", include_str!("../../experiments/breaker-p99.toml")),
    ("breaker-availability", include_str!("../../experiments/breaker-availability.toml")),
    ("retry-success", include_str!("../../experiments/retry-success.toml")),
    ("cache-aside", include_str!("../../experiments/cache-aside.toml")),
    ("bulkhead-isolation", include_str!("../../experiments/bulkhead-isolation.toml")),
    ("hedging-tail", include_str!("../../experiments/hedging-tail.toml")),
    ("throttle-k2", include_str!("../../experiments/throttle-k2.toml")),
    ("sre-retry-amplification", include_str!("../../experiments/sre-retry-amplification.toml")),
    ("brooker-backoff", include_str!("../../experiments/brooker-backoff.toml")),
    ("brooker-jitter", include_str!("../../experiments/brooker-jitter.toml")),
    ("metastable-grid", include_str!("../../experiments/metastable-grid.toml")),
    ("outbox-consistency", include_str!("../../experiments/outbox-consistency.toml")),
    ("sync-vs-async", include_str!("../../experiments/sync-vs-async.toml")),
    ("mesh-vs-library", include_str!("../../experiments/mesh-vs-library.toml")),
    ("strangler-fig", include_str!("../../experiments/strangler-fig.toml")),
    ("saga-compensation", include_str!("../../experiments/saga-compensation.toml")),
    ("cqrs-reads", include_str!("../../experiments/cqrs-reads.toml")),
    ("selection-matrix", include_str!("../../experiments/selection-matrix.toml")),
];

/// The text of a built-in experiment.
pub fn get(name: &str) -> Option<&'static str> {
    ENTRIES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Every built-in experiment's name, in the course's order.
pub fn names() -> Vec<String> {
    ENTRIES.iter().map(|(n, _)| (*n).to_owned()).collect()
}

/// A built-in experiment by name, or a file by path.
pub fn load(name_or_path: &str) -> Result<Experiment, String> {
    if let Some(text) = get(name_or_path) {
        return parse(text, &format!("experiment {name_or_path}"));
    }
    let path = std::path::Path::new(name_or_path);
    if path.extension().is_some_and(|x| x == "toml") || path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{name_or_path}: {e}"))?;
        let mut exp = parse(&text, name_or_path)?;
        // A scenario file a case names is found beside the experiment file, as a user writing
        // them side by side expects, unless it is a catalog name or found from here.
        let dir = path.parent().unwrap_or(std::path::Path::new(""));
        for case in &mut exp.cases {
            for scenario in std::iter::once(&mut case.base).chain(case.variant.as_mut()) {
                let beside = dir.join(&*scenario);
                let here = std::path::Path::new(scenario.as_str());
                if crate::catalog::get(scenario).is_none() && !here.exists() && beside.exists() {
                    *scenario = beside.to_string_lossy().into_owned();
                }
            }
        }
        return Ok(exp);
    }
    Err(format!(
        "no built-in experiment \"{name_or_path}\"{}; `faultline list` shows them",
        crate::did_you_mean(name_or_path, &names())
    ))
}

#[cfg(test)]
mod tests;
