//! A writer on a simulated node (`app = "es_writer"`): the patterns' optimistic-concurrency
//! client (`faultline_patterns::event_sourcing::client`) over the network to its event store:
//! reads its request's stream's version, works, and appends expecting the version it read; on a
//! conflict it waits its backoff (`conflict_backoff`: none by default, or exponential with the
//! patterns' jitters, drawn from the replica's random stream) and reads again, at most
//! `conflict_attempts` (10) times in all: Brooker's optimistic-concurrency contention model.

use std::sync::Arc;

use std::time::Duration;

use faultline_patterns::event_sourcing::client::{append_expecting_with_pause, AppendError, VersionedStreams};
use faultline_patterns::event_sourcing::WrongExpectedVersion;
use faultline_patterns::retry::{Jitter, RetryConfig};

use crate::call::{CallError, Meta, Op, Served};
use crate::kernel::app::{Answer, App, AppCtx};
use crate::kernel::edge::Dep;

/// An event-store writer on one node.
pub(crate) struct EsWriter {
    ctx: AppCtx,
    conflict: RetryConfig,
}

/// The event store, as the node reaches it for one request: `read` answers a stream's
/// version, `append` (with the version expected) is refused as a conflict when stale.
struct Remote<'a> {
    ctx: &'a AppCtx,
    dep: &'a Dep,
    request: u64,
    meta: Meta,
}

impl Remote<'_> {
    /// `name` on `stream` (the stream ids this writer makes are numbers).
    async fn call(&self, name: &'static str, stream: &str, seq: u64) -> Result<Served, CallError> {
        let key = stream.parse().map_err(|_| CallError::Server)?;
        let op = Op { name, id: self.request, key, seq };
        self.dep.call(&self.ctx.world, self.request, Meta { op: Some(op), ..self.meta }).await
    }
}

impl VersionedStreams<()> for Remote<'_> {
    type Error = CallError;
    async fn version(&self, stream: &str) -> Result<u64, CallError> {
        match self.call("read", stream, 0).await? {
            Served::Value(version) => Ok(version),
            _ => Err(CallError::Server),
        }
    }
    async fn append(&self, stream: &str, expected: u64, _event: ()) -> Result<u64, AppendError<CallError>> {
        match self.call("append", stream, expected).await {
            // The store answers no version: it is the one expected, plus this event.
            Ok(_) => Ok(expected + 1),
            // The store says only that the stream moved on: at least one event further.
            Err(CallError::Conflict) => Err(AppendError::Conflict(WrongExpectedVersion {
                stream: stream.to_owned(),
                expected,
                actual: expected + 1,
            })),
            Err(e) => Err(AppendError::Failed(e)),
        }
    }
}

impl EsWriter {
    pub(crate) fn new(ctx: AppCtx, conflict: RetryConfig) -> Self {
        EsWriter { ctx, conflict }
    }

    /// Reads the request's stream, works, appends with the version it read; on a conflict
    /// waits its backoff, reads again and tries again.
    async fn write(&self, request: u64, meta: Meta) -> Result<Served, CallError> {
        let Some(dep) = self.ctx.first_dep() else { return Err(CallError::Server) };
        let remote = Remote { ctx: &self.ctx, dep, request, meta };
        let decide = |_version| async {
            // Deciding, with what was read: another writer may append meanwhile.
            crate::kernel::timer::until(self.ctx.world.now() + self.ctx.work_time()).await;
        };
        let (ctx, config) = (&self.ctx, self.conflict);
        let mut previous = Duration::ZERO;
        let pause = move |conflict: u32| {
            // Only a jitter draws (the stream also gives the work times: no draw, no change).
            let unit = match config.jitter {
                Jitter::None => 0.0,
                _ => ctx.rng.lock().unwrap_or_else(|e| e.into_inner()).unit(),
            };
            let wait = config.delay(conflict, previous, unit);
            previous = wait;
            let deadline = ctx.world.now() + wait;
            // No backoff reads again at once, without a trip through the timer.
            async move {
                if !wait.is_zero() {
                    crate::kernel::timer::until(deadline).await;
                }
            }
        };
        let attempts = self.conflict.max_attempts;
        match append_expecting_with_pause(&remote, &meta.key.to_string(), attempts, decide, pause).await {
            Ok(_) => Ok(Served::Full),
            Err(AppendError::Conflict(_)) => Err(CallError::Conflict),
            Err(AppendError::Failed(e)) => Err(e),
        }
    }
}

impl App for EsWriter {
    fn handle(self: Arc<Self>, request: u64, meta: Meta) -> Option<Answer> {
        if meta.op.is_some() {
            return None;
        }
        Some(Box::pin(async move { self.write(request, meta).await }))
    }
}
