//! Pattern stacks on call edges, built from the scenario's `[edges."a->b"]` tables.
//!
//! `stack = ["retry", "timeout"]` lists layers outermost first: here every attempt has its own
//! timeout. `["timeout", "retry"]` bounds the whole call, retries included.

use std::sync::Arc;

use std::collections::BTreeSet;

use faultline_patterns::circuit_breaker::{BreakerConfig, CallOutcome, CircuitBreakerLayer};
use faultline_patterns::retry::{RetryConfig, RetryLayer};
use faultline_patterns::timeout::{TimeoutConfig, TimeoutLayer};
use faultline_patterns::Layer;
use faultline_sim::{CallError, EdgeContext, EdgeService, EdgeStack, Outcome};

/// One layer with its settings.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerSpec {
    /// Retry with backoff and jitter.
    Retry(RetryConfig),
    /// A deadline per call.
    Timeout(TimeoutConfig),
    /// A circuit breaker; errors with an outcome in `ignore` are not counted.
    Breaker(BreakerConfig, BTreeSet<Outcome>),
}

impl LayerSpec {
    /// Layer names a scenario may use.
    pub const NAMES: &'static str = "retry, timeout, breaker";

    fn describe(&self) -> String {
        match self {
            LayerSpec::Retry(c) => format!("retry({})", c.max_attempts),
            LayerSpec::Timeout(c) => format!("timeout({}ms)", c.after.as_millis()),
            LayerSpec::Breaker(c, _) => format!("breaker({}%/{})", c.failure_rate_threshold, c.effective_minimum()),
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
                LayerSpec::Retry(c) => {
                    let rng = ctx.stream(&format!("{i}/retry")).into_rng_core();
                    RetryLayer::new(*c, rng, ctx.events.clone()).layer(svc)
                }
                LayerSpec::Timeout(c) => TimeoutLayer::new(*c, ctx.events.clone()).layer(svc),
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
