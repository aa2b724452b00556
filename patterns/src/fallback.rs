//! Fallback: answer something useful when the call fails (a static value, a cached value, a
//! degraded response such as a product page without stock and price, course note 001 in docs/sources.md).
//!
//! The layer turns the errors its predicate accepts into the value its function returns, and
//! reports each use as a `fallback.used` event. It belongs outermost: it hides the failure
//! from everything above it, including retries.

use std::sync::Arc;

use crate::event::EventSink;
use crate::service::{BoxFuture, BoxService, Classify, Policy, Service};

/// Makes the fallback response for an error, or `None` to let the error through.
pub type FallbackFn<Resp, Err> = Arc<dyn Fn(&Err) -> Option<Resp> + Send + Sync>;

/// Fallback settings: the answer for the errors it covers, and whether a pattern's own refusal
/// (an open breaker, a full bulkhead) gets it too.
pub struct FallbackConfig<Resp, Err> {
    /// The fallback answer for an error, or `None` to let it through. Any function is allowed.
    pub answer: FallbackFn<Resp, Err>,
    /// Answer local refusals ([`Classify::is_shed`]) too, as Hystrix answers a short-circuit.
    /// Default true; false lets them through (the caller sees that the pattern refused).
    pub on_rejections: bool,
}

impl<Resp, Err> Clone for FallbackConfig<Resp, Err> {
    fn clone(&self) -> Self {
        FallbackConfig { answer: self.answer.clone(), on_rejections: self.on_rejections }
    }
}

impl<Resp, Err> FallbackConfig<Resp, Err> {
    /// `answer` for the errors it covers, refusals included.
    pub fn new(answer: FallbackFn<Resp, Err>) -> Self {
        FallbackConfig { answer, on_rejections: true }
    }
}

/// Puts a fallback around a service.
pub struct FallbackLayer<Resp, Err> {
    config: FallbackConfig<Resp, Err>,
    events: Arc<dyn EventSink>,
}

impl<Resp, Err> Clone for FallbackLayer<Resp, Err> {
    fn clone(&self) -> Self {
        FallbackLayer { config: self.config.clone(), events: self.events.clone() }
    }
}

impl<Resp, Err> FallbackLayer<Resp, Err> {
    /// A fallback computed by `fallback` (refusals included).
    pub fn new(fallback: FallbackFn<Resp, Err>, events: Arc<dyn EventSink>) -> Self {
        Self::with_config(FallbackConfig::new(fallback), events)
    }

    /// A fallback with `config`.
    pub fn with_config(config: FallbackConfig<Resp, Err>, events: Arc<dyn EventSink>) -> Self {
        FallbackLayer { config, events }
    }
}

impl<Req, Resp, Err> Policy<Req, Resp, Err> for FallbackLayer<Resp, Err>
where
    Req: Send + 'static,
    Resp: Send + 'static,
    Err: Classify + std::fmt::Debug,
{
    fn call(&self, inner: &BoxService<Req, Resp, Err>, req: Req) -> BoxFuture<Result<Resp, Err>> {
        let fut = inner.call(req);
        let (config, events) = (self.config.clone(), self.events.clone());
        Box::pin(async move {
            match fut.await {
                Ok(r) => Ok(r),
                Err(e) if e.is_shed() && !config.on_rejections => Err(e),
                Err(e) => match (config.answer)(&e) {
                    Some(r) => {
                        events.report("fallback", "used", || format!("error={e:?}"));
                        Ok(r)
                    }
                    None => Err(e),
                },
            }
        })
    }
}
