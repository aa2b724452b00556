//! Client-side adaptive throttling (Google SRE book, "Handling Overload").
//!
//! Each client tracks, over the last `window`, how many requests it sent and how many the
//! backend accepted, and rejects new requests locally with probability
//! `max(0, (requests - K x accepts) / (requests + 1))`. When the backend is healthy,
//! requests = accepts and nothing is rejected; when it rejects, the client sheds the excess
//! itself instead of sending requests that would be refused anyway. K = 2 (the default) lets
//! the backend see about twice what it accepts: it rejects roughly one request per request it
//! serves (tested in the simulator). Lower K throttles harder.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand_core::RngCore;
use tokio::time::Instant;

use crate::config::ConfigError;
use crate::counters::SecondCounters;
use crate::event::EventSink;
use crate::retry::unit_f64;
use crate::service::{BoxFuture, BoxService, Classify, Policy, Rejection, Service};

/// Throttle settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleConfig {
    /// The multiplier K. Default 2.
    pub k: f64,
    /// How far back requests and accepts count, in whole seconds. Default 120 s (SRE: 2 min).
    pub window: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig { k: 2.0, window: Duration::from_secs(120) }
    }
}

impl ThrottleConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(self) -> Result<Self, ConfigError> {
        if !(1.0..=100.0).contains(&self.k) {
            return Err(ConfigError::new("k", self.k, "a number from 1 to 100"));
        }
        if !(1..=3600).contains(&self.window.as_secs()) {
            return Err(ConfigError::new("window_s", self.window.as_secs(), "whole seconds from 1 to 3600"));
        }
        Ok(self)
    }
}

/// Requests and accepts per second over the window.
#[derive(Debug, Clone)]
pub struct Throttle {
    k: f64,
    /// Requests (0) and accepts (1) per second of the window.
    counts: SecondCounters<2>,
}

impl Throttle {
    /// A throttle with a validated `config`.
    pub fn new(config: ThrottleConfig) -> Self {
        Throttle { k: config.k, counts: SecondCounters::new(config.window.as_secs()) }
    }

    /// (requests, accepts) in the window at `now`.
    pub fn totals(&self, now: Duration) -> (u64, u64) {
        let [requests, accepts] = self.counts.totals(now);
        (requests, accepts)
    }

    /// The local rejection probability at `now`.
    pub fn reject_probability(&self, now: Duration) -> f64 {
        let (requests, accepts) = self.totals(now);
        ((requests as f64 - self.k * accepts as f64) / (requests as f64 + 1.0)).max(0.0)
    }

    /// Counts a request at `now` and decides, from a uniform draw `unit`, whether to send it.
    pub fn admit(&mut self, now: Duration, unit: f64) -> bool {
        let p = self.reject_probability(now);
        self.counts.add(now, 0);
        unit >= p
    }

    /// The backend accepted a request (answered, even with an error of its own).
    pub fn accepted(&mut self, now: Duration) {
        self.counts.add(now, 1);
    }
}

/// Puts adaptive throttling in front of a service.
#[derive(Clone)]
pub struct ThrottleLayer {
    throttle: Arc<Mutex<Throttle>>,
    rng: Arc<Mutex<Box<dyn RngCore + Send>>>,
    events: Arc<dyn EventSink>,
    origin: Instant,
}

impl ThrottleLayer {
    /// A throttle with a validated `config`, drawing from `rng`.
    pub fn new(config: ThrottleConfig, rng: Box<dyn RngCore + Send>, events: Arc<dyn EventSink>) -> Self {
        ThrottleLayer {
            throttle: Arc::new(Mutex::new(Throttle::new(config))),
            rng: Arc::new(Mutex::new(rng)),
            events,
            origin: Instant::now(),
        }
    }
}

impl<Req, Resp, Err> Policy<Req, Resp, Err> for ThrottleLayer
where
    Req: Send + 'static,
    Resp: Send + 'static,
    Err: Classify,
{
    fn call(&self, inner: &BoxService<Req, Resp, Err>, req: Req) -> BoxFuture<Result<Resp, Err>> {
        let now = self.origin.elapsed();
        let unit = self.rng.lock().map(|mut r| unit_f64(&mut **r)).unwrap_or(0.5);
        let admit = self.throttle.lock().map(|mut t| t.admit(now, unit)).unwrap_or(true);
        if !admit {
            self.events.report("throttle", "rejected", String::new);
            return Box::pin(async { Err(Err::rejected(Rejection::by("throttle"))) });
        }
        let fut = inner.call(req);
        let (throttle, origin) = (self.throttle.clone(), self.origin);
        Box::pin(async move {
            let result = fut.await;
            // Accepted: the backend answered, even with an error of its own. Not accepted: it
            // refused for overload, the call timed out, or a pattern inside refused it.
            let accepted = match &result {
                Ok(_) => true,
                Err(e) => !(e.is_timeout() || e.is_shed() || e.is_overload()),
            };
            if accepted {
                if let Ok(mut t) = throttle.lock() {
                    t.accepted(origin.elapsed());
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
    fn sheds_the_excess_over_k_times_accepts() {
        let mut t = Throttle::new(ThrottleConfig::default());
        let now = Duration::from_secs(5);
        for _ in 0..1000 {
            t.admit(now, 0.99);
        }
        for _ in 0..250 {
            t.accepted(now);
        }
        // 1000 requests, 250 accepts, K = 2: p = (1000 - 500) / 1001.
        assert!((t.reject_probability(now) - 500.0 / 1001.0).abs() < 1e-12);
        // A healthy backend: nothing is shed.
        let mut healthy = Throttle::new(ThrottleConfig::default());
        for _ in 0..100 {
            healthy.admit(now, 0.0);
            healthy.accepted(now);
        }
        assert_eq!(healthy.reject_probability(now), 0.0);
        // Old history leaves the window.
        assert_eq!(t.reject_probability(now + Duration::from_secs(200)), 0.0);
    }
}
