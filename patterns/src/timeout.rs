//! Timeout: bound the time one call may take.
//!
//! When the deadline passes, the inner call's future is dropped, which cancels the losing work
//! (in the simulator the pending request is forgotten, so a late answer is discarded). Put a
//! timeout *inside* a retry to bound each attempt, or *outside* to bound the whole call with its
//! retries (Envoy's route timeout).

use std::sync::Arc;
use std::time::Duration;

use crate::config::ConfigError;
use crate::event::{EventSink, NoEvents};
use crate::service::{BoxFuture, BoxService, Classify, Policy, Service};
use crate::time::Clock;

/// Timeout settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutConfig {
    /// How long one call may take. Default: [`TimeoutConfig::DEFAULT_AFTER`] (1 s).
    pub after: Duration,
}

impl TimeoutConfig {
    /// The default deadline: 1 s.
    pub const DEFAULT_AFTER: Duration = Duration::from_secs(1);

    /// The longest timeout accepted: a year.
    pub const MAX_AFTER: Duration = Duration::from_secs(365 * 24 * 3600);

    /// A deadline of `after`; zero and more than a year are rejected.
    pub fn new(after: Duration) -> Result<Self, ConfigError> {
        TimeoutConfig { after }.validate()
    }

    /// Checks `after`, naming it when it is out of range.
    pub fn validate(self) -> Result<Self, ConfigError> {
        if self.after.is_zero() || self.after > Self::MAX_AFTER {
            return Err(ConfigError::new("timeout_ms", self.after.as_millis(), "a duration > 0 ms and at most a year"));
        }
        Ok(self)
    }
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        TimeoutConfig { after: Self::DEFAULT_AFTER }
    }
}

/// Bounds every call to the service it wraps by `config.after`.
#[derive(Clone)]
pub struct TimeoutLayer {
    config: TimeoutConfig,
    events: Arc<dyn EventSink>,
    clock: Clock,
}

impl TimeoutLayer {
    /// A layer with `config`, reporting to `events`.
    pub fn new(config: TimeoutConfig, events: Arc<dyn EventSink>) -> Self {
        TimeoutLayer { config, events, clock: Clock::runtime() }
    }

    /// The same layer, waiting with `clock` (see [`crate::time`]).
    pub fn with_clock(self, clock: Clock) -> Self {
        TimeoutLayer { clock, ..self }
    }

    /// A layer that reports nothing.
    pub fn silent(config: TimeoutConfig) -> Self {
        Self::new(config, Arc::new(NoEvents))
    }
}

impl<Req, Resp, Err> Policy<Req, Resp, Err> for TimeoutLayer
where
    Req: Send + 'static,
    Resp: Send + 'static,
    Err: Classify,
{
    fn call(&self, inner: &BoxService<Req, Resp, Err>, req: Req) -> BoxFuture<Result<Resp, Err>> {
        let after = self.config.after;
        let (events, clock) = (self.events.clone(), self.clock.clone());
        let fut = inner.call(req);
        Box::pin(async move {
            match clock.timeout(after, fut).await {
                Ok(result) => result,
                Err(_elapsed) => {
                    events.report("timeout", "fired", || format!("after_ms={}", after.as_millis()));
                    Err(Err::timed_out(after))
                }
            }
        })
    }
}
