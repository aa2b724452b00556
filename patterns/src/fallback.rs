//! Fallback: answer something useful when the call fails (a static value, a cached value, a
//! degraded response such as a product page without stock and price, seeds/001).
//!
//! The layer turns the errors its predicate accepts into the value its function returns, and
//! reports each use as a `fallback.used` event. It belongs outermost: it hides the failure
//! from everything above it, including retries.

use std::sync::Arc;

use crate::event::{EventSink, PatternEvent};
use crate::service::{BoxFuture, BoxService, Classify, Layer, Service};

/// Makes the fallback response for an error, or `None` to let the error through.
pub type FallbackFn<Resp, Err> = Arc<dyn Fn(&Err) -> Option<Resp> + Send + Sync>;

/// Puts a fallback around a service.
pub struct FallbackLayer<Resp, Err> {
    fallback: FallbackFn<Resp, Err>,
    events: Arc<dyn EventSink>,
}

impl<Resp, Err> FallbackLayer<Resp, Err> {
    /// A fallback computed by `fallback`.
    pub fn new(fallback: FallbackFn<Resp, Err>, events: Arc<dyn EventSink>) -> Self {
        FallbackLayer { fallback, events }
    }
}

impl<Req, Resp, Err> Layer<Req, Resp, Err> for FallbackLayer<Resp, Err>
where
    Req: Send + 'static,
    Resp: Send + 'static,
    Err: Classify + std::fmt::Debug,
{
    fn layer(&self, inner: BoxService<Req, Resp, Err>) -> BoxService<Req, Resp, Err> {
        Arc::new(Fallback { inner, fallback: self.fallback.clone(), events: self.events.clone() })
    }
}

/// A service with a fallback.
pub struct Fallback<Req, Resp, Err> {
    inner: BoxService<Req, Resp, Err>,
    fallback: FallbackFn<Resp, Err>,
    events: Arc<dyn EventSink>,
}

impl<Req, Resp, Err> Service<Req> for Fallback<Req, Resp, Err>
where
    Req: Send + 'static,
    Resp: Send + 'static,
    Err: Classify + std::fmt::Debug,
{
    type Response = Resp;
    type Error = Err;

    fn call(&self, req: Req) -> BoxFuture<Result<Resp, Err>> {
        let fut = self.inner.call(req);
        let fallback = self.fallback.clone();
        let events = self.events.clone();
        Box::pin(async move {
            match fut.await {
                Ok(r) => Ok(r),
                Err(e) => match fallback(&e) {
                    Some(r) => {
                        events.emit(PatternEvent { pattern: "fallback", kind: "used", detail: format!("error={e:?}") });
                        Ok(r)
                    }
                    None => Err(e),
                },
            }
        })
    }
}
