//! Retry budgets: a cap on retries relative to requests, so that retries cannot multiply load
//! when everything is failing.
//!
//! A plain "3 attempts" policy triples the load on a failing dependency exactly when it can
//! least afford it, and stacked layers multiply (3 attempts at 5 layers = 243x). A budget
//! makes retries a small share of traffic instead. Two kinds, both pure (time passed in):
//!
//! - [`TokenBucketBudget`], the AWS SDK's: a bucket of 500 tokens; a retry costs 5 (10 after a
//!   timeout); a success refunds the retry's cost, or adds 1 if it needed no retry.
//! - [`RatioBudget`], Finagle's / tower's `TpsBudget` / the SRE book's: retries in the last
//!   `ttl` at most `ratio` x requests in the last `ttl`, plus `min_per_s` x `ttl` so that
//!   low-traffic clients can still retry. tower #857: its arithmetic let 100% of requests retry;
//!   here a property test checks the bound over any sequence.

use std::time::Duration;

use crate::config::ConfigError;
use crate::counters::SecondCounters;

/// What a retry layer asks of its budget.
pub trait RetryBudget: Send {
    /// A request (first attempt) was made at `now`.
    fn deposit(&mut self, now: Duration);
    /// May a retry be made at `now`? `after_timeout` when the failed attempt timed out. If
    /// true, the retry is counted.
    fn try_withdraw(&mut self, now: Duration, after_timeout: bool) -> bool;
    /// A call succeeded; `retried` when it needed at least one retry.
    fn on_success(&mut self, now: Duration, retried: bool);
}

/// The AWS SDK's retry quota.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBucketBudget {
    capacity: u32,
    tokens: u32,
    retry_cost: u32,
    timeout_cost: u32,
    no_retry_increment: u32,
    last_cost: u32,
}

impl TokenBucketBudget {
    /// AWS defaults: 500 tokens, 5 per retry, 10 per retry after a timeout, +1 per success.
    pub fn aws() -> Self {
        Self::new(500, 5, 10, 1).unwrap_or_else(|_| unreachable!("valid defaults"))
    }

    /// A full bucket of `capacity` tokens.
    pub fn new(
        capacity: u32,
        retry_cost: u32,
        timeout_cost: u32,
        no_retry_increment: u32,
    ) -> Result<Self, ConfigError> {
        if capacity == 0 {
            return Err(ConfigError::new("budget_tokens", capacity, "an integer >= 1"));
        }
        if retry_cost == 0 {
            return Err(ConfigError::new("retry_cost", retry_cost, "a cost >= 1 token"));
        }
        if timeout_cost == 0 {
            return Err(ConfigError::new("timeout_cost", timeout_cost, "a cost >= 1 token"));
        }
        Ok(TokenBucketBudget {
            capacity,
            tokens: capacity,
            retry_cost,
            timeout_cost,
            no_retry_increment,
            last_cost: retry_cost,
        })
    }

    /// Tokens left.
    pub fn tokens(&self) -> u32 {
        self.tokens
    }
}

impl RetryBudget for TokenBucketBudget {
    fn deposit(&mut self, _now: Duration) {}

    fn try_withdraw(&mut self, _now: Duration, after_timeout: bool) -> bool {
        let cost = if after_timeout { self.timeout_cost } else { self.retry_cost };
        if self.tokens < cost {
            return false;
        }
        self.tokens -= cost;
        self.last_cost = cost;
        true
    }

    fn on_success(&mut self, _now: Duration, retried: bool) {
        let refund = if retried { self.last_cost } else { self.no_retry_increment };
        self.tokens = (self.tokens + refund).min(self.capacity);
    }
}

/// Retries at most `ratio` x requests (plus a floor) over a sliding `ttl`.
#[derive(Debug, Clone, PartialEq)]
pub struct RatioBudget {
    ratio: f64,
    min_per_s: f64,
    /// Requests (0) and retries (1) per second of the window.
    counts: SecondCounters<2>,
}

impl RatioBudget {
    /// SRE defaults: retries up to 10% of requests over 10 s, at least 1 per second.
    pub fn sre() -> Self {
        Self::new(0.1, 1.0, Duration::from_secs(10)).unwrap_or_else(|_| unreachable!("valid defaults"))
    }

    /// A budget of `ratio` (0..=1) of requests, `min_per_s` retries per second regardless, over
    /// `ttl` (1 s to 1 h, in whole seconds).
    pub fn new(ratio: f64, min_per_s: f64, ttl: Duration) -> Result<Self, ConfigError> {
        if !(0.0..=1.0).contains(&ratio) {
            return Err(ConfigError::new("budget_ratio", ratio, "a ratio from 0 to 1"));
        }
        if !(0.0..=1e6).contains(&min_per_s) {
            return Err(ConfigError::new("budget_min_per_s", min_per_s, "a rate from 0 to 1000000"));
        }
        let secs = ttl.as_secs();
        if !(1..=3600).contains(&secs) {
            return Err(ConfigError::new("budget_ttl_s", secs, "whole seconds from 1 to 3600"));
        }
        Ok(RatioBudget { ratio, min_per_s, counts: SecondCounters::new(secs) })
    }

    /// (requests, retries) within the window ending at `now`.
    pub fn totals(&self, now: Duration) -> (u64, u64) {
        let [requests, retries] = self.counts.totals(now);
        (requests, retries)
    }
}

impl RetryBudget for RatioBudget {
    fn deposit(&mut self, now: Duration) {
        self.counts.add(now, 0);
    }

    fn try_withdraw(&mut self, now: Duration, _after_timeout: bool) -> bool {
        let (requests, retries) = self.totals(now);
        let allowance = self.ratio * requests as f64 + self.min_per_s * self.counts.seconds() as f64;
        if (retries + 1) as f64 > allowance {
            return false;
        }
        self.counts.add(now, 1);
        true
    }

    fn on_success(&mut self, _now: Duration, _retried: bool) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn aws_bucket_drains_and_refills() {
        let mut b = TokenBucketBudget::aws();
        let granted = (0..200).filter(|_| b.try_withdraw(Duration::ZERO, false)).count();
        assert_eq!(granted, 100, "500 tokens at 5 per retry");
        assert!(!b.try_withdraw(Duration::ZERO, true));
        for _ in 0..10 {
            b.on_success(Duration::ZERO, false);
        }
        assert_eq!(b.tokens(), 10);
        assert!(b.try_withdraw(Duration::ZERO, true), "10 tokens pay for a timeout retry");
    }

    proptest! {
        // tower #857: the budget let 100% of requests retry. Two bounds hold over any sequence:
        // (a) when a retry is granted, retries in its window (itself included) are at most
        //     ratio x requests in that window + min_per_s x ttl;
        // (b) in any window, retries are at most ratio x requests of the window and the ttl
        //     before it + the floor. (Requests that justified a retry may expire before the
        //     retry does, so the same-window bound cannot hold at every instant; (b) follows
        //     from (a) applied to the window's last retry.)
        #[test]
        fn ratio_budget_bound_holds(
            ratio in 0.0f64..0.5,
            min_per_s in 0.0f64..3.0,
            ttl_s in 1u64..20,
            steps in proptest::collection::vec((0u64..400, any::<bool>()), 1..2000),
        ) {
            let mut b = RatioBudget::new(ratio, min_per_s, Duration::from_secs(ttl_s)).unwrap();
            let floor = min_per_s * ttl_s as f64 + 1e-9;
            let mut now_ms = 0u64;
            let mut log: Vec<(u64, bool)> = Vec::new(); // (second, is_request); granted retries only
            let count = |log: &[(u64, bool)], request: bool, from_s: u64, to_s: u64| {
                log.iter().filter(|(t, r)| *r == request && *t > from_s && *t <= to_s).count() as f64
            };
            for (gap, is_request) in steps {
                now_ms += gap;
                let now = Duration::from_millis(now_ms);
                let sec = now_ms / 1000;
                // Seconds (sec - ttl, sec] form the budget's window; `+ ttl` avoids underflow.
                let (lo1, lo2) = ((sec + 2 * ttl_s) - ttl_s, (sec + 2 * ttl_s) - 2 * ttl_s);
                if is_request {
                    b.deposit(now);
                    log.push((sec + 2 * ttl_s, true));
                } else if b.try_withdraw(now, false) {
                    log.push((sec + 2 * ttl_s, false));
                    let (requests, retries) = (count(&log, true, lo1, sec + 2 * ttl_s), count(&log, false, lo1, sec + 2 * ttl_s));
                    prop_assert!(retries <= ratio * requests + floor, "(a) granted retry {} for {} requests", retries, requests);
                }
                let retries = count(&log, false, lo1, sec + 2 * ttl_s);
                let requests = count(&log, true, lo2, sec + 2 * ttl_s);
                prop_assert!(retries <= ratio * requests + floor, "(b) {} retries for {} requests over 2 ttl", retries, requests);
            }
        }
    }
}
