//! The call abstraction every pattern wraps.
//!
//! A [`Service`] turns a request into a future of a result; a [`Layer`] wraps one service in
//! another. This is tower's shape, kept small and boxed so that stacks can be assembled at run
//! time in the order a scenario file names (tower itself runs on the real tokio and cannot be
//! used inside a simulation).
//!
//! A pattern implements one thing, its [`Policy`]: what it does around one call to the service
//! it wraps. Every policy is a layer; the wrapping service is written once, here. A pattern
//! that refuses a call without making it says why with a [`Rejection`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Something that answers requests asynchronously.
pub trait Service<Req>: Send + Sync + 'static {
    /// The successful answer.
    type Response: Send + 'static;
    /// The failure.
    type Error: Send + 'static;
    /// Starts one call. The returned future owns everything it needs.
    fn call(&self, req: Req) -> BoxFuture<Result<Self::Response, Self::Error>>;
}

/// A type-erased, shareable service.
pub type BoxService<Req, Resp, Err> = Arc<dyn Service<Req, Response = Resp, Error = Err>>;

impl<Req, S> Service<Req> for Arc<S>
where
    S: Service<Req> + ?Sized,
{
    type Response = S::Response;
    type Error = S::Error;
    fn call(&self, req: Req) -> BoxFuture<Result<Self::Response, Self::Error>> {
        (**self).call(req)
    }
}

/// Wraps a service in another (a pattern).
pub trait Layer<Req, Resp, Err>: Send + Sync {
    /// Returns `inner` wrapped by this layer.
    fn layer(&self, inner: BoxService<Req, Resp, Err>) -> BoxService<Req, Resp, Err>;
}

/// What a pattern does around one call. A policy value holds the pattern's config and its
/// shared state (behind `Arc`s, so that a clone is the same breaker, the same budget...): every
/// service it wraps shares them.
pub trait Policy<Req, Resp, Err>: Clone + Send + Sync + 'static {
    /// Runs one call, calling `inner` as the pattern decides (once, again, never).
    fn call(&self, inner: &BoxService<Req, Resp, Err>, req: Req) -> BoxFuture<Result<Resp, Err>>;
}

/// Every policy is a layer: it wraps a service in one that asks the policy.
impl<Req, Resp, Err, P> Layer<Req, Resp, Err> for P
where
    P: Policy<Req, Resp, Err>,
    Req: 'static,
    Resp: Send + 'static,
    Err: Send + 'static,
{
    fn layer(&self, inner: BoxService<Req, Resp, Err>) -> BoxService<Req, Resp, Err> {
        Arc::new(Wrapped { inner, policy: self.clone(), _req: std::marker::PhantomData })
    }
}

/// A service behind a policy.
struct Wrapped<P, Req, Resp, Err> {
    inner: BoxService<Req, Resp, Err>,
    policy: P,
    _req: std::marker::PhantomData<fn(Req)>,
}

impl<Req, Resp, Err, P> Service<Req> for Wrapped<P, Req, Resp, Err>
where
    P: Policy<Req, Resp, Err>,
    Req: 'static,
    Resp: Send + 'static,
    Err: Send + 'static,
{
    type Response = Resp;
    type Error = Err;
    fn call(&self, req: Req) -> BoxFuture<Result<Resp, Err>> {
        self.policy.call(&self.inner, req)
    }
}

/// Why a pattern refused a call without making it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rejection {
    /// The pattern, e.g. `circuit_breaker`, `bulkhead`, `rate_limiter`.
    pub pattern: &'static str,
    /// Its state when it refused, e.g. `open`, `half_open`, `full`, `wait_timeout`.
    pub state: Option<&'static str>,
    /// When it expects to let calls through again, if it knows.
    pub retry_after: Option<Duration>,
}

impl Rejection {
    /// A refusal by `pattern`, with nothing more known.
    pub const fn by(pattern: &'static str) -> Self {
        Rejection { pattern, state: None, retry_after: None }
    }

    /// The same refusal, in `state`.
    pub const fn in_state(self, state: &'static str) -> Self {
        Rejection { state: Some(state), ..self }
    }
}

/// Builds a service from a closure returning a future.
pub fn service_fn<Req, Resp, Err, F, Fut>(f: F) -> BoxService<Req, Resp, Err>
where
    Req: 'static,
    Resp: Send + 'static,
    Err: Send + 'static,
    F: Fn(Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, Err>> + Send + 'static,
{
    Arc::new(FnService(f, std::marker::PhantomData))
}

struct FnService<F, Req>(F, std::marker::PhantomData<fn(Req)>);

impl<Req, Resp, Err, F, Fut> Service<Req> for FnService<F, Req>
where
    Req: 'static,
    Resp: Send + 'static,
    Err: Send + 'static,
    F: Fn(Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, Err>> + Send + 'static,
{
    type Response = Resp;
    type Error = Err;
    fn call(&self, req: Req) -> BoxFuture<Result<Resp, Err>> {
        Box::pin((self.0)(req))
    }
}

/// What patterns need to know about an error: may it be retried, and did the server ask for a
/// pause (`Retry-After`)? Errors also have to be constructible for a timeout.
pub trait Classify: Send + 'static {
    /// True when another attempt could succeed (timeouts, overload, transient faults).
    fn is_retryable(&self) -> bool;
    /// The server's requested pause before the next attempt, if any.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
    /// The error a timeout layer returns when `after` elapsed without an answer.
    fn timed_out(after: Duration) -> Self;
    /// True when this error came from a timeout layer.
    fn is_timeout(&self) -> bool;
    /// The error a pattern returns when it refuses a call without making it (a circuit
    /// breaker that is open, a full bulkhead): `pattern` names it.
    fn shed(pattern: &'static str) -> Self;
    /// True when this error is a local refusal ([`Classify::shed`]).
    fn is_shed(&self) -> bool;
    /// The error for a refusal with its details (state, when to try again). Patterns call
    /// this; the default keeps only the pattern's name ([`Classify::shed`]). An error type that
    /// can carry the [`Rejection`] should keep it.
    fn rejected(rejection: Rejection) -> Self
    where
        Self: Sized,
    {
        Self::shed(rejection.pattern)
    }
    /// The refusal this error carries, if it kept one.
    fn rejection(&self) -> Option<Rejection> {
        None
    }
    /// A failure a chaos layer injects, standing for the callee's own error.
    fn injected(pattern: &'static str) -> Self;
    /// True when the server refused the request because it is overloaded (a 503 / queue
    /// full), as opposed to answering it with an error. Default: false.
    fn is_overload(&self) -> bool {
        false
    }
}
