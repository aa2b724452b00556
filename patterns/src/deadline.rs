//! Deadline propagation: one time budget for a whole call chain.
//!
//! A per-hop timeout does not know how long the caller has already waited: a 1 s timeout at
//! each of three hops lets the last hop work for a caller who gave up seconds ago. A deadline
//! layer stamps an absolute deadline on the request (the earlier of any deadline it already
//! carries and now + `after`), and bounds the call by it. Requests carry it on (gRPC's
//! `grpc-timeout`), so every hop below bounds its own calls by the same deadline, and a server
//! can refuse, or stop, work for a caller that is no longer waiting.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::ConfigError;
use crate::event::EventSink;
use crate::service::{BoxFuture, BoxService, Classify, Policy, Service};
use crate::time::Clock;

/// A request that carries a deadline.
pub trait Deadlined {
    /// The deadline it carries, if any.
    fn deadline(&self) -> Option<Instant>;
    /// Sets the deadline.
    fn set_deadline(&mut self, at: Instant);
}

/// Deadline settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineConfig {
    /// The time budget from the start of a call. Default: [`DeadlineConfig::DEFAULT_AFTER`] (1 s).
    pub after: Duration,
}

impl Default for DeadlineConfig {
    fn default() -> Self {
        DeadlineConfig { after: Self::DEFAULT_AFTER }
    }
}

impl DeadlineConfig {
    /// The default budget: 1 s.
    pub const DEFAULT_AFTER: Duration = Duration::from_secs(1);
    /// The longest budget accepted: a year.
    pub const MAX_AFTER: Duration = Duration::from_secs(365 * 24 * 3600);

    /// A budget of `after`; zero and more than a year are rejected.
    pub fn new(after: Duration) -> Result<Self, ConfigError> {
        DeadlineConfig { after }.validate()
    }

    /// Checks `after`, naming it when it is out of range.
    pub fn validate(self) -> Result<Self, ConfigError> {
        if self.after.is_zero() || self.after > Self::MAX_AFTER {
            let ms = self.after.as_millis();
            return Err(ConfigError::new("deadline_ms", ms, "a duration > 0 ms and at most a year"));
        }
        Ok(self)
    }
}

/// Stamps and enforces a deadline `after` from now (or the request's own, if earlier).
#[derive(Clone)]
pub struct DeadlineLayer {
    config: DeadlineConfig,
    events: Arc<dyn EventSink>,
    clock: Clock,
}

impl DeadlineLayer {
    /// A deadline `config.after` from the start of each call.
    pub fn new(config: DeadlineConfig, events: Arc<dyn EventSink>) -> Self {
        DeadlineLayer { config, events, clock: Clock::runtime() }
    }

    /// The same layer, reading and waiting with `clock` (see [`crate::time`]).
    pub fn with_clock(self, clock: Clock) -> Self {
        DeadlineLayer { clock, ..self }
    }
}

impl<Req, Resp, Err> Policy<Req, Resp, Err> for DeadlineLayer
where
    Req: Deadlined + Send + 'static,
    Resp: Send + 'static,
    Err: Classify,
{
    fn call(&self, inner: &BoxService<Req, Resp, Err>, mut req: Req) -> BoxFuture<Result<Resp, Err>> {
        let now = self.clock.now();
        let mine = now + self.config.after;
        let deadline = req.deadline().map_or(mine, |d| d.min(mine));
        req.set_deadline(deadline);
        let (events, clock) = (self.events.clone(), self.clock.clone());
        let fut = inner.call(req);
        Box::pin(async move {
            let left = deadline.saturating_duration_since(clock.now());
            match clock.timeout(left, fut).await {
                Ok(r) => r,
                Err(_) => {
                    events.report("deadline", "expired", || format!("budget_ms={}", left.as_millis()));
                    Err(Err::timed_out(left))
                }
            }
        })
    }
}
