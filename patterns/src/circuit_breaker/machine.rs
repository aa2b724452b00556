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
//! Every transition starts a new *generation*. A [`Permit`] remembers the generation it was
//! issued in, and a result or release from an older generation is ignored: a slow call that
//! started while closed cannot reopen a breaker that has since recovered.

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
    /// When (for automatic transitions, the moment the open period ended).
    pub at: Duration,
    /// The generation entered.
    pub generation: u64,
    /// Why, e.g. `failure_rate=62.0% calls=100`.
    pub reason: String,
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
            transitions: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// The state at `now` (an open period that ended becomes half-open).
    pub fn state(&mut self, now: Duration) -> State {
        self.advance(now);
        self.state_now()
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

    /// The current generation.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Half-open permits issued and not yet resolved (0 outside half-open).
    pub fn outstanding_probes(&self) -> u32 {
        match &self.phase {
            Phase::HalfOpen { issued, done, .. } => issued - done.calls,
            _ => 0,
        }
    }

    /// Transitions since the last call, in order (drains them).
    pub fn take_transitions(&mut self) -> Vec<Transition> {
        std::mem::take(&mut self.transitions)
    }

    /// Time-driven moves: open -> half-open when the period ends, half-open -> open when the
    /// maximum wait passes. Applies every move that is due by `now`, so calling it twice with
    /// the same `now` changes nothing the second time.
    pub fn advance(&mut self, now: Duration) {
        loop {
            match self.phase {
                Phase::Open { until } if now >= until => {
                    let at = if self.config.automatic_transition { until } else { now };
                    self.enter(
                        Phase::HalfOpen { since: at, issued: 0, done: Totals::default() },
                        at,
                        "open period over".into(),
                    );
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

    /// Asks to make one call at `now`.
    pub fn try_acquire(&mut self, now: Duration) -> Result<Permit, Rejected> {
        self.advance(now);
        let permit = Permit { generation: self.generation };
        match &mut self.phase {
            Phase::Closed | Phase::Disabled | Phase::MetricsOnly => Ok(permit),
            Phase::Open { until } => Err(Rejected { state: State::Open, retry_after: Some(until.saturating_sub(now)) }),
            Phase::ForcedOpen => Err(Rejected { state: State::ForcedOpen, retry_after: None }),
            Phase::HalfOpen { issued, .. } => {
                if *issued < self.config.half_open_permits {
                    *issued += 1;
                    Ok(permit)
                } else {
                    Err(Rejected { state: State::HalfOpen, retry_after: None })
                }
            }
        }
    }

    /// Records the outcome of a permitted call that took `duration` and ended at `now`.
    pub fn on_result(&mut self, permit: Permit, outcome: CallOutcome, duration: Duration, now: Duration) {
        self.advance(now);
        if permit.generation != self.generation {
            return; // an older generation's call: it says nothing about the current state
        }
        let failed = outcome == CallOutcome::Failure;
        let slow = duration >= self.config.slow_call_duration;
        match &mut self.phase {
            Phase::Closed | Phase::MetricsOnly => {
                if outcome == CallOutcome::Ignored {
                    return;
                }
                self.window.record(now, failed, slow);
                if matches!(self.phase, Phase::Closed) {
                    let totals = self.window.totals(now);
                    if let Some(reason) = self.trips(totals) {
                        self.open(now, reason);
                    }
                }
            }
            Phase::HalfOpen { issued, done, .. } => {
                if outcome == CallOutcome::Ignored {
                    // Give the permit back: an ignored probe decides nothing.
                    *issued -= 1;
                    return;
                }
                done.add_call(failed, slow);
                if done.calls >= self.config.half_open_permits {
                    let done = *done;
                    match self.trips(done) {
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
            Phase::Disabled | Phase::Open { .. } | Phase::ForcedOpen => {}
        }
    }

    /// A permitted call ended without a result (cancelled, or timed out outside the breaker):
    /// its permit goes back, so half-open cannot wait forever for it.
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
            State::HalfOpen => {
                self.enter(Phase::HalfOpen { since: now, issued: 0, done: Totals::default() }, now, reason)
            }
            State::Disabled => self.enter(Phase::Disabled, now, reason),
            State::ForcedOpen => self.enter(Phase::ForcedOpen, now, reason),
            State::MetricsOnly => {
                self.window.reset();
                self.enter(Phase::MetricsOnly, now, reason)
            }
        }
    }

    fn trips(&self, t: Totals) -> Option<String> {
        let minimum = match self.phase {
            Phase::HalfOpen { .. } => self.config.half_open_permits,
            _ => self.config.effective_minimum(),
        };
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

    fn open(&mut self, at: Duration, reason: String) {
        self.openings_in_a_row += 1;
        let until = at + self.config.open_duration.for_opening(self.openings_in_a_row);
        self.enter(Phase::Open { until }, at, reason);
    }

    fn close(&mut self, at: Duration, reason: String) {
        self.openings_in_a_row = 0;
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

impl Totals {
    fn add_call(&mut self, failed: bool, slow: bool) {
        self.calls += 1;
        self.failures += u32::from(failed);
        self.slow += u32::from(slow);
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::{OpenDuration, WindowKind};
    use super::*;
    use proptest::prelude::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn small() -> BreakerConfig {
        BreakerConfig {
            window: WindowKind::CountBased { size: 10 },
            minimum_calls: 5,
            open_duration: OpenDuration::Fixed(ms(1000)),
            half_open_permits: 3,
            slow_call_duration: ms(500),
            ..BreakerConfig::default()
        }
    }

    fn call(b: &mut CircuitBreaker, now: u64, outcome: CallOutcome) -> bool {
        match b.try_acquire(ms(now)) {
            Ok(p) => {
                b.on_result(p, outcome, ms(10), ms(now));
                true
            }
            Err(_) => false,
        }
    }

    #[test]
    fn the_full_cycle() {
        let mut b = CircuitBreaker::new(small());
        for t in 0..4 {
            assert!(call(&mut b, t, CallOutcome::Failure));
        }
        assert_eq!(b.state(ms(4)), State::Closed, "below minimum_calls");
        assert!(call(&mut b, 5, CallOutcome::Failure));
        assert_eq!(b.state(ms(5)), State::Open);
        assert_eq!(b.try_acquire(ms(500)), Err(Rejected { state: State::Open, retry_after: Some(ms(505)) }));
        assert_eq!(b.state(ms(1005)), State::HalfOpen);
        for t in 0..3 {
            assert!(call(&mut b, 1010 + t, CallOutcome::Success));
        }
        assert_eq!(b.state(ms(1020)), State::Closed);
        let kinds: Vec<(State, State)> = b.take_transitions().iter().map(|t| (t.from, t.to)).collect();
        assert_eq!(
            kinds,
            vec![(State::Closed, State::Open), (State::Open, State::HalfOpen), (State::HalfOpen, State::Closed)]
        );
    }

    #[test]
    fn slow_calls_trip_it_too() {
        let mut b = CircuitBreaker::new(BreakerConfig { slow_call_rate_threshold: 50.0, ..small() });
        for t in 0..5 {
            let p = b.try_acquire(ms(t)).unwrap();
            b.on_result(p, CallOutcome::Success, ms(600), ms(t));
        }
        assert_eq!(b.state(ms(5)), State::Open);
        assert!(b.take_transitions()[0].reason.starts_with("slow_rate=100.0%"));
    }

    #[test]
    fn backoff_lengthens_consecutive_open_periods() {
        let cfg = BreakerConfig {
            open_duration: OpenDuration::Backoff { initial: ms(100), multiplier: 2.0, max: ms(350) },
            ..small()
        };
        let mut b = CircuitBreaker::new(cfg);
        for t in 0..5 {
            call(&mut b, t, CallOutcome::Failure);
        }
        let mut t = 4;
        let mut periods = Vec::new();
        for _ in 0..4 {
            let opened = t;
            while b.state(ms(t)) == State::Open {
                t += 1;
            }
            periods.push(t - opened);
            for _ in 0..3 {
                call(&mut b, t, CallOutcome::Failure);
            }
        }
        assert_eq!(periods, vec![100, 200, 350, 350]);
    }

    #[test]
    fn manual_states() {
        let mut b = CircuitBreaker::new(small());
        b.transition_to(State::ForcedOpen, ms(0));
        assert_eq!(b.try_acquire(ms(100_000)).unwrap_err().state, State::ForcedOpen);
        b.transition_to(State::Disabled, ms(1));
        for t in 0..50 {
            assert!(call(&mut b, t, CallOutcome::Failure));
        }
        b.transition_to(State::MetricsOnly, ms(60));
        for t in 60..120 {
            assert!(call(&mut b, t, CallOutcome::Failure));
        }
        assert_eq!(b.state(ms(120)), State::MetricsOnly);
    }

    #[test]
    fn max_wait_in_half_open_reopens() {
        let mut b = CircuitBreaker::new(BreakerConfig { max_wait_in_half_open: Some(ms(200)), ..small() });
        for t in 0..5 {
            call(&mut b, t, CallOutcome::Failure);
        }
        assert_eq!(b.state(ms(1005)), State::HalfOpen);
        let _hanging = b.try_acquire(ms(1006)).unwrap();
        assert_eq!(b.state(ms(1300)), State::Open);
    }

    /// One step of a random interleaving of calls against one breaker.
    #[derive(Debug, Clone)]
    enum Step {
        Acquire,
        Finish(usize, CallOutcome, u64),
        Cancel(usize),
        Wait(u64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => Just(Step::Acquire),
            3 => (0usize..16, prop_oneof![Just(CallOutcome::Success), Just(CallOutcome::Failure), Just(CallOutcome::Ignored)], 0u64..900).prop_map(|(i, o, d)| Step::Finish(i, o, d)),
            1 => (0usize..16).prop_map(Step::Cancel),
            2 => (0u64..700).prop_map(Step::Wait),
        ]
    }

    #[test]
    fn advance_is_idempotent_after_a_long_gap() {
        // Found by the property test below: half-open expired into open, and a second
        // `advance` at the same instant moved it on again.
        let mut b = CircuitBreaker::new(BreakerConfig { max_wait_in_half_open: Some(ms(1500)), ..small() });
        for t in 0..5 {
            call(&mut b, t, CallOutcome::Failure);
        }
        b.advance(ms(1004));
        let _probe = b.try_acquire(ms(1004)).unwrap();
        b.advance(ms(60_000));
        let generation = b.generation();
        b.advance(ms(60_000));
        assert_eq!(b.generation(), generation);
    }

    proptest! {
        // Polly #216, resilience4j #1432: half-open let more calls through than permitted
        // while a probe hung. resilience4j #903/#935: a permit never recorded left the
        // breaker stuck. gobreaker/Polly #223: older generations changed the state; duplicate
        // "opened" events.
        #[test]
        fn any_interleaving_keeps_the_invariants(auto in any::<bool>(), max_wait in any::<bool>(), steps in proptest::collection::vec(step(), 1..400)) {
            let cfg = BreakerConfig { automatic_transition: auto, max_wait_in_half_open: max_wait.then(|| ms(1500)), ..small() };
            let mut b = CircuitBreaker::new(cfg);
            let mut now = 0u64;
            let mut held: Vec<Permit> = Vec::new();
            let mut last_generation = 0;
            for s in steps {
                match s {
                    Step::Acquire => if let Ok(p) = b.try_acquire(ms(now)) { held.push(p) },
                    Step::Finish(i, o, d) if !held.is_empty() => {
                        let p = held.remove(i % held.len());
                        b.advance(ms(now));
                        let before = b.generation();
                        b.on_result(p, o, ms(d), ms(now));
                        if p.generation != before {
                            // A result from an older generation must not move the breaker.
                            prop_assert_eq!(b.generation(), before, "a result from generation {} changed generation {}", p.generation, before);
                        }
                    }
                    Step::Cancel(i) if !held.is_empty() => {
                        let p = held.remove(i % held.len());
                        b.release(p, ms(now));
                    }
                    Step::Wait(d) => now += d,
                    _ => {}
                }
                prop_assert!(b.outstanding_probes() <= cfg.half_open_permits, "{} probes outstanding", b.outstanding_probes());
                for t in b.take_transitions() {
                    prop_assert!(t.from != t.to, "a transition to the same state: {:?}", t);
                    prop_assert!(t.generation > last_generation, "generation did not advance: {:?}", t);
                    last_generation = t.generation;
                }
            }
            // Whatever happened, once the callers give their permits back and any open period
            // has run out, the breaker can make progress: half-open issues a probe again.
            for p in held.drain(..) {
                b.release(p, ms(now));
            }
            now += 10_000;
            b.advance(ms(now));
            if let Some(until) = b.open_until() {
                now = now.max(until.as_millis() as u64);
            }
            let state = b.state(ms(now));
            prop_assert!(state != State::Open, "still open after its period");
            if state == State::HalfOpen {
                let probes = (0..cfg.half_open_permits).filter(|_| b.try_acquire(ms(now)).is_ok()).count() as u32;
                prop_assert!(probes >= 1, "stuck in half-open: no probe can be made");
            }
        }

        // resilience4j #1443 (time window below the minimum): with every call failing, the
        // breaker opens as soon as the window holds the minimum number of calls.
        #[test]
        fn all_failures_trip_once_the_minimum_is_reached(seconds in 1u32..30, minimum in 1u32..50, per_s in 1u64..20) {
            let cfg = BreakerConfig { window: WindowKind::TimeBased { seconds }, minimum_calls: minimum, ..BreakerConfig::default() };
            let mut b = CircuitBreaker::new(cfg);
            let mut opened_at_calls = None;
            for i in 0..2000u64 {
                let now = ms(i * 1000 / per_s);
                if b.state(now) != State::Closed { opened_at_calls = Some(i); break; }
                let p = b.try_acquire(now).unwrap();
                b.on_result(p, CallOutcome::Failure, ms(1), now);
            }
            let reachable = u64::from(seconds) * per_s >= u64::from(minimum);
            prop_assert_eq!(opened_at_calls.is_some(), reachable, "window {}s at {}/s, minimum {}", seconds, per_s, minimum);
            if let Some(n) = opened_at_calls { prop_assert_eq!(n, u64::from(minimum)); }
        }
    }
}
