//! Retry: try again after a transient failure, with backoff and jitter.
//!
//! The decision (how long to wait before retry *n*) is a pure function of the attempt number and
//! one uniform draw, [`RetryConfig::delay`], so it is unit-tested without time. The layer runs
//! it: it calls the inner service, asks the error whether it may be retried
//! ([`Classify::is_retryable`]), honours a server's `Retry-After`, sleeps, and tries again until
//! `max_attempts` is reached. Every scheduled retry is an event.
//!
//! Jitter matters: without it, clients that failed together retry together (a thundering herd;
//! Brooker, "Exponential Backoff And Jitter", 2015). Full jitter is the default.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand_core::RngCore;

use crate::config::ConfigError;
use crate::event::{EventSink, PatternEvent};
use crate::service::{BoxFuture, BoxService, Classify, Layer, Service};

/// How the wait grows with the attempt number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// The same wait before every retry.
    Fixed {
        /// The wait.
        delay: Duration,
    },
    /// `base * 2^(n-1)` before retry `n`, never more than `cap`.
    Exponential {
        /// The wait before the first retry.
        base: Duration,
        /// The largest wait.
        cap: Duration,
    },
}

/// How the computed wait is randomised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// Exactly the computed wait.
    None,
    /// Uniform in `[0, wait)`.
    Full,
    /// `wait/2` plus uniform in `[0, wait/2)`.
    Equal,
}

impl Jitter {
    /// Parses `none`, `full` or `equal`.
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        match s {
            "none" => Ok(Jitter::None),
            "full" => Ok(Jitter::Full),
            "equal" => Ok(Jitter::Equal),
            other => Err(ConfigError::new("jitter", format!("\"{other}\""), "one of none, full, equal")),
        }
    }
}

/// Retry settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    /// Total attempts including the first. Default 3 (Google SRE: at most 3 attempts).
    pub max_attempts: u32,
    /// Default: exponential, base 100 ms, cap 2 s.
    pub backoff: Backoff,
    /// Default: full jitter.
    pub jitter: Jitter,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            backoff: Backoff::Exponential { base: Self::DEFAULT_BASE, cap: Self::DEFAULT_CAP },
            jitter: Jitter::Full,
        }
    }
}

impl RetryConfig {
    /// Default attempts (first try included).
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
    /// Default first backoff.
    pub const DEFAULT_BASE: Duration = Duration::from_millis(100);
    /// Default largest backoff.
    pub const DEFAULT_CAP: Duration = Duration::from_secs(2);
    /// The largest `max_attempts` accepted.
    pub const MAX_ATTEMPTS_LIMIT: u32 = 100;

    /// Checks every field, naming the first bad one.
    pub fn validate(self) -> Result<Self, ConfigError> {
        if self.max_attempts == 0 || self.max_attempts > Self::MAX_ATTEMPTS_LIMIT {
            return Err(ConfigError::new("max_attempts", self.max_attempts, "an integer from 1 to 100"));
        }
        if let Backoff::Exponential { base, cap } = self.backoff {
            if base.is_zero() {
                return Err(ConfigError::new("base_ms", 0, "a duration > 0 ms"));
            }
            if cap < base {
                return Err(ConfigError::new("cap_ms", cap.as_millis(), "a duration >= base_ms"));
            }
        }
        Ok(self)
    }

    /// The wait before retry number `retry` (1 = the first retry), given a uniform draw `unit`
    /// in `[0, 1)`. Pure: the same inputs always give the same wait.
    pub fn delay(&self, retry: u32, unit: f64) -> Duration {
        let wait = match self.backoff {
            Backoff::Fixed { delay } => delay,
            Backoff::Exponential { base, cap } => {
                let shift = retry.saturating_sub(1).min(40);
                base.checked_mul(1u32 << shift.min(31)).unwrap_or(cap).min(cap)
            }
        };
        let unit = unit.clamp(0.0, 1.0);
        match self.jitter {
            Jitter::None => wait,
            Jitter::Full => wait.mul_f64(unit),
            Jitter::Equal => wait / 2 + (wait / 2).mul_f64(unit),
        }
    }
}

/// A uniform draw in `[0, 1)` from 53 random bits.
pub fn unit_f64(rng: &mut dyn RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The layer that adds [`Retry`] around a service.
pub struct RetryLayer {
    config: RetryConfig,
    rng: Arc<Mutex<Box<dyn RngCore + Send>>>,
    events: Arc<dyn EventSink>,
}

impl RetryLayer {
    /// A layer with a validated `config`, drawing jitter from `rng` and reporting to `events`.
    pub fn new(config: RetryConfig, rng: Box<dyn RngCore + Send>, events: Arc<dyn EventSink>) -> Self {
        RetryLayer { config, rng: Arc::new(Mutex::new(rng)), events }
    }
}

impl<Req, Resp, Err> Layer<Req, Resp, Err> for RetryLayer
where
    Req: Clone + Send + 'static,
    Resp: Send + 'static,
    Err: Classify,
{
    fn layer(&self, inner: BoxService<Req, Resp, Err>) -> BoxService<Req, Resp, Err> {
        Arc::new(Retry {
            inner,
            config: self.config,
            rng: self.rng.clone(),
            events: self.events.clone(),
        })
    }
}

/// A service that retries its inner service's retryable failures.
pub struct Retry<Req, Resp, Err> {
    inner: BoxService<Req, Resp, Err>,
    config: RetryConfig,
    rng: Arc<Mutex<Box<dyn RngCore + Send>>>,
    events: Arc<dyn EventSink>,
}

impl<Req, Resp, Err> Service<Req> for Retry<Req, Resp, Err>
where
    Req: Clone + Send + 'static,
    Resp: Send + 'static,
    Err: Classify,
{
    type Response = Resp;
    type Error = Err;

    fn call(&self, req: Req) -> BoxFuture<Result<Resp, Err>> {
        let inner = self.inner.clone();
        let config = self.config;
        let rng = self.rng.clone();
        let events = self.events.clone();
        Box::pin(async move {
            let mut attempt = 1;
            loop {
                let err = match inner.call(req.clone()).await {
                    Ok(resp) => return Ok(resp),
                    Err(err) => err,
                };
                if attempt >= config.max_attempts || !err.is_retryable() {
                    if attempt > 1 {
                        events.emit(PatternEvent {
                            pattern: "retry",
                            kind: "gave_up",
                            detail: format!("attempts={attempt}"),
                        });
                    }
                    return Err(err);
                }
                let unit = match rng.lock() {
                    Ok(mut rng) => unit_f64(&mut **rng),
                    Err(_) => 0.5,
                };
                let mut wait = config.delay(attempt, unit);
                if let Some(after) = err.retry_after() {
                    wait = wait.max(after);
                }
                events.emit(PatternEvent {
                    pattern: "retry",
                    kind: "scheduled",
                    detail: format!("attempt={} delay_ms={}", attempt + 1, wait.as_millis()),
                });
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                attempt += 1;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn exp(jitter: Jitter) -> RetryConfig {
        RetryConfig {
            max_attempts: 5,
            backoff: Backoff::Exponential {
                base: Duration::from_millis(10),
                cap: Duration::from_millis(100),
            },
            jitter,
        }
    }

    #[test]
    fn exponential_doubles_then_caps() {
        let c = exp(Jitter::None);
        let ms: Vec<u128> = (1..=6).map(|n| c.delay(n, 0.3).as_millis()).collect();
        assert_eq!(ms, vec![10, 20, 40, 80, 100, 100]);
    }

    #[test]
    fn validation_names_the_key() {
        let bad = RetryConfig { max_attempts: 0, ..RetryConfig::default() };
        assert_eq!(bad.validate().unwrap_err().key, "max_attempts");
        let bad = RetryConfig {
            backoff: Backoff::Exponential {
                base: Duration::from_millis(50),
                cap: Duration::from_millis(10),
            },
            ..RetryConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().key, "cap_ms");
    }

    proptest! {
        #[test]
        fn jitter_stays_within_its_band(retry in 1u32..60, unit in 0.0f64..1.0) {
            let plain = exp(Jitter::None).delay(retry, unit);
            let full = exp(Jitter::Full).delay(retry, unit);
            let equal = exp(Jitter::Equal).delay(retry, unit);
            prop_assert!(full <= plain);
            prop_assert!(equal >= plain / 2 && equal <= plain);
            prop_assert!(plain <= Duration::from_millis(100));
        }
    }
}
