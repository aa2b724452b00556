//! `breaker`: a circuit breaker with resilience4j's knobs; `window` chooses a count window
//! (`window_size`) or a time window (`window_s`). `failure_rate` and `slow_rate` are
//! percentages: a value of 1 or less is almost surely a fraction meant as a percentage, and is
//! warned about.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use faultline_patterns::circuit_breaker::{BreakerConfig, CallOutcome, CircuitBreakerLayer, OpenDuration, WindowKind};
use faultline_patterns::Layer;
use faultline_sim::{CallError, EdgeContext, EdgeService, Outcome};
use serde::Deserialize;
use toml::Table;

use super::{config_error, LayerSpec};
use crate::read::de::{err, KeyError, Parts};
use crate::read::units::{Millis, Num};
use crate::read::Cx;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BreakerFile {
    failure_rate: Option<Num>,
    slow_rate: Option<Num>,
    slow_call_ms: Option<Millis>,
    minimum_calls: Option<u32>,
    open_ms: Option<Millis>,
    open_multiplier: Option<Num>,
    open_max_ms: Option<Millis>,
    half_open_permits: Option<u32>,
    max_wait_in_half_open_ms: Option<Millis>,
    automatic: Option<bool>,
    drop_stale_outcomes: Option<bool>,
    #[serde(default)]
    ignore: Vec<String>,
}

/// `window`: what "recent" means.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum WindowFile {
    Count { window_size: Option<u32> },
    Time { window_s: Option<u32> },
}

/// The config keys whose scenario names differ.
const KEYS: &[(&str, &str)] = &[("failure_rate_threshold", "failure_rate"), ("slow_call_rate_threshold", "slow_rate")];

pub(super) fn parse(key: &str, table: Table, cx: &mut Cx) -> Result<LayerSpec, KeyError> {
    let mut parts = Parts::new::<BreakerFile>(key, table);
    let window = match parts.take_tagged::<WindowFile>("window", "count")? {
        WindowFile::Count { window_size } => WindowKind::CountBased { size: window_size.unwrap_or(100) },
        WindowFile::Time { window_s } => WindowKind::TimeBased { seconds: window_s.unwrap_or(10) },
    };
    let b: BreakerFile = parts.rest()?;
    let d = BreakerConfig::default();
    for (name, v) in [("failure_rate", b.failure_rate), ("slow_rate", b.slow_rate)] {
        if let Some(Num(v)) = v.filter(|v| v.0 > 0.0 && v.0 <= 1.0) {
            cx.warnings.push(format!(
                "{key}.{name} = {v} is a percentage: {v}% of calls, not {}%; write {} if that is what you meant",
                v * 100.0,
                v * 100.0
            ));
        }
    }
    let open = b.open_ms.map_or(Duration::from_secs(60), |m| m.0);
    let open_duration = match (b.open_multiplier, b.open_max_ms) {
        (None, None) => OpenDuration::Fixed(open),
        (multiplier, max) => OpenDuration::Backoff {
            initial: open,
            multiplier: multiplier.map_or(2.0, |m| m.0),
            max: max.map_or(open * 10, |m| m.0),
        },
    };
    let config = BreakerConfig {
        window,
        failure_rate_threshold: b.failure_rate.map_or(d.failure_rate_threshold, |n| n.0),
        slow_call_rate_threshold: b.slow_rate.map_or(d.slow_call_rate_threshold, |n| n.0),
        slow_call_duration: b.slow_call_ms.map_or(d.slow_call_duration, |m| m.0),
        minimum_calls: b.minimum_calls.unwrap_or(d.minimum_calls),
        open_duration,
        half_open_permits: b.half_open_permits.unwrap_or(d.half_open_permits),
        max_wait_in_half_open: b.max_wait_in_half_open_ms.map(|m| m.0),
        automatic_transition: b.automatic.unwrap_or(d.automatic_transition),
        drop_stale_outcomes: b.drop_stale_outcomes.unwrap_or(d.drop_stale_outcomes),
    }
    .validate()
    .map_err(|c| config_error(key, c, KEYS))?;
    let mut ignore = BTreeSet::new();
    for (i, name) in b.ignore.iter().enumerate() {
        let outcome = [Outcome::Error, Outcome::Timeout, Outcome::Rejected, Outcome::Refused]
            .into_iter()
            .find(|o| o.as_str() == name);
        match outcome {
            Some(o) => ignore.insert(o),
            None => {
                return err(
                    format!("{key}.ignore[{i}]"),
                    format!("\"{name}\" is not allowed (expected error, timeout, rejected or refused)"),
                )
            }
        };
    }
    Ok(LayerSpec::Breaker(config, ignore))
}

pub(super) fn describe(c: &BreakerConfig) -> String {
    format!("breaker({}%/{})", c.failure_rate_threshold, c.effective_minimum())
}

pub(super) fn wrap(c: &BreakerConfig, ignore: &BTreeSet<Outcome>, svc: EdgeService, ctx: &EdgeContext) -> EdgeService {
    let ignore = ignore.clone();
    let classify = Arc::new(move |e: &CallError| {
        if e.outcome() == Outcome::Shed || ignore.contains(&e.outcome()) {
            CallOutcome::Ignored
        } else {
            CallOutcome::Failure
        }
    });
    CircuitBreakerLayer::new(*c, ctx.events.clone()).with_classifier(classify).layer(svc)
}
