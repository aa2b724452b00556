//! One service of a simulated system: its replicas, capacity, failures, dependencies, and the
//! application it runs (if any).

use std::collections::BTreeMap;
use std::time::Duration;

use super::app::{AppSpec, ParticipantSpec};
use crate::dist::Dist;

/// A service: replicas with the same handler.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    /// Unique name: letters (any script), digits and `_`; not `client` or `sim`.
    pub name: String,
    /// Number of replicas (nodes `name-0`, `name-1`...). Default 1.
    pub replicas: u32,
    /// Time to handle one request, before calling dependencies. Default `exp(5ms)`.
    pub service_time: Dist,
    /// Requests handled at once per replica. Default 16.
    pub concurrency: u32,
    /// Requests that may wait per replica; more are rejected. Default 128.
    pub queue: u32,
    /// Probability that a request fails on its own. Default 0.
    pub error_rate: f64,
    /// Services called, in order, for every request (all must succeed).
    pub calls: Vec<String>,
    /// Dependencies whose health the replica's readiness includes (it probes them every
    /// `readiness_period`); empty: ready whenever it is up.
    pub readiness: Vec<String>,
    /// How often readiness dependencies are probed. Default 1 s.
    pub readiness_period: Duration,
    /// Call the dependencies all at once instead of in order (API composition). Default false.
    pub parallel: bool,
    /// Dependencies whose failure leaves the answer `partial` instead of failing it.
    pub optional: Vec<String>,
    /// Gateway duties, checked before any work.
    pub gateway: Option<GatewaySpec>,
    /// Routing: for each workload route, the dependencies (among `calls`) a request on it
    /// calls. Empty: every request calls every dependency. A route not listed calls none.
    pub routes: BTreeMap<String, Vec<String>>,
    /// After each (re)start, the replica refuses connections and reports not ready for this
    /// long (a startup probe's grace). Default 0.
    pub startup: Duration,
    /// A supervisor (like a kubelet) probes each replica and restarts one that fails this many
    /// probes in a row; `None`: no liveness probing.
    pub liveness: Option<faultline_patterns::health::ProbeConfig>,
    /// Idempotency keys: a request whose id (kept by retries and duplicated messages) already
    /// succeeded is answered from the stored result instead of being executed again; a
    /// duplicate of one still running waits for its outcome. Default false.
    pub idempotency: bool,
    /// Record every successful execution (`service.executed`), so that the `exactly_once`
    /// checker fails a run in which one request runs twice (a double charge). Default false.
    pub exactly_once_check: bool,
    /// An application the service runs instead of the generic work (see [`AppSpec`]). A
    /// service an order saga calls without an application of its own is a saga participant.
    pub app: Option<AppSpec>,
    /// Register replicas with service discovery: (heartbeat period, TTL). A replica heartbeats
    /// once started; the registry drops it after a TTL without a heartbeat (crashed, frozen).
    pub register: Option<(Duration, Duration)>,
}

/// What a gateway service checks on every request.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewaySpec {
    /// Refuse requests without valid credentials (`unauthorized`).
    pub auth: bool,
    /// A rate limit per API client (`rate_limited` beyond it), per gateway replica.
    pub per_client: Option<faultline_patterns::rate_limiter::RateLimitConfig>,
}

impl ServiceSpec {
    /// A service with the defaults.
    pub fn new(name: impl Into<String>) -> Self {
        ServiceSpec {
            name: name.into(),
            replicas: 1,
            service_time: Dist::Exp(Duration::from_millis(5)),
            concurrency: 16,
            queue: 128,
            error_rate: 0.0,
            calls: Vec::new(),
            readiness: Vec::new(),
            readiness_period: Duration::from_secs(1),
            parallel: false,
            optional: Vec::new(),
            gateway: None,
            routes: BTreeMap::new(),
            startup: Duration::ZERO,
            liveness: None,
            idempotency: false,
            exactly_once_check: false,
            app: None,
            register: None,
        }
    }

    /// The name of the service's application, if it runs one.
    pub fn app_name(&self) -> Option<&'static str> {
        self.app.as_ref().map(AppSpec::name)
    }

    /// Its settings as a saga participant (orchestrated or choreographed), if it is one.
    pub fn participant(&self) -> Option<&ParticipantSpec> {
        self.app.as_ref().and_then(AppSpec::participant)
    }

    /// Sets the replica count.
    pub fn replicas(mut self, n: u32) -> Self {
        self.replicas = n;
        self
    }

    /// Sets the service-time distribution.
    pub fn service_time(mut self, d: Dist) -> Self {
        self.service_time = d;
        self
    }

    /// Sets concurrency and queue length.
    pub fn capacity(mut self, concurrency: u32, queue: u32) -> Self {
        self.concurrency = concurrency;
        self.queue = queue;
        self
    }

    /// Sets the error rate.
    pub fn error_rate(mut self, p: f64) -> Self {
        self.error_rate = p;
        self
    }

    /// Sets the dependencies.
    pub fn calls<S: Into<String>>(mut self, deps: impl IntoIterator<Item = S>) -> Self {
        self.calls = deps.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the application.
    pub fn app(mut self, app: AppSpec) -> Self {
        self.app = Some(app);
        self
    }
}
