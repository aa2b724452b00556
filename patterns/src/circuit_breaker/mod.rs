//! Circuit breaker with resilience4j's semantics.
//!
//! A breaker watches the outcomes of calls to one dependency and, when too many fail or are
//! slow, stops calling it for a while (open), then lets a few probe calls through (half-open)
//! to decide whether to close again. It protects the caller's resources (threads, queues) from a
//! dependency that cannot answer, and gives the dependency room to recover.
//!
//! - [`config`]: [`BreakerConfig`], every knob with resilience4j's default, validated.
//! - [`window`]: count-based and time-based sliding windows, kept incrementally.
//! - [`machine`]: the pure state machine; time is passed in, nothing is async. Start here.
//! - [`layer`]: the async [`CircuitBreakerLayer`]: reads the clock, asks for a permit, records
//!   the outcome, reports each transition as an event; a refusal is a typed
//!   [`crate::Rejection`] with the state and when to try again.
//!
//! The semantics follow resilience4j (the machine's docs list each choice: the open period
//! ends strictly after it ends, slow means strictly longer than the threshold, reading the
//! state changes nothing, half-open decides after `min(minimum_calls, half_open_permits)`
//! probes, outcomes are recorded in the state they arrive in); gobreaker's generation rule
//! (drop an outcome from before the last transition) is an option,
//! [`BreakerConfig::drop_stale_outcomes`]. The layer's metrics are resilience4j's.
//!
//! Bugs the real libraries shipped, and how this one avoids them (each is a property test):
//! half-open never issues more permits than configured, however long a probe hangs (Polly #216,
//! resilience4j #1432); every transition is reported once, and with `drop_stale_outcomes` a
//! result from an older generation is ignored (gobreaker, Polly #223); a permit dropped
//! without a result (cancelled, timed out outside the breaker) is released, so half-open cannot
//! get stuck (resilience4j #903, #935); the incremental windows equal a brute-force recount
//! (resilience4j #1335, #1262).

pub mod config;
pub mod layer;
pub mod machine;
pub mod window;

pub use config::{BreakerConfig, OpenDuration, WindowKind};
pub use layer::CircuitBreakerLayer;
pub use machine::{CallOutcome, CircuitBreaker, Metrics, Permit, Rejected, State, Transition};
