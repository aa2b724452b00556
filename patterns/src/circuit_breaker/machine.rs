//! The breaker's state machine, pure: every method takes `now` (time since any fixed origin)
//! and nothing here sleeps, spawns or reads a clock.
//!
//! ```text
//!            failure or slow rate >= threshold            open period over
//!   CLOSED ------------------------------------> OPEN ----------------------> HALF_OPEN
//!     ^                                           ^                               |
//!     |          probes below the thresholds      |  probes at the thresholds,    |
//!     +-------------------------------------------|-------------------------------+
//!                                                 +--- or max wait in half-open --+
//! ```
//! Plus DISABLED (always permits, records nothing), FORCED_OPEN (always rejects) and
//! METRICS_ONLY (records, never opens), entered only by hand.
//!
//! The semantics are resilience4j's (`CircuitBreakerStateMachine`), chosen point by point:
//! - the open period is over strictly after it ends (`isAfter`): a call at exactly `until` is
//!   still rejected; with `automatic_transition` a timer moves the breaker at `until` itself;
//! - a call is slow when it takes strictly longer than `slow_call_duration`;
//! - reading the state ([`CircuitBreaker::state`]) changes nothing: without automatic
//!   transitions an open breaker stays open until a call asks for a permit after the period;
//! - half-open decides as soon as `min(minimum_calls, half_open_permits)` probes have ended;
//! - an outcome is recorded in the state the breaker is in when it arrives, even for a call
//!   admitted before the last transition. [`BreakerConfig::drop_stale_outcomes`] chooses
//!   gobreaker's rule instead: every transition starts a new *generation*, and an outcome
//!   from an older generation is dropped, so a slow call that started while closed cannot
//!   reopen a breaker that has since recovered.
//!
//! Releasing a permit without an outcome only ever gives back a permit of the current
//! generation: a stale release cannot let half-open issue more probes than configured (the bug
//! of Polly #216 and resilience4j #1432).

use std::fmt;
use std::time::Duration;

use super::config::BreakerConfig;
use super::window::{Totals, Window};

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Calls pass; outcomes are recorded.
    Closed,
    /// Calls are rejected until the open period ends.
    Open,
    /// A limited number of probe calls pass.
    HalfOpen,
    /// Calls pass; nothing is recorded.
    Disabled,
    /// Calls are rejected until the breaker is moved by hand.
    ForcedOpen,
    /// Calls pass; outcomes are recorded; the breaker never opens.
    MetricsOnly,
}

impl State {
    /// The name used in events.
    pub fn name(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
            State::Disabled => "disabled",
            State::ForcedOpen => "forced_open",
            State::MetricsOnly => "metrics_only",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a call ended, as far as the breaker is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// Counts as a success.
    Success,
    /// Counts as a failure.
    Failure,
    /// Not counted (an ignored error).
    Ignored,
}

/// Permission to make one call, tied to the generation that issued it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permit {
    generation: u64,
}

impl Permit {
    /// The generation (the breaker's transitions so far) that issued it.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

/// The call was not permitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    /// The state that rejected it.
    pub state: State,
    /// When the breaker expects to let calls through again, if it knows.
    pub retry_after: Option<Duration>,
}

/// One state change.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The state left.
    pub from: State,
    /// The state entered.
    pub to: State,
    /// When (for time-driven transitions, the moment the period ended).
    pub at: Duration,
    /// The generation entered.
    pub generation: u64,
    /// Why, e.g. `failure_rate=62.0% calls=100`.
    pub reason: String,
}

/// The breaker's figures, as resilience4j's `CircuitBreaker.Metrics` reports them: over the
/// closed state's window (kept while open), or over the probes in half-open.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Failure percentage, or -1 while fewer than the minimum number of calls are recorded.
    pub failure_rate: f64,
    /// Slow-call percentage, or -1 while fewer than the minimum number of calls are recorded.
    pub slow_call_rate: f64,
    /// Calls recorded.
    pub number_of_buffered_calls: u32,
    /// Of those, failed.
    pub number_of_failed_calls: u32,
    /// Of those, succeeded.
    pub number_of_successful_calls: u32,
    /// Of those, slow.
    pub number_of_slow_calls: u32,
    /// Of those, slow and succeeded.
    pub number_of_slow_successful_calls: u32,
    /// Of those, slow and failed.
    pub number_of_slow_failed_calls: u32,
    /// Calls refused since the state was entered (an open state keeps counting those of the
    /// closed state it came from, as resilience4j does).
    pub number_of_not_permitted_calls: u64,
}

#[derive(Debug, Clone)]
enum Phase {
    Closed,
    Open { until: Duration },
    HalfOpen { since: Duration, issued: u32, done: Totals },
    Disabled,
    ForcedOpen,
    MetricsOnly,
}

/// A circuit breaker.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    phase: Phase,
    generation: u64,
    window: Window,
    openings_in_a_row: u32,
    not_permitted: u64,
    transitions: Vec<Transition>,
}

impl CircuitBreaker {
    /// A closed breaker with a validated `config`.
    pub fn new(config: BreakerConfig) -> Self {
        CircuitBreaker {
            window: Window::new(config.window),
            config,
            phase: Phase::Closed,
            generation: 0,
            openings_in_a_row: 0,
            not_permitted: 0,
            transitions: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// The state at `now`. Reading changes nothing: an open breaker whose period is over
    /// stays open until a call asks for a permit, unless automatic transitions are on (their
    /// timer would have moved it at the end of the period); a half-open breaker past its
    /// maximum wait reads as open (its timer would have fired).
    pub fn state(&self, now: Duration) -> State {
        match self.phase {
            Phase::Open { until } if self.config.automatic_transition && now >= until => State::HalfOpen,
            Phase::HalfOpen { since, .. } if self.config.max_wait_in_half_open.is_some_and(|m| now >= since + m) => {
                State::Open
            }
            _ => self.state_now(),
        }
    }

    fn state_now(&self) -> State {
        match self.phase {
            Phase::Closed => State::Closed,
            Phase::Open { .. } => State::Open,
            Phase::HalfOpen { .. } => State::HalfOpen,
            Phase::Disabled => State::Disabled,
            Phase::ForcedOpen => State::ForcedOpen,
            Phase::MetricsOnly => State::MetricsOnly,
        }
    }

    /// When the current open period ends (`None` unless open).
    pub fn open_until(&self) -> Option<Duration> {
        match self.phase {
            Phase::Open { until } => Some(until),
            _ => None,
        }
    }

    /// The current generation (the number of transitions so far).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Half-open permits issued and not yet resolved (0 outside half-open).
    pub fn outstanding_probes(&self) -> u32 {
        match &self.phase {
            Phase::HalfOpen { issued, done, .. } => issued.saturating_sub(done.calls),
            _ => 0,
        }
    }

    /// The breaker's figures at `now`.
    pub fn metrics(&self, now: Duration) -> Metrics {
        let (t, minimum) = match &self.phase {
            Phase::HalfOpen { done, .. } => (*done, self.half_open_minimum()),
            _ => (self.window.snapshot(now), self.config.effective_minimum()),
        };
        let rate = |r: f64| if t.calls < minimum { -1.0 } else { r };
        Metrics {
            failure_rate: rate(t.failure_rate()),
            slow_call_rate: rate(t.slow_rate()),
            number_of_buffered_calls: t.calls,
            number_of_failed_calls: t.failures,
            number_of_successful_calls: t.calls - t.failures,
            number_of_slow_calls: t.slow,
            number_of_slow_successful_calls: t.slow - t.slow_failures,
            number_of_slow_failed_calls: t.slow_failures,
            number_of_not_permitted_calls: self.not_permitted,
        }
    }

    /// Transitions since the last call, in order (drains them).
    pub fn take_transitions(&mut self) -> Vec<Transition> {
        std::mem::take(&mut self.transitions)
    }

    /// Time-driven moves due by `now`: with automatic transitions, open -> half-open at the end
    /// of the period (its timer); half-open -> open when the maximum wait passes (its timer).
    /// Calling it twice with the same `now` changes nothing the second time.
    pub fn advance(&mut self, now: Duration) {
        loop {
            match self.phase {
                Phase::Open { until } if self.config.automatic_transition && now >= until => {
                    self.half_open(until, "open period over");
                }
                Phase::HalfOpen { since, .. }
                    if self.config.max_wait_in_half_open.is_some_and(|max| now >= since + max) =>
                {
                    let max = self.config.max_wait_in_half_open.unwrap_or_default();
                    self.open(since + max, format!("no decision within max_wait_in_half_open={}ms", max.as_millis()));
                }
                _ => break,
            }
        }
    }

    /// Asks to make one call at `now`. An open breaker whose period is over moves to half-open
    /// and issues the first probe.
    pub fn try_acquire(&mut self, now: Duration) -> Result<Permit, Rejected> {
        self.advance(now);
        if let Phase::Open { until } = self.phase {
            if now > until {
                self.half_open(now, "open period over");
            }
        }
        let permit = Permit { generation: self.generation };
        let rejected = match &mut self.phase {
            Phase::Closed | Phase::Disabled | Phase::MetricsOnly => return Ok(permit),
            Phase::Open { until } => Rejected { state: State::Open, retry_after: Some(until.saturating_sub(now)) },
            Phase::ForcedOpen => Rejected { state: State::ForcedOpen, retry_after: None },
            Phase::HalfOpen { issued, .. } if *issued < self.config.half_open_permits => {
                *issued += 1;
                return Ok(permit);
            }
            Phase::HalfOpen { .. } => Rejected { state: State::HalfOpen, retry_after: None },
        };
        self.not_permitted += 1;
        Err(rejected)
    }

    /// Records the outcome of a permitted call that took `duration` and ended at `now`, in
    /// the state the breaker is in now (or, with `drop_stale_outcomes`, only if no transition
    /// happened since the permit was issued).
    pub fn on_result(&mut self, permit: Permit, outcome: CallOutcome, duration: Duration, now: Duration) {
        self.advance(now);
        let current = permit.generation == self.generation;
        if !current && self.config.drop_stale_outcomes {
            return; // an older generation's call: it says nothing about the current state
        }
        let failed = outcome == CallOutcome::Failure;
        let slow = duration > self.config.slow_call_duration;
        let half_open_minimum = self.half_open_minimum();
        match &mut self.phase {
            Phase::Closed | Phase::MetricsOnly | Phase::Open { .. } => {
                if outcome == CallOutcome::Ignored {
                    return;
                }
                self.window.record(now, failed, slow);
                if matches!(self.phase, Phase::Closed) {
                    let totals = self.window.totals(now);
                    if let Some(reason) = self.trips(totals, self.config.effective_minimum()) {
                        self.open(now, reason);
                    }
                }
            }
            Phase::HalfOpen { issued, done, .. } => {
                if outcome == CallOutcome::Ignored {
                    // Give the permit back: an ignored probe decides nothing.
                    if current && *issued > done.calls {
                        *issued -= 1;
                    }
                    return;
                }
                done.add(failed, slow);
                if done.calls >= half_open_minimum {
                    let done = *done;
                    match self.trips(done, half_open_minimum) {
                        Some(reason) => self.open(now, format!("probes: {reason}")),
                        None => self.close(
                            now,
                            format!(
                                "probes: failure_rate={:.1}% slow_rate={:.1}% calls={}",
                                done.failure_rate(),
                                done.slow_rate(),
                                done.calls
                            ),
                        ),
                    }
                }
            }
            Phase::Disabled | Phase::ForcedOpen => {}
        }
    }

    /// A permitted call ended without a result (cancelled, or timed out outside the breaker):
    /// its permit goes back, so half-open cannot wait forever for it. Only a permit of the
    /// current generation goes back.
    pub fn release(&mut self, permit: Permit, now: Duration) {
        self.advance(now);
        if permit.generation != self.generation {
            return;
        }
        if let Phase::HalfOpen { issued, done, .. } = &mut self.phase {
            if *issued > done.calls {
                *issued -= 1;
            }
        }
    }

    /// Moves by hand to `state` (any state; `Open` starts a normal open period).
    pub fn transition_to(&mut self, state: State, now: Duration) {
        let reason = "by hand".to_owned();
        match state {
            State::Closed => self.close(now, reason),
            State::Open => self.open(now, reason),
            State::HalfOpen => self.half_open(now, "by hand"),
            State::Disabled => self.enter(Phase::Disabled, now, reason),
            State::ForcedOpen => self.enter(Phase::ForcedOpen, now, reason),
            State::MetricsOnly => {
                self.window.reset();
                self.enter(Phase::MetricsOnly, now, reason)
            }
        }
    }

    /// Half-open decides once this many probes have ended (resilience4j: the minimum number of
    /// calls, at most the permitted probes).
    fn half_open_minimum(&self) -> u32 {
        self.config.minimum_calls.min(self.config.half_open_permits)
    }

    fn trips(&self, t: Totals, minimum: u32) -> Option<String> {
        if t.calls < minimum {
            return None;
        }
        if t.failure_rate() >= self.config.failure_rate_threshold {
            return Some(format!("failure_rate={:.1}% calls={}", t.failure_rate(), t.calls));
        }
        if t.slow_rate() >= self.config.slow_call_rate_threshold {
            return Some(format!("slow_rate={:.1}% calls={}", t.slow_rate(), t.calls));
        }
        None
    }

    fn half_open(&mut self, at: Duration, reason: &str) {
        self.not_permitted = 0;
        self.enter(Phase::HalfOpen { since: at, issued: 0, done: Totals::default() }, at, reason.to_owned());
    }

    fn open(&mut self, at: Duration, reason: String) {
        self.openings_in_a_row += 1;
        let until = at + self.config.open_duration.for_opening(self.openings_in_a_row);
        self.enter(Phase::Open { until }, at, reason);
    }

    fn close(&mut self, at: Duration, reason: String) {
        self.openings_in_a_row = 0;
        self.not_permitted = 0;
        self.window.reset();
        self.enter(Phase::Closed, at, reason);
    }

    fn enter(&mut self, phase: Phase, at: Duration, reason: String) {
        let from = self.state_now();
        self.phase = phase;
        self.generation += 1;
        self.transitions.push(Transition { from, to: self.state_now(), at, generation: self.generation, reason });
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
