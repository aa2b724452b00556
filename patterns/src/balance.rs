//! Load balancing over a dependency's endpoints, with Envoy-style outlier ejection.
//!
//! Strategies: round robin; random; power of two choices (pick two endpoints at random, use the
//! better) on least pending requests, or on PeakEWMA cost (Finagle / linkerd: a latency average
//! that jumps up at once on a slow answer and decays slowly, times pending + 1). Power of two
//! choices avoids a slow endpoint without herding every caller onto the same fast one.
//!
//! Outlier ejection (Envoy's defaults): `consecutive_failures` (5) in a row eject an endpoint for
//! `base_ejection x times ejected` (30 s x n); at most `max_ejected_percent` (10%) of endpoints
//! are out at once, but at least one may be. When every endpoint is out, the balancer fails open
//! and uses them all: a balancer that routes nowhere turns a partial failure into a total one.
//!
//! The decision logic ([`Balancer`]) is pure (time and random draws passed in); the layer asks
//! it for an endpoint and tells the request ([`Routable`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand_core::RngCore;
use tokio::time::Instant;

use crate::config::ConfigError;
use crate::event::{EventSink, PatternEvent};
use crate::health::{EndpointProbe, ProbeConfig, ProbeTracker};
use crate::retry::unit_f64;
use crate::service::{BoxFuture, BoxService, Classify, Policy, Rejection, Service};

/// A request that can be sent to a chosen endpoint.
pub trait Routable {
    /// Send this request to endpoint `index`.
    fn route_to(&mut self, index: usize);
}

/// How to choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// In turn.
    RoundRobin,
    /// Uniformly at random.
    Random,
    /// Two at random, the one with fewer requests pending.
    P2cLeastPending,
    /// Two at random, the one with the lower PeakEWMA cost.
    P2cPeakEwma,
}

impl Strategy {
    /// Parses a strategy name.
    pub fn parse(s: &str) -> Result<Strategy, ConfigError> {
        match s {
            "round_robin" => Ok(Strategy::RoundRobin),
            "random" => Ok(Strategy::Random),
            "p2c_least_pending" => Ok(Strategy::P2cLeastPending),
            "p2c_peak_ewma" => Ok(Strategy::P2cPeakEwma),
            other => Err(ConfigError::new(
                "strategy",
                format!("\"{other}\""),
                "round_robin, random, p2c_least_pending or p2c_peak_ewma",
            )),
        }
    }
}

/// Outlier ejection settings (Envoy's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ejection {
    /// Failures in a row that eject an endpoint. Default 5.
    pub consecutive_failures: u32,
    /// Ejection time per time ejected. Default 30 s.
    pub base_ejection: Duration,
    /// Share of endpoints that may be out at once (at least one). Default 10.
    pub max_ejected_percent: f64,
}

impl Default for Ejection {
    fn default() -> Self {
        Ejection { consecutive_failures: 5, base_ejection: Duration::from_secs(30), max_ejected_percent: 10.0 }
    }
}

/// Balancer settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BalanceConfig {
    /// Default: power of two choices on PeakEWMA.
    pub strategy: Strategy,
    /// Default: none.
    pub ejection: Option<Ejection>,
    /// How fast PeakEWMA forgets a slow answer. Default 10 s.
    pub decay: Duration,
    /// With every endpoint ejected or unhealthy, use them all (true, the default) or refuse
    /// calls (false: what a Kubernetes Service with no ready endpoints does).
    pub fail_open: bool,
}

impl Default for BalanceConfig {
    fn default() -> Self {
        BalanceConfig {
            strategy: Strategy::P2cPeakEwma,
            ejection: None,
            decay: Duration::from_secs(10),
            fail_open: true,
        }
    }
}

impl BalanceConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(self) -> Result<Self, ConfigError> {
        if let Some(e) = self.ejection {
            if e.consecutive_failures == 0 {
                return Err(ConfigError::new("eject_after", 0, "an integer >= 1"));
            }
            if e.base_ejection.is_zero() {
                return Err(ConfigError::new("ejection_s", 0, "a duration > 0"));
            }
            if !(0.0..=100.0).contains(&e.max_ejected_percent) {
                return Err(ConfigError::new(
                    "max_ejected_percent",
                    e.max_ejected_percent,
                    "a percentage from 0 to 100",
                ));
            }
        }
        if self.decay.is_zero() {
            return Err(ConfigError::new("decay_s", 0, "a duration > 0"));
        }
        Ok(self)
    }
}

/// What the balancer knows about one endpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Endpoint {
    /// Requests sent and not yet answered.
    pub pending: u32,
    /// PeakEWMA latency, seconds.
    pub ewma_s: f64,
    ewma_at: Duration,
    consecutive_failures: u32,
    /// Out until this time.
    pub ejected_until: Option<Duration>,
    times_ejected: u32,
    /// False while health checks say it is not ready.
    pub unhealthy: bool,
    /// True while service discovery does not list it.
    pub unregistered: bool,
}

impl Endpoint {
    /// In rotation: registered, neither ejected nor unhealthy.
    pub fn live(&self) -> bool {
        self.ejected_until.is_none() && !self.unhealthy && !self.unregistered
    }
}

/// The pure balancer.
#[derive(Debug, Clone)]
pub struct Balancer {
    config: BalanceConfig,
    endpoints: Vec<Endpoint>,
    next: usize,
    events: Vec<String>,
}

impl Balancer {
    /// A balancer over `n` endpoints (at least one).
    pub fn new(config: BalanceConfig, n: usize) -> Self {
        Balancer { config, endpoints: vec![Endpoint::default(); n.max(1)], next: 0, events: Vec::new() }
    }

    /// The endpoints' state.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// Ejections and returns since the last call (drains them).
    pub fn take_events(&mut self) -> Vec<String> {
        std::mem::take(&mut self.events)
    }

    fn release_ejections(&mut self, now: Duration) {
        for (i, e) in self.endpoints.iter_mut().enumerate() {
            if e.ejected_until.is_some_and(|t| now >= t) {
                e.ejected_until = None;
                e.consecutive_failures = 0;
                self.events.push(format!("returned endpoint={i}"));
            }
        }
    }

    fn ejected(&self) -> usize {
        self.endpoints.iter().filter(|e| e.ejected_until.is_some()).count()
    }

    /// The most endpoints that may be out at once.
    pub fn max_ejected(&self) -> usize {
        match self.config.ejection {
            Some(e) => ((e.max_ejected_percent / 100.0 * self.endpoints.len() as f64).floor() as usize)
                .max(1)
                .min(self.endpoints.len()),
            None => 0,
        }
    }

    fn cost(&self, i: usize, now: Duration) -> f64 {
        let e = &self.endpoints[i];
        match self.config.strategy {
            Strategy::P2cPeakEwma => {
                let decayed =
                    e.ewma_s * (-(now.saturating_sub(e.ewma_at)).as_secs_f64() / self.config.decay.as_secs_f64()).exp();
                // No data yet: a small cost so that new endpoints get tried.
                (decayed.max(1e-6)) * f64::from(e.pending + 1)
            }
            _ => f64::from(e.pending),
        }
    }

    /// Marks endpoint `i` ready or not (from health checks).
    pub fn set_healthy(&mut self, i: usize, healthy: bool) {
        if let Some(e) = self.endpoints.get_mut(i) {
            e.unhealthy = !healthy;
        }
    }

    /// Sets which endpoints service discovery lists (`listed[i]`).
    pub fn set_registered(&mut self, listed: &[bool]) {
        for (e, l) in self.endpoints.iter_mut().zip(listed) {
            e.unregistered = !l;
        }
    }

    /// Chooses an endpoint at `now`, given two uniform draws in [0, 1). `None` only when no
    /// endpoint is live and the balancer does not fail open.
    pub fn pick(&mut self, now: Duration, u1: f64, u2: f64) -> Option<usize> {
        self.release_ejections(now);
        let live: Vec<usize> = (0..self.endpoints.len()).filter(|&i| self.endpoints[i].live()).collect();
        let pool: Vec<usize> = match (live.is_empty(), self.config.fail_open) {
            (false, _) => live,
            (true, true) => (0..self.endpoints.len()).collect(),
            (true, false) => return None,
        };
        let draw = |u: f64, n: usize| ((u * n as f64) as usize).min(n - 1);
        let chosen = match self.config.strategy {
            Strategy::RoundRobin => {
                let i = pool[self.next % pool.len()];
                self.next = self.next.wrapping_add(1);
                i
            }
            Strategy::Random => pool[draw(u1, pool.len())],
            Strategy::P2cLeastPending | Strategy::P2cPeakEwma if pool.len() == 1 => pool[0],
            Strategy::P2cLeastPending | Strategy::P2cPeakEwma => {
                let a = draw(u1, pool.len());
                // A second, different endpoint.
                let b = (a + 1 + draw(u2, pool.len() - 1)) % pool.len();
                let (a, b) = (pool[a], pool[b]);
                if self.cost(b, now) < self.cost(a, now) {
                    b
                } else {
                    a
                }
            }
        };
        Some(chosen)
    }

    /// A request was sent to `i`.
    pub fn on_start(&mut self, i: usize) {
        self.endpoints[i].pending += 1;
    }

    /// A request to `i` ended at `now` after `latency`; `failed` when the endpoint failed it
    /// (counts toward ejection). `None` when it was cancelled (no answer to learn from).
    pub fn on_end(&mut self, i: usize, now: Duration, outcome: Option<(Duration, bool)>) {
        let max_ejected = self.max_ejected();
        let ejected = self.ejected();
        let config = self.config;
        let e = &mut self.endpoints[i];
        e.pending = e.pending.saturating_sub(1);
        let Some((latency, failed)) = outcome else { return };
        let rtt = latency.as_secs_f64();
        let decayed = e.ewma_s * (-(now.saturating_sub(e.ewma_at)).as_secs_f64() / config.decay.as_secs_f64()).exp();
        e.ewma_s = if rtt > decayed { rtt } else { decayed + (rtt - decayed) * 0.1 };
        e.ewma_at = now;
        if !failed {
            e.consecutive_failures = 0;
            return;
        }
        e.consecutive_failures += 1;
        if let Some(ej) = config.ejection {
            if e.ejected_until.is_none() && e.consecutive_failures >= ej.consecutive_failures && ejected < max_ejected {
                e.times_ejected += 1;
                let until = now + ej.base_ejection * e.times_ejected;
                e.ejected_until = Some(until);
                self.events
                    .push(format!("ejected endpoint={i} for_s={}", (ej.base_ejection * e.times_ejected).as_secs()));
            }
        }
    }
}

/// Which endpoints service discovery lists now (`true` at index i: endpoint i is registered).
pub type Membership = Arc<dyn Fn() -> Vec<bool> + Send + Sync>;

/// Puts a balancer in front of a service whose requests are [`Routable`].
#[derive(Clone)]
pub struct BalanceLayer {
    balancer: Arc<Mutex<Balancer>>,
    rng: Arc<Mutex<Box<dyn RngCore + Send>>>,
    events: Arc<dyn EventSink>,
    origin: Instant,
}

impl BalanceLayer {
    /// A balancer with a validated `config` over `endpoints` endpoints, drawing from `rng`.
    pub fn new(
        config: BalanceConfig,
        endpoints: usize,
        rng: Box<dyn RngCore + Send>,
        events: Arc<dyn EventSink>,
    ) -> Self {
        BalanceLayer {
            balancer: Arc::new(Mutex::new(Balancer::new(config, endpoints))),
            rng: Arc::new(Mutex::new(rng)),
            events,
            origin: Instant::now(),
        }
    }

    /// The balancer, to observe it.
    pub fn balancer(&self) -> Arc<Mutex<Balancer>> {
        self.balancer.clone()
    }

    /// Refreshes membership from service discovery every `refresh` (a client-side cache of the
    /// registry, like Eureka's): endpoints the registry does not list leave the rotation.
    pub fn with_discovery(self, registry: Membership, refresh: Duration) -> Self {
        let weak = Arc::downgrade(&self.balancer);
        let events = self.events.clone();
        tokio::spawn(async move {
            let mut last: Vec<bool> = Vec::new();
            loop {
                let listed = registry();
                let Some(balancer) = weak.upgrade() else { return };
                if let Ok(mut b) = balancer.lock() {
                    b.set_registered(&listed);
                }
                drop(balancer);
                if listed != last {
                    let up: Vec<String> =
                        listed.iter().enumerate().filter(|(_, l)| **l).map(|(i, _)| i.to_string()).collect();
                    events.report("discovery", "changed", || format!("endpoints={}", up.join("+")));
                    last = listed;
                }
                tokio::time::sleep(refresh).await;
            }
        });
        self
    }

    /// Probes every endpoint with `probe` every `config.period` (off the request path) and
    /// takes endpoints out of rotation while their probe tracker says unhealthy. The probing
    /// tasks end when the balancer is dropped.
    pub fn with_health_checks(self, probe: EndpointProbe, config: ProbeConfig) -> Self {
        let n = self.balancer.lock().map(|b| b.endpoints.len()).unwrap_or(0);
        for i in 0..n {
            let weak = Arc::downgrade(&self.balancer);
            let (probe, events) = (probe.clone(), self.events.clone());
            tokio::spawn(async move {
                let mut tracker = ProbeTracker::new(config, true);
                loop {
                    tokio::time::sleep(config.period).await;
                    let ok = matches!(tokio::time::timeout(config.timeout, probe(i)).await, Ok(true));
                    let changed = tracker.on_result(ok);
                    let Some(balancer) = weak.upgrade() else { return };
                    if let Some(healthy) = changed {
                        if let Ok(mut b) = balancer.lock() {
                            b.set_healthy(i, healthy);
                        }
                        let kind = if healthy { "up" } else { "down" };
                        events.report("health", kind, || format!("endpoint={i}"));
                    }
                }
            });
        }
        self
    }
}

/// Ends a pending request however the call ends.
struct Pending {
    balancer: Arc<Mutex<Balancer>>,
    index: usize,
    origin: Instant,
    outcome: Option<(Duration, bool)>,
    events: Arc<dyn EventSink>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        let now = self.origin.elapsed();
        let events = match self.balancer.lock() {
            Ok(mut b) => {
                b.on_end(self.index, now, self.outcome);
                b.take_events()
            }
            Err(_) => Vec::new(),
        };
        for detail in events {
            let kind = if detail.starts_with("ejected") { "ejected" } else { "returned" };
            self.events.emit(PatternEvent { pattern: "balance", kind, detail });
        }
    }
}

impl<Req, Resp, Err> Policy<Req, Resp, Err> for BalanceLayer
where
    Req: Routable + Send + 'static,
    Resp: Send + 'static,
    Err: Classify,
{
    fn call(&self, inner: &BoxService<Req, Resp, Err>, mut req: Req) -> BoxFuture<Result<Resp, Err>> {
        let now = self.origin.elapsed();
        let (u1, u2) = self.rng.lock().map(|mut r| (unit_f64(&mut **r), unit_f64(&mut **r))).unwrap_or((0.5, 0.5));
        let picked = match self.balancer.lock() {
            Ok(mut b) => {
                let i = b.pick(now, u1, u2);
                if let Some(i) = i {
                    b.on_start(i);
                }
                i
            }
            Err(_) => Some(0),
        };
        let Some(index) = picked else {
            self.events.report("balance", "no_endpoint", String::new);
            return Box::pin(async { Err(Err::rejected(Rejection::by("balance").in_state("no_endpoint"))) });
        };
        req.route_to(index);
        let fut = inner.call(req);
        let mut pending = Pending {
            balancer: self.balancer.clone(),
            index,
            origin: self.origin,
            outcome: None,
            events: self.events.clone(),
        };
        Box::pin(async move {
            let result = fut.await;
            let failed = matches!(&result, Err(e) if !e.is_shed());
            pending.outcome = Some((pending.origin.elapsed().saturating_sub(now), failed));
            drop(pending);
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{BalanceConfig, Balancer, Ejection, Strategy as Choose};
    use proptest::prelude::*;
    use std::time::Duration;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn p2c_peak_ewma_avoids_a_slow_endpoint() {
        let mut b = Balancer::new(BalanceConfig::default(), 4);
        let mut picks = [0u32; 4];
        let mut state = 7u64;
        for t in 0..4000u64 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let (u1, u2) = ((state >> 11) as f64 / (1u64 << 53) as f64, ((state >> 3) & 0xffff) as f64 / 65536.0);
            let i = b.pick(ms(t), u1, u2).unwrap();
            picks[i] += 1;
            b.on_start(i);
            let latency = if i == 2 { ms(200) } else { ms(5) };
            b.on_end(i, ms(t), Some((latency, false)));
        }
        assert!(picks[2] < 400, "the slow endpoint got {} of 4000 picks", picks[2]);
    }

    #[derive(Debug, Clone)]
    enum Step {
        Pick(f64, f64),
        End(usize, bool),
        Wait(u64),
        Health(usize, bool),
    }

    proptest! {
        // Ejection never takes out more than allowed; picks avoid ejected endpoints unless all
        // are out (fail open); pending counts never underflow or leak.
        #[test]
        fn ejection_bounds_and_fail_open(
            n in 1usize..12,
            pct in 0.0f64..100.0,
            fail_open in any::<bool>(),
            steps in proptest::collection::vec(prop_oneof![
                (0.0f64..1.0, 0.0f64..1.0).prop_map(|(a, b)| Step::Pick(a, b)),
                (0usize..12, any::<bool>()).prop_map(|(i, f)| Step::End(i, f)),
                (0u64..20_000).prop_map(Step::Wait),
                (0usize..12, any::<bool>()).prop_map(|(i, h)| Step::Health(i, h)),
            ], 1..400),
        ) {
            let config = BalanceConfig {
                strategy: Choose::P2cLeastPending,
                ejection: Some(Ejection { consecutive_failures: 2, base_ejection: ms(5000), max_ejected_percent: pct }),
                fail_open,
                ..BalanceConfig::default()
            };
            let mut b = Balancer::new(config, n);
            let mut now = 0u64;
            let mut open: Vec<usize> = Vec::new();
            for s in steps {
                match s {
                    Step::Pick(u1, u2) => {
                        let picked = b.pick(ms(now), u1, u2);
                        let all_out = b.endpoints().iter().all(|e| !e.live());
                        match picked {
                            Some(i) => {
                                prop_assert!(b.endpoints()[i].live() || (all_out && fail_open), "picked endpoint {} out of rotation", i);
                                b.on_start(i);
                                open.push(i);
                            }
                            None => prop_assert!(all_out && !fail_open, "refused with live endpoints"),
                        }
                    }
                    Step::Health(i, h) => b.set_healthy(i % n, h),
                    Step::End(k, failed) if !open.is_empty() => {
                        let i = open.remove(k % open.len());
                        b.on_end(i, ms(now), Some((ms(3), failed)));
                    }
                    Step::Wait(d) => now += d,
                    _ => {}
                }
                let out = b.endpoints().iter().filter(|e| e.ejected_until.is_some()).count();
                prop_assert!(out <= b.max_ejected(), "{} ejected, at most {}", out, b.max_ejected());
                let pending: u32 = b.endpoints().iter().map(|e| e.pending).sum();
                prop_assert_eq!(pending as usize, open.len());
            }
        }
    }
}
