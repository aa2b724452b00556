//! Where a pattern's waits come from: the runtime's timer (`tokio::time`, the default) or one the
//! host supplies.
//!
//! A timeout around every call arms a timer per call that, most of the time, is cancelled when
//! the call answers first. Some timers cancel cheaply (tokio's wheel); some cannot cancel at all
//! (madsim's heap keeps a cancelled timer until it would have fired, so a 1 s timeout per call
//! keeps a second's worth of dead timers). A host with a better timer for this (a simulator's
//! cancellable queue, a coarse timer wheel as Finagle and Netty use) passes it in as a
//! [`Clock`]; the patterns whose waits are mostly cancelled (timeout, deadline, hedge and
//! bulkhead, each through its layer's `with_clock`) wait with it. Waits that always
//! run to their end (backoff, periodic probes) keep the runtime's timer.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::service::BoxFuture;

/// A timer a host gives the patterns instead of the runtime's own.
pub trait Timer: Send + Sync + 'static {
    /// The time now.
    fn now(&self) -> Instant;
    /// Completes at `deadline` (at once if it has passed); dropping it cancels the wait.
    fn sleep_until(&self, deadline: Instant) -> BoxFuture<()>;
}

/// The clock a pattern reads and waits with. `Clock::default()` is the runtime's.
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<dyn Timer>>);

/// A wait bounded by [`Clock::timeout`] ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

impl Clock {
    /// The runtime's clock (`tokio::time`).
    pub fn runtime() -> Self {
        Clock(None)
    }

    /// A host's timer.
    pub fn with(timer: Arc<dyn Timer>) -> Self {
        Clock(Some(timer))
    }

    /// The time now.
    pub fn now(&self) -> Instant {
        match &self.0 {
            Some(t) => t.now(),
            None => Instant::now(),
        }
    }

    /// Waits until `deadline`.
    pub async fn sleep_until(&self, deadline: Instant) {
        match &self.0 {
            Some(t) => t.sleep_until(deadline).await,
            None => tokio::time::sleep_until(deadline).await,
        }
    }

    /// `fut`, unless `after` passes first. The future is polled first, so an answer that is
    /// ready when the time runs out still counts.
    pub async fn timeout<F: Future>(&self, after: Duration, fut: F) -> Result<F::Output, Elapsed> {
        let deadline = self.now() + after;
        tokio::select! {
            biased;
            out = fut => Ok(out),
            _ = self.sleep_until(deadline) => Err(Elapsed),
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Clock(host)" } else { "Clock(runtime)" })
    }
}
