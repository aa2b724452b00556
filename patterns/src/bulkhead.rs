//! Bulkhead: a cap on concurrent calls to one dependency, with an optional bounded wait.
//!
//! Without it, one slow dependency can take every thread (or connection, or memory) the caller
//! has, and calls to healthy dependencies starve too. With one bulkhead per dependency, a slow
//! one fills only its own pool. resilience4j's default: 25 concurrent calls, no waiting.
//!
//! A call takes a permit, waits for one if the wait queue has room (at most `max_wait`), or is
//! refused at once ([`Classify::rejected`]). Permits are held by value and returned on drop, so a
//! cancelled or timed-out call can never leak one (tested under random cancellation).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::config::ConfigError;
use crate::event::EventSink;
use crate::service::{BoxFuture, BoxService, Classify, Policy, Rejection, Service};
use crate::time::Clock;

/// Bulkhead settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkheadConfig {
    /// Calls at once. Default 25.
    pub max_concurrent: u32,
    /// Calls that may wait for a permit; more are refused at once. Default 0.
    pub max_queue: u32,
    /// How long a queued call waits before it is refused. Default 0 (no waiting).
    pub max_wait: Duration,
}

impl Default for BulkheadConfig {
    fn default() -> Self {
        BulkheadConfig { max_concurrent: 25, max_queue: 0, max_wait: Duration::ZERO }
    }
}

impl BulkheadConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(self) -> Result<Self, ConfigError> {
        if !(1..=1_000_000).contains(&self.max_concurrent) {
            return Err(ConfigError::new("max_concurrent", self.max_concurrent, "an integer from 1 to 1000000"));
        }
        if self.max_queue > 10_000_000 {
            return Err(ConfigError::new("max_queue", self.max_queue, "an integer from 0 to 10000000"));
        }
        Ok(self)
    }
}

/// Puts a bulkhead in front of a service; every service it wraps shares the pool.
#[derive(Clone)]
pub struct BulkheadLayer {
    config: BulkheadConfig,
    pool: Arc<Pool>,
    events: Arc<dyn EventSink>,
    clock: Clock,
}

/// The shared pool: permits and the number of waiters.
#[derive(Debug)]
pub struct Pool {
    permits: Semaphore,
    waiting: AtomicU32,
}

impl Pool {
    /// Permits free now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
    /// Calls waiting now.
    pub fn waiting(&self) -> u32 {
        self.waiting.load(Ordering::Relaxed)
    }
}

impl BulkheadLayer {
    /// A bulkhead with a validated `config`.
    pub fn new(config: BulkheadConfig, events: Arc<dyn EventSink>) -> Self {
        let pool =
            Arc::new(Pool { permits: Semaphore::new(config.max_concurrent as usize), waiting: AtomicU32::new(0) });
        BulkheadLayer { config, pool, events, clock: Clock::runtime() }
    }

    /// The same layer, waiting with `clock` (see [`crate::time`]).
    pub fn with_clock(self, clock: Clock) -> Self {
        BulkheadLayer { clock, ..self }
    }

    /// The pool, to observe it.
    pub fn pool(&self) -> Arc<Pool> {
        self.pool.clone()
    }
}

/// Counts a waiting call for as long as it waits, however the wait ends.
struct Waiting<'a>(&'a AtomicU32);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A permit held by a call: reports the pool's level when taken and when given back, however
/// the call ends (answered, failed, cancelled by a timeout outside).
struct Held<'a> {
    permit: Option<SemaphorePermit<'a>>,
    pool: &'a Pool,
    events: &'a dyn EventSink,
    max: u32,
}

impl<'a> Held<'a> {
    fn new(permit: SemaphorePermit<'a>, pool: &'a Pool, events: &'a dyn EventSink, max: u32) -> Self {
        let held = Held { permit: Some(permit), pool, events, max };
        held.report();
        held
    }

    fn report(&self) {
        if !self.events.wants_levels() {
            return;
        }
        let in_use = self.max.saturating_sub(self.pool.available() as u32);
        self.events.level("bulkhead", in_use, self.max);
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        drop(self.permit.take());
        self.report();
    }
}

impl<Req, Resp, Err> Policy<Req, Resp, Err> for BulkheadLayer
where
    Req: Send + 'static,
    Resp: Send + 'static,
    Err: Classify,
{
    fn call(&self, inner: &BoxService<Req, Resp, Err>, req: Req) -> BoxFuture<Result<Resp, Err>> {
        let (pool, config, events, inner) = (self.pool.clone(), self.config, self.events.clone(), inner.clone());
        let clock = self.clock.clone();
        Box::pin(async move {
            let permit = match pool.permits.try_acquire() {
                Ok(p) => p,
                Err(_) => {
                    let queued = pool.waiting.fetch_add(1, Ordering::Relaxed);
                    let _waiting = Waiting(&pool.waiting);
                    if queued >= config.max_queue || config.max_wait.is_zero() {
                        events.report("bulkhead", "full", || format!("waiting={queued}"));
                        return Err(Err::rejected(Rejection::by("bulkhead").in_state("full")));
                    }
                    match clock.timeout(config.max_wait, pool.permits.acquire()).await {
                        Ok(Ok(p)) => p,
                        _ => {
                            events.report("bulkhead", "wait_timeout", || {
                                format!("max_wait_ms={}", config.max_wait.as_millis())
                            });
                            return Err(Err::rejected(Rejection::by("bulkhead").in_state("wait_timeout")));
                        }
                    }
                }
            };
            let held = Held::new(permit, &pool, &*events, config.max_concurrent);
            let result = inner.call(req).await;
            drop(held);
            result
        })
    }
}
