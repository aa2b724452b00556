//! Chaos layers (Polly's Simmy): inject failures and latency into calls at a rate, from an
//! injected (in the simulator: seeded) random stream, so that the patterns above them can be
//! exercised on purpose. Events: `chaos.error`, `chaos.latency`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand_core::RngCore;

use crate::config::ConfigError;
use crate::event::EventSink;
use crate::retry::unit_f64;
use crate::service::{BoxFuture, BoxService, Classify, Policy, Service};

/// What to inject.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChaosConfig {
    /// Share of calls that fail at once without being made. Default 0.
    pub error_rate: f64,
    /// Share of calls delayed by `latency` before being made. Default 0.
    pub latency_rate: f64,
    /// The injected delay. Default 1 s.
    pub latency: Duration,
}

impl Default for ChaosConfig {
    fn default() -> Self {
        ChaosConfig { error_rate: 0.0, latency_rate: 0.0, latency: Duration::from_secs(1) }
    }
}

impl ChaosConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(self) -> Result<Self, ConfigError> {
        for (key, v) in [("error_rate", self.error_rate), ("latency_rate", self.latency_rate)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(ConfigError::new(key, v, "a probability from 0 to 1"));
            }
        }
        Ok(self)
    }
}

/// Puts chaos in front of a service.
#[derive(Clone)]
pub struct ChaosLayer {
    config: ChaosConfig,
    rng: Arc<Mutex<Box<dyn RngCore + Send>>>,
    events: Arc<dyn EventSink>,
}

impl ChaosLayer {
    /// Chaos with a validated `config`, drawing from `rng`.
    pub fn new(config: ChaosConfig, rng: Box<dyn RngCore + Send>, events: Arc<dyn EventSink>) -> Self {
        ChaosLayer { config, rng: Arc::new(Mutex::new(rng)), events }
    }
}

impl<Req, Resp, Err> Policy<Req, Resp, Err> for ChaosLayer
where
    Req: Send + 'static,
    Resp: Send + 'static,
    Err: Classify,
{
    fn call(&self, inner: &BoxService<Req, Resp, Err>, req: Req) -> BoxFuture<Result<Resp, Err>> {
        let (fail, delay) = match self.rng.lock() {
            Ok(mut rng) => {
                let fail = unit_f64(&mut **rng) < self.config.error_rate;
                let delay = unit_f64(&mut **rng) < self.config.latency_rate;
                (fail, delay)
            }
            Err(_) => (false, false),
        };
        if fail {
            self.events.report("chaos", "error", String::new);
            return Box::pin(async { Err(Err::injected("chaos")) });
        }
        let fut = inner.call(req);
        let latency = self.config.latency;
        if delay {
            self.events.report("chaos", "latency", || format!("ms={}", latency.as_millis()));
        }
        Box::pin(async move {
            if delay {
                tokio::time::sleep(latency).await;
            }
            fut.await
        })
    }
}
