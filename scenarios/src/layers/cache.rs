//! `cache`: cache-aside against a cache `service` (default `cache`), with TTL and jitter,
//! XFetch early refresh, stale-while-revalidate and single-flight.

use faultline_patterns::cache::{CacheAsideLayer, CacheConfig};
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
struct CacheFile {
    service: Option<String>,
    ttl_ms: Option<Millis>,
    ttl_jitter: Option<Num>,
    xfetch_beta: Option<Num>,
    stale_ms: Option<Millis>,
    single_flight: Option<bool>,
}

pub(super) fn parse(key: &str, table: Table, cx: &mut Cx) -> Result<LayerSpec, KeyError> {
    let c: CacheFile = de_at(key, Value::Table(table))?;
    let d = CacheConfig::default();
    let service = c.service.unwrap_or_else(|| "cache".to_owned());
    if !cx.services.contains(&service) {
        return err(
            format!("{key}.service"),
            format!("\"{service}\" is not allowed (expected one of the services: {})", cx.services.join(", ")),
        );
    }
    let config = CacheConfig {
        ttl: c.ttl_ms.map_or(d.ttl, |m| m.0),
        ttl_jitter: c.ttl_jitter.map_or(d.ttl_jitter, |n| n.0),
        xfetch_beta: c.xfetch_beta.map_or(d.xfetch_beta, |n| n.0),
        stale: c.stale_ms.map_or(d.stale, |m| m.0),
        single_flight: c.single_flight.unwrap_or(d.single_flight),
    };
    Ok(LayerSpec::Cache(service, config.validate().map_err(|e| config_error(key, e, &[]))?))
}

pub(super) fn describe(service: &str, c: &CacheConfig) -> String {
    format!("cache({service}, ttl {}ms)", c.ttl.as_millis())
}

pub(super) fn wrap(service: &str, c: &CacheConfig, svc: EdgeService, ctx: &EdgeContext, i: usize) -> EdgeService {
    match (ctx.cache)(service) {
        Some(store) => {
            CacheAsideLayer::new(store, *c, ctx.stream(&format!("{i}/cache")).into_rng_core(), ctx.events.clone())
                .layer(svc)
        }
        None => svc, // checked when the scenario was read
    }
}
