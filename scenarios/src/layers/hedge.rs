//! `hedge`: a second copy of a slow call, after a fixed `delay_ms` or at a latency
//! `percentile` (with `initial_delay_ms` until it has samples), within `max_ratio` extra calls.

use std::time::Duration;

use faultline_patterns::hedge::{HedgeConfig, HedgeDelay, HedgeLayer};
use faultline_patterns::Layer;
use faultline_sim::{EdgeContext, EdgeService};
use serde::Deserialize;
use toml::{Table, Value};

use super::{config_error, LayerSpec};
use crate::read::de::{de_at, err, KeyError};
use crate::read::units::{Millis, Num};
use crate::read::Cx;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HedgeFile {
    delay_ms: Option<Millis>,
    percentile: Option<Num>,
    initial_delay_ms: Option<Millis>,
    max_ratio: Option<Num>,
}

pub(super) fn parse(key: &str, table: Table, _cx: &mut Cx) -> Result<LayerSpec, KeyError> {
    let h: HedgeFile = de_at(key, Value::Table(table))?;
    let d = HedgeConfig::default();
    let delay = match (h.delay_ms, h.percentile) {
        (Some(_), Some(_)) => {
            return err(format!("{key}.percentile"), "give either delay_ms (a fixed delay) or percentile, not both")
        }
        (Some(_), None) if h.initial_delay_ms.is_some() => {
            return err(
                format!("{key}.initial_delay_ms"),
                "`initial_delay_ms` is not used with a fixed delay_ms (it is the delay a percentile starts from)",
            )
        }
        (Some(ms), None) => HedgeDelay::Fixed(ms.0),
        (None, p) => HedgeDelay::Percentile {
            percentile: p.map_or(95.0, |n| n.0),
            initial: h.initial_delay_ms.map_or(Duration::from_millis(50), |m| m.0),
        },
    };
    let config = HedgeConfig { delay, max_ratio: h.max_ratio.map_or(d.max_ratio, |n| n.0) };
    Ok(LayerSpec::Hedge(config.validate().map_err(|c| config_error(key, c, &[]))?))
}

pub(super) fn describe(c: &HedgeConfig) -> String {
    match c.delay {
        HedgeDelay::Fixed(d) => format!("hedge({}ms)", d.as_millis()),
        HedgeDelay::Percentile { percentile, .. } => format!("hedge(p{percentile})"),
    }
}

pub(super) fn wrap(c: &HedgeConfig, svc: EdgeService, ctx: &EdgeContext) -> EdgeService {
    HedgeLayer::new(*c, ctx.events.clone()).with_clock(ctx.clock.clone()).layer(svc)
}
