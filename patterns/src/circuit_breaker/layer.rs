//! The async breaker: reads the clock, asks the state machine for a permit, runs the call,
//! records its outcome, and reports every transition as a `breaker.<state>` event.
//!
//! One layer value is one breaker: every service it wraps shares it (the scenario builds one
//! per edge per calling node, like one resilience4j instance per client). A permit dropped
//! without a result (the call was cancelled, or a timeout outside the breaker fired) is
//! released, never leaked.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::config::BreakerConfig;
use super::machine::{CallOutcome, CircuitBreaker, Metrics, Permit, Rejected, State, Transition};
use crate::event::EventSink;
use crate::service::{BoxFuture, BoxService, Classify, Policy, Rejection, Service};

/// Decides how an error counts (successes always count as successes).
pub type ErrorClassifier<E> = Arc<dyn Fn(&E) -> CallOutcome + Send + Sync>;

struct Shared {
    breaker: Mutex<CircuitBreaker>,
    origin: Instant,
    events: Arc<dyn EventSink>,
}

impl Shared {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn lock(&self) -> MutexGuard<'_, CircuitBreaker> {
        self.breaker.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reports transitions and, with automatic transitions on, wakes the breaker when an
    /// open period ends.
    fn report(self: &Arc<Self>, transitions: Vec<Transition>) {
        for t in transitions {
            self.events.report("breaker", t.to.name(), || {
                format!("from={} generation={} at_ms={} {}", t.from, t.generation, t.at.as_millis(), t.reason)
            });
            if t.to == State::Open && self.lock().config().automatic_transition {
                let until = self.lock().open_until();
                if let Some(until) = until {
                    let shared = self.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep_until(shared.origin + until).await;
                        let transitions = {
                            let mut b = shared.lock();
                            b.advance(shared.now());
                            b.take_transitions()
                        };
                        shared.report(transitions);
                    });
                }
            }
        }
    }
}

/// Puts a circuit breaker in front of a service.
pub struct CircuitBreakerLayer<E> {
    shared: Arc<Shared>,
    classify: ErrorClassifier<E>,
}

impl<E> Clone for CircuitBreakerLayer<E> {
    fn clone(&self) -> Self {
        CircuitBreakerLayer { shared: self.shared.clone(), classify: self.classify.clone() }
    }
}

impl<E: Classify> CircuitBreakerLayer<E> {
    /// A breaker with a validated `config`. Errors count as failures, except local refusals
    /// from patterns inside it ([`Classify::is_shed`]), which are ignored.
    pub fn new(config: BreakerConfig, events: Arc<dyn EventSink>) -> Self {
        let classify: ErrorClassifier<E> =
            Arc::new(|e: &E| if e.is_shed() { CallOutcome::Ignored } else { CallOutcome::Failure });
        CircuitBreakerLayer {
            shared: Arc::new(Shared {
                breaker: Mutex::new(CircuitBreaker::new(config)),
                origin: Instant::now(),
                events,
            }),
            classify,
        }
    }

    /// Replaces how errors count (resilience4j's record/ignore predicates).
    pub fn with_classifier(mut self, classify: ErrorClassifier<E>) -> Self {
        self.classify = classify;
        self
    }

    /// The breaker's state now (reading it changes nothing).
    pub fn state(&self) -> State {
        let now = self.shared.now();
        self.shared.lock().state(now)
    }

    /// The breaker's figures now (failure and slow-call rates, buffered, failed and
    /// not-permitted calls...).
    pub fn metrics(&self) -> Metrics {
        let now = self.shared.now();
        self.shared.lock().metrics(now)
    }

    /// Moves the breaker by hand (e.g. to `ForcedOpen` for maintenance).
    pub fn transition_to(&self, state: State) {
        let now = self.shared.now();
        let transitions = {
            let mut b = self.shared.lock();
            b.transition_to(state, now);
            b.take_transitions()
        };
        self.shared.report(transitions);
    }
}

/// Releases an unresolved permit when a call is dropped midway.
struct Held {
    shared: Arc<Shared>,
    permit: Option<Permit>,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(p) = self.permit.take() {
            let now = self.shared.now();
            let transitions = {
                let mut b = self.shared.lock();
                b.release(p, now);
                b.take_transitions()
            };
            self.shared.report(transitions);
        }
    }
}

impl<Req, Resp, Err> Policy<Req, Resp, Err> for CircuitBreakerLayer<Err>
where
    Req: Send + 'static,
    Resp: Send + 'static,
    Err: Classify,
{
    fn call(&self, inner: &BoxService<Req, Resp, Err>, req: Req) -> BoxFuture<Result<Resp, Err>> {
        let shared = self.shared.clone();
        let start = shared.now();
        let (permit, transitions) = {
            let mut b = shared.lock();
            (b.try_acquire(start), b.take_transitions())
        };
        shared.report(transitions);
        let permit = match permit {
            Ok(p) => p,
            Err(Rejected { state, retry_after }) => {
                let rejection = Rejection { pattern: "circuit_breaker", state: Some(state.name()), retry_after };
                return Box::pin(async move { Err(Err::rejected(rejection)) });
            }
        };
        let fut = inner.call(req);
        let classify = self.classify.clone();
        Box::pin(async move {
            let mut held = Held { shared: shared.clone(), permit: Some(permit) };
            let result = fut.await;
            let end = shared.now();
            let outcome = match &result {
                Ok(_) => CallOutcome::Success,
                Err(e) => classify(e),
            };
            if let Some(p) = held.permit.take() {
                let transitions = {
                    let mut b = shared.lock();
                    b.on_result(p, outcome, end.saturating_sub(start), end);
                    b.take_transitions()
                };
                shared.report(transitions);
            }
            result
        })
    }
}
