//! `rate_limiter`: at most `rate_per_s` calls per calling node; `algorithm` chooses GCRA (with
//! `burst` and `max_wait_ms`) or a sliding window (`window_ms`).

use std::sync::Arc;

use faultline_patterns::rate_limiter::{RateLimitConfig, RateLimiterLayer};
use faultline_patterns::Layer;
use faultline_sim::{CallRequest, EdgeContext, EdgeService};
use serde::Deserialize;
use toml::Table;

use super::{config_error, LayerSpec};
use crate::read::de::{KeyError, Parts};
use crate::read::units::{Millis, Num};
use crate::read::Cx;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitFile {
    rate_per_s: Option<Num>,
}

/// `algorithm`: how the limit is kept.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum AlgorithmFile {
    Gcra { burst: Option<u32>, max_wait_ms: Option<Millis> },
    SlidingWindow { window_ms: Option<Millis> },
}

pub(super) fn parse(key: &str, table: Table, _cx: &mut Cx) -> Result<LayerSpec, KeyError> {
    let mut parts = Parts::new::<RateLimitFile>(key, table);
    let d = RateLimitConfig::default();
    let mut config = match parts.take_tagged::<AlgorithmFile>("algorithm", "gcra")? {
        AlgorithmFile::Gcra { burst, max_wait_ms } => {
            RateLimitConfig { burst: burst.unwrap_or(d.burst), max_wait: max_wait_ms.map_or(d.max_wait, |m| m.0), ..d }
        }
        AlgorithmFile::SlidingWindow { window_ms } => {
            RateLimitConfig { sliding_window: Some(window_ms.map_or(std::time::Duration::from_secs(1), |m| m.0)), ..d }
        }
    };
    let r: RateLimitFile = parts.rest()?;
    config.rate_per_s = r.rate_per_s.map_or(d.rate_per_s, |n| n.0);
    Ok(LayerSpec::RateLimit(config.validate().map_err(|c| config_error(key, c, &[]))?))
}

pub(super) fn describe(c: &RateLimitConfig) -> String {
    format!("rate_limiter({}/s)", c.rate_per_s)
}

pub(super) fn wrap(c: &RateLimitConfig, svc: EdgeService, ctx: &EdgeContext) -> EdgeService {
    RateLimiterLayer::new(*c, Arc::new(|_: &CallRequest| ()), ctx.events.clone()).layer(svc)
}
