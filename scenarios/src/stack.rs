//! Pattern stacks on call edges, built from the scenario's `[edges."a->b"]` tables.
//!
//! `stack = ["retry", "timeout"]` lists layers outermost first: here every attempt has its own
//! timeout. `["timeout", "retry"]` bounds the whole call, retries included.

use std::sync::Arc;

use faultline_patterns::retry::{RetryConfig, RetryLayer};
use faultline_patterns::timeout::{TimeoutConfig, TimeoutLayer};
use faultline_patterns::Layer;
use faultline_sim::{EdgeContext, EdgeService, EdgeStack};

/// One layer with its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerSpec {
    /// Retry with backoff and jitter.
    Retry(RetryConfig),
    /// A deadline per call.
    Timeout(TimeoutConfig),
}

impl LayerSpec {
    /// Layer names a scenario may use.
    pub const NAMES: &'static str = "retry, timeout";

    fn describe(&self) -> String {
        match self {
            LayerSpec::Retry(c) => format!("retry({})", c.max_attempts),
            LayerSpec::Timeout(c) => format!("timeout({}ms)", c.after.as_millis()),
        }
    }
}

/// Layers applied outermost first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
