//! `throttle`: SRE client-side adaptive throttling (`k`, default 2, over `window_s`).

use std::time::Duration;

use faultline_patterns::throttle::{ThrottleConfig, ThrottleLayer};
use faultline_patterns::Layer;
use faultline_sim::{EdgeContext, EdgeService};
use serde::Deserialize;
use toml::{Table, Value};

use super::{config_error, LayerSpec};
use crate::read::de::{de_at, KeyError};
use crate::read::units::Num;
use crate::read::Cx;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThrottleFile {
    k: Option<Num>,
    window_s: Option<u64>,
}

pub(super) fn parse(key: &str, table: Table, _cx: &mut Cx) -> Result<LayerSpec, KeyError> {
    let t: ThrottleFile = de_at(key, Value::Table(table))?;
    let d = ThrottleConfig::default();
    let config =
        ThrottleConfig { k: t.k.map_or(d.k, |n| n.0), window: t.window_s.map_or(d.window, Duration::from_secs) };
    Ok(LayerSpec::Throttle(config.validate().map_err(|c| config_error(key, c, &[]))?))
}

pub(super) fn describe(c: &ThrottleConfig) -> String {
    format!("throttle(K={})", c.k)
}

pub(super) fn wrap(c: &ThrottleConfig, svc: EdgeService, ctx: &EdgeContext, i: usize) -> EdgeService {
    ThrottleLayer::new(*c, ctx.stream(&format!("{i}/throttle")).into_rng_core(), ctx.events.clone()).layer(svc)
}
