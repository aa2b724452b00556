//! Adaptive concurrency limit, AIMD (Netflix concurrency-limits' `AIMDLimit`).
//!
//! A fixed bulkhead needs someone to know the right number. An adaptive limit finds it: each
//! call that succeeds while the limit is in use (in flight >= limit / 2) raises the limit by
//! one; each call that fails for overload or times out multiplies it by `backoff_ratio`. Calls
//! over the limit are refused locally ([`Classify::shed`]).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crate::config::ConfigError;
use crate::event::{EventSink, PatternEvent};
use crate::service::{BoxFuture, BoxService, Classify, Layer, Service};

/// AIMD settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AimdConfig {
    /// Starting limit. Default 20.
    pub initial: u32,
    /// Floor. Default 1.
    pub min: u32,
    /// Ceiling. Default 200.
    pub max: u32,
    /// Multiplier after a drop. Default 0.9.
    pub backoff_ratio: f64,
}

impl Default for AimdConfig {
    fn default() -> Self {
        AimdConfig { initial: 20, min: 1, max: 200, backoff_ratio: 0.9 }
    }
}

impl AimdConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(self) -> Result<Self, ConfigError> {
        if self.min == 0 || self.min > self.max {
            return Err(ConfigError::new("min", self.min, "an integer >= 1 and <= max"));
        }
        if !(self.min..=self.max).contains(&self.initial) {
            return Err(ConfigError::new("initial", self.initial, "an integer from min to max"));
        }
        if !(self.backoff_ratio > 0.0 && self.backoff_ratio < 1.0) {
            return Err(ConfigError::new("backoff_ratio", self.backoff_ratio, "a number strictly between 0 and 1"));
        }
        Ok(self)
    }
}

/// The limit, pure.
#[derive(Debug, Clone, PartialEq)]
pub struct Aimd {
    config: AimdConfig,
    limit: f64,
}

impl Aimd {
    /// A limit at `config.initial`.
    pub fn new(config: AimdConfig) -> Self {
        Aimd { limit: f64::from(config.initial), config }
    }

    /// The current limit (whole calls).
    pub fn limit(&self) -> u32 {
        self.limit as u32
    }

    /// Feeds one finished call: `dropped` when it failed for overload or timed out;
    /// `in_flight` counts the calls in flight when it started.
    pub fn on_sample(&mut self, in_flight: u32, dropped: bool) {
        if dropped {
            self.limit = (self.limit * self.config.backoff_ratio).max(f64::from(self.config.min));
        } else if f64::from(in_flight) * 2.0 >= self.limit {
            self.limit = (self.limit + 1.0).min(f64::from(self.config.max));
        }
    }
}

/// Puts an adaptive limit in front of a service.
pub struct AimdLayer {
    aimd: Arc<Mutex<Aimd>>,
    in_flight: Arc<AtomicU32>,
    events: Arc<dyn EventSink>,
}

impl AimdLayer {
    /// A limit with a validated `config`.
    pub fn new(config: AimdConfig, events: Arc<dyn EventSink>) -> Self {
        AimdLayer { aimd: Arc::new(Mutex::new(Aimd::new(config))), in_flight: Arc::new(AtomicU32::new(0)), events }
    }
}

impl<Req, Resp, Err> Layer<Req, Resp, Err> for AimdLayer
where
    Req: Send + 'static,
    Resp: Send + 'static,
    Err: Classify,
{
    fn layer(&self, inner: BoxService<Req, Resp, Err>) -> BoxService<Req, Resp, Err> {
        Arc::new(Limited { inner, aimd: self.aimd.clone(), in_flight: self.in_flight.clone(), events: self.events.clone() })
    }
}

/// A service behind an adaptive limit.
pub struct Limited<Req, Resp, Err> {
    inner: BoxService<Req, Resp, Err>,
    aimd: Arc<Mutex<Aimd>>,
    in_flight: Arc<AtomicU32>,
    events: Arc<dyn EventSink>,
}

struct InFlight(Arc<AtomicU32>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<Req, Resp, Err> Service<Req> for Limited<Req, Resp, Err>
where
    Req: Send + 'static,
    Resp: Send + 'static,
    Err: Classify,
{
    type Response = Resp;
    type Error = Err;

    fn call(&self, req: Req) -> BoxFuture<Result<Resp, Err>> {
        let limit = self.aimd.lock().map(|a| a.limit()).unwrap_or(u32::MAX);
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed);
        let guard = InFlight(self.in_flight.clone());
        if now >= limit {
            drop(guard);
            self.events.emit(PatternEvent { pattern: "adaptive", kind: "limited", detail: format!("limit={limit}") });
            return Box::pin(async { Err(Err::shed("adaptive")) });
        }
        let fut = self.inner.call(req);
        let (aimd, events) = (self.aimd.clone(), self.events.clone());
        Box::pin(async move {
            let _guard = guard;
            let result = fut.await;
            let dropped = matches!(&result, Err(e) if e.is_timeout() || e.is_overload());
            if let Ok(mut a) = aimd.lock() {
                let before = a.limit();
                a.on_sample(now + 1, dropped);
                if a.limit() != before && dropped {
                    events.emit(PatternEvent { pattern: "adaptive", kind: "decreased", detail: format!("limit={}", a.limit()) });
                }
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_additively_and_shrinks_multiplicatively() {
        let mut a = Aimd::new(AimdConfig::default());
        for _ in 0..10 {
            a.on_sample(20, false);
        }
        assert_eq!(a.limit(), 30);
        a.on_sample(30, false);
        a.on_sample(1, false); // barely used: no growth
        assert_eq!(a.limit(), 31);
        a.on_sample(31, true);
        assert_eq!(a.limit(), 27); // 31 x 0.9 = 27.9
        for _ in 0..100 {
            a.on_sample(1, true);
        }
        assert_eq!(a.limit(), 1, "never below min");
    }
}
