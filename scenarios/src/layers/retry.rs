//! `retry`: attempts, backoff (`backoff` chooses fixed, linear or exponential, each with its
//! keys), jitter, which errors to retry, and an optional budget (`budget` chooses none, a token
//! bucket or a ratio, each with its keys).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faultline_patterns::budget::{RatioBudget, RetryBudget, TokenBucketBudget};
use faultline_patterns::retry::{Backoff, Jitter, RetryConfig, RetryLayer};
use faultline_patterns::Layer;
use faultline_sim::{CallError, EdgeContext, EdgeService};
use serde::Deserialize;
use toml::Table;

use super::{config_error, error_names, LayerSpec};
use crate::read::de::{KeyError, Parts};
use crate::read::units::{Millis, Num};
use crate::read::Cx;

/// The errors a retry layer retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryOn(pub BTreeSet<CallError>);

impl Default for RetryOn {
    /// Every error except a local refusal.
    fn default() -> Self {
        RetryOn(
            [CallError::Server, CallError::Dependency, CallError::Timeout, CallError::Rejected, CallError::Refused]
                .into_iter()
                .collect(),
        )
    }
}

/// A retry budget, as configured (each calling node gets its own).
#[derive(Debug, Clone, PartialEq)]
pub enum BudgetSpec {
    /// No budget: only `max_attempts` limits retries.
    None,
    /// The AWS SDK's token bucket.
    TokenBucket {
        /// Capacity (AWS: 500).
        tokens: u32,
        /// Cost of a retry (AWS: 5).
        retry_cost: u32,
        /// Cost of a retry after a timeout (AWS: 10).
        timeout_cost: u32,
    },
    /// Retries at most `ratio` of requests over `ttl_s`, plus `min_per_s`.
    Ratio {
        /// Share of requests (SRE: 0.1).
        ratio: f64,
        /// Retries per second allowed regardless.
        min_per_s: f64,
        /// Window, whole seconds.
        ttl_s: u64,
    },
}

impl BudgetSpec {
    fn describe(&self) -> String {
        match self {
            BudgetSpec::None => "no budget".into(),
            BudgetSpec::TokenBucket { tokens, .. } => format!("token bucket {tokens}"),
            BudgetSpec::Ratio { ratio, .. } => format!("budget {}%", ratio * 100.0),
        }
    }

    /// Checks the values (the same checks as building it).
    pub fn validate(&self) -> Result<(), faultline_patterns::ConfigError> {
        match *self {
            BudgetSpec::None => Ok(()),
            BudgetSpec::TokenBucket { tokens, retry_cost, timeout_cost } => {
                TokenBucketBudget::new(tokens, retry_cost, timeout_cost, 1).map(|_| ())
            }
            BudgetSpec::Ratio { ratio, min_per_s, ttl_s } => {
                RatioBudget::new(ratio, min_per_s, Duration::from_secs(ttl_s)).map(|_| ())
            }
        }
    }

    fn build(&self) -> Option<Arc<Mutex<dyn RetryBudget>>> {
        match *self {
            BudgetSpec::None => None,
            BudgetSpec::TokenBucket { tokens, retry_cost, timeout_cost } => {
                let b = TokenBucketBudget::new(tokens, retry_cost, timeout_cost, 1).ok()?;
                Some(Arc::new(Mutex::new(b)))
            }
            BudgetSpec::Ratio { ratio, min_per_s, ttl_s } => {
                let b = RatioBudget::new(ratio, min_per_s, Duration::from_secs(ttl_s)).ok()?;
                Some(Arc::new(Mutex::new(b)))
            }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetryFile {
    max_attempts: Option<u32>,
    jitter: Option<String>,
    retry_on: Option<Vec<String>>,
}

/// `backoff`: how the wait grows.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum BackoffFile {
    Fixed { delay_ms: Option<Millis> },
    Linear { base_ms: Option<Millis>, cap_ms: Option<Millis> },
    Exponential { base_ms: Option<Millis>, cap_ms: Option<Millis> },
}

/// `budget`: what caps retries besides `max_attempts`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum BudgetFile {
    None {},
    TokenBucket { budget_tokens: Option<u32>, retry_cost: Option<u32>, timeout_cost: Option<u32> },
    Ratio { budget_ratio: Option<Num>, budget_min_per_s: Option<Num>, budget_ttl_s: Option<u64> },
}

pub(super) fn parse(key: &str, table: Table, _cx: &mut Cx) -> Result<LayerSpec, KeyError> {
    let mut parts = Parts::new::<RetryFile>(key, table);
    let (base, cap) = (
        |m: Option<Millis>| m.map_or(RetryConfig::DEFAULT_BASE, |m| m.0),
        |m: Option<Millis>| m.map_or(RetryConfig::DEFAULT_CAP, |m| m.0),
    );
    let backoff = match parts.take_tagged::<BackoffFile>("backoff", "exponential")? {
        BackoffFile::Fixed { delay_ms } => Backoff::Fixed { delay: base(delay_ms) },
        BackoffFile::Linear { base_ms, cap_ms } => Backoff::Linear { base: base(base_ms), cap: cap(cap_ms) },
        BackoffFile::Exponential { base_ms, cap_ms } => Backoff::Exponential { base: base(base_ms), cap: cap(cap_ms) },
    };
    let budget = match parts.take_tagged::<BudgetFile>("budget", "none")? {
        BudgetFile::None {} => BudgetSpec::None,
        BudgetFile::TokenBucket { budget_tokens, retry_cost, timeout_cost } => BudgetSpec::TokenBucket {
            tokens: budget_tokens.unwrap_or(500),
            retry_cost: retry_cost.unwrap_or(5),
            timeout_cost: timeout_cost.unwrap_or(10),
        },
        BudgetFile::Ratio { budget_ratio, budget_min_per_s, budget_ttl_s } => BudgetSpec::Ratio {
            ratio: budget_ratio.map_or(0.1, |n| n.0),
            min_per_s: budget_min_per_s.map_or(1.0, |n| n.0),
            ttl_s: budget_ttl_s.unwrap_or(10),
        },
    };
    let r: RetryFile = parts.rest()?;
    let d = RetryConfig::default();
    let jitter = match &r.jitter {
        Some(j) => Jitter::parse(j).map_err(|c| config_error(key, c, &[]))?,
        None => d.jitter,
    };
    let config = RetryConfig { max_attempts: r.max_attempts.unwrap_or(d.max_attempts), backoff, jitter };
    let config = config.validate().map_err(|c| config_error(key, c, &[]))?;
    let on = error_names(&format!("{key}.retry_on"), r.retry_on.as_deref())?.map(RetryOn).unwrap_or_default();
    let budget_keys = [
        ("tokens", "budget_tokens"),
        ("ratio", "budget_ratio"),
        ("min_per_s", "budget_min_per_s"),
        ("ttl_s", "budget_ttl_s"),
    ];
    budget.validate().map_err(|c| config_error(key, c, &budget_keys))?;
    Ok(LayerSpec::Retry(config, on, budget))
}

pub(super) fn describe(c: &RetryConfig, b: &BudgetSpec) -> String {
    match b {
        BudgetSpec::None => format!("retry({})", c.max_attempts),
        b => format!("retry({}, {})", c.max_attempts, b.describe()),
    }
}

pub(super) fn wrap(
    c: &RetryConfig,
    on: &RetryOn,
    budget: &BudgetSpec,
    svc: EdgeService,
    ctx: &EdgeContext,
    i: usize,
) -> EdgeService {
    let rng = ctx.stream(&format!("{i}/retry")).into_rng_core();
    let on = on.clone();
    let mut layer =
        RetryLayer::new(*c, rng, ctx.events.clone()).retry_on(Arc::new(move |e: &CallError| on.0.contains(e)));
    if let Some(b) = budget.build() {
        layer = layer.with_budget(b);
    }
    layer.layer(svc)
}
