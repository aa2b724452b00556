//! `chaos`: injected errors (`error_rate`) and latency (`latency_rate` of calls delayed
//! `latency_ms`), drawn from the run's seed.

use faultline_patterns::chaos::{ChaosConfig, ChaosLayer};
use faultline_patterns::Layer;
use faultline_sim::{EdgeContext, EdgeService};
use serde::Deserialize;
use toml::{Table, Value};

use super::{config_error, LayerSpec};
use crate::read::de::{de_at, KeyError};
use crate::read::units::{Millis, Num};
use crate::read::Cx;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChaosFile {
    error_rate: Option<Num>,
    latency_rate: Option<Num>,
    latency_ms: Option<Millis>,
}

pub(super) fn parse(key: &str, table: Table, _cx: &mut Cx) -> Result<LayerSpec, KeyError> {
    let c: ChaosFile = de_at(key, Value::Table(table))?;
    let d = ChaosConfig::default();
    let config = ChaosConfig {
        error_rate: c.error_rate.map_or(d.error_rate, |n| n.0),
        latency_rate: c.latency_rate.map_or(d.latency_rate, |n| n.0),
        latency: c.latency_ms.map_or(d.latency, |m| m.0),
    };
    Ok(LayerSpec::Chaos(config.validate().map_err(|c| config_error(key, c, &[]))?))
}

pub(super) fn describe(c: &ChaosConfig) -> String {
    format!("chaos(errors {}, latency {})", c.error_rate, c.latency_rate)
}

pub(super) fn wrap(c: &ChaosConfig, svc: EdgeService, ctx: &EdgeContext, i: usize) -> EdgeService {
    ChaosLayer::new(*c, ctx.stream(&format!("{i}/chaos")).into_rng_core(), ctx.events.clone()).layer(svc)
}
