//! Pattern stacks on call edges, built from the scenario's `[edges."a->b"]` tables.
//!
//! `stack = ["retry", "timeout"]` lists layers outermost first: here every attempt has its own
//! timeout. `["timeout", "retry"]` bounds the whole call, retries included.

use std::sync::Arc;

use std::collections::BTreeSet;

use faultline_patterns::adaptive::{AimdConfig, AimdLayer, Gradient2, Gradient2Config, Limit};
use faultline_patterns::balance::{BalanceConfig, BalanceLayer};
use faultline_patterns::budget::{RatioBudget, RetryBudget, TokenBucketBudget};
use faultline_patterns::bulkhead::{BulkheadConfig, BulkheadLayer};
use faultline_patterns::cache::{CacheAsideLayer, CacheConfig};
use faultline_patterns::chaos::{ChaosConfig, ChaosLayer};
use faultline_patterns::circuit_breaker::{BreakerConfig, CallOutcome, CircuitBreakerLayer};
use faultline_patterns::deadline::DeadlineLayer;
use faultline_patterns::fallback::FallbackLayer;
use faultline_patterns::health::ProbeConfig;
use faultline_patterns::hedge::{HedgeConfig, HedgeDelay, HedgeLayer};
use faultline_patterns::rate_limiter::{RateLimitConfig, RateLimiterLayer};
use faultline_patterns::retry::{RetryConfig, RetryLayer};
use faultline_patterns::throttle::{ThrottleConfig, ThrottleLayer};
use faultline_patterns::timeout::{TimeoutConfig, TimeoutLayer};
use faultline_patterns::Layer;
use faultline_sim::{CallError, EdgeContext, EdgeService, EdgeStack, Outcome, Served};

/// One layer with its settings.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerSpec {
    /// Retry with backoff and jitter, for the errors in `on`, within an optional budget.
    Retry(RetryConfig, RetryOn, BudgetSpec),
    /// A deadline per call.
    Timeout(TimeoutConfig),
    /// A deadline stamped on the request and carried down the call chain.
    Deadline(std::time::Duration),
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
    Balance(BalanceConfig, Option<ProbeConfig>, Option<std::time::Duration>),
    /// Cache-aside against the named cache service.
    Cache(String, CacheConfig),
}

impl LayerSpec {
    /// Layer names a scenario may use.
    pub const NAMES: &'static str = "retry, timeout, breaker, bulkhead, fallback, rate_limiter, throttle, adaptive, hedge, chaos, balance, cache, deadline";

    fn describe(&self) -> String {
        match self {
            LayerSpec::Retry(c, _, BudgetSpec::None) => format!("retry({})", c.max_attempts),
            LayerSpec::Retry(c, _, b) => format!("retry({}, {})", c.max_attempts, b.describe()),
            LayerSpec::Timeout(c) => format!("timeout({}ms)", c.after.as_millis()),
            LayerSpec::Deadline(d) => format!("deadline({}ms)", d.as_millis()),
            LayerSpec::Breaker(c, _) => format!("breaker({}%/{})", c.failure_rate_threshold, c.effective_minimum()),
            LayerSpec::Bulkhead(c) => format!("bulkhead({}+{})", c.max_concurrent, c.max_queue),
            LayerSpec::Fallback(_) => "fallback".to_owned(),
            LayerSpec::RateLimit(c) => format!("rate_limiter({}/s)", c.rate_per_s),
            LayerSpec::Throttle(c) => format!("throttle(K={})", c.k),
            LayerSpec::Adaptive(c) => format!("adaptive(aimd {}..{})", c.min, c.max),
            LayerSpec::Gradient2(c) => format!("adaptive(gradient2 {}..{})", c.min, c.max),
            LayerSpec::Hedge(c) => match c.delay {
                HedgeDelay::Fixed(d) => format!("hedge({}ms)", d.as_millis()),
                HedgeDelay::Percentile { percentile, .. } => format!("hedge(p{percentile})"),
            },
            LayerSpec::Chaos(c) => format!("chaos(errors {}, latency {})", c.error_rate, c.latency_rate),
            LayerSpec::Cache(service, c) => format!("cache({service}, ttl {}ms)", c.ttl.as_millis()),
            LayerSpec::Balance(c, h, d) => format!(
                "balance({:?}{}{}{}{})",
                c.strategy,
                if c.ejection.is_some() { ", ejection" } else { "" },
                if h.is_some() { ", health checks" } else { "" },
                if d.is_some() { ", discovery" } else { "" },
                if c.fail_open { "" } else { ", fail closed" }
            ),
        }
    }
}

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
                RatioBudget::new(ratio, min_per_s, std::time::Duration::from_secs(ttl_s)).map(|_| ())
            }
        }
    }

    fn build(&self) -> Option<Arc<std::sync::Mutex<dyn RetryBudget>>> {
        match *self {
            BudgetSpec::None => None,
            BudgetSpec::TokenBucket { tokens, retry_cost, timeout_cost } => {
                TokenBucketBudget::new(tokens, retry_cost, timeout_cost, 1)
                    .ok()
                    .map(|b| Arc::new(std::sync::Mutex::new(b)) as Arc<std::sync::Mutex<dyn RetryBudget>>)
            }
            BudgetSpec::Ratio { ratio, min_per_s, ttl_s } => {
                RatioBudget::new(ratio, min_per_s, std::time::Duration::from_secs(ttl_s))
                    .ok()
                    .map(|b| Arc::new(std::sync::Mutex::new(b)) as Arc<std::sync::Mutex<dyn RetryBudget>>)
            }
        }
    }
}

/// Layers applied outermost first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PatternStack(pub Vec<LayerSpec>);

impl EdgeStack for PatternStack {
    fn wrap(&self, base: EdgeService, ctx: EdgeContext) -> EdgeService {
        let mut svc = base;
        for (i, layer) in self.0.iter().enumerate().rev() {
            svc = match layer {
                LayerSpec::Retry(c, on, budget) => {
                    let rng = ctx.stream(&format!("{i}/retry")).into_rng_core();
                    let on = on.clone();
                    let mut layer = RetryLayer::new(*c, rng, ctx.events.clone())
                        .retry_on(Arc::new(move |e: &CallError| on.0.contains(e)));
                    if let Some(b) = budget.build() {
                        layer = layer.with_budget(b);
                    }
                    layer.layer(svc)
                }
                LayerSpec::Timeout(c) => TimeoutLayer::new(*c, ctx.events.clone()).layer(svc),
                LayerSpec::Deadline(d) => DeadlineLayer::new(*d, ctx.events.clone()).layer(svc),
                LayerSpec::Breaker(c, ignore) => {
                    let ignore = ignore.clone();
                    let classify = std::sync::Arc::new(move |e: &CallError| {
                        if e.outcome() == Outcome::Shed || ignore.contains(&e.outcome()) {
                            CallOutcome::Ignored
                        } else {
                            CallOutcome::Failure
                        }
                    });
                    CircuitBreakerLayer::new(*c, ctx.events.clone()).with_classifier(classify).layer(svc)
                }
                LayerSpec::Bulkhead(c) => BulkheadLayer::new(*c, ctx.events.clone()).layer(svc),
                LayerSpec::Fallback(on) => {
                    let on = on.clone();
                    let answer = Arc::new(move |e: &CallError| on.contains(e).then_some(Served::Fallback));
                    FallbackLayer::new(answer, ctx.events.clone()).layer(svc)
                }
                LayerSpec::RateLimit(c) => {
                    RateLimiterLayer::new(*c, Arc::new(|_: &faultline_sim::CallRequest| ()), ctx.events.clone())
                        .layer(svc)
                }
                LayerSpec::Throttle(c) => {
                    ThrottleLayer::new(*c, ctx.stream(&format!("{i}/throttle")).into_rng_core(), ctx.events.clone())
                        .layer(svc)
                }
                LayerSpec::Adaptive(c) => AimdLayer::new(*c, ctx.events.clone()).layer(svc),
                LayerSpec::Gradient2(c) => {
                    AimdLayer::with_limit(Limit::Gradient2(Gradient2::new(*c)), ctx.events.clone()).layer(svc)
                }
                LayerSpec::Hedge(c) => HedgeLayer::new(*c, ctx.events.clone()).layer(svc),
                LayerSpec::Chaos(c) => {
                    ChaosLayer::new(*c, ctx.stream(&format!("{i}/chaos")).into_rng_core(), ctx.events.clone())
                        .layer(svc)
                }
                LayerSpec::Cache(service, c) => match (ctx.cache)(service) {
                    Some(store) => CacheAsideLayer::new(
                        store,
                        *c,
                        ctx.stream(&format!("{i}/cache")).into_rng_core(),
                        ctx.events.clone(),
                    )
                    .layer(svc),
                    None => svc, // checked when the scenario was read
                },
                LayerSpec::Balance(c, health, discovery) => {
                    let mut layer = BalanceLayer::new(
                        *c,
                        ctx.replicas,
                        ctx.stream(&format!("{i}/balance")).into_rng_core(),
                        ctx.events.clone(),
                    );
                    if let Some(probe) = health {
                        layer = layer.with_health_checks(ctx.probe.clone(), *probe);
                    }
                    if let Some(refresh) = discovery {
                        layer = layer.with_discovery(ctx.membership.clone(), *refresh);
                    }
                    layer.layer(svc)
                }
            };
        }
        svc
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
