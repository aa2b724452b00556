//! `bulkhead`: a cap on concurrent calls (`max_concurrent`), with a bounded wait (`max_queue`
//! calls for at most `max_wait_ms`).

use faultline_patterns::bulkhead::{BulkheadConfig, BulkheadLayer};
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
struct BulkheadFile {
    max_concurrent: Option<u32>,
    max_queue: Option<u32>,
    max_wait_ms: Option<Millis>,
}

pub(super) fn parse(key: &str, table: Table, _cx: &mut Cx) -> Result<LayerSpec, KeyError> {
    let b: BulkheadFile = de_at(key, Value::Table(table))?;
    let d = BulkheadConfig::default();
    let config = BulkheadConfig {
        max_concurrent: b.max_concurrent.unwrap_or(d.max_concurrent),
        max_queue: b.max_queue.unwrap_or(d.max_queue),
        max_wait: b.max_wait_ms.map_or(d.max_wait, |m| m.0),
    };
    Ok(LayerSpec::Bulkhead(config.validate().map_err(|c| config_error(key, c, &[]))?))
}

pub(super) fn describe(c: &BulkheadConfig) -> String {
    format!("bulkhead({}+{})", c.max_concurrent, c.max_queue)
}

pub(super) fn wrap(c: &BulkheadConfig, svc: EdgeService, ctx: &EdgeContext) -> EdgeService {
    BulkheadLayer::new(*c, ctx.events.clone()).with_clock(ctx.clock.clone()).layer(svc)
}
