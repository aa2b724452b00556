//! `adaptive`: an adaptive concurrency limit; `algorithm` chooses AIMD (`backoff_ratio`) or
//! Gradient2 (`tolerance`, `long_window`, `smoothing`), both with `initial`, `min`, `max`.

use faultline_patterns::adaptive::{AimdConfig, ConcurrencyLimitLayer, Gradient2, Gradient2Config, Limit};
use faultline_patterns::Layer;
use faultline_sim::{EdgeContext, EdgeService};
use serde::Deserialize;
use toml::Table;

use super::{config_error, LayerSpec};
use crate::read::de::{KeyError, Parts};
use crate::read::units::Num;
use crate::read::Cx;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdaptiveFile {
    initial: Option<u32>,
    min: Option<u32>,
    max: Option<u32>,
}

/// `algorithm`: how the limit moves.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum AlgorithmFile {
    Aimd { backoff_ratio: Option<Num> },
    Gradient2 { tolerance: Option<Num>, long_window: Option<u32>, smoothing: Option<Num> },
}

pub(super) fn parse(key: &str, table: Table, _cx: &mut Cx) -> Result<LayerSpec, KeyError> {
    let mut parts = Parts::new::<AdaptiveFile>(key, table);
    let algorithm: AlgorithmFile = parts.take_tagged("algorithm", "aimd")?;
    let a: AdaptiveFile = parts.rest()?;
    match algorithm {
        AlgorithmFile::Aimd { backoff_ratio } => {
            let d = AimdConfig::default();
            let config = AimdConfig {
                initial: a.initial.unwrap_or(d.initial),
                min: a.min.unwrap_or(d.min),
                max: a.max.unwrap_or(d.max),
                backoff_ratio: backoff_ratio.map_or(d.backoff_ratio, |n| n.0),
            };
            Ok(LayerSpec::Adaptive(config.validate().map_err(|c| config_error(key, c, &[]))?))
        }
        AlgorithmFile::Gradient2 { tolerance, long_window, smoothing } => {
            let d = Gradient2Config::default();
            let config = Gradient2Config {
                initial: a.initial.unwrap_or(d.initial),
                min: a.min.unwrap_or(d.min),
                max: a.max.unwrap_or(d.max),
                tolerance: tolerance.map_or(d.tolerance, |n| n.0),
                long_window: long_window.unwrap_or(d.long_window),
                smoothing: smoothing.map_or(d.smoothing, |n| n.0),
            };
            Ok(LayerSpec::Gradient2(config.validate().map_err(|c| config_error(key, c, &[]))?))
        }
    }
}

pub(super) fn describe_aimd(c: &AimdConfig) -> String {
    format!("adaptive(aimd {}..{})", c.min, c.max)
}

pub(super) fn describe_gradient2(c: &Gradient2Config) -> String {
    format!("adaptive(gradient2 {}..{})", c.min, c.max)
}

pub(super) fn wrap_aimd(c: &AimdConfig, svc: EdgeService, ctx: &EdgeContext) -> EdgeService {
    ConcurrencyLimitLayer::new(*c, ctx.events.clone()).layer(svc)
}

pub(super) fn wrap_gradient2(c: &Gradient2Config, svc: EdgeService, ctx: &EdgeContext) -> EdgeService {
    ConcurrencyLimitLayer::with_limit(Limit::Gradient2(Gradient2::new(*c)), ctx.events.clone()).layer(svc)
}
