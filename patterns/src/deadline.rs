//! Deadline propagation: one time budget for a whole call chain.
//!
//! A per-hop timeout does not know how long the caller has already waited: a 1 s timeout at
//! each of three hops lets the last hop work for a caller who gave up seconds ago. A deadline
//! layer stamps an absolute deadline on the request (the earlier of any deadline it already
//! carries and now + `after`), and bounds the call by it. Requests carry it on (gRPC's
//! `grpc-timeout`), so every hop below bounds its own calls by the same deadline, and a server
//! can refuse, or stop, work for a caller that is no longer waiting.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::event::{EventSink, PatternEvent};
use crate::service::{BoxFuture, BoxService, Classify, Layer, Service};

/// A request that carries a deadline.
pub trait Deadlined {
    /// The deadline it carries, if any.
    fn deadline(&self) -> Option<Instant>;
    /// Sets the deadline.
    fn set_deadline(&mut self, at: Instant);
}

/// Stamps and enforces a deadline `after` from now (or the request's own, if earlier).
pub struct DeadlineLayer {
    after: Duration,
    events: Arc<dyn EventSink>,
}

impl DeadlineLayer {
    /// A deadline `after` from the start of each call.
    pub fn new(after: Duration, events: Arc<dyn EventSink>) -> Self {
        DeadlineLayer { after, events }
    }
}

impl<Req, Resp, Err> Layer<Req, Resp, Err> for DeadlineLayer
where
    Req: Deadlined + Send + 'static,
    Resp: Send + 'static,
    Err: Classify,
{
    fn layer(&self, inner: BoxService<Req, Resp, Err>) -> BoxService<Req, Resp, Err> {
        Arc::new(WithDeadline { inner, after: self.after, events: self.events.clone() })
    }
}

/// A service whose calls carry and respect a deadline.
pub struct WithDeadline<Req, Resp, Err> {
    inner: BoxService<Req, Resp, Err>,
    after: Duration,
    events: Arc<dyn EventSink>,
}

impl<Req, Resp, Err> Service<Req> for WithDeadline<Req, Resp, Err>
where
    Req: Deadlined + Send + 'static,
    Resp: Send + 'static,
    Err: Classify,
{
    type Response = Resp;
    type Error = Err;

    fn call(&self, mut req: Req) -> BoxFuture<Result<Resp, Err>> {
        let now = Instant::now();
        let mine = now + self.after;
        let deadline = req.deadline().map_or(mine, |d| d.min(mine));
        req.set_deadline(deadline);
        let events = self.events.clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, fut).await {
                Ok(r) => r,
                Err(_) => {
                    events.emit(PatternEvent {
                        pattern: "deadline",
                        kind: "expired",
                        detail: format!("budget_ms={}", left.as_millis()),
                    });
                    Err(Err::timed_out(left))
                }
            }
        })
    }
}
