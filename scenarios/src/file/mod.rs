//! The scenario file format (TOML), read strictly.
//!
//! Every table denies unknown keys; every value is checked where it is read, with a message
//! naming the key, the value and what is allowed (see `crate::read`). Each section has
//! its module: `service`, `network`, `workload`, `fault`, `saga`; the pattern tables of an edge
//! are read by `crate::layers`, one module per pattern. The format is documented in
//! `docs/scenario-format.md`; keep the two in step.

mod fault;
mod network;
mod saga;
mod service;
pub mod storm;
mod workload;

use std::collections::BTreeMap;
use std::time::Duration;

use faultline_sim::{Fault, ServiceSpec, SimSpec};
use serde::Deserialize;
use toml::{Table, Value};

use crate::checkers::expect::{Expectations, Sometimes, EVENT_KINDS};
use crate::read::de;
pub use crate::read::de::KeyError;
use crate::read::units::Seconds;
use crate::read::Cx;

/// The whole file, each section still a table to be read by its module.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Defaults to the file's stem.
    name: Option<String>,
    /// One or two sentences for `faultline list`.
    description: Option<String>,
    /// The description in English and in Korean, for reports in that language
    /// (`faultline report --lang`); a report in a language without one shows `description`.
    #[allow(dead_code)]
    description_en: Option<String>,
    #[allow(dead_code)]
    description_ko: Option<String>,
    /// Root seed (default 1); `--seed` overrides it.
    seed: Option<u64>,
    /// How long the workload sends.
    duration_s: Seconds,
    /// How long in-flight requests may finish afterwards (default 60).
    drain_s: Option<Seconds>,
    /// Stall watchdog: no completion for this long with requests in flight fails the run
    /// (default 120; 0 turns it off).
    stall_after_s: Option<Seconds>,
    /// After the drain, time for background work to finish (default 0).
    settle_s: Option<Seconds>,
    #[serde(default)]
    network: Table,
    services: BTreeMap<String, Table>,
    #[serde(default)]
    edges: BTreeMap<String, Table>,
    workload: Table,
    #[serde(default)]
    faults: Vec<Table>,
    /// Storms from the library, expanded into faults after `faults`.
    #[serde(default)]
    storms: Vec<Table>,
    /// A fault that affects nothing fails the run (default false: a warning).
    strict: Option<bool>,
    /// Events that must happen (`[[sometimes]]`).
    #[serde(default)]
    sometimes: Vec<Table>,
    /// The liveness phase (`budget_s`).
    liveness: Option<LivenessFile>,
    /// The ranges `--swarm` draws faults from.
    swarm: Option<Table>,
    /// The saga an order saga follows (default: the built-in order saga).
    saga: Option<Table>,
}

/// `[liveness]`: once every fault has healed, the system must be back within `budget_s`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LivenessFile {
    budget_s: Seconds,
}

/// A spec read from a file, with what else the file says.
pub struct Parsed {
    /// The validated spec.
    pub spec: SimSpec,
    /// The file's description.
    pub description: String,
    /// Warnings about it.
    pub warnings: Vec<String>,
    /// What it expects to happen besides the invariants.
    pub expect: Expectations,
    /// The ranges `--swarm` draws from, when the file has `[swarm]`.
    pub swarm: Option<crate::swarm::SwarmSpec>,
}

impl ScenarioFile {
    /// Reads a whole document.
    pub fn from_table(doc: Table) -> Result<ScenarioFile, KeyError> {
        de::de_at("", Value::Table(doc)).map_err(|mut e| {
            if e.key.is_empty() {
                e.key = "(top level)".to_owned();
            }
            e
        })
    }

    /// Turns the file into a validated spec.
    pub fn into_spec(self, default_name: &str) -> Result<Parsed, KeyError> {
        let mut cx = Cx { services: self.services.keys().cloned().collect(), warnings: Vec::new() };
        let liveness = self.liveness.map(|l| l.budget_s.0);
        let strict = self.strict.unwrap_or(false);
        let mut expect = Expectations { strict, liveness, ..Default::default() };
        let sometimes = self.sometimes;
        let duration = self.duration_s.0;
        let mut b = SimSpec::builder(self.name.unwrap_or_else(|| default_name.to_owned()))
            .seed(self.seed.unwrap_or(1))
            .duration(duration)
            .drain(self.drain_s.map_or(Duration::from_secs(60), |s| s.0))
            .settle(self.settle_s.map_or(Duration::ZERO, |s| s.0))
            .stall_after(match self.stall_after_s {
                Some(s) if s.0.is_zero() => None,
                Some(s) => Some(s.0),
                None => Some(Duration::from_secs(120)),
            })
            .network(network::read(self.network)?);
        let services = service::read_all(&self.services)?;
        for s in services.iter().cloned() {
            b = b.service(s);
        }
        for (edge, table) in self.edges {
            let key = format!("edges.\"{edge}\"");
            let Some((from, to)) = edge.split_once("->") else {
                return de::err(
                    key,
                    format!("\"{edge}\" is not an edge name (expected \"caller->callee\", e.g. \"orders->payment\")"),
                );
            };
            let stack = crate::layers::edge_stack(&key, table, &mut cx)?;
            b = b.edge(from.trim(), to.trim(), std::sync::Arc::new(stack));
        }
        b = b.workload(workload::read(self.workload)?);
        let saga_given = self.saga.is_some();
        if let Some(t) = self.saga {
            b = b.saga(saga::read(t)?);
        }
        for (name, f) in fault_plan(self.faults, self.storms, &services)? {
            expect.fault_names.push(name.clone());
            if f.at >= duration {
                cx.warnings.push(format!(
                    "{name} ({} on {}) starts at {} s, when the workload has stopped (duration_s = {}): it affects only requests still draining, if any",
                    f.kind.name(),
                    f.target,
                    f.at.as_secs_f64(),
                    duration.as_secs_f64()
                ));
            }
            b = b.fault(f);
        }
        let spec = b.build().map_err(|e| KeyError {
            key: e.key.clone(),
            message: format!("{} is not allowed (expected {})", e.value, e.allowed),
        })?;
        if saga_given && !spec.has_saga() {
            return de::err(
                "saga",
                "a [saga] is followed by a service with app = \"order_saga\" or \"saga_choreography\"; this scenario has none",
            );
        }
        for (i, t) in sometimes.into_iter().enumerate() {
            expect.sometimes.push(read_sometimes(i, t, &spec)?);
        }
        let swarm = self.swarm.map(|t| crate::swarm::read(t, &spec)).transpose()?;
        Ok(Parsed { spec, description: self.description.unwrap_or_default(), warnings: cx.warnings, expect, swarm })
    }
}

/// The file's faults, then its storms' (each named for a warning).
fn fault_plan(
    faults: Vec<Table>,
    storms: Vec<Table>,
    services: &[ServiceSpec],
) -> Result<Vec<(String, Fault)>, KeyError> {
    let mut plan = Vec::new();
    for (i, f) in faults.into_iter().enumerate() {
        plan.push((format!("faults[{i}]"), fault::read(i, f)?));
    }
    for (i, t) in storms.into_iter().enumerate() {
        let kind = t.get("storm").and_then(|v| v.as_str()).unwrap_or("?").to_owned();
        plan.extend(storm::read(i, t, services)?.into_iter().map(|f| (format!("storms[{i}] ({kind})"), f)));
    }
    Ok(plan)
}

/// One `[[sometimes]]`: an event that must happen at least `at_least` times (default 1),
/// on `node` (a service or a node) when given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SometimesFile {
    event: String,
    node: Option<String>,
    at_least: Option<u64>,
}

fn read_sometimes(i: usize, table: Table, spec: &SimSpec) -> Result<Sometimes, KeyError> {
    let key = format!("sometimes[{i}]");
    let s: SometimesFile = de::de_at(&key, Value::Table(table))?;
    if !EVENT_KINDS.contains(&s.event.as_str()) {
        let known: Vec<String> = EVENT_KINDS.iter().map(|k| (*k).to_owned()).collect();
        return de::err(
            format!("{key}.event"),
            format!(
                "\"{}\" is not an event kind{} (expected a kind from events.csv's `kind` column, e.g. \"breaker.open\", \"retry.gave_up\", \"saga.record\")",
                s.event,
                crate::did_you_mean(&s.event, &known)
            ),
        );
    }
    if let Some(node) = &s.node {
        if !(crate::swarm::names_a_node(spec, node) || node == "client" || node == "sim") {
            let services: Vec<&str> = spec.services.iter().map(|s| s.name.as_str()).collect();
            return de::err(
                format!("{key}.node"),
                format!("\"{node}\" is not a service or node of this scenario (services: {})", services.join(", ")),
            );
        }
    }
    let at_least = s.at_least.unwrap_or(1);
    if at_least == 0 {
        return de::err(format!("{key}.at_least"), "0 is not allowed (expected 1 or more)");
    }
    Ok(Sometimes { event: s.event, node: s.node, at_least })
}
