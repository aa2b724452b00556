//! Health checks: liveness, readiness and startup probes with Kubernetes' thresholds, status
//! aggregation with Spring Boot's order, and checks that run off the request path.
//!
//! "Make the health endpoint so it is never the bottleneck" (course note 000, docs/sources.md): a [`HealthCache`] runs
//! every dependency check on its own schedule, each bounded by a timeout, and the endpoint only
//! reads the cached result. A [`ProbeTracker`] turns single probe results into a state with
//! thresholds (Kubernetes: period 10 s, timeout 1 s, 3 failures to fail, 1 success to recover),
//! so one slow answer does not flap an instance in and out of rotation.
//!
//! Readiness that includes a dependency shared by every instance is a trap: when that dependency
//! fails, every instance reports not ready and a balancer drops the whole fleet
//! (spring-boot #15479). The balancer (the `balance` module) therefore fails open by default.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::ConfigError;
use crate::service::{BoxFuture, BoxService};

/// A health status, in Spring Boot's severity order (worst first when aggregating).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Failing.
    Down,
    /// Taken out on purpose.
    OutOfService,
    /// Healthy.
    Up,
    /// Not known yet.
    Unknown,
}

/// The aggregate of several statuses: the most severe present (`Unknown` when empty).
pub fn aggregate(statuses: impl IntoIterator<Item = Status>) -> Status {
    statuses.into_iter().min().unwrap_or(Status::Unknown)
}

/// Probe settings (Kubernetes' defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeConfig {
    /// Time between probes. Default 10 s.
    pub period: Duration,
    /// A probe without an answer by then failed. Default 1 s.
    pub timeout: Duration,
    /// Failures in a row that make the target unhealthy. Default 3.
    pub failure_threshold: u32,
    /// Successes in a row that make it healthy again. Default 1.
    pub success_threshold: u32,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            period: Duration::from_secs(10),
            timeout: Duration::from_secs(1),
            failure_threshold: 3,
            success_threshold: 1,
        }
    }
}

impl ProbeConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(self) -> Result<Self, ConfigError> {
        if self.period.is_zero() {
            return Err(ConfigError::new("period_ms", 0, "a duration > 0"));
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::new("timeout_ms", 0, "a duration > 0"));
        }
        if self.failure_threshold == 0 {
            return Err(ConfigError::new("failure_threshold", 0, "an integer >= 1"));
        }
        if self.success_threshold == 0 {
            return Err(ConfigError::new("success_threshold", 0, "an integer >= 1"));
        }
        Ok(self)
    }
}

/// Turns probe results into a healthy / unhealthy state with thresholds. Pure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTracker {
    config: ProbeConfig,
    healthy: bool,
    failures: u32,
    successes: u32,
}

impl ProbeTracker {
    /// A tracker starting healthy (liveness) or not (readiness, startup).
    pub fn new(config: ProbeConfig, initially_healthy: bool) -> Self {
        ProbeTracker { config, healthy: initially_healthy, failures: 0, successes: 0 }
    }

    /// Whether the target counts as healthy.
    pub fn healthy(&self) -> bool {
        self.healthy
    }

    /// Feeds one probe result; returns the new state when it changed.
    pub fn on_result(&mut self, ok: bool) -> Option<bool> {
        if ok {
            self.failures = 0;
            self.successes += 1;
            if !self.healthy && self.successes >= self.config.success_threshold {
                self.healthy = true;
                return Some(true);
            }
        } else {
            self.successes = 0;
            self.failures += 1;
            if self.healthy && self.failures >= self.config.failure_threshold {
                self.healthy = false;
                return Some(false);
            }
        }
        None
    }
}

/// A named check of one dependency: answers `Ok(())` when healthy.
pub struct Check<E> {
    /// Shown in events.
    pub name: String,
    /// The check itself (a ping, a `SELECT 1`).
    pub run: BoxService<(), (), E>,
}

/// Dependency checks run on a schedule; readers get the cached aggregate at once.
pub struct HealthCache {
    statuses: Mutex<Vec<Status>>,
}

impl HealthCache {
    /// Starts running `checks` every `config.period`, each bounded by `config.timeout`, with
    /// the probe thresholds; every check starts `Unknown`. The tasks stop when the cache is
    /// dropped by everyone else.
    pub fn spawn<E: Send + 'static>(checks: Vec<Check<E>>, config: ProbeConfig) -> Arc<HealthCache> {
        let cache = Arc::new(HealthCache { statuses: Mutex::new(vec![Status::Unknown; checks.len()]) });
        for (i, check) in checks.into_iter().enumerate() {
            let weak = Arc::downgrade(&cache);
            tokio::spawn(async move {
                let mut tracker = ProbeTracker::new(config, true);
                loop {
                    let ok = matches!(tokio::time::timeout(config.timeout, check.run.call(())).await, Ok(Ok(())));
                    tracker.on_result(ok);
                    let Some(cache) = weak.upgrade() else { return };
                    if let Ok(mut s) = cache.statuses.lock() {
                        s[i] = if tracker.healthy() { Status::Up } else { Status::Down };
                    }
                    drop(cache);
                    tokio::time::sleep(config.period).await;
                }
            });
        }
        cache
    }

    /// The aggregate status now, from the cache (never waits on a check).
    pub fn status(&self) -> Status {
        self.statuses.lock().map(|s| aggregate(s.iter().copied())).unwrap_or(Status::Unknown)
    }
}

/// Probes endpoint `i` of a dependency: true when it answered healthy.
pub type EndpointProbe = Arc<dyn Fn(usize) -> BoxFuture<bool> + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregation_takes_the_most_severe() {
        assert_eq!(aggregate([Status::Up, Status::Unknown, Status::Up]), Status::Up);
        assert_eq!(aggregate([Status::Up, Status::OutOfService]), Status::OutOfService);
        assert_eq!(aggregate([Status::OutOfService, Status::Down, Status::Up]), Status::Down);
        assert_eq!(aggregate([]), Status::Unknown);
    }

    #[test]
    fn thresholds_keep_one_bad_probe_from_flapping() {
        let mut t = ProbeTracker::new(ProbeConfig::default(), true);
        assert_eq!(t.on_result(false), None);
        assert_eq!(t.on_result(true), None);
        assert_eq!(t.on_result(false), None);
        assert_eq!(t.on_result(false), None);
        assert_eq!(t.on_result(false), Some(false), "three in a row");
        assert_eq!(t.on_result(true), Some(true), "one success recovers");
    }
}
