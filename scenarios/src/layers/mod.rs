//! Pattern stacks on call edges, one module per pattern: each reads its table of an
//! `[edges."a->b"]` section, describes itself in one line, and builds its layer around the
//! edge's service. [`PATTERNS`] is the one list of them.
//!
//! `stack = ["retry", "timeout"]` lists layers outermost first: here every attempt has its own
//! timeout. `["timeout", "retry"]` bounds the whole call, retries included.

mod adaptive;
mod balance;
mod breaker;
mod bulkhead;
mod cache;
mod chaos;
mod deadline;
mod fallback;
mod hedge;
mod rate_limiter;
mod retry;
mod throttle;
mod timeout;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use faultline_patterns::adaptive::{AimdConfig, Gradient2Config};
use faultline_patterns::balance::BalanceConfig;
use faultline_patterns::bulkhead::BulkheadConfig;
use faultline_patterns::cache::CacheConfig;
use faultline_patterns::chaos::ChaosConfig;
use faultline_patterns::circuit_breaker::BreakerConfig;
use faultline_patterns::health::ProbeConfig;
use faultline_patterns::hedge::HedgeConfig;
use faultline_patterns::rate_limiter::RateLimitConfig;
use faultline_patterns::retry::RetryConfig;
use faultline_patterns::throttle::ThrottleConfig;
use faultline_patterns::timeout::TimeoutConfig;
use faultline_patterns::ConfigError;
use faultline_sim::{CallError, EdgeContext, EdgeService, EdgeStack, Outcome};
use serde::Deserialize;
use toml::{Table, Value};

pub use retry::{BudgetSpec, RetryOn};

use crate::read::de::{de_at, err, KeyError};
use crate::read::Cx;
use crate::suggest::did_you_mean;

/// One layer with its settings.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerSpec {
    /// Retry with backoff and jitter, for the errors in `on`, within an optional budget.
    Retry(RetryConfig, RetryOn, BudgetSpec),
    /// A deadline per call.
    Timeout(TimeoutConfig),
    /// A deadline stamped on the request and carried down the call chain.
    Deadline(Duration),
    /// A circuit breaker; errors with an outcome in `ignore` are not counted.
    Breaker(BreakerConfig, BTreeSet<Outcome>),
    /// A cap on concurrent calls, with an optional bounded wait.
    Bulkhead(BulkheadConfig),
    /// A degraded answer for the errors listed.
    Fallback(BTreeSet<CallError>),
    /// At most a rate of calls (one limit per calling node).
    RateLimit(RateLimitConfig),
    /// SRE client-side adaptive throttling.
    Throttle(ThrottleConfig),
    /// AIMD adaptive concurrency limit.
    Adaptive(AimdConfig),
    /// Gradient2 adaptive concurrency limit.
    Gradient2(Gradient2Config),
    /// A second copy of slow calls.
    Hedge(HedgeConfig),
    /// Injected failures and latency.
    Chaos(ChaosConfig),
    /// Load balancing over the callee's replicas, with outlier ejection and, optionally,
    /// active health checks and discovery (refresh period).
    Balance(BalanceConfig, Option<ProbeConfig>, Option<Duration>),
    /// Cache-aside against the named cache service.
    Cache(String, CacheConfig),
}

/// Reads a pattern's table (absent: its defaults) at `key`.
type Parse = fn(key: &str, table: Table, cx: &mut Cx) -> Result<LayerSpec, KeyError>;

/// Every pattern a scenario can put on an edge: its name in `stack` and how its table is read.
pub(crate) const PATTERNS: [(&str, Parse); 13] = [
    ("retry", retry::parse),
    ("timeout", timeout::parse),
    ("breaker", breaker::parse),
    ("bulkhead", bulkhead::parse),
    ("fallback", fallback::parse),
    ("rate_limiter", rate_limiter::parse),
    ("throttle", throttle::parse),
    ("adaptive", adaptive::parse),
    ("hedge", hedge::parse),
    ("chaos", chaos::parse),
    ("balance", balance::parse),
    ("cache", cache::parse),
    ("deadline", deadline::parse),
];

impl LayerSpec {
    /// Layer names a scenario may use, in `PATTERNS` order.
    pub const NAMES: &'static str =
        "retry, timeout, breaker, bulkhead, fallback, rate_limiter, throttle, adaptive, hedge, chaos, balance, cache, deadline";

    fn describe(&self) -> String {
        match self {
            LayerSpec::Retry(c, _, b) => retry::describe(c, b),
            LayerSpec::Timeout(c) => timeout::describe(c),
            LayerSpec::Deadline(d) => deadline::describe(*d),
            LayerSpec::Breaker(c, _) => breaker::describe(c),
            LayerSpec::Bulkhead(c) => bulkhead::describe(c),
            LayerSpec::Fallback(_) => "fallback".to_owned(),
            LayerSpec::RateLimit(c) => rate_limiter::describe(c),
            LayerSpec::Throttle(c) => throttle::describe(c),
            LayerSpec::Adaptive(c) => adaptive::describe_aimd(c),
            LayerSpec::Gradient2(c) => adaptive::describe_gradient2(c),
            LayerSpec::Hedge(c) => hedge::describe(c),
            LayerSpec::Chaos(c) => chaos::describe(c),
            LayerSpec::Balance(c, h, d) => balance::describe(c, h, d),
            LayerSpec::Cache(service, c) => cache::describe(service, c),
        }
    }

    /// This layer around `svc`, the `i`-th of its edge's stack (for its random stream).
    fn wrap(&self, svc: EdgeService, ctx: &EdgeContext, i: usize) -> EdgeService {
        match self {
            LayerSpec::Retry(c, on, budget) => retry::wrap(c, on, budget, svc, ctx, i),
            LayerSpec::Timeout(c) => timeout::wrap(c, svc, ctx),
            LayerSpec::Deadline(d) => deadline::wrap(*d, svc, ctx),
            LayerSpec::Breaker(c, ignore) => breaker::wrap(c, ignore, svc, ctx),
            LayerSpec::Bulkhead(c) => bulkhead::wrap(c, svc, ctx),
            LayerSpec::Fallback(on) => fallback::wrap(on, svc, ctx),
            LayerSpec::RateLimit(c) => rate_limiter::wrap(c, svc, ctx),
            LayerSpec::Throttle(c) => throttle::wrap(c, svc, ctx, i),
            LayerSpec::Adaptive(c) => adaptive::wrap_aimd(c, svc, ctx),
            LayerSpec::Gradient2(c) => adaptive::wrap_gradient2(c, svc, ctx),
            LayerSpec::Hedge(c) => hedge::wrap(c, svc, ctx),
            LayerSpec::Chaos(c) => chaos::wrap(c, svc, ctx, i),
            LayerSpec::Balance(c, health, discovery) => balance::wrap(c, health, discovery, svc, ctx, i),
            LayerSpec::Cache(service, c) => cache::wrap(service, c, svc, ctx, i),
        }
    }
}

/// Layers applied outermost first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PatternStack(pub Vec<LayerSpec>);

impl EdgeStack for PatternStack {
    fn wrap(&self, base: EdgeService, ctx: EdgeContext) -> EdgeService {
        self.0.iter().enumerate().rev().fold(base, |svc, (i, layer)| layer.wrap(svc, &ctx, i))
    }

    fn describe(&self) -> String {
        if self.0.is_empty() {
            return "bare".to_owned();
        }
        self.0.iter().map(LayerSpec::describe).collect::<Vec<_>>().join(" > ")
    }
}

/// Convenience for Rust-built scenarios.
pub fn stack(layers: impl IntoIterator<Item = LayerSpec>) -> Arc<dyn EdgeStack> {
    Arc::new(PatternStack(layers.into_iter().collect()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StackFile {
    #[serde(default)]
    stack: Vec<String>,
}

/// Reads an `[edges."a->b"]` table at `key`: its `stack`, and a table per pattern in it.
pub(crate) fn edge_stack(key: &str, mut table: Table, cx: &mut Cx) -> Result<PatternStack, KeyError> {
    let mut tables = Table::new();
    let names: Vec<&str> = PATTERNS.iter().map(|(n, _)| *n).collect();
    for k in table.keys().filter(|k| *k != "stack").cloned().collect::<Vec<_>>() {
        if !names.contains(&k.as_str()) {
            let hint = did_you_mean(&k, &names);
            return err(
                format!("{key}.{k}"),
                format!("`{k}` is not a key here{hint} (allowed: stack, {})", names.join(", ")),
            );
        }
        tables.insert(k.clone(), table.remove(&k).unwrap_or(Value::Table(Table::new())));
    }
    let StackFile { stack } = de_at(key, Value::Table(table))?;
    let mut layers = Vec::new();
    for (i, name) in stack.iter().enumerate() {
        let Some((_, parse)) = PATTERNS.iter().find(|(n, _)| n == name) else {
            let hint = did_you_mean(name, &names);
            return err(
                format!("{key}.stack[{i}]"),
                format!("\"{name}\" is not a layer{hint} (expected one of {})", LayerSpec::NAMES),
            );
        };
        let layer_key = format!("{key}.{name}");
        let own = match tables.get(name) {
            Some(Value::Table(t)) => t.clone(),
            Some(other) => return err(layer_key, format!("{other} is not allowed (expected a table, e.g. {{ ... }})")),
            None => Table::new(),
        };
        layers.push(parse(&layer_key, own, cx)?);
    }
    if let Some(unused) = tables.keys().find(|t| !stack.contains(t)) {
        return err(
            format!("{key}.{unused}"),
            format!("`{unused}` is configured but not in `stack` ({stack:?}); add it to the stack or remove the table"),
        );
    }
    Ok(PatternStack(layers))
}

/// A pattern's `ConfigError`, at the key the scenario used: `scenario_keys` maps a config key
/// to the scenario's name for it where they differ.
fn config_error(table: &str, c: ConfigError, scenario_keys: &[(&str, &str)]) -> KeyError {
    let key = scenario_keys.iter().find(|(config, _)| *config == c.key).map_or(c.key, |(_, scenario)| *scenario);
    KeyError { key: format!("{table}.{key}"), message: format!("{} is not allowed (expected {})", c.value, c.allowed) }
}

/// A list of error names (`retry_on`, `fallback.on`), if given.
fn error_names(key: &str, names: Option<&[String]>) -> Result<Option<BTreeSet<CallError>>, KeyError> {
    let Some(names) = names else { return Ok(None) };
    let mut set = BTreeSet::new();
    for (i, n) in names.iter().enumerate() {
        match CallError::parse(n) {
            Some(e) => set.insert(e),
            None => {
                return err(format!("{key}[{i}]"), format!("\"{n}\" is not allowed (expected {})", CallError::NAMES))
            }
        };
    }
    Ok(Some(set))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_list_every_pattern_in_order() {
        let names: Vec<&str> = PATTERNS.iter().map(|(n, _)| *n).collect();
        assert_eq!(names.join(", "), LayerSpec::NAMES);
    }
}
