//! `fallback`: a degraded answer (`fallback`) for the errors in `on` (default: every error but
//! a gateway's refusals and a conflict).

use std::collections::BTreeSet;
use std::sync::Arc;

use faultline_patterns::fallback::FallbackLayer;
use faultline_patterns::Layer;
use faultline_sim::{CallError, EdgeContext, EdgeService, Served};
use serde::Deserialize;
use toml::{Table, Value};

use super::{error_names, LayerSpec};
use crate::read::de::{de_at, KeyError};
use crate::read::Cx;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FallbackFile {
    on: Option<Vec<String>>,
}

pub(super) fn parse(key: &str, table: Table, _cx: &mut Cx) -> Result<LayerSpec, KeyError> {
    let f: FallbackFile = de_at(key, Value::Table(table))?;
    let on = error_names(&format!("{key}.on"), f.on.as_deref())?;
    Ok(LayerSpec::Fallback(on.unwrap_or_else(|| {
        ["error", "dependency_error", "timeout", "rejected", "refused", "shed"]
            .into_iter()
            .filter_map(CallError::parse)
            .collect()
    })))
}

pub(super) fn wrap(on: &BTreeSet<CallError>, svc: EdgeService, ctx: &EdgeContext) -> EdgeService {
    let on = on.clone();
    let answer = Arc::new(move |e: &CallError| on.iter().any(|k| k.same_kind(*e)).then_some(Served::Fallback));
    FallbackLayer::new(answer, ctx.events.clone()).layer(svc)
}
