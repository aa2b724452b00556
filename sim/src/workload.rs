//! Workloads: who sends requests, and when.
//!
//! Open-loop workloads send on a schedule whatever the system does (the arrivals of a public
//! service); closed-loop clients wait for each answer, think, and send again (a fixed user
//! population). Open-loop arrivals that depend on time are drawn by thinning a Poisson process
//! at the peak rate.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::dist::Dist;
use crate::rng::SimRng;

/// How requests arrive at the entry service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Arrivals {
    /// Evenly spaced, `rate_per_s` per second.
    Constant {
        /// Requests per second.
        rate_per_s: f64,
    },
    /// A Poisson process.
    Poisson {
        /// Mean requests per second.
        rate_per_s: f64,
    },
    /// Poisson at `rate_per_s`, at `burst_rate_per_s` for `burst_len` out of every `burst_every`.
    Burst {
        /// The base rate.
        rate_per_s: f64,
        /// The rate during a burst.
        burst_rate_per_s: f64,
        /// Period of bursts (the first starts at `burst_every`).
        burst_every: Duration,
        /// Length of one burst.
        burst_len: Duration,
    },
    /// Poisson with a rate rising (or falling) linearly over the run.
    Ramp {
        /// Rate at the start.
        from_rate_per_s: f64,
        /// Rate at the end of the run.
        to_rate_per_s: f64,
    },
    /// `clients` users who each send, wait for the answer, think, and send again.
    Closed {
        /// Number of concurrent users.
        clients: u32,
        /// Think time between an answer and the next request.
        think: Dist,
    },
}

impl Arrivals {
    /// The name used in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            Arrivals::Constant { .. } => "constant",
            Arrivals::Poisson { .. } => "poisson",
            Arrivals::Burst { .. } => "burst",
            Arrivals::Ramp { .. } => "ramp",
            Arrivals::Closed { .. } => "closed",
        }
    }

    /// The open-loop rate at time `t` of a run lasting `run` (0 for closed loops).
    pub fn rate_at(&self, t: Duration, run: Duration) -> f64 {
        match *self {
            Arrivals::Constant { rate_per_s } | Arrivals::Poisson { rate_per_s } => rate_per_s,
            Arrivals::Burst { rate_per_s, burst_rate_per_s, burst_every, burst_len } => {
                let period = burst_every.as_secs_f64().max(1e-6);
                let phase = t.as_secs_f64() % period;
                let in_burst = t.as_secs_f64() >= period && phase < burst_len.as_secs_f64();
                if in_burst {
                    burst_rate_per_s
                } else {
                    rate_per_s
                }
            }
            Arrivals::Ramp { from_rate_per_s, to_rate_per_s } => {
                let f = (t.as_secs_f64() / run.as_secs_f64().max(1e-9)).clamp(0.0, 1.0);
                from_rate_per_s + (to_rate_per_s - from_rate_per_s) * f
            }
            Arrivals::Closed { .. } => 0.0,
        }
    }

    /// The highest open-loop rate over the run.
    pub fn peak_rate(&self) -> f64 {
        match *self {
            Arrivals::Constant { rate_per_s } | Arrivals::Poisson { rate_per_s } => rate_per_s,
            Arrivals::Burst { rate_per_s, burst_rate_per_s, .. } => rate_per_s.max(burst_rate_per_s),
            Arrivals::Ramp { from_rate_per_s, to_rate_per_s } => from_rate_per_s.max(to_rate_per_s),
            Arrivals::Closed { .. } => 0.0,
        }
    }

    /// The time of the next open-loop arrival after `now`, or `None` past `run`.
    pub fn next_arrival(&self, now: Duration, run: Duration, rng: &mut SimRng) -> Option<Duration> {
        if let Arrivals::Constant { rate_per_s } = *self {
            return within(now, 1.0 / rate_per_s, run);
        }
        let peak = self.peak_rate();
        if peak <= 0.0 {
            return None;
        }
        let mut t = now;
        loop {
            t = within(t, -rng.unit_open0().ln() / peak, run)?;
            if rng.unit() * peak < self.rate_at(t, run) {
                return Some(t);
            }
        }
    }
}

/// `now + gap_s` if that is before `run` (a tiny rate's huge gap simply ends the arrivals).
fn within(now: Duration, gap_s: f64, run: Duration) -> Option<Duration> {
    if !gap_s.is_finite() || now.as_secs_f64() + gap_s >= run.as_secs_f64() {
        return None;
    }
    Some(now + Duration::from_secs_f64(gap_s.max(0.0)))
}

/// The keys requests are about: `count` keys, key k drawn with probability proportional to
/// 1/k^skew (Zipf; skew 0 is uniform). Key 1 is the most popular.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KeySpace {
    /// Number of distinct keys (1 to 1,000,000).
    pub count: u64,
    /// The Zipf exponent (0 to 5).
    pub skew: f64,
}

/// Draws keys from a [`KeySpace`] by inverting its cumulative distribution.
#[derive(Debug, Clone)]
pub struct KeySampler {
    cdf: Vec<f64>,
}

impl KeySampler {
    /// The sampler for `space`.
    pub fn new(space: KeySpace) -> Self {
        let weights: Vec<f64> = (1..=space.count.max(1)).map(|k| (k as f64).powf(-space.skew)).collect();
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let cdf = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        KeySampler { cdf }
    }

    /// One key (1-based) from a uniform draw in [0, 1).
    pub fn key(&self, unit: f64) -> u64 {
        (self.cdf.partition_point(|c| *c < unit).min(self.cdf.len() - 1) + 1) as u64
    }
}

/// The workload of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// The service the requests go to.
    pub target: String,
    /// When they are sent.
    pub arrivals: Arrivals,
    /// The keys requests are about; `None`: every request has key 0.
    #[serde(default)]
    pub keys: Option<KeySpace>,
    /// The API clients sending; `None`: every request comes from client 1.
    #[serde(default)]
    pub clients: Option<ClientSpace>,
    /// Request routes (e.g. `/products`) and their shares of traffic; empty: one route.
    #[serde(default)]
    pub routes: Vec<(String, f64)>,
    /// New shares from given instants on (a migration moving traffic, a rollback), in time
    /// order; before the first, `routes`' shares.
    #[serde(default)]
    pub route_steps: Vec<RouteStep>,
}

/// From `at` on (virtual time since the start), requests take the routes in these shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteStep {
    /// When it takes effect.
    pub at: Duration,
    /// One share per route of the workload, in its order (0: no traffic).
    pub shares: Vec<f64>,
}

impl Workload {
    /// Requests to `target` arriving as `arrivals`, all about key 0, from client 1, on one
    /// route (set `keys`, `clients` and `routes` for more).
    pub fn new(target: impl Into<String>, arrivals: Arrivals) -> Self {
        Workload {
            target: target.into(),
            arrivals,
            keys: None,
            clients: None,
            routes: Vec::new(),
            route_steps: Vec::new(),
        }
    }

    /// The route index of a request sent at `t` for a uniform draw (0 without routes).
    pub fn route(&self, t: Duration, unit: f64) -> u16 {
        match self.route_steps.iter().rev().find(|s| s.at <= t) {
            Some(step) => pick(step.shares.iter().copied(), unit),
            None => pick(self.routes.iter().map(|r| r.1), unit),
        }
    }
}

/// The index a uniform draw lands on among `shares` (never one with no share).
fn pick(shares: impl Iterator<Item = f64> + Clone, unit: f64) -> u16 {
    let total: f64 = shares.clone().sum();
    let mut acc = 0.0;
    let mut last = 0;
    for (i, share) in shares.enumerate().filter(|(_, s)| *s > 0.0) {
        last = i;
        acc += share / total;
        if unit < acc {
            return i as u16;
        }
    }
    last as u16
}

/// Who sends: `count` API clients, a share of requests without valid credentials, and
/// optionally one noisy client (client 1) sending `noisy_share` of all requests.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClientSpace {
    /// Distinct clients (1-based ids).
    pub count: u32,
    /// Share of requests with no valid credentials (client 0).
    pub unauthenticated: f64,
    /// Share of requests from client 1; the rest are spread evenly.
    pub noisy_share: f64,
}

impl ClientSpace {
    /// The client of one request.
    pub fn client(&self, rng: &mut SimRng) -> u32 {
        if rng.chance(self.unauthenticated) {
            return 0;
        }
        if rng.chance(self.noisy_share) {
            return 1;
        }
        1 + rng.below(u64::from(self.count)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;

    fn count(a: &Arrivals, run_s: u64) -> usize {
        let run = Duration::from_secs(run_s);
        let mut rng = stream(3, "w");
        let mut t = Duration::ZERO;
        let mut n = 0;
        while let Some(next) = a.next_arrival(t, run, &mut rng) {
            t = next;
            n += 1;
        }
        n
    }

    #[test]
    fn zipf_keys_follow_their_weights() {
        let s = KeySampler::new(KeySpace { count: 100, skew: 1.0 });
        let mut rng = stream(9, "keys");
        let n = 200_000;
        let ones = (0..n).filter(|_| s.key(rng.unit()) == 1).count() as f64 / n as f64;
        let h100: f64 = (1..=100).map(|k| 1.0 / k as f64).sum();
        assert!((ones - 1.0 / h100).abs() < 0.005, "key 1 drawn {ones}, expected {}", 1.0 / h100);
        let uniform = KeySampler::new(KeySpace { count: 10, skew: 0.0 });
        assert_eq!((uniform.key(0.0), uniform.key(0.999_999)), (1, 10));
    }

    #[test]
    fn tiny_rates_end_the_arrivals_instead_of_overflowing() {
        assert_eq!(count(&Arrivals::Constant { rate_per_s: 1e-300 }, 100), 0);
        assert_eq!(count(&Arrivals::Poisson { rate_per_s: 1e-300 }, 100), 0);
        assert_eq!(count(&Arrivals::Ramp { from_rate_per_s: 0.0, to_rate_per_s: 1e-300 }, 100), 0);
    }

    #[test]
    fn arrival_counts_match_rates() {
        assert_eq!(count(&Arrivals::Constant { rate_per_s: 10.0 }, 100), 999);
        let poisson = count(&Arrivals::Poisson { rate_per_s: 50.0 }, 200) as f64;
        assert!((poisson - 10_000.0).abs() < 400.0, "{poisson}"); // 4 sigma
        let ramp = count(&Arrivals::Ramp { from_rate_per_s: 0.0, to_rate_per_s: 100.0 }, 200) as f64;
        assert!((ramp - 10_000.0).abs() < 400.0, "{ramp}");
        let burst = Arrivals::Burst {
            rate_per_s: 10.0,
            burst_rate_per_s: 110.0,
            burst_every: Duration::from_secs(10),
            burst_len: Duration::from_secs(1),
        };
        // 100 s: base 10/s throughout, +100/s during the 9 bursts at 10, 20, ... 90 s.
        let b = count(&burst, 100) as f64;
        assert!((b - 1_900.0).abs() < 175.0, "{b}");
    }

    #[test]
    fn route_steps_move_traffic_from_their_instant_on_and_a_zero_share_gets_none() {
        let mut w = Workload::new("gateway", Arrivals::Poisson { rate_per_s: 1.0 });
        w.routes = vec![("/legacy".into(), 0.9), ("/new".into(), 0.1)];
        let step = |s: u64, shares: Vec<f64>| RouteStep { at: Duration::from_secs(s), shares };
        w.route_steps = vec![step(20, vec![0.5, 0.5]), step(40, vec![1.0, 0.0])];
        let share_new = |t: u64| {
            let draws = 1000;
            let new =
                (0..draws).filter(|i| w.route(Duration::from_secs(t), (*i as f64 + 0.5) / draws as f64) == 1).count();
            new as f64 / draws as f64
        };
        assert!((share_new(0) - 0.1).abs() < 1e-9 && (share_new(19) - 0.1).abs() < 1e-9);
        assert!((share_new(20) - 0.5).abs() < 1e-9 && (share_new(39) - 0.5).abs() < 1e-9);
        assert_eq!(share_new(40), 0.0, "rolled back: nothing on /new");
        // The last draw (unit just below 1) never lands on a route with no share.
        assert_eq!(w.route(Duration::from_secs(50), 0.999_999_9), 0);
    }
}
