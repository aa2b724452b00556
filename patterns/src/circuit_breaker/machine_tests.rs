//! The breaker machine's tests: its cycle, resilience4j's semantics point by point, and
//! property tests over random interleavings (known bugs K1-K5, docs/sources.md).

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
    assert_eq!(b.state(ms(2000)), State::Open, "reading does not move it");
    for t in 0..3 {
        assert!(call(&mut b, 2000 + t, CallOutcome::Success));
    }
    assert_eq!(b.state(ms(2010)), State::Closed);
    let kinds: Vec<(State, State)> = b.take_transitions().iter().map(|t| (t.from, t.to)).collect();
    assert_eq!(
        kinds,
        vec![(State::Closed, State::Open), (State::Open, State::HalfOpen), (State::HalfOpen, State::Closed)]
    );
}

#[test]
fn the_open_period_ends_strictly_after_it_ends() {
    // resilience4j: `clock.instant().isAfter(retryAfterWaitDuration)`.
    let mut b = CircuitBreaker::new(small());
    for t in 0..5 {
        call(&mut b, t, CallOutcome::Failure);
    }
    assert_eq!(b.open_until(), Some(ms(1004)));
    assert_eq!(b.try_acquire(ms(1004)), Err(Rejected { state: State::Open, retry_after: Some(ms(0)) }));
    assert!(b.try_acquire(ms(1004) + Duration::from_micros(1)).is_ok());
    assert_eq!(b.state(ms(1005)), State::HalfOpen);
    // With automatic transitions the timer moves it at the end of the period itself.
    let mut auto = CircuitBreaker::new(BreakerConfig { automatic_transition: true, ..small() });
    for t in 0..5 {
        call(&mut auto, t, CallOutcome::Failure);
    }
    assert_eq!(auto.state(ms(1004)), State::HalfOpen);
    assert!(auto.try_acquire(ms(1004)).is_ok());
}

#[test]
fn a_call_as_long_as_the_slow_threshold_is_not_slow() {
    // resilience4j: slow means `duration > slowCallDurationThreshold`.
    let mut b = CircuitBreaker::new(BreakerConfig { slow_call_rate_threshold: 50.0, ..small() });
    for t in 0..10 {
        let p = b.try_acquire(ms(t)).unwrap();
        b.on_result(p, CallOutcome::Success, ms(500), ms(t));
    }
    assert_eq!(b.state(ms(10)), State::Closed);
    assert_eq!(b.metrics(ms(10)).number_of_slow_calls, 0);
    let p = b.try_acquire(ms(11)).unwrap();
    b.on_result(p, CallOutcome::Success, ms(500) + Duration::from_nanos(1), ms(11));
    assert_eq!(b.metrics(ms(11)).number_of_slow_calls, 1);
}

#[test]
fn reading_the_state_changes_nothing() {
    let mut b = CircuitBreaker::new(small());
    for t in 0..5 {
        call(&mut b, t, CallOutcome::Failure);
    }
    let generation = b.generation();
    for t in [1000, 5000, 60_000] {
        assert_eq!(b.state(ms(t)), State::Open);
    }
    assert_eq!(b.generation(), generation);
    assert!(b.take_transitions().iter().all(|t| t.to != State::HalfOpen));
}

#[test]
fn half_open_decides_after_the_minimum_number_of_probes() {
    // resilience4j's half-open window: minimumNumberOfCalls = min(minimum, permitted).
    let cfg = BreakerConfig { minimum_calls: 2, half_open_permits: 5, ..small() };
    let mut b = CircuitBreaker::new(BreakerConfig { window: WindowKind::CountBased { size: 2 }, ..cfg });
    call(&mut b, 0, CallOutcome::Failure);
    call(&mut b, 1, CallOutcome::Failure);
    assert_eq!(b.state(ms(1)), State::Open);
    let probes: Vec<Permit> = (0..4).map(|_| b.try_acquire(ms(2000)).unwrap()).collect();
    b.on_result(probes[0], CallOutcome::Success, ms(1), ms(2001));
    assert_eq!(b.state(ms(2001)), State::HalfOpen);
    b.on_result(probes[1], CallOutcome::Success, ms(1), ms(2002));
    assert_eq!(b.state(ms(2002)), State::Closed, "two of five probes decide");
}

#[test]
fn an_outcome_is_recorded_in_the_state_it_arrives_in_unless_stale_outcomes_are_dropped() {
    for drop_stale in [false, true] {
        let cfg = BreakerConfig { drop_stale_outcomes: drop_stale, ..small() };
        let mut b = CircuitBreaker::new(cfg);
        // A slow call admitted while closed...
        let early = b.try_acquire(ms(0)).unwrap();
        for t in 1..6 {
            call(&mut b, t, CallOutcome::Failure);
        }
        // ...ends once the breaker is half-open, failing.
        let probes: Vec<Permit> = (0..2).map(|_| b.try_acquire(ms(2000)).unwrap()).collect();
        b.on_result(early, CallOutcome::Failure, ms(1995), ms(2001));
        for p in probes {
            b.on_result(p, CallOutcome::Success, ms(1), ms(2002));
        }
        let expected = if drop_stale { State::HalfOpen } else { State::Closed };
        assert_eq!(b.state(ms(2002)), expected, "drop_stale_outcomes = {drop_stale}");
        assert_eq!(b.metrics(ms(2002)).number_of_buffered_calls, if drop_stale { 2 } else { 0 });
    }
}

#[test]
fn metrics_follow_resilience4j() {
    let mut b = CircuitBreaker::new(small());
    for t in 0..4 {
        call(&mut b, t, if t == 0 { CallOutcome::Success } else { CallOutcome::Failure });
    }
    let m = b.metrics(ms(4));
    assert_eq!((m.failure_rate, m.slow_call_rate), (-1.0, -1.0), "below the minimum number of calls");
    assert_eq!((m.number_of_buffered_calls, m.number_of_failed_calls, m.number_of_successful_calls), (4, 3, 1));
    call(&mut b, 4, CallOutcome::Failure);
    let m = b.metrics(ms(4));
    assert_eq!(m.failure_rate, 80.0);
    for t in 5..8 {
        assert!(b.try_acquire(ms(t)).is_err());
    }
    assert_eq!(b.metrics(ms(8)).number_of_not_permitted_calls, 3, "refusals while open");
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
        let until = b.open_until().expect("open").as_millis() as u64;
        periods.push(until - t);
        t = until + 1;
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
    let _hanging = b.try_acquire(ms(1006)).unwrap();
    assert_eq!(b.state(ms(1100)), State::HalfOpen);
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
    let _probe = b.try_acquire(ms(1005)).unwrap();
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
    fn any_interleaving_keeps_the_invariants(auto in any::<bool>(), max_wait in any::<bool>(), drop_stale in any::<bool>(), steps in proptest::collection::vec(step(), 1..400)) {
        let cfg = BreakerConfig { automatic_transition: auto, max_wait_in_half_open: max_wait.then(|| ms(1500)), drop_stale_outcomes: drop_stale, ..small() };
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
                    if drop_stale && p.generation != before {
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
        // has run out, the breaker can make progress: a call is let through.
        for p in held.drain(..) {
            b.release(p, ms(now));
        }
        now += 10_000;
        b.advance(ms(now));
        if let Some(until) = b.open_until() {
            now = now.max(until.as_millis() as u64 + 1);
        }
        prop_assert!(b.try_acquire(ms(now)).is_ok(), "stuck in {}: no call can be made", b.state(ms(now)));
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
