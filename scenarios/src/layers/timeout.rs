//! `timeout`: how long one call may take (`timeout_ms`, default 1000).

use faultline_patterns::timeout::{TimeoutConfig, TimeoutLayer};
use faultline_patterns::Layer;
use faultline_sim::{EdgeContext, EdgeService};
use serde::Deserialize;
use toml::{Table, Value};

use super::{config_error, LayerSpec};
use crate::read::de::{de_at, KeyError};
use crate::read::units::Millis;
use crate::read::Cx;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeoutFile {
    timeout_ms: Option<Millis>,
}

pub(super) fn parse(key: &str, table: Table, _cx: &mut Cx) -> Result<LayerSpec, KeyError> {
    let t: TimeoutFile = de_at(key, Value::Table(table))?;
    let after = t.timeout_ms.map_or(TimeoutConfig::DEFAULT_AFTER, |m| m.0);
    Ok(LayerSpec::Timeout(TimeoutConfig::new(after).map_err(|c| config_error(key, c, &[]))?))
}

pub(super) fn describe(c: &TimeoutConfig) -> String {
    format!("timeout({}ms)", c.after.as_millis())
}

pub(super) fn wrap(c: &TimeoutConfig, svc: EdgeService, ctx: &EdgeContext) -> EdgeService {
    TimeoutLayer::new(*c, ctx.events.clone()).with_clock(ctx.clock.clone()).layer(svc)
}
