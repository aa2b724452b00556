//! `[swarm]`: the ranges a seed draws its faults from, each checked against the scenario.

use std::collections::BTreeMap;

use faultline_sim::SimSpec;
use serde::Deserialize;
use toml::{Table, Value};

use super::{SwarmSpec, KINDS};
use crate::read::de::{de_at, err, KeyError};
use crate::read::units::Num;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SwarmFile {
    kinds: Option<Vec<String>>,
    targets: Option<Vec<String>>,
    faults: Option<[u32; 2]>,
    window_s: Option<[Num; 2]>,
    length_s: Option<[Num; 2]>,
    rate: Option<[Num; 2]>,
    latency_ms: Option<[Num; 2]>,
    #[serde(default)]
    knobs: BTreeMap<String, [Num; 2]>,
}

/// Reads `[swarm]` for `spec` (defaults from it for every key not given).
pub(crate) fn read(table: Table, spec: &SimSpec) -> Result<SwarmSpec, KeyError> {
    let f: SwarmFile = de_at("swarm", Value::Table(table))?;
    let mut s = SwarmSpec::defaults(spec);
    let run = spec.duration.as_secs_f64();
    if let Some(kinds) = f.kinds.clone() {
        if kinds.is_empty() {
            return err("swarm.kinds", format!("[] is not allowed (expected some of {})", KINDS.join(", ")));
        }
        if let Some(bad) = kinds.iter().find(|k| !KINDS.contains(&k.as_str())) {
            return err(
                "swarm.kinds",
                format!("\"{bad}\" is not a fault kind (expected some of {})", KINDS.join(", ")),
            );
        }
        s.kinds = kinds;
    }
    if let Some(targets) = f.targets {
        s.targets = targets_in(targets, spec)?;
        if f.kinds.is_none() && s.targets.len() < 2 {
            s.kinds.retain(|k| k != "partition");
        }
    }
    if s.kinds.iter().any(|k| k == "partition") && s.targets.len() < 2 {
        return err("swarm.kinds", "\"partition\" needs two targets or more (swarm.targets)");
    }
    if let Some([lo, hi]) = f.faults {
        if lo > hi || hi > 100 {
            return err(
                "swarm.faults",
                format!("[{lo}, {hi}] is not allowed (expected [min, max] with min <= max <= 100)"),
            );
        }
        s.faults = (lo, hi);
    }
    let range = |key: &str, v: Option<[Num; 2]>, allowed: (f64, f64), default: (f64, f64)| match v {
        None => Ok(default),
        Some([a, b]) if a.0 <= b.0 && a.0 >= allowed.0 && b.0 <= allowed.1 => Ok((a.0, b.0)),
        Some([a, b]) => err(
            format!("swarm.{key}"),
            format!(
                "[{}, {}] is not allowed (expected [min, max] with {} <= min <= max <= {})",
                a.0, b.0, allowed.0, allowed.1
            ),
        ),
    };
    s.window_s = range("window_s", f.window_s, (0.0, run), s.window_s)?;
    s.length_s = range("length_s", f.length_s, (0.001, 365.0 * 86400.0), s.length_s)?;
    s.rate = range("rate", f.rate, (0.0, 1.0), s.rate)?;
    s.latency_ms = range("latency_ms", f.latency_ms, (1.0, 3_600_000.0), s.latency_ms)?;
    for (key, [a, b]) in f.knobs {
        if a.0 > b.0 {
            return err(
                format!("swarm.knobs.\"{key}\""),
                format!("[{}, {}] is not allowed (expected [min, max])", a.0, b.0),
            );
        }
        s.knobs.push((key, a.0, b.0));
    }
    Ok(s)
}

/// Whether `name` is a service of `spec` or one of its replicas (`db-1`).
pub(crate) fn names_a_node(spec: &SimSpec, name: &str) -> bool {
    spec.services.iter().any(|svc| {
        name == svc.name
            || name
                .strip_prefix(svc.name.as_str())
                .and_then(|r| r.strip_prefix('-'))
                .and_then(|i| i.parse::<u32>().ok())
                .is_some_and(|i| i < svc.replicas)
    })
}

/// `swarm.targets`: services or nodes (`db-1`) of `spec`, at least one, each once.
fn targets_in(targets: Vec<String>, spec: &SimSpec) -> Result<Vec<String>, KeyError> {
    let known = |t: &str| names_a_node(spec, t);
    if let Some(twice) = targets.iter().enumerate().find(|(i, t)| targets[..*i].contains(t)).map(|(_, t)| t) {
        return err("swarm.targets", format!("\"{twice}\" is listed twice (name each target once)"));
    }
    if targets.is_empty() {
        return err("swarm.targets", "[] is not allowed (expected at least one service or node)");
    }
    if let Some(bad) = targets.iter().find(|t| !known(t)) {
        let names: Vec<&str> = spec.services.iter().map(|s| s.name.as_str()).collect();
        return err(
            "swarm.targets",
            format!("\"{bad}\" is not a service or node here (services: {})", names.join(", ")),
        );
    }
    Ok(targets)
}
