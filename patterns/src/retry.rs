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
//!
//! Which failures are retried is a predicate on the error (default [`Classify::is_retryable`])
//! and, optionally, on a successful response that should count as a failure. A
//! [`crate::budget::RetryBudget`] caps retries relative to requests.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand_core::RngCore;
use tokio::time::Instant;

use crate::budget::RetryBudget;
use crate::config::ConfigError;
use crate::event::EventSink;
use crate::service::{BoxFuture, BoxService, Classify, Policy, Service};

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
    /// `base * n` before retry `n`, never more than `cap`.
    Linear {
        /// The wait before the first retry, and the step.
        base: Duration,
        /// The largest wait.
        cap: Duration,
    },
}

impl Backoff {
    /// The smallest and largest waits this backoff produces.
    fn bounds(self) -> (Duration, Duration) {
        match self {
            Backoff::Fixed { delay } => (delay, delay),
            Backoff::Exponential { base, cap } | Backoff::Linear { base, cap } => (base, cap),
        }
    }
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
    /// Brooker's decorrelated jitter: uniform in `[base, 3 x previous wait)`, at most `cap`
    /// (ignores the backoff's shape, uses its base and cap).
    Decorrelated,
}

impl Jitter {
    /// Parses `none`, `full`, `equal` or `decorrelated`.
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        match s {
            "none" => Ok(Jitter::None),
            "full" => Ok(Jitter::Full),
            "equal" => Ok(Jitter::Equal),
            "decorrelated" => Ok(Jitter::Decorrelated),
            other => Err(ConfigError::new("jitter", format!("\"{other}\""), "one of none, full, equal, decorrelated")),
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
        if let Backoff::Exponential { base, cap } | Backoff::Linear { base, cap } = self.backoff {
            if base.is_zero() {
                return Err(ConfigError::new("base_ms", 0, "a duration > 0 ms"));
            }
            if cap < base {
                return Err(ConfigError::new("cap_ms", cap.as_millis(), "a duration >= base_ms"));
            }
        }
        Ok(self)
    }

    /// The wait before retry number `retry` (1 = the first retry), given the previous wait
    /// (zero before the first retry; only decorrelated jitter uses it) and a uniform draw `unit`
    /// in `[0, 1)`. Pure: the same inputs always give the same wait.
    pub fn delay(&self, retry: u32, previous: Duration, unit: f64) -> Duration {
        let unit = unit.clamp(0.0, 1.0);
        let (base, cap) = self.backoff.bounds();
        let wait = match self.backoff {
            Backoff::Fixed { delay } => delay,
            Backoff::Exponential { base, cap } => {
                let shift = retry.saturating_sub(1).min(31);
                base.checked_mul(1u32 << shift).unwrap_or(cap).min(cap)
            }
            Backoff::Linear { base, cap } => base.checked_mul(retry.max(1)).unwrap_or(cap).min(cap),
        };
        match self.jitter {
            Jitter::None => wait,
            Jitter::Full => wait.mul_f64(unit),
            Jitter::Equal => wait / 2 + (wait / 2).mul_f64(unit),
            Jitter::Decorrelated => {
                let high = (previous.max(base) * 3).max(base);
                (base + (high - base).mul_f64(unit)).min(cap)
            }
        }
    }
}

/// A uniform draw in `[0, 1)` from 53 random bits.
pub fn unit_f64(rng: &mut dyn RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Decides whether an error is worth another attempt.
pub type ErrorPredicate<E> = Arc<dyn Fn(&E) -> bool + Send + Sync>;
/// Decides whether a successful response should be retried as if it had failed.
pub type ResultPredicate<R> = Arc<dyn Fn(&R) -> bool + Send + Sync>;
/// A budget shared by every call through one layer.
pub type SharedBudget = Arc<Mutex<dyn RetryBudget>>;

/// Retries the calls of the service it wraps: backoff with jitter, an optional budget.
pub struct RetryLayer<Resp, Err> {
    config: RetryConfig,
    rng: Arc<Mutex<Box<dyn RngCore + Send>>>,
    events: Arc<dyn EventSink>,
    retry_error: ErrorPredicate<Err>,
    retry_result: Option<ResultPredicate<Resp>>,
    budget: Option<SharedBudget>,
    origin: Instant,
    _types: PhantomData<fn(Resp)>,
}

impl<Resp, Err: Classify> RetryLayer<Resp, Err> {
    /// A layer with a validated `config`, drawing jitter from `rng` and reporting to `events`.
    /// Errors are retried when [`Classify::is_retryable`] says so; there is no budget.
    pub fn new(config: RetryConfig, rng: Box<dyn RngCore + Send>, events: Arc<dyn EventSink>) -> Self {
        RetryLayer {
            config,
            rng: Arc::new(Mutex::new(rng)),
            events,
            retry_error: Arc::new(|e: &Err| e.is_retryable()),
            retry_result: None,
            budget: None,
            origin: Instant::now(),
            _types: PhantomData,
        }
    }

    /// Retries only the errors `predicate` accepts (it replaces `is_retryable`).
    pub fn retry_on(mut self, predicate: ErrorPredicate<Err>) -> Self {
        self.retry_error = predicate;
        self
    }

    /// Also retries successful responses that `predicate` rejects (e.g. an empty result);
    /// after the last attempt such a response is returned as it is.
    pub fn retry_result(mut self, predicate: ResultPredicate<Resp>) -> Self {
        self.retry_result = Some(predicate);
        self
    }

    /// Caps retries with `budget`.
    pub fn with_budget(mut self, budget: SharedBudget) -> Self {
        self.budget = Some(budget);
        self
    }
}

impl<Resp, Err> Clone for RetryLayer<Resp, Err> {
    fn clone(&self) -> Self {
        RetryLayer {
            config: self.config,
            rng: self.rng.clone(),
            events: self.events.clone(),
            retry_error: self.retry_error.clone(),
            retry_result: self.retry_result.clone(),
            budget: self.budget.clone(),
            origin: self.origin,
            _types: PhantomData,
        }
    }
}

impl<Req, Resp, Err> Policy<Req, Resp, Err> for RetryLayer<Resp, Err>
where
    Req: Clone + Send + 'static,
    Resp: Send + 'static,
    Err: Classify,
{
    fn call(&self, inner: &BoxService<Req, Resp, Err>, req: Req) -> BoxFuture<Result<Resp, Err>> {
        Box::pin(self.clone().run(inner.clone(), req))
    }
}

impl<Resp, Err: Classify> RetryLayer<Resp, Err> {
    /// Runs `f` on the budget, if there is one (true without one).
    fn ask_budget(&self, f: impl FnOnce(&mut dyn RetryBudget) -> bool) -> bool {
        match &self.budget {
            Some(b) => match b.lock() {
                Ok(mut b) => f(&mut *b),
                Err(_) => true,
            },
            None => true,
        }
    }

    fn emit(&self, kind: &'static str, detail: impl FnOnce() -> String) {
        self.events.report("retry", kind, detail);
    }

    /// The wait before retry `attempt + 1`: the backoff with one jitter draw, at least what the
    /// server asked for.
    fn wait(&self, attempt: u32, previous: Duration, retry_after: Option<Duration>) -> Duration {
        let unit = match self.rng.lock() {
            Ok(mut rng) => unit_f64(&mut **rng),
            Err(_) => 0.5,
        };
        let wait = self.config.delay(attempt, previous, unit);
        retry_after.map_or(wait, |after| wait.max(after))
    }

    /// Calls `inner` until an answer that need not be retried, the last attempt, or the budget
    /// says no.
    async fn run<Req: Clone + 'static>(self, inner: BoxService<Req, Resp, Err>, req: Req) -> Result<Resp, Err>
    where
        Resp: Send + 'static,
    {
        let now = || self.origin.elapsed();
        self.ask_budget(|b| {
            b.deposit(now());
            true
        });
        let mut attempt = 1;
        let mut previous = Duration::ZERO;
        loop {
            let result = inner.call(req.clone()).await;
            let (retryable, timed_out, retry_after) = match &result {
                Ok(resp) if self.retry_result.as_ref().is_some_and(|p| p(resp)) => (true, false, None),
                Ok(_) => {
                    self.ask_budget(|b| {
                        b.on_success(now(), attempt > 1);
                        true
                    });
                    return result;
                }
                Err(e) => ((self.retry_error)(e), e.is_timeout(), e.retry_after()),
            };
            if attempt >= self.config.max_attempts || !retryable {
                if attempt > 1 {
                    self.emit("gave_up", || format!("attempts={attempt}"));
                }
                return result;
            }
            if !self.ask_budget(|b| b.try_withdraw(now(), timed_out)) {
                self.emit("budget_exhausted", || format!("attempts={attempt}"));
                return result;
            }
            let wait = self.wait(attempt, previous, retry_after);
            previous = wait;
            self.emit("scheduled", || format!("attempt={} delay_ms={}", attempt + 1, wait.as_millis()));
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn exp(jitter: Jitter) -> RetryConfig {
        RetryConfig {
            max_attempts: 5,
            backoff: Backoff::Exponential { base: Duration::from_millis(10), cap: Duration::from_millis(100) },
            jitter,
        }
    }

    #[test]
    fn exponential_doubles_then_caps() {
        let c = exp(Jitter::None);
        let ms: Vec<u128> = (1..=6).map(|n| c.delay(n, Duration::ZERO, 0.3).as_millis()).collect();
        assert_eq!(ms, vec![10, 20, 40, 80, 100, 100]);
        let linear = RetryConfig {
            backoff: Backoff::Linear { base: Duration::from_millis(30), cap: Duration::from_millis(100) },
            ..c
        };
        let ms: Vec<u128> = (1..=5).map(|n| linear.delay(n, Duration::ZERO, 0.3).as_millis()).collect();
        assert_eq!(ms, vec![30, 60, 90, 100, 100]);
    }

    #[test]
    fn validation_names_the_key() {
        let bad = RetryConfig { max_attempts: 0, ..RetryConfig::default() };
        assert_eq!(bad.validate().unwrap_err().key, "max_attempts");
        let bad = RetryConfig {
            backoff: Backoff::Exponential { base: Duration::from_millis(50), cap: Duration::from_millis(10) },
            ..RetryConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().key, "cap_ms");
    }

    proptest! {
        #[test]
        fn jitter_stays_within_its_band(retry in 1u32..60, unit in 0.0f64..1.0, previous_ms in 0u64..500) {
            let previous = Duration::from_millis(previous_ms);
            let plain = exp(Jitter::None).delay(retry, previous, unit);
            let full = exp(Jitter::Full).delay(retry, previous, unit);
            let equal = exp(Jitter::Equal).delay(retry, previous, unit);
            let decorrelated = exp(Jitter::Decorrelated).delay(retry, previous, unit);
            prop_assert!(full <= plain);
            prop_assert!(equal >= plain / 2 && equal <= plain);
            prop_assert!(plain <= Duration::from_millis(100));
            prop_assert!(decorrelated >= Duration::from_millis(10) && decorrelated <= Duration::from_millis(100));
            prop_assert!(decorrelated <= (previous.max(Duration::from_millis(10)) * 3).max(Duration::from_millis(10)));
        }
    }
}
