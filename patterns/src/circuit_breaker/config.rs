//! Breaker settings. Defaults are resilience4j's.

use std::time::Duration;

use crate::config::ConfigError;

/// How the sliding window measures "recent".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// The last `size` calls.
    CountBased {
        /// Calls kept.
        size: u32,
    },
    /// The calls of the last `seconds` seconds, in one-second buckets.
    TimeBased {
        /// Seconds kept.
        seconds: u32,
    },
}

/// How long the breaker stays open.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OpenDuration {
    /// Always the same.
    Fixed(Duration),
    /// `initial * multiplier^(n-1)` for the n-th opening in a row (no close in between),
    /// at most `max`.
    Backoff {
        /// The first open period.
        initial: Duration,
        /// Growth per consecutive opening (>= 1).
        multiplier: f64,
        /// The longest open period.
        max: Duration,
    },
}

impl OpenDuration {
    /// The open period for the `n`-th consecutive opening (1-based).
    pub fn for_opening(&self, n: u32) -> Duration {
        match *self {
            OpenDuration::Fixed(d) => d,
            OpenDuration::Backoff { initial, multiplier, max } => {
                let factor = multiplier.powi(n.saturating_sub(1).min(64) as i32);
                let secs = (initial.as_secs_f64() * factor).min(max.as_secs_f64());
                Duration::from_secs_f64(secs)
            }
        }
    }
}

/// Breaker settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// Default: the last 100 calls.
    pub window: WindowKind,
    /// Open when at least this percentage of calls in the window failed. Default 50.
    pub failure_rate_threshold: f64,
    /// Open when at least this percentage of calls in the window were slow. Default 100.
    pub slow_call_rate_threshold: f64,
    /// A call taking longer than this is slow. Default 60 s.
    pub slow_call_duration: Duration,
    /// No decision before the window holds this many calls (for a count window, at most its
    /// size). Default 100.
    pub minimum_calls: u32,
    /// Default: fixed 60 s.
    pub open_duration: OpenDuration,
    /// Calls let through in half-open before deciding. Default 10.
    pub half_open_permits: u32,
    /// Reopen if half-open has not decided after this long (`None`: wait for the probes).
    /// Default `None`.
    pub max_wait_in_half_open: Option<Duration>,
    /// Move from open to half-open when the open period ends even if no call arrives
    /// (resilience4j's `automaticTransitionFromOpenToHalfOpenEnabled`). Default false: the
    /// next call after the period moves it.
    pub automatic_transition: bool,
    /// Drop the outcome of a call admitted before the breaker's last transition (gobreaker's
    /// generations) instead of recording it in the current state (resilience4j). Default false.
    /// With it, a slow call that started while closed cannot reopen a breaker that has since
    /// recovered, nor close one that has since opened again.
    pub drop_stale_outcomes: bool,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            window: WindowKind::CountBased { size: 100 },
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration: Duration::from_secs(60),
            minimum_calls: 100,
            open_duration: OpenDuration::Fixed(Duration::from_secs(60)),
            half_open_permits: 10,
            max_wait_in_half_open: None,
            automatic_transition: false,
            drop_stale_outcomes: false,
        }
    }
}

impl BreakerConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(self) -> Result<Self, ConfigError> {
        match self.window {
            WindowKind::CountBased { size } if !(1..=100_000).contains(&size) => {
                return Err(ConfigError::new("window_size", size, "an integer from 1 to 100000"));
            }
            WindowKind::TimeBased { seconds } if !(1..=3600).contains(&seconds) => {
                return Err(ConfigError::new("window_s", seconds, "an integer from 1 to 3600"));
            }
            _ => {}
        }
        for (key, v) in [
            ("failure_rate_threshold", self.failure_rate_threshold),
            ("slow_call_rate_threshold", self.slow_call_rate_threshold),
        ] {
            if !(v > 0.0 && v <= 100.0) {
                return Err(ConfigError::new(key, v, "a percentage above 0 and at most 100"));
            }
        }
        if self.slow_call_duration.is_zero() {
            return Err(ConfigError::new("slow_call_ms", 0, "a duration > 0 ms"));
        }
        if self.minimum_calls == 0 {
            return Err(ConfigError::new("minimum_calls", 0, "an integer >= 1"));
        }
        if !(1..=10_000).contains(&self.half_open_permits) {
            return Err(ConfigError::new("half_open_permits", self.half_open_permits, "an integer from 1 to 10000"));
        }
        match self.open_duration {
            OpenDuration::Fixed(d) if d.is_zero() => return Err(ConfigError::new("open_ms", 0, "a duration > 0 ms")),
            OpenDuration::Backoff { initial, multiplier, max } => {
                if initial.is_zero() {
                    return Err(ConfigError::new("open_ms", 0, "a duration > 0 ms"));
                }
                if !(1.0..=100.0).contains(&multiplier) {
                    return Err(ConfigError::new("open_multiplier", multiplier, "a number from 1 to 100"));
                }
                if max < initial {
                    return Err(ConfigError::new("open_max_ms", max.as_millis(), "a duration >= open_ms"));
                }
            }
            _ => {}
        }
        if self.max_wait_in_half_open.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::new("max_wait_in_half_open_ms", 0, "a duration > 0 ms (or leave it out)"));
        }
        Ok(self)
    }

    /// The calls needed before a decision: `minimum_calls`, capped by a count window's size
    /// (as resilience4j does, so a small window can still trip).
    pub fn effective_minimum(&self) -> u32 {
        match self.window {
            WindowKind::CountBased { size } => self.minimum_calls.min(size),
            WindowKind::TimeBased { .. } => self.minimum_calls,
        }
    }
}
