//! The layers on a live runtime. These run twice in CI: under the simulator (`--cfg madsim`,
//! virtual time) and on the real tokio runtime with its clock paused (`start_paused`: time
//! advances only when every task waits), so that no assertion depends on how busy the
//! machine is.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use faultline_patterns::adaptive::{AimdConfig, ConcurrencyLimitLayer};
use faultline_patterns::bulkhead::{BulkheadConfig, BulkheadLayer};
use faultline_patterns::circuit_breaker::{BreakerConfig, CircuitBreakerLayer, OpenDuration, State, WindowKind};
use faultline_patterns::event::MemorySink;
use faultline_patterns::fallback::FallbackLayer;
use faultline_patterns::hedge::{HedgeConfig, HedgeDelay, HedgeLayer};
use faultline_patterns::rate_limiter::{RateLimitConfig, RateLimiterLayer};
use faultline_patterns::retry::{Backoff, Jitter, RetryConfig, RetryLayer};
use faultline_patterns::service::service_fn;
use faultline_patterns::timeout::{TimeoutConfig, TimeoutLayer};
use faultline_patterns::{BoxFuture, BoxService, Classify, Clock, Layer, Timer};
use rand_chacha::rand_core::SeedableRng;

#[derive(Debug, Clone, PartialEq)]
enum Failure {
    Transient,
    Fatal,
    TimedOut,
    Shed,
}

impl Classify for Failure {
    fn is_retryable(&self) -> bool {
        !matches!(self, Failure::Fatal | Failure::Shed)
    }
    fn timed_out(_after: Duration) -> Self {
        Failure::TimedOut
    }
    fn is_timeout(&self) -> bool {
        matches!(self, Failure::TimedOut)
    }
    fn shed(_pattern: &'static str) -> Self {
        Failure::Shed
    }
    fn injected(_pattern: &'static str) -> Self {
        Failure::Transient
    }
    fn is_shed(&self) -> bool {
        matches!(self, Failure::Shed)
    }
}

/// A service that answers with `script[i]` on its i-th call (then Ok), sleeping `slow` on the
/// calls marked `None`.
fn scripted(script: Vec<Option<Failure>>, calls: Arc<AtomicU32>) -> BoxService<u32, u32, Failure> {
    service_fn(move |req: u32| {
        let n = calls.fetch_add(1, Ordering::SeqCst) as usize;
        let step = script.get(n).cloned();
        async move {
            match step {
                Some(Some(f)) => Err(f),
                Some(None) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Ok(req)
                }
                None => Ok(req * 2),
            }
        }
    })
}

fn retry(max_attempts: u32, events: Arc<MemorySink>) -> RetryLayer<u32, Failure> {
    let config =
        RetryConfig { max_attempts, backoff: Backoff::Fixed { delay: Duration::from_millis(2) }, jitter: Jitter::None };
    RetryLayer::new(config.validate().unwrap(), Box::new(rand_chacha::ChaCha8Rng::seed_from_u64(7)), events)
}

#[tokio::test(start_paused = true)]
async fn retry_recovers_from_transient_failures() {
    let calls = Arc::new(AtomicU32::new(0));
    let events = Arc::new(MemorySink::default());
    let inner = scripted(vec![Some(Failure::Transient), Some(Failure::Transient)], calls.clone());
    let svc = retry(3, events.clone()).layer(inner);
    assert_eq!(svc.call(21).await, Ok(42));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let kinds: Vec<_> = events.events().iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec!["scheduled", "scheduled"]);
}

#[tokio::test(start_paused = true)]
async fn retry_stops_at_max_attempts_and_on_fatal_errors() {
    let calls = Arc::new(AtomicU32::new(0));
    let events = Arc::new(MemorySink::default());
    let inner = scripted(vec![Some(Failure::Transient); 10], calls.clone());
    let svc = retry(4, events.clone()).layer(inner);
    assert_eq!(svc.call(1).await, Err(Failure::Transient));
    assert_eq!(calls.load(Ordering::SeqCst), 4);

    let calls = Arc::new(AtomicU32::new(0));
    let inner = scripted(vec![Some(Failure::Fatal)], calls.clone());
    let svc = retry(4, Arc::new(MemorySink::default())).layer(inner);
    assert_eq!(svc.call(1).await, Err(Failure::Fatal));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn per_attempt_timeout_inside_retry_cuts_a_slow_attempt() {
    let calls = Arc::new(AtomicU32::new(0));
    let events = Arc::new(MemorySink::default());
    // First call hangs for 200 ms; the 20 ms timeout cuts it and the retry succeeds.
    let inner = scripted(vec![None], calls.clone());
    let timeout = TimeoutLayer::new(TimeoutConfig::new(Duration::from_millis(20)).unwrap(), events.clone());
    let svc = retry(3, events.clone()).layer(timeout.layer(inner));
    let started = tokio::time::Instant::now();
    assert_eq!(svc.call(5).await, Ok(10));
    assert!(started.elapsed() < Duration::from_millis(150), "the slow attempt was not cancelled");
    let kinds: Vec<_> = events.events().iter().map(|e| (e.pattern, e.kind)).collect();
    assert_eq!(kinds, vec![("timeout", "fired"), ("retry", "scheduled")]);
}

#[tokio::test(start_paused = true)]
async fn timeout_outside_retry_bounds_the_whole_call() {
    let calls = Arc::new(AtomicU32::new(0));
    let inner = scripted(vec![None, None, None], calls.clone());
    let events = Arc::new(MemorySink::default());
    let timeout = TimeoutLayer::new(TimeoutConfig::new(Duration::from_millis(30)).unwrap(), events.clone());
    let svc = timeout.layer(retry(3, events).layer(inner));
    assert_eq!(svc.call(5).await, Err(Failure::TimedOut));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the retry loop was cancelled with the call");
}

/// A host timer that counts the waits it is asked for and those dropped before their end.
struct CountingTimer {
    waits: AtomicU32,
    cancelled: Arc<AtomicU32>,
}

/// Counts a wait as cancelled unless it is disarmed (it ran to its end).
struct Armed(Option<Arc<AtomicU32>>);

impl Armed {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Timer for CountingTimer {
    fn now(&self) -> tokio::time::Instant {
        tokio::time::Instant::now()
    }
    fn sleep_until(&self, deadline: tokio::time::Instant) -> BoxFuture<()> {
        self.waits.fetch_add(1, Ordering::SeqCst);
        let armed = Armed(Some(self.cancelled.clone()));
        Box::pin(async move {
            tokio::time::sleep_until(deadline).await;
            armed.disarm();
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_timeout_waits_with_the_clock_the_host_gives_it() {
    let cancelled = Arc::new(AtomicU32::new(0));
    let timer = Arc::new(CountingTimer { waits: AtomicU32::new(0), cancelled: cancelled.clone() });
    let events = Arc::new(MemorySink::default());
    let timeout = TimeoutLayer::new(TimeoutConfig::new(Duration::from_millis(30)).unwrap(), events.clone());
    // Answers after `req` ms (0: at once, without yielding).
    let inner: BoxService<u32, u32, Failure> = service_fn(|ms: u32| async move {
        if ms > 0 {
            tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
        }
        Ok(ms)
    });
    let svc = timeout.with_clock(Clock::with(timer.clone())).layer(inner);
    let counts = || (timer.waits.load(Ordering::SeqCst), cancelled.load(Ordering::SeqCst));
    // An answer ready at once needs no wait at all.
    assert_eq!(svc.call(0).await, Ok(0));
    assert_eq!(counts(), (0, 0));
    // One in 10 ms: a wait, cancelled by the answer.
    assert_eq!(svc.call(10).await, Ok(10));
    assert_eq!(counts(), (1, 1));
    // One in 200 ms: the wait runs out at 30 ms.
    let started = tokio::time::Instant::now();
    assert_eq!(svc.call(200).await, Err(Failure::TimedOut));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(30) && waited < Duration::from_millis(31), "{waited:?}");
    assert_eq!(counts(), (2, 1));
}

#[test]
fn zero_timeout_is_rejected_with_its_key() {
    assert_eq!(TimeoutConfig::new(Duration::ZERO).unwrap_err().key, "timeout_ms");
}

fn breaker(events: Arc<MemorySink>, automatic: bool) -> CircuitBreakerLayer<Failure> {
    let config = BreakerConfig {
        window: WindowKind::CountBased { size: 4 },
        minimum_calls: 4,
        open_duration: OpenDuration::Fixed(Duration::from_millis(50)),
        half_open_permits: 1,
        automatic_transition: automatic,
        ..BreakerConfig::default()
    };
    CircuitBreakerLayer::new(config.validate().unwrap(), events)
}

fn transitions(events: &MemorySink) -> Vec<&'static str> {
    events.events().iter().filter(|e| e.pattern == "breaker").map(|e| e.kind).collect()
}

#[tokio::test(start_paused = true)]
async fn breaker_opens_sheds_probes_and_closes() {
    let calls = Arc::new(AtomicU32::new(0));
    let events = Arc::new(MemorySink::default());
    let layer = breaker(events.clone(), false);
    let svc = layer.layer(scripted(vec![Some(Failure::Transient); 4], calls.clone()));
    for _ in 0..4 {
        assert_eq!(svc.call(1).await, Err(Failure::Transient));
    }
    assert_eq!(layer.state(), State::Open);
    assert_eq!(svc.call(1).await, Err(Failure::Shed), "an open breaker refuses without calling");
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(svc.call(3).await, Ok(6), "the probe goes through");
    assert_eq!(layer.state(), State::Closed);
    assert_eq!(transitions(&events), vec!["open", "half_open", "closed"]);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_probe_gives_its_permit_back() {
    // resilience4j #903/#935: a permit acquired and never recorded left the breaker stuck in
    // half-open. Here the only probe hangs and an outer timeout cancels it.
    let calls = Arc::new(AtomicU32::new(0));
    let events = Arc::new(MemorySink::default());
    let layer = breaker(events.clone(), false);
    let mut script = vec![Some(Failure::Transient); 4];
    script.push(None); // the first probe hangs for 200 ms
    let svc = layer.layer(scripted(script, calls.clone()));
    for _ in 0..4 {
        let _ = svc.call(1).await;
    }
    tokio::time::sleep(Duration::from_millis(60)).await;
    let outer = TimeoutLayer::silent(TimeoutConfig::new(Duration::from_millis(20)).unwrap());
    let bounded = outer.layer(svc.clone());
    assert_eq!(bounded.call(1).await, Err(Failure::TimedOut));
    assert_eq!(layer.state(), State::HalfOpen);
    assert_eq!(svc.call(4).await, Ok(8), "the released permit lets the next probe through");
    assert_eq!(layer.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn automatic_transition_half_opens_without_a_call() {
    let events = Arc::new(MemorySink::default());
    let layer = breaker(events.clone(), true);
    let svc = layer.layer(scripted(vec![Some(Failure::Transient); 4], Arc::new(AtomicU32::new(0))));
    for _ in 0..4 {
        let _ = svc.call(1).await;
    }
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(transitions(&events), vec!["open", "half_open"], "the timer moved it, no call did");
}

/// A service that takes `ms` milliseconds to answer.
fn slow(ms: u64) -> BoxService<u32, u32, Failure> {
    service_fn(move |req: u32| async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(req)
    })
}

#[tokio::test(start_paused = true)]
async fn bulkhead_caps_concurrency_queues_and_sheds() {
    let config = BulkheadConfig { max_concurrent: 3, max_queue: 2, max_wait: Duration::from_millis(500) };
    let events = Arc::new(MemorySink::default());
    let layer = BulkheadLayer::new(config.validate().unwrap(), events.clone());
    let pool = layer.pool();
    let svc = layer.layer(slow(100));
    let calls: Vec<_> = (0..10).map(|i| tokio::spawn(svc.call(i))).collect();
    let mut results = Vec::new();
    for c in calls {
        results.push(c.await.unwrap());
    }
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let shed = results.iter().filter(|r| **r == Err(Failure::Shed)).count();
    assert_eq!((ok, shed), (5, 5), "3 run, 2 wait and run, 5 are refused");
    assert_eq!((pool.available(), pool.waiting()), (3, 0));
    // Its level: taken and given back once per call that ran, up to the cap and down to 0.
    let levels = events.levels();
    assert_eq!(levels.len(), 10, "two levels per call that ran: {levels:?}");
    assert!(levels.iter().all(|l| l.pattern == "bulkhead" && l.limit == 3 && l.in_use <= 3));
    assert_eq!(levels.iter().map(|l| l.in_use).max(), Some(3));
    assert_eq!(levels.last().map(|l| l.in_use), Some(0));
}

#[tokio::test(start_paused = true)]
async fn bulkhead_never_leaks_a_permit_under_cancellation() {
    // Calls with random durations, cancelled by random outer timeouts, some while they wait.
    let config = BulkheadConfig { max_concurrent: 4, max_queue: 8, max_wait: Duration::from_millis(40) };
    let events = Arc::new(MemorySink::default());
    let layer = BulkheadLayer::new(config.validate().unwrap(), events.clone());
    let pool = layer.pool();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut calls = Vec::new();
    for i in 0..200 {
        let svc = layer.layer(slow(1 + next(30)));
        let limit = Duration::from_millis(1 + next(50));
        calls.push(tokio::spawn(async move { tokio::time::timeout(limit, svc.call(i)).await }));
        if next(3) == 0 {
            tokio::time::sleep(Duration::from_millis(next(5))).await;
        }
    }
    let mut cancelled = 0;
    for c in calls {
        if c.await.unwrap().is_err() {
            cancelled += 1;
        }
    }
    assert!(cancelled > 20, "only {cancelled} calls were cancelled: the test proves little");
    assert_eq!((pool.available(), pool.waiting()), (4, 0), "a permit or a waiter leaked");
    // A cancelled call reports its permit given back too: the last level is 0.
    assert_eq!(events.levels().last().map(|l| l.in_use), Some(0));
}

#[tokio::test(start_paused = true)]
async fn a_concurrency_limit_reports_its_calls_in_flight_against_its_limit() {
    let config = AimdConfig { initial: 2, min: 1, max: 10, backoff_ratio: 0.5 };
    let events = Arc::new(MemorySink::default());
    let svc = ConcurrencyLimitLayer::new(config.validate().unwrap(), events.clone()).layer(slow(50));
    let calls: Vec<_> = (0..5).map(|i| tokio::spawn(svc.call(i))).collect();
    let mut ok = 0;
    for c in calls {
        ok += usize::from(c.await.unwrap().is_ok());
    }
    assert_eq!(ok, 2, "the limit of 2 admits two of five calls at once");
    let levels = events.levels();
    // Admitted 1 then 2 of 2; the answers give their slots back and grow the limit (by how
    // much depends on which answer comes first: each grows it only if its sample was busy).
    let in_use: Vec<u32> = levels.iter().map(|l| l.in_use).collect();
    let limits: Vec<u32> = levels.iter().map(|l| l.limit).collect();
    assert_eq!(in_use, [1, 2, 1, 0]);
    assert_eq!(limits[..2], [2, 2]);
    assert!(limits[2] >= 3 && limits[3] >= limits[2], "{limits:?}");
}

#[tokio::test(start_paused = true)]
async fn fallback_answers_for_the_errors_it_accepts() {
    let events = Arc::new(MemorySink::default());
    let fallback = FallbackLayer::new(Arc::new(|e: &Failure| (*e == Failure::Transient).then_some(0)), events.clone());
    let svc =
        fallback.layer(scripted(vec![Some(Failure::Transient), Some(Failure::Fatal)], Arc::new(AtomicU32::new(0))));
    assert_eq!(svc.call(5).await, Ok(0));
    assert_eq!(svc.call(5).await, Err(Failure::Fatal));
    assert_eq!(svc.call(5).await, Ok(10));
    assert_eq!(events.events().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_hedge_answers_when_the_first_call_is_slow_and_the_loser_is_cancelled() {
    let calls = Arc::new(AtomicU32::new(0));
    let events = Arc::new(MemorySink::default());
    let config = HedgeConfig { delay: HedgeDelay::Fixed(Duration::from_millis(20)), max_ratio: 1.0 };
    // Call 0 hangs 200 ms; call 1 (the hedge) answers at once.
    let svc = HedgeLayer::new(config.validate().unwrap(), events.clone()).layer(scripted(vec![None], calls.clone()));
    let started = tokio::time::Instant::now();
    assert_eq!(svc.call(4).await, Ok(8));
    assert!(started.elapsed() < Duration::from_millis(100), "waited for the slow call");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let kinds: Vec<_> = events.events().iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec!["sent", "won"]);
}

#[tokio::test(start_paused = true)]
async fn a_rate_limiter_admits_the_burst_and_refuses_the_rest() {
    let config = RateLimitConfig { rate_per_s: 50.0, burst: 2, ..RateLimitConfig::default() };
    let layer =
        RateLimiterLayer::new(config.validate().unwrap(), Arc::new(|_: &u32| 0u8), Arc::new(MemorySink::default()));
    let svc = layer.layer(slow(1));
    // Ten calls at the same instant: the burst of 2 passes, the rest are refused at once.
    let at_once: Vec<_> = (0..10).map(|i| svc.call(i)).collect();
    let mut admitted = 0;
    for c in at_once {
        admitted += usize::from(c.await.is_ok());
    }
    assert_eq!(admitted, 2);
    // One interval (20 ms) later there is room for one more, not two.
    tokio::time::sleep(Duration::from_millis(25)).await;
    let (a, b) = (svc.call(1), svc.call(2));
    assert_eq!((a.await.is_ok(), b.await.is_ok()), (true, false));
}

mod cache_aside {
    use super::*;
    use faultline_patterns::cache::{CacheAsideLayer, CacheConfig, Keyed, MemoryStore};

    #[derive(Debug, Clone, Copy)]
    struct Read(u64);

    impl Keyed for Read {
        fn cache_key(&self) -> u64 {
            self.0
        }
    }

    /// A source that takes `ms` per load and counts loads.
    fn source(ms: u64, loads: Arc<AtomicU32>) -> BoxService<Read, u64, Failure> {
        service_fn(move |r: Read| {
            loads.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(r.0 * 10)
            }
        })
    }

    fn cache(config: CacheConfig) -> CacheAsideLayer<u64, Failure> {
        let store = Arc::new(MemoryStore::default());
        CacheAsideLayer::new(
            store,
            config.validate().unwrap(),
            Box::new(rand_chacha::ChaCha8Rng::seed_from_u64(3)),
            Arc::new(MemorySink::default()),
        )
    }

    fn config(ttl_ms: u64) -> CacheConfig {
        CacheConfig { ttl: Duration::from_millis(ttl_ms), ttl_jitter: 0.0, xfetch_beta: 0.0, ..CacheConfig::default() }
    }

    #[tokio::test(start_paused = true)]
    async fn hits_within_the_ttl_and_reloads_after() {
        let loads = Arc::new(AtomicU32::new(0));
        let svc = cache(config(100)).layer(source(5, loads.clone()));
        assert_eq!(svc.call(Read(7)).await, Ok(70));
        assert_eq!(svc.call(Read(7)).await, Ok(70));
        assert_eq!(loads.load(Ordering::SeqCst), 1, "the second read hit");
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(svc.call(Read(7)).await, Ok(70));
        assert_eq!(loads.load(Ordering::SeqCst), 2, "expired, reloaded");
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_misses_share_one_load() {
        let loads = Arc::new(AtomicU32::new(0));
        let svc = cache(config(1000)).layer(source(30, loads.clone()));
        let reads: Vec<_> = (0..10).map(|_| tokio::spawn(svc.call(Read(1)))).collect();
        for r in reads {
            assert_eq!(r.await.unwrap(), Ok(10));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_leader_does_not_strand_its_followers() {
        // Known bug K11 (docs/sources.md): the leader's caller gives up (a timeout) while followers wait on it.
        let loads = Arc::new(AtomicU32::new(0));
        let svc = cache(config(1000)).layer(source(50, loads.clone()));
        let leader = tokio::spawn(tokio::time::timeout(Duration::from_millis(10), svc.call(Read(3))));
        tokio::time::sleep(Duration::from_millis(2)).await;
        let followers: Vec<_> =
            (0..5).map(|_| tokio::spawn(tokio::time::timeout(Duration::from_millis(500), svc.call(Read(3))))).collect();
        assert!(leader.await.unwrap().is_err(), "the leader was cancelled");
        for f in followers {
            assert_eq!(f.await.unwrap(), Ok(Ok(30)), "a follower hung or failed");
        }
        assert_eq!(loads.load(Ordering::SeqCst), 2, "one new leader loaded for all the followers");
    }

    #[tokio::test(start_paused = true)]
    async fn stale_values_are_served_while_revalidating() {
        let loads = Arc::new(AtomicU32::new(0));
        let config = CacheConfig { stale: Duration::from_millis(500), ..config(50) };
        let svc = cache(config).layer(source(40, loads.clone()));
        assert_eq!(svc.call(Read(2)).await, Ok(20));
        tokio::time::sleep(Duration::from_millis(60)).await;
        let started = tokio::time::Instant::now();
        assert_eq!(svc.call(Read(2)).await, Ok(20));
        assert!(started.elapsed() < Duration::from_millis(20), "the stale value came at once");
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(loads.load(Ordering::SeqCst), 2, "refreshed in the background");
    }
}

mod saga_with_a_semantic_lock {
    use std::sync::Mutex;
    use std::time::Duration;

    use faultline_patterns::saga::{
        run_saga, LogRecord, Participants, SagaDefinition, SagaLog, SagaOutcome, Step, StepResult,
    };
    use faultline_patterns::BoxFuture;

    #[derive(Default)]
    struct MemoryLog(Mutex<Vec<LogRecord>>);

    impl SagaLog for MemoryLog {
        fn append(&self, _id: u64, record: LogRecord) -> BoxFuture<()> {
            self.0.lock().unwrap().push(record);
            Box::pin(async {})
        }
        fn read(&self, _id: u64) -> BoxFuture<Vec<LogRecord>> {
            let records = self.0.lock().unwrap().clone();
            Box::pin(async move { records })
        }
        fn unfinished(&self) -> BoxFuture<Vec<u64>> {
            Box::pin(async { Vec::new() })
        }
    }

    /// Inventory is busy (another saga holds the item) for the first `busy` reserves.
    struct Scripted {
        busy: Mutex<u32>,
        calls: Mutex<Vec<String>>,
    }

    impl Participants for Scripted {
        fn perform(&self, service: &'static str, op: &'static str, _id: u64) -> BoxFuture<StepResult> {
            self.calls.lock().unwrap().push(format!("{service}.{op}"));
            let mut busy = self.busy.lock().unwrap();
            let result = if op == "reserve" && *busy > 0 {
                *busy -= 1;
                StepResult::Busy
            } else {
                StepResult::Done
            };
            Box::pin(async move { result })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_step_waits_without_a_record_and_confirm_comes_before_completed() {
        let (log, participants) =
            (MemoryLog::default(), Scripted { busy: Mutex::new(2), calls: Mutex::new(Vec::new()) });
        let step = |name, service, action, compensation| Step { name, service, action, compensation };
        let locked = SagaDefinition {
            name: "order",
            steps: vec![
                step("reserve_inventory", "inventory", "reserve", "release"),
                step("charge_payment", "payment", "charge", "refund"),
                step("create_shipment", "shipping", "ship", "cancel_shipment"),
            ],
            on_complete: vec![("inventory", "confirm")],
        };
        let outcome = run_saga(&locked, &log, &participants, 1, Duration::from_millis(5)).await;
        assert_eq!(outcome, SagaOutcome::Completed);
        let calls = participants.calls.lock().unwrap().clone();
        assert_eq!(
            calls,
            [
                "inventory.reserve",
                "inventory.reserve",
                "inventory.reserve",
                "payment.charge",
                "shipping.ship",
                "inventory.confirm"
            ]
        );
        use LogRecord::*;
        assert_eq!(
            *log.0.lock().unwrap(),
            [Started, StepDone(0), StepDone(1), StepDone(2), Finished(SagaOutcome::Completed)],
            "waiting leaves no record"
        );
    }
}
