//! The request and error types that travel a call edge, and the hook that puts a pattern stack
//! on an edge.
//!
//! The simulator does not know the patterns: a scenario gives each edge an [`EdgeStack`] that
//! wraps the simulator's transport call (a `Service` from `faultline-patterns`) in whatever
//! layers it wants, in the order it wants.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use faultline_patterns::balance::Routable;
use faultline_patterns::{BoxService, Classify, EventSink, Rejection};

use crate::record::Outcome;
use crate::rng::SimRng;

/// What a request carries down its call chain besides its id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meta {
    /// The data key it is about (from the workload's key space; 0 without one).
    pub key: u64,
    /// The API client that sent it (1-based; 0: no valid credentials).
    pub client: u32,
    /// When the original caller stops waiting (set by a `deadline` layer, carried on).
    pub deadline: Option<tokio::time::Instant>,
    /// The request's route (index into the workload's routes; 0 without routes).
    pub route: u16,
    /// An operation for an application service (a saga step, a publish, a delivery).
    pub op: Option<Op>,
}

/// An operation carried by a request: its name and up to three numbers whose meaning depends
/// on it (a saga step: the saga id; a message: event id, key, sequence number).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Op {
    /// e.g. `reserve`, `publish`, `deliver`.
    pub name: &'static str,
    /// The saga or event id.
    pub id: u64,
    /// The aggregate key (messages).
    pub key: u64,
    /// The sequence number within the key (messages).
    pub seq: u64,
}

/// One call on an edge. Retries clone it; every clone shares the attempt counter.
#[derive(Debug, Clone)]
pub struct CallRequest {
    /// The id of this call's record.
    pub id: u64,
    /// Attempts that reached the transport.
    pub attempts: Arc<AtomicU32>,
    /// The node whose answer the call got, as its index + 1 (0: none yet).
    pub replica: Arc<AtomicU32>,
    /// The callee replica a balancer chose (index among the callee's replicas); `None`: the
    /// transport's own round robin.
    pub endpoint: Option<usize>,
    /// Key and client; they travel down the call chain (caches and gateways use them).
    pub meta: Meta,
}

impl faultline_patterns::cache::Keyed for CallRequest {
    fn cache_key(&self) -> u64 {
        self.meta.key
    }
}

impl faultline_patterns::deadline::Deadlined for CallRequest {
    fn deadline(&self) -> Option<tokio::time::Instant> {
        self.meta.deadline
    }
    fn set_deadline(&mut self, at: tokio::time::Instant) {
        self.meta.deadline = Some(at);
    }
}

impl Routable for CallRequest {
    fn route_to(&mut self, index: usize) {
        self.endpoint = Some(index);
    }
}

impl CallRequest {
    /// A new call with no attempts yet.
    pub fn new(id: u64) -> Self {
        CallRequest {
            id,
            attempts: Arc::new(AtomicU32::new(0)),
            replica: Arc::new(AtomicU32::new(0)),
            endpoint: None,
            meta: Meta::default(),
        }
    }

    /// Attempts so far.
    pub fn attempts(&self) -> u32 {
        self.attempts.load(Ordering::Relaxed)
    }
}

/// Why a call failed.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CallError {
    /// The server answered with an error of its own (its error rate, an error burst).
    Server,
    /// The server answered with an error because one of its own dependency calls failed
    /// (after whatever retries that edge made). Recorded as `error`; a retry predicate can
    /// tell it apart, so that only the layer nearest a failure retries it (Google SRE).
    Dependency,
    /// The server shed the request (queue full).
    Rejected,
    /// The target was down: connection refused.
    Refused,
    /// No answer in time.
    Timeout,
    /// A pattern on the caller's side refused the call without making it (breaker open,
    /// bulkhead full): which pattern, in what state, and when to try again.
    Shed(Rejection),
    /// A gateway refused the request: no valid credentials (401). Not retried by default.
    Unauthorized,
    /// A gateway refused the request: its client is over its rate limit (429).
    RateLimited,
    /// An event store refused an append: the stream is not at the expected version (409).
    /// Not retried as is: the writer must read again and decide again.
    Conflict,
}

impl CallError {
    /// Names for retry predicates, in the order of [`CallError::parse`].
    pub const NAMES: &'static str =
        "error, dependency_error, timeout, rejected, refused, shed, unauthorized, rate_limited, conflict";

    /// The name a scenario uses for this error in a retry predicate.
    pub fn name(self) -> &'static str {
        match self {
            CallError::Server => "error",
            CallError::Dependency => "dependency_error",
            CallError::Rejected => "rejected",
            CallError::Refused => "refused",
            CallError::Timeout => "timeout",
            CallError::Shed(_) => "shed",
            CallError::Unauthorized => "unauthorized",
            CallError::RateLimited => "rate_limited",
            CallError::Conflict => "conflict",
        }
    }

    /// Whether `other` is the same kind of error (a refusal by any pattern is a `shed`).
    pub fn same_kind(self, other: CallError) -> bool {
        self.name() == other.name()
    }

    /// Parses a name from [`CallError::NAMES`] (a `shed` is one by any pattern: compare kinds
    /// with [`CallError::same_kind`]).
    pub fn parse(name: &str) -> Option<CallError> {
        [
            CallError::Server,
            CallError::Dependency,
            CallError::Timeout,
            CallError::Rejected,
            CallError::Refused,
            CallError::Shed(Rejection::by("any")),
            CallError::Unauthorized,
            CallError::RateLimited,
            CallError::Conflict,
        ]
        .into_iter()
        .find(|e| e.name() == name)
    }

    /// The record outcome for this error.
    pub fn outcome(self) -> Outcome {
        match self {
            CallError::Server | CallError::Dependency => Outcome::Error,
            CallError::Rejected => Outcome::Rejected,
            CallError::Refused => Outcome::Refused,
            CallError::Timeout => Outcome::Timeout,
            CallError::Shed(_) => Outcome::Shed,
            CallError::Unauthorized => Outcome::Unauthorized,
            CallError::RateLimited => Outcome::RateLimited,
            CallError::Conflict => Outcome::Conflict,
        }
    }
}

/// The variant's name only: a refusal's details stay in the value (see [`Classify::rejection`])
/// and out of event texts.
impl std::fmt::Debug for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CallError::Server => "Server",
            CallError::Dependency => "Dependency",
            CallError::Rejected => "Rejected",
            CallError::Refused => "Refused",
            CallError::Timeout => "Timeout",
            CallError::Shed(_) => "Shed",
            CallError::Unauthorized => "Unauthorized",
            CallError::RateLimited => "RateLimited",
            CallError::Conflict => "Conflict",
        })
    }
}

impl Classify for CallError {
    fn is_retryable(&self) -> bool {
        // Retrying a local refusal only asks the same pattern again; bad credentials stay bad.
        !matches!(self, CallError::Shed(_) | CallError::Unauthorized | CallError::Conflict)
    }
    fn timed_out(_after: Duration) -> Self {
        CallError::Timeout
    }
    fn is_timeout(&self) -> bool {
        *self == CallError::Timeout
    }
    fn shed(pattern: &'static str) -> Self {
        CallError::Shed(Rejection::by(pattern))
    }
    fn is_shed(&self) -> bool {
        matches!(self, CallError::Shed(_))
    }
    fn rejected(rejection: Rejection) -> Self {
        CallError::Shed(rejection)
    }
    fn rejection(&self) -> Option<Rejection> {
        match self {
            CallError::Shed(r) => Some(*r),
            _ => None,
        }
    }
    fn injected(_pattern: &'static str) -> Self {
        CallError::Server
    }
    fn is_overload(&self) -> bool {
        matches!(self, CallError::Rejected | CallError::RateLimited)
    }
}

/// How a successful call was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// By the callee.
    Full,
    /// By a fallback on the caller's side (a degraded answer).
    Fallback,
    /// By the callee, without the parts that optional dependencies failed to provide (API
    /// composition with a partial fallback).
    Partial,
    /// By the callee, with a number (a stream's version read from an event store).
    Value(u64),
}

/// A call edge's service type.
pub type EdgeService = BoxService<CallRequest, Served, CallError>;

/// Where a stack is being built: which edge, on which node, with what randomness and event sink.
pub struct EdgeContext {
    /// Calling service.
    pub from: String,
    /// Called service.
    pub to: String,
    /// The calling node (one stack per node, rebuilt when the node restarts).
    pub node: String,
    /// How many replicas the callee has (endpoints for a balancer).
    pub replicas: usize,
    /// Probes callee replica `i`'s readiness (for health-checking balancers).
    pub probe: faultline_patterns::health::EndpointProbe,
    /// A client of the named cache service, from this node (`None`: no such service).
    pub cache: CacheFactory,
    /// Which callee replicas service discovery lists now.
    pub membership: faultline_patterns::balance::Membership,
    /// The run's root seed (use [`EdgeContext::stream`]).
    pub seed: u64,
    /// Where pattern decisions go (the run's event log).
    pub events: Arc<dyn EventSink>,
    /// The clock patterns wait with: the run's cancellable timer (madsim's own cannot cancel,
    /// see `faultline_patterns::time`).
    pub clock: faultline_patterns::Clock,
}

impl EdgeContext {
    /// An independent random stream for one layer of this edge on this node, e.g.
    /// `ctx.stream("0/retry")` for jitter.
    pub fn stream(&self, layer: &str) -> SimRng {
        crate::rng::stream(self.seed, &format!("edge/{}/{}/{}/{layer}", self.from, self.to, self.node))
    }
}

/// Makes clients of cache services (see [`EdgeContext::cache`]).
pub type CacheFactory =
    Arc<dyn Fn(&str) -> Option<Arc<dyn faultline_patterns::cache::CacheStore<Served>>> + Send + Sync>;

/// Puts patterns on an edge.
pub trait EdgeStack: Send + Sync {
    /// Wraps the transport call `base` for the edge described by `ctx`.
    fn wrap(&self, base: EdgeService, ctx: EdgeContext) -> EdgeService;
    /// A short description for logs and summaries, e.g. `retry(3) > timeout(500ms)`.
    fn describe(&self) -> String;
}

/// The empty stack: the bare transport call.
#[derive(Debug, Default, Clone, Copy)]
pub struct Bare;

impl EdgeStack for Bare {
    fn wrap(&self, base: EdgeService, _ctx: EdgeContext) -> EdgeService {
        base
    }
    fn describe(&self) -> String {
        "bare".to_owned()
    }
}
