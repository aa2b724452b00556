//! Adaptive concurrency limits (Netflix concurrency-limits): AIMD and Gradient2.
//!
//! A fixed bulkhead needs someone to know the right number. An adaptive limit finds it. AIMD
//! reacts to drops: each call that succeeds while the limit is in use (in flight >= limit / 2)
//! raises the limit by one; each call that fails for overload or times out multiplies it by
//! `backoff_ratio`. Gradient2 reacts to latency before anything drops: it compares a short-term
//! latency average with a long-term one and scales the limit by their ratio (growing by a small
//! queue allowance while they agree, shrinking as queueing raises latency). Calls over the limit
//! are refused locally ([`Classify::rejected`]).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::ConfigError;
use crate::event::EventSink;
use crate::service::{BoxFuture, BoxService, Classify, Policy, Rejection, Service};

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
        if self.min == 0 {
            return Err(ConfigError::new("min", self.min, "an integer >= 1"));
        }
        if self.max < self.min {
            return Err(ConfigError::new("max", self.max, format!("an integer >= min ({})", self.min)));
        }
        if !(self.min..=self.max).contains(&self.initial) {
            return Err(ConfigError::new(
                "initial",
                self.initial,
                format!("an integer from min to max ({} to {})", self.min, self.max),
            ));
        }
        if !(self.backoff_ratio > 0.0 && self.backoff_ratio < 1.0) {
            return Err(ConfigError::new("backoff_ratio", self.backoff_ratio, "a number strictly between 0 and 1"));
        }
        Ok(self)
    }
}

/// Gradient2 settings (Netflix's defaults, scaled down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gradient2Config {
    /// Starting limit. Default 20.
    pub initial: u32,
    /// Floor. Default 1.
    pub min: u32,
    /// Ceiling. Default 200.
    pub max: u32,
    /// How much short-term latency may exceed the long-term one before shrinking. Default 1.5.
    pub tolerance: f64,
    /// Samples in the long-term average. Default 600.
    pub long_window: u32,
    /// Weight of each new limit. Default 0.2.
    pub smoothing: f64,
}

impl Default for Gradient2Config {
    fn default() -> Self {
        Gradient2Config { initial: 20, min: 1, max: 200, tolerance: 1.5, long_window: 600, smoothing: 0.2 }
    }
}

impl Gradient2Config {
    /// Checks every field, naming the first bad one.
    pub fn validate(self) -> Result<Self, ConfigError> {
        AimdConfig { initial: self.initial, min: self.min, max: self.max, backoff_ratio: 0.5 }.validate()?;
        if !(1.0..=10.0).contains(&self.tolerance) {
            return Err(ConfigError::new("tolerance", self.tolerance, "a number from 1 to 10"));
        }
        if self.long_window < 10 {
            return Err(ConfigError::new("long_window", self.long_window, "an integer >= 10"));
        }
        if !(self.smoothing > 0.0 && self.smoothing <= 1.0) {
            return Err(ConfigError::new("smoothing", self.smoothing, "a number above 0 and at most 1"));
        }
        Ok(self)
    }
}

/// Gradient2, pure.
#[derive(Debug, Clone, PartialEq)]
pub struct Gradient2 {
    config: Gradient2Config,
    limit: f64,
    short_rtt: f64,
    long_rtt: f64,
}

impl Gradient2 {
    /// A limit at `config.initial`.
    pub fn new(config: Gradient2Config) -> Self {
        Gradient2 { limit: f64::from(config.initial), short_rtt: 0.0, long_rtt: 0.0, config }
    }

    /// The current limit (whole calls).
    pub fn limit(&self) -> u32 {
        self.limit as u32
    }

    /// Feeds one finished call's latency (seconds) and the calls in flight when it started.
    pub fn on_sample(&mut self, rtt_s: f64, in_flight: u32) {
        let c = self.config;
        if self.long_rtt == 0.0 {
            self.long_rtt = rtt_s;
            self.short_rtt = rtt_s;
        }
        self.short_rtt += (rtt_s - self.short_rtt) * 0.5;
        self.long_rtt += (rtt_s - self.long_rtt) / f64::from(c.long_window);
        // Recovering from a latency spike: let the long-term average come back down faster.
        if self.long_rtt / self.short_rtt.max(1e-9) > 2.0 {
            self.long_rtt *= 0.95;
        }
        // An app that does not use its limit says nothing about a higher one.
        if f64::from(in_flight) < self.limit / 2.0 {
            return;
        }
        let gradient = (c.tolerance * self.long_rtt / self.short_rtt.max(1e-9)).clamp(0.5, 1.0);
        let queue = self.limit.sqrt().max(1.0);
        let target = self.limit * gradient + queue;
        self.limit =
            (self.limit * (1.0 - c.smoothing) + target * c.smoothing).clamp(f64::from(c.min), f64::from(c.max));
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

/// Either algorithm.
#[derive(Debug, Clone, PartialEq)]
pub enum Limit {
    /// Additive increase, multiplicative decrease on drops.
    Aimd(Aimd),
    /// Latency gradient.
    Gradient2(Gradient2),
}

impl Limit {
    fn limit(&self) -> u32 {
        match self {
            Limit::Aimd(a) => a.limit(),
            Limit::Gradient2(g) => g.limit(),
        }
    }

    fn on_sample(&mut self, in_flight: u32, latency: Duration, dropped: bool) {
        match self {
            Limit::Aimd(a) => a.on_sample(in_flight, dropped),
            Limit::Gradient2(g) if !dropped => g.on_sample(latency.as_secs_f64(), in_flight),
            // A drop says the limit is too high, whatever the latency: halve toward the floor.
            Limit::Gradient2(g) => g.limit = (g.limit * 0.5).max(f64::from(g.config.min)),
        }
    }
}

/// Puts an adaptive concurrency limit ([`Limit`]: AIMD or Gradient2) in front of a service;
/// every service it wraps shares the limit.
#[derive(Clone)]
pub struct ConcurrencyLimitLayer {
    limit: Arc<Mutex<Limit>>,
    in_flight: Arc<AtomicU32>,
    events: Arc<dyn EventSink>,
}

/// The former name of [`ConcurrencyLimitLayer`], which runs Gradient2 as well as AIMD.
#[deprecated(note = "renamed ConcurrencyLimitLayer: it runs Gradient2 as well as AIMD")]
pub type AimdLayer = ConcurrencyLimitLayer;

impl ConcurrencyLimitLayer {
    /// An AIMD limit with a validated `config`.
    pub fn new(config: AimdConfig, events: Arc<dyn EventSink>) -> Self {
        Self::with_limit(Limit::Aimd(Aimd::new(config)), events)
    }

    /// A layer around any [`Limit`].
    pub fn with_limit(limit: Limit, events: Arc<dyn EventSink>) -> Self {
        ConcurrencyLimitLayer { limit: Arc::new(Mutex::new(limit)), in_flight: Arc::new(AtomicU32::new(0)), events }
    }

    /// The limit now.
    pub fn limit(&self) -> u32 {
        self.limit.lock().map(|l| l.limit()).unwrap_or(u32::MAX)
    }
}

/// An admitted call: counted in flight until it ends, however it ends (answered, failed,
/// cancelled by a timeout outside); reports the level (when the sink keeps levels) when it
/// ends, with the limit as the call last saw it (no lock taken here).
struct InFlight {
    count: Arc<AtomicU32>,
    events: Arc<dyn EventSink>,
    /// The limit after this call's own sample (the admission limit if it never got one).
    limit: u32,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let now = self.count.fetch_sub(1, Ordering::Relaxed).saturating_sub(1);
        if self.events.wants_levels() {
            self.events.level("adaptive", now, self.limit);
        }
    }
}

impl<Req, Resp, Err> Policy<Req, Resp, Err> for ConcurrencyLimitLayer
where
    Req: Send + 'static,
    Resp: Send + 'static,
    Err: Classify,
{
    fn call(&self, inner: &BoxService<Req, Resp, Err>, req: Req) -> BoxFuture<Result<Resp, Err>> {
        let limit = self.limit();
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed);
        if now >= limit {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            self.events.report("adaptive", "limited", || format!("limit={limit}"));
            return Box::pin(async { Err(Err::rejected(Rejection::by("adaptive").in_state("at_limit"))) });
        }
        if self.events.wants_levels() {
            self.events.level("adaptive", now + 1, limit);
        }
        let mut guard = InFlight { count: self.in_flight.clone(), events: self.events.clone(), limit };
        let fut = inner.call(req);
        let (shared, events) = (self.limit.clone(), self.events.clone());
        Box::pin(async move {
            let start = tokio::time::Instant::now();
            let result = fut.await;
            let dropped = matches!(&result, Err(e) if e.is_timeout() || e.is_overload());
            if let Ok(mut a) = shared.lock() {
                let before = a.limit();
                a.on_sample(now + 1, start.elapsed(), dropped);
                guard.limit = a.limit();
                if a.limit() != before && dropped {
                    events.report("adaptive", "decreased", || format!("limit={}", a.limit()));
                }
            }
            drop(guard);
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

    #[test]
    fn gradient2_grows_at_steady_latency_and_shrinks_when_latency_climbs() {
        let mut g = Gradient2::new(Gradient2Config::default());
        for _ in 0..200 {
            g.on_sample(0.010, 200);
        }
        let grown = g.limit();
        assert!(grown > 60, "steady latency: the limit grows ({grown})");
        for _ in 0..50 {
            g.on_sample(0.100, 200);
        }
        assert!(g.limit() < grown / 2, "10x latency: it shrinks ({} from {grown})", g.limit());
        let mut idle = Gradient2::new(Gradient2Config::default());
        for _ in 0..200 {
            idle.on_sample(0.010, 1);
        }
        assert_eq!(idle.limit(), 20, "an idle client does not raise its limit");
    }
}
