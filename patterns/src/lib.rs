//! Resilience and consistency patterns that run **unchanged** on the real tokio runtime and
//! inside faultline's simulator.
//!
//! The crate never knows whether it is simulated: time comes from `tokio::time` (virtual under
//! `--cfg madsim`, real otherwise), randomness from an RNG the caller injects, and I/O through
//! the [`Service`] trait that the caller implements (the simulator's transport, or a real client).
//!
//! Where to start:
//! - [`service`]: the `Service` / `Layer` / `Classify` abstraction every pattern wraps (a small,
//!   boxed tower); a pattern implements one [`Policy`] (what it does around a call) and is a
//!   layer by that; a refusal is a typed [`Rejection`].
//! - [`event`]: every decision a pattern makes is reported to an [`event::EventSink`].
//! - [`retry`] is the simplest pattern to read; [`circuit_breaker`] the fullest.
//!
//! Patterns: [`timeout`], [`deadline`] (propagated down a chain), [`retry`] with [`budget`],
//! [`circuit_breaker`], [`bulkhead`], [`fallback`], [`rate_limiter`], [`throttle`] (SRE adaptive
//! throttling), [`adaptive`] (a concurrency limit by AIMD or Gradient2), [`hedge`], [`chaos`],
//! [`balance`] (load balancing, outlier ejection, discovery) with [`health`], and [`cache`]
//! (cache-aside). Consistency: [`outbox`] (the transactional outbox, its relays, the inbox,
//! idempotency keys, on ports a simulator or a real database implements), [`idempotency`]
//! (keys for a service without one transaction), [`saga`] (the
//! orchestrator over any definition), [`choreography`] (its reactions), [`event_sourcing`] with
//! [`projector`] (the CQRS read side, on the same ports). Shared pieces: [`config`],
//! [`counters`], [`time`] (the clock a pattern waits with: the runtime's, or a host's).
//!
//! Each pattern module has the same shape: a `Config` with documented defaults and a validating
//! constructor, the pure decision logic (time and random draws passed in) where it keeps state,
//! the layer (its [`Policy`]), and the events it reports.
//! docs/patterns.md explains each one, its knobs, and the scenario that shows it.
#![warn(missing_docs, unreachable_pub)]
#![forbid(unsafe_code)]

pub mod adaptive;
pub mod balance;
pub mod budget;
pub mod bulkhead;
pub mod cache;
pub mod chaos;
pub mod choreography;
pub mod circuit_breaker;
pub mod config;
pub mod counters;
pub mod deadline;
pub mod event;
pub mod event_sourcing;
pub mod fallback;
pub mod health;
pub mod hedge;
pub mod idempotency;
pub mod outbox;
pub mod projector;
pub mod rate_limiter;
pub mod retry;
pub mod saga;
pub mod service;
pub mod throttle;
pub mod time;
pub mod timeout;

pub use config::ConfigError;
pub use event::{EventSink, PatternEvent};
pub use service::{BoxFuture, BoxService, Classify, Layer, Policy, Rejection, Service};
pub use time::{Clock, Timer};
