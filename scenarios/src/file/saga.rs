//! `[saga]`: the saga an order saga follows: its name and steps, each with the participant
//! service that runs it, the action it sends and the compensation that undoes it. Without the
//! table, the built-in order saga (reserve at inventory, charge at payment, ship at shipping).

use faultline_patterns::saga::{SagaDefinition, Step};
use faultline_sim::spec::saga::intern;
use serde::Deserialize;
use toml::{Table, Value};

use crate::read::de::{de_at, KeyError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SagaFile {
    /// Shown in logs; default `order`.
    name: Option<String>,
    steps: Vec<StepFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFile {
    /// Shown in logs; default `<action>_<service>`.
    name: Option<String>,
    service: String,
    action: String,
    compensation: String,
}

/// Reads `[saga]` (the spec checks it whole: services that exist, distinct operations).
pub(super) fn read(table: Table) -> Result<SagaDefinition, KeyError> {
    let file: SagaFile = de_at("saga", Value::Table(table))?;
    let steps = file
        .steps
        .into_iter()
        .map(|s| Step {
            name: intern(&s.name.unwrap_or_else(|| format!("{}_{}", s.action, s.service))),
            service: intern(&s.service),
            action: intern(&s.action),
            compensation: intern(&s.compensation),
        })
        .collect();
    Ok(SagaDefinition { name: intern(file.name.as_deref().unwrap_or("order")), steps, on_complete: Vec::new() })
}
