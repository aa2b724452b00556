//! `balance`: load balancing over the callee's replicas (`strategy`), with outlier ejection
//! (`eject_after`, `ejection_s`, `max_ejected_percent`), active health checks
//! (`health_period_ms`...) and service discovery (`discovery_refresh_ms`).

use std::time::Duration;

use faultline_patterns::balance::{BalanceConfig, BalanceLayer, Ejection, Strategy};
use faultline_patterns::health::ProbeConfig;
use faultline_patterns::Layer;
use faultline_sim::{EdgeContext, EdgeService};
use serde::Deserialize;
use toml::{Table, Value};

use super::{config_error, LayerSpec};
use crate::read::de::{de_at, err, KeyError};
use crate::read::units::{Millis, Num, Seconds};
use crate::read::Cx;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BalanceFile {
    strategy: Option<String>,
    eject_after: Option<u32>,
    ejection_s: Option<Seconds>,
    max_ejected_percent: Option<Num>,
    decay_s: Option<Seconds>,
    fail_open: Option<bool>,
    health_period_ms: Option<Millis>,
    health_timeout_ms: Option<Millis>,
    unhealthy_after: Option<u32>,
    healthy_after: Option<u32>,
    discovery_refresh_ms: Option<Millis>,
}

pub(super) fn parse(key: &str, table: Table, _cx: &mut Cx) -> Result<LayerSpec, KeyError> {
    let b: BalanceFile = de_at(key, Value::Table(table))?;
    let d = BalanceConfig::default();
    let strategy = match &b.strategy {
        Some(s) => Strategy::parse(s).map_err(|c| config_error(key, c, &[]))?,
        None => d.strategy,
    };
    let ejection = (b.eject_after.is_some() || b.ejection_s.is_some() || b.max_ejected_percent.is_some()).then(|| {
        let e = Ejection::default();
        Ejection {
            consecutive_failures: b.eject_after.unwrap_or(e.consecutive_failures),
            base_ejection: b.ejection_s.map_or(e.base_ejection, |s| s.0),
            max_ejected_percent: b.max_ejected_percent.map_or(e.max_ejected_percent, |n| n.0),
        }
    });
    let decay = b.decay_s.map_or(d.decay, |s| s.0);
    let config = BalanceConfig { strategy, ejection, decay, fail_open: b.fail_open.unwrap_or(d.fail_open) }
        .validate()
        .map_err(|c| config_error(key, c, &[]))?;
    let probing = b.health_period_ms.is_some()
        || b.health_timeout_ms.is_some()
        || b.unhealthy_after.is_some()
        || b.healthy_after.is_some();
    let health = if probing {
        let p = ProbeConfig::default();
        let probe = ProbeConfig {
            period: b.health_period_ms.map_or(p.period, |m| m.0),
            timeout: b.health_timeout_ms.map_or(p.timeout, |m| m.0),
            failure_threshold: b.unhealthy_after.unwrap_or(p.failure_threshold),
            success_threshold: b.healthy_after.unwrap_or(p.success_threshold),
        };
        Some(probe.validate().map_err(|c| config_error(key, c, &[]))?)
    } else {
        None
    };
    let discovery = match b.discovery_refresh_ms {
        Some(m) if m.0.is_zero() => {
            return err(format!("{key}.discovery_refresh_ms"), "0 is not allowed (expected a duration > 0)")
        }
        other => other.map(|m| m.0),
    };
    Ok(LayerSpec::Balance(config, health, discovery))
}

pub(super) fn describe(c: &BalanceConfig, health: &Option<ProbeConfig>, discovery: &Option<Duration>) -> String {
    format!(
        "balance({:?}{}{}{}{})",
        c.strategy,
        if c.ejection.is_some() { ", ejection" } else { "" },
        if health.is_some() { ", health checks" } else { "" },
        if discovery.is_some() { ", discovery" } else { "" },
        if c.fail_open { "" } else { ", fail closed" }
    )
}

pub(super) fn wrap(
    c: &BalanceConfig,
    health: &Option<ProbeConfig>,
    discovery: &Option<Duration>,
    svc: EdgeService,
    ctx: &EdgeContext,
    i: usize,
) -> EdgeService {
    let mut layer =
        BalanceLayer::new(*c, ctx.replicas, ctx.stream(&format!("{i}/balance")).into_rng_core(), ctx.events.clone());
    if let Some(probe) = health {
        layer = layer.with_health_checks(ctx.probe.clone(), *probe);
    }
    if let Some(refresh) = discovery {
        layer = layer.with_discovery(ctx.membership.clone(), *refresh);
    }
    layer.layer(svc)
}
