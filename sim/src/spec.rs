//! The description of a simulated system and run, and the builder that validates it.
//!
//! ```
//! use std::time::Duration;
//! use faultline_sim::{Arrivals, Dist, FaultKind, ServiceSpec, SimSpec, Target, Workload, Fault};
//! let spec = SimSpec::builder("tiny")
//!     .seed(7)
//!     .duration(Duration::from_secs(10))
//!     .service(ServiceSpec::new("api").service_time(Dist::parse("exp(5ms)").unwrap()).calls(["db"]))
//!     .service(ServiceSpec::new("db").service_time(Dist::parse("const(2ms)").unwrap()))
//!     .workload(Workload { target: "api".into(), arrivals: Arrivals::Poisson { rate_per_s: 20.0 }, keys: None, clients: None, routes: vec![] })
//!     .fault(Fault::new(FaultKind::Outage, Target::parse("db").unwrap(), Duration::from_secs(3), Some(Duration::from_secs(2))))
//!     .build()
//!     .unwrap();
//! assert_eq!(spec.services.len(), 2);
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::call::{Bare, EdgeStack};
use crate::dist::Dist;
use crate::fault::{Fault, FaultKind, FaultPlan, Target};
use crate::workload::{Arrivals, Workload};

/// The name of the workload's node and the caller on the entry edge.
pub const CLIENT: &str = "client";

/// A service: replicas with the same handler.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    /// Unique name (`[A-Za-z0-9_]`, not `client`).
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
    /// Count successful executions per request id and fail the run on a second one (a double
    /// charge). Opt-in: it remembers every id. Default false.
    pub exactly_once_check: bool,
    /// An application the service runs instead of the generic work (see [`AppSpec`]).
    pub app: Option<AppSpec>,
    /// As a saga participant: the actions (not compensations) of sagas whose id is a multiple
    /// of this fail for good (a declined card, say). `None`: never.
    pub decline_every: Option<u64>,
    /// As a saga participant (orchestrated or choreographed): units of each item (the
    /// request's data key) in stock; its action takes one (refused when none is left), its
    /// compensation returns it. `None`: unlimited.
    pub stock: Option<u64>,
    /// As a saga participant: operations applied again on every delivery instead of once per
    /// saga (a planted bug: a non-idempotent compensation).
    pub non_idempotent: Vec<String>,
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

/// An application a service runs instead of the generic work (the consistency patterns), with
/// its settings. The `false`/non-default settings marked "planted bug" exist so that checkers
/// can be shown catching them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppSpec {
    /// Orchestrates the order saga over its calls (inventory, payment, shipping).
    OrderSaga {
        /// Compensate failed sagas (false: planted bug).
        compensate: bool,
        /// Hold a semantic lock on the saga's item from its reservation until the saga ends
        /// (another saga wanting the item waits); lifted by `release` or by `confirm`.
        semantic_lock: bool,
    },
    /// A participant of the choreographed order saga (the service named inventory, payment or
    /// shipping runs that step; any other one starts sagas and records their outcome): reacts
    /// to saga events delivered by the broker it calls, publishing its own through an outbox.
    SagaChoreography {
        /// React to failures with compensations (false: planted bug).
        compensate: bool,
        /// On the initiator: inventory holds a semantic lock on the saga's item from its
        /// reservation until the saga ends, and parks the sagas that want a held item.
        semantic_lock: bool,
    },
    /// Writes changes with a transactional outbox and relays them to the broker it calls.
    Outbox {
        /// How the change and its message are written.
        mode: OutboxMode,
        /// The relay publishes its batch all at once (planted bug: per-key order lost).
        relay_parallel: bool,
        /// How the relay finds what to publish.
        relay: Relay,
    },
    /// A push broker delivering to the consumer it calls.
    Broker {
        /// Messages go to key mod partitions.
        partitions: u32,
    },
    /// Applies delivered messages.
    Consumer {
        /// Apply each event id once (false: planted bug).
        dedup: bool,
    },
    /// Event streams with optimistic concurrency.
    EventStore {
        /// Refuse stale appends (false: planted bug, last writer wins).
        version_check: bool,
    },
    /// Reads a stream, works, appends with the version read (calls an event store).
    EsWriter,
    /// An event-sourced bank account (calls an event store): loads the account by replaying
    /// its events, from the latest snapshot if there is one, deposits or withdraws (never
    /// below zero), and appends with the version it loaded.
    Account {
        /// Save a snapshot every this many events (0: never; every load replays the stream).
        snapshot_every: u32,
        /// The snapshot holds the balance before the event it claims to include (planted bug).
        snapshot_off_by_one: bool,
    },
    /// A CQRS read model: follows the event store it calls from a durable checkpoint and
    /// counts each stream's events.
    Projector {
        /// Events read per round (concurrent reads of consecutive positions).
        batch: u32,
        /// The read model and its checkpoint are written in one transaction (false: planted
        /// bug, a crash between the two applies an event twice).
        atomic: bool,
    },
}

/// How an outbox writer writes a change and its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxMode {
    /// Change and outbox record in one local transaction, published by the relay.
    Outbox,
    /// Planted bug: commit, then publish from the request (a crash between loses the event).
    DualWriteCommitFirst,
    /// Planted bug: publish, then commit (a crash between leaves a phantom event).
    DualWritePublishFirst,
}

/// How an outbox relay finds the messages to publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relay {
    /// Polling publisher: every 10 ms, reads the outbox rows in order, publishes each and
    /// deletes it after the broker's ack.
    Polling,
    /// Transaction log tailing (change data capture): follows the database's commit log from a
    /// durable read position, advanced after each ack; nothing is deleted.
    LogTailing,
}

impl AppSpec {
    /// The name used in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            AppSpec::OrderSaga { .. } => "order_saga",
            AppSpec::SagaChoreography { .. } => "saga_choreography",
            AppSpec::Outbox { .. } => "outbox",
            AppSpec::Broker { .. } => "broker",
            AppSpec::Consumer { .. } => "consumer",
            AppSpec::EventStore { .. } => "event_store",
            AppSpec::EsWriter => "es_writer",
            AppSpec::Projector { .. } => "projector",
            AppSpec::Account { .. } => "account",
        }
    }
}

impl SimSpec {
    /// Whether the saga (orchestrated or choreographed) holds a semantic lock on its items.
    pub fn semantic_lock(&self) -> bool {
        self.services.iter().any(|s| {
            matches!(
                s.app,
                Some(
                    AppSpec::OrderSaga { semantic_lock: true, .. }
                        | AppSpec::SagaChoreography { semantic_lock: true, .. }
                )
            )
        })
    }
}

impl ServiceSpec {
    /// The name of the service's application, if it runs one.
    pub fn app_name(&self) -> Option<&'static str> {
        self.app.as_ref().map(AppSpec::name)
    }

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
            decline_every: None,
            stock: None,
            non_idempotent: Vec::new(),
            register: None,
        }
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
}

/// Message behaviour on a link (or the network default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkModel {
    /// One-way latency. Default `uniform(1ms, 3ms)`; madsim adds a 2 ms floor per message.
    pub latency: Dist,
    /// Probability a message is lost. Default 0.
    pub loss: f64,
    /// Probability a message is delivered twice. Default 0.
    pub duplicate: f64,
    /// Probability a message is held back by up to `reorder_window`, letting later ones pass.
    pub reorder: f64,
    /// How far a reordered message is held back. Default 20 ms.
    pub reorder_window: Duration,
}

impl Default for LinkModel {
    fn default() -> Self {
        LinkModel {
            latency: Dist::Uniform(Duration::from_millis(1), Duration::from_millis(3)),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_window: Duration::from_millis(20),
        }
    }
}

/// The network: a default link model, per-link overrides, and the transport's hard timeout.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkSpec {
    /// Applies to every link without an override.
    pub default: LinkModel,
    /// Overrides by (from service, to service); both directions must be given to cover both.
    pub links: BTreeMap<(String, String), LinkModel>,
    /// A call with no answer fails after this long even with no timeout pattern (like a client
    /// library's default). Default 30 s.
    pub call_timeout: Duration,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec { default: LinkModel::default(), links: BTreeMap::new(), call_timeout: Duration::from_secs(30) }
    }
}

/// A complete, validated description of one run.
#[derive(Clone)]
pub struct SimSpec {
    /// Scenario name.
    pub name: String,
    /// Root seed.
    pub seed: u64,
    /// How long the workload sends.
    pub duration: Duration,
    /// After the workload stops, how long in-flight requests may finish. Default 60 s.
    pub drain: Duration,
    /// A run in which requests are in flight but none completes for this long has stalled
    /// ("quiet but work pending", e.g. a deadlock): the watchdog records it and the run's
    /// checks fail. Default 120 s; `None` turns the watchdog off.
    pub stall_after: Option<Duration>,
    /// After the drain, keep running this long so that background work (relays, deliveries,
    /// resumed sagas) can finish before the run is checked. Default 0.
    pub settle: Duration,
    /// Services by declaration order.
    pub services: Vec<ServiceSpec>,
    /// The network.
    pub network: NetworkSpec,
    /// Pattern stacks by (caller, callee); edges without one are bare.
    pub edges: BTreeMap<(String, String), Arc<dyn EdgeStack>>,
    /// The workload.
    pub workload: Workload,
    /// The fault plan.
    pub faults: FaultPlan,
}

impl fmt::Debug for SimSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimSpec")
            .field("name", &self.name)
            .field("seed", &self.seed)
            .field("duration", &self.duration)
            .field("services", &self.services)
            .field("edges", &self.edges.iter().map(|(k, v)| (k, v.describe())).collect::<Vec<_>>())
            .field("workload", &self.workload)
            .field("faults", &self.faults)
            .finish()
    }
}

impl SimSpec {
    /// Starts a builder.
    pub fn builder(name: impl Into<String>) -> SimBuilder {
        SimBuilder {
            spec: SimSpec {
                name: name.into(),
                seed: 1,
                duration: Duration::from_secs(60),
                drain: Duration::from_secs(60),
                stall_after: Some(Duration::from_secs(120)),
                settle: Duration::ZERO,
                services: Vec::new(),
                network: NetworkSpec::default(),
                edges: BTreeMap::new(),
                workload: Workload {
                    target: String::new(),
                    arrivals: Arrivals::Poisson { rate_per_s: 10.0 },
                    keys: None,
                    clients: None,
                    routes: Vec::new(),
                },
                faults: FaultPlan::default(),
            },
        }
    }

    /// The stack on an edge (bare if none was set).
    pub fn stack(&self, from: &str, to: &str) -> Arc<dyn EdgeStack> {
        self.edges.get(&(from.to_owned(), to.to_owned())).cloned().unwrap_or_else(|| Arc::new(Bare))
    }

    /// All call edges: the entry edge first, then every dependency call, in declaration order.
    pub fn call_edges(&self) -> Vec<(String, String)> {
        let mut edges = vec![(CLIENT.to_owned(), self.workload.target.clone())];
        for s in &self.services {
            for d in &s.calls {
                edges.push((s.name.clone(), d.clone()));
            }
        }
        edges
    }
}

/// A problem with a spec: which field, what value, what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// Dotted path of the field, e.g. `services.payment.replicas`.
    pub key: String,
    /// The value found.
    pub value: String,
    /// What is allowed.
    pub allowed: String,
}

impl SpecError {
    fn new(key: impl Into<String>, value: impl fmt::Display, allowed: impl Into<String>) -> Self {
        SpecError { key: key.into(), value: value.to_string(), allowed: allowed.into() }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` = {}: expected {}", self.key, self.value, self.allowed)
    }
}

impl std::error::Error for SpecError {}

/// Builds a [`SimSpec`]; `build` checks it whole.
pub struct SimBuilder {
    spec: SimSpec,
}

impl SimBuilder {
    /// Sets the root seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.spec.seed = seed;
        self
    }
    /// Sets how long the workload runs.
    pub fn duration(mut self, d: Duration) -> Self {
        self.spec.duration = d;
        self
    }
    /// Sets the drain time after the workload stops.
    pub fn drain(mut self, d: Duration) -> Self {
        self.spec.drain = d;
        self
    }
    /// Sets the settle time after the drain.
    pub fn settle(mut self, d: Duration) -> Self {
        self.spec.settle = d;
        self
    }
    /// Sets (or with `None` turns off) the stall watchdog.
    pub fn stall_after(mut self, d: Option<Duration>) -> Self {
        self.spec.stall_after = d;
        self
    }
    /// Adds a service.
    pub fn service(mut self, s: ServiceSpec) -> Self {
        self.spec.services.push(s);
        self
    }
    /// Sets the network.
    pub fn network(mut self, n: NetworkSpec) -> Self {
        self.spec.network = n;
        self
    }
    /// Puts a pattern stack on the edge `from -> to` (`from` may be `client`).
    pub fn edge(mut self, from: impl Into<String>, to: impl Into<String>, stack: Arc<dyn EdgeStack>) -> Self {
        self.spec.edges.insert((from.into(), to.into()), stack);
        self
    }
    /// Sets the workload.
    pub fn workload(mut self, w: Workload) -> Self {
        self.spec.workload = w;
        self
    }
    /// Adds a fault.
    pub fn fault(mut self, f: Fault) -> Self {
        self.spec.faults.0.push(f);
        self
    }

    /// Validates and returns the spec.
    pub fn build(self) -> Result<SimSpec, SpecError> {
        validate(&self.spec)?;
        Ok(self.spec)
    }
}

fn check_probability(key: String, p: f64) -> Result<(), SpecError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(SpecError::new(key, p, "a probability from 0 to 1"))
    }
}

fn validate(spec: &SimSpec) -> Result<(), SpecError> {
    // The name becomes part of output paths: no separators, no leading dot.
    let name_ok = !spec.name.is_empty()
        && spec.name.len() <= 80
        && !spec.name.starts_with('.')
        && spec.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !name_ok {
        return Err(SpecError::new(
            "name",
            format!("\"{}\"", spec.name),
            "letters, digits, - _ . (not starting with a dot), at most 80",
        ));
    }
    if spec.duration.is_zero() || spec.duration > Duration::from_secs(7 * 24 * 3600) {
        return Err(SpecError::new(
            "duration_s",
            spec.duration.as_secs_f64(),
            "a number of seconds above 0 and at most a week (604800)",
        ));
    }
    if spec.stall_after.is_some_and(|d| d < Duration::from_secs(1)) {
        return Err(SpecError::new(
            "stall_after_s",
            spec.stall_after.map_or(0.0, |d| d.as_secs_f64()),
            "at least 1 second (or 0 to turn the watchdog off)",
        ));
    }
    if spec.services.is_empty() {
        return Err(SpecError::new("services", "(none)", "at least one service"));
    }
    let mut names = BTreeSet::new();
    for s in &spec.services {
        let key = |f: &str| format!("services.{}.{f}", s.name);
        let valid_name = !s.name.is_empty()
            && s.name.len() <= 40
            && s.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && s.name != CLIENT
            && s.name != "sim";
        if !valid_name {
            return Err(SpecError::new(
                "services",
                format!("\"{}\"", s.name),
                "a name of letters, digits and _ (not `client` or `sim`)",
            ));
        }
        if !names.insert(s.name.as_str()) {
            return Err(SpecError::new("services", format!("\"{}\"", s.name), "unique service names"));
        }
        if !(1..=64).contains(&s.replicas) {
            return Err(SpecError::new(key("replicas"), s.replicas, "an integer from 1 to 64"));
        }
        if !(1..=100_000).contains(&s.concurrency) {
            return Err(SpecError::new(key("concurrency"), s.concurrency, "an integer from 1 to 100000"));
        }
        if s.queue > 10_000_000 {
            return Err(SpecError::new(key("queue"), s.queue, "an integer from 0 to 10000000"));
        }
        check_probability(key("error_rate"), s.error_rate)?;
    }
    for s in &spec.services {
        for (field, list) in [("calls", &s.calls), ("readiness", &s.readiness)] {
            for d in list {
                if !names.contains(d.as_str()) || *d == s.name {
                    return Err(SpecError::new(
                        format!("services.{}.{field}", s.name),
                        format!("\"{d}\""),
                        format!("one of the other services: {}", join(&names)),
                    ));
                }
            }
        }
        for (route, deps) in &s.routes {
            if !spec.workload.routes.iter().any(|(r, _)| r == route) {
                let known: Vec<&str> = spec.workload.routes.iter().map(|(r, _)| r.as_str()).collect();
                return Err(SpecError::new(
                    format!("services.{}.routes", s.name),
                    format!("\"{route}\""),
                    format!("a workload route: {}", known.join(", ")),
                ));
            }
            for d in deps {
                if !s.calls.contains(d) {
                    return Err(SpecError::new(
                        format!("services.{}.routes.{route}", s.name),
                        format!("\"{d}\""),
                        format!("one of its calls: {}", s.calls.join(", ")),
                    ));
                }
            }
        }
        for d in &s.optional {
            if !s.calls.contains(d) {
                return Err(SpecError::new(
                    format!("services.{}.optional", s.name),
                    format!("\"{d}\""),
                    format!("one of its calls: {}", s.calls.join(", ")),
                ));
            }
        }
        if let Some(limit) = s.gateway.as_ref().and_then(|g| g.per_client) {
            if let Err(c) = limit.validate() {
                return Err(SpecError::new(
                    format!("services.{}.gateway.client_{}", s.name, c.key),
                    c.value,
                    c.allowed,
                ));
            }
        }
        // Applications that call one other application check what they call.
        let single_callee = |want: &str| {
            let callee = s.calls.first().and_then(|c| spec.services.iter().find(|x| &x.name == c));
            if s.calls.len() == 1 && callee.and_then(ServiceSpec::app_name) == Some(want) {
                Ok(())
            } else {
                Err(SpecError::new(
                    format!("services.{}.calls", s.name),
                    format!("{:?}", s.calls),
                    format!("one service whose app is {want}"),
                ))
            }
        };
        match s.app {
            None | Some(AppSpec::Consumer { .. } | AppSpec::EventStore { .. }) => {}
            Some(AppSpec::EsWriter | AppSpec::Account { .. }) => single_callee("event_store")?,
            Some(AppSpec::Projector { batch, .. }) => {
                single_callee("event_store")?;
                if !(1..=256).contains(&batch) {
                    return Err(SpecError::new(
                        format!("services.{}.projection_batch", s.name),
                        batch,
                        "an integer from 1 to 256",
                    ));
                }
            }
            Some(AppSpec::Outbox { .. }) => single_callee("broker")?,
            Some(AppSpec::SagaChoreography { semantic_lock, .. }) => {
                single_callee("broker")?;
                check_lock_has_stock(spec, s, semantic_lock)?;
            }
            Some(AppSpec::Broker { partitions }) => {
                // Each service it calls is a consumer group: every message goes to each.
                let consumer = |c: &String| {
                    spec.services
                        .iter()
                        .find(|x| &x.name == c)
                        .and_then(ServiceSpec::app_name)
                        .is_some_and(|a| a == "consumer" || a == "saga_choreography")
                };
                if s.calls.is_empty() || !s.calls.iter().all(consumer) {
                    return Err(SpecError::new(
                        format!("services.{}.calls", s.name),
                        format!("{:?}", s.calls),
                        "services whose app is consumer or saga_choreography (one consumer group each)",
                    ));
                }
                if !(1..=1024).contains(&partitions) {
                    return Err(SpecError::new(
                        format!("services.{}.partitions", s.name),
                        partitions,
                        "an integer from 1 to 1024",
                    ));
                }
            }
            Some(AppSpec::OrderSaga { semantic_lock, .. }) => {
                let want = ["inventory", "payment", "shipping"];
                if s.calls.len() != 3 || want.iter().any(|w| !s.calls.iter().any(|c| c == w)) {
                    return Err(SpecError::new(
                        format!("services.{}.calls", s.name),
                        format!("{:?}", s.calls),
                        "the order saga's participants: inventory, payment, shipping",
                    ));
                }
                check_lock_has_stock(spec, s, semantic_lock)?;
            }
        }
        let orchestrated =
            spec.services.iter().any(|o| matches!(o.app, Some(AppSpec::OrderSaga { .. })) && o.calls.contains(&s.name));
        if s.stock.is_some() && !orchestrated && !matches!(s.app, Some(AppSpec::SagaChoreography { .. })) {
            return Err(SpecError::new(
                format!("services.{}.stock", s.name),
                s.stock.unwrap_or(0),
                "no stock: only a saga participant keeps one (called by an order_saga, or a saga_choreography member)",
            ));
        }
        if s.decline_every == Some(0) {
            return Err(SpecError::new(format!("services.{}.decline_every", s.name), 0, "an integer >= 1"));
        }
        if let Some((heartbeat, ttl)) = s.register {
            if heartbeat.is_zero() || ttl <= heartbeat {
                return Err(SpecError::new(
                    format!("services.{}.register.ttl_ms", s.name),
                    ttl.as_millis(),
                    "a TTL longer than the heartbeat period (> 0)",
                ));
            }
        }
        if let Some(l) = s.liveness {
            if let Err(c) = l.validate() {
                return Err(SpecError::new(format!("services.{}.liveness.{}", s.name, c.key), c.value, c.allowed));
            }
        }
        if s.readiness_period.is_zero() {
            return Err(SpecError::new(format!("services.{}.readiness_period_ms", s.name), 0, "a duration > 0"));
        }
    }
    check_choreography(spec)?;
    if let Some(cycle) = find_cycle(spec) {
        return Err(SpecError::new("services", cycle, "calls without a cycle"));
    }
    if !names.contains(spec.workload.target.as_str()) {
        return Err(SpecError::new(
            "workload.target",
            format!("\"{}\"", spec.workload.target),
            format!("one of the services: {}", join(&names)),
        ));
    }
    validate_arrivals(&spec.workload.arrivals)?;
    for (route, share) in &spec.workload.routes {
        if !(share.is_finite() && *share > 0.0) {
            return Err(SpecError::new(format!("workload.routes.{route}"), share, "a share > 0"));
        }
    }
    if let Some(c) = spec.workload.clients {
        if !(1..=1_000_000).contains(&c.count) {
            return Err(SpecError::new("workload.api_clients", c.count, "an integer from 1 to 1000000"));
        }
        check_probability("workload.unauthenticated".into(), c.unauthenticated)?;
        check_probability("workload.noisy_client_share".into(), c.noisy_share)?;
    }
    if let Some(k) = spec.workload.keys {
        if !(1..=1_000_000).contains(&k.count) {
            return Err(SpecError::new("workload.keys", k.count, "an integer from 1 to 1000000"));
        }
        if !(0.0..=5.0).contains(&k.skew) {
            return Err(SpecError::new("workload.key_skew", k.skew, "a Zipf exponent from 0 to 5"));
        }
    }
    let edges: BTreeSet<(String, String)> = spec.call_edges().into_iter().collect();
    for (from, to) in spec.edges.keys() {
        if !edges.contains(&(from.clone(), to.clone())) {
            let list: Vec<String> = edges.iter().map(|(a, b)| format!("{a}->{b}")).collect();
            return Err(SpecError::new(
                "edges",
                format!("\"{from}->{to}\""),
                format!("an edge the system calls: {}", list.join(", ")),
            ));
        }
    }
    validate_link("network", &spec.network.default)?;
    for ((from, to), link) in &spec.network.links {
        for end in [from, to] {
            if end != CLIENT && !names.contains(end.as_str()) {
                return Err(SpecError::new(
                    "network.links",
                    format!("\"{from}->{to}\""),
                    format!("links between services (or client): {}", join(&names)),
                ));
            }
        }
        validate_link(&format!("network.links.{from}->{to}"), link)?;
    }
    if spec.network.call_timeout.is_zero() {
        return Err(SpecError::new("network.call_timeout_ms", 0, "a duration > 0"));
    }
    for (i, f) in spec.faults.0.iter().enumerate() {
        validate_fault(i, f, spec, &names)?;
    }
    Ok(())
}

fn join(names: &BTreeSet<&str>) -> String {
    names.iter().copied().collect::<Vec<_>>().join(", ")
}

fn validate_link(key: &str, l: &LinkModel) -> Result<(), SpecError> {
    check_probability(format!("{key}.loss"), l.loss)?;
    check_probability(format!("{key}.duplicate"), l.duplicate)?;
    check_probability(format!("{key}.reorder"), l.reorder)
}

fn validate_arrivals(a: &Arrivals) -> Result<(), SpecError> {
    let rate = |k: &str, r: f64| {
        if r.is_finite() && (0.0..=1_000_000.0).contains(&r) {
            Ok(())
        } else {
            Err(SpecError::new(format!("workload.{k}"), r, "a rate from 0 to 1000000 per second"))
        }
    };
    match *a {
        Arrivals::Constant { rate_per_s } | Arrivals::Poisson { rate_per_s } => {
            if rate_per_s <= 0.0 {
                return Err(SpecError::new("workload.rate_per_s", rate_per_s, "a rate > 0"));
            }
            rate("rate_per_s", rate_per_s)
        }
        Arrivals::Burst { rate_per_s, burst_rate_per_s, burst_every, burst_len } => {
            rate("rate_per_s", rate_per_s)?;
            rate("burst_rate_per_s", burst_rate_per_s)?;
            if burst_every.is_zero() || burst_len > burst_every {
                return Err(SpecError::new(
                    "workload.burst_len_s",
                    burst_len.as_secs_f64(),
                    "a burst no longer than burst_every_s (> 0)",
                ));
            }
            Ok(())
        }
        Arrivals::Ramp { from_rate_per_s, to_rate_per_s } => {
            rate("from_rate_per_s", from_rate_per_s)?;
            rate("to_rate_per_s", to_rate_per_s)
        }
        Arrivals::Closed { clients, .. } => {
            if (1..=100_000).contains(&clients) {
                Ok(())
            } else {
                Err(SpecError::new("workload.clients", clients, "an integer from 1 to 100000"))
            }
        }
    }
}

/// True when `name` is a service or one of its replica nodes.
pub fn is_known_target(spec: &SimSpec, name: &str) -> bool {
    if name == CLIENT {
        return true;
    }
    spec.services.iter().any(|s| s.name == name || (0..s.replicas).any(|i| format!("{}-{i}", s.name) == name))
}

fn validate_fault(i: usize, f: &Fault, spec: &SimSpec, names: &BTreeSet<&str>) -> Result<(), SpecError> {
    let key = |k: &str| format!("faults[{i}].{k}");
    let known = |n: &str| {
        if is_known_target(spec, n) {
            Ok(())
        } else {
            let replicas: Vec<String> = names.iter().map(|s| format!("{s}-0")).collect();
            Err(SpecError::new(
                key("target"),
                format!("\"{n}\""),
                format!("a service ({}), a replica ({}, ...), or client", join(names), replicas.join(", ")),
            ))
        }
    };
    match &f.target {
        Target::Node(n) => known(n)?,
        Target::Link { from, to, .. } => {
            known(from)?;
            known(to)?;
        }
    }
    let is_link = matches!(f.target, Target::Link { .. });
    let link_ok = matches!(f.kind, FaultKind::Partition | FaultKind::PacketLoss { .. });
    if is_link && !link_ok {
        return Err(SpecError::new(
            key("target"),
            format!("\"{}\"", f.target),
            format!("a service or node for {}", f.kind.name()),
        ));
    }
    if !is_link && f.kind == FaultKind::Partition {
        return Err(SpecError::new(
            key("target"),
            format!("\"{}\"", f.target),
            "a link `a->b` or `a<->b` for a partition",
        ));
    }
    let needs_duration = !matches!(f.kind, FaultKind::Crash | FaultKind::Restart);
    match f.duration {
        None if needs_duration => {
            return Err(SpecError::new(key("duration_s"), "(missing)", format!("a duration for {}", f.kind.name())));
        }
        Some(_) if f.kind == FaultKind::Restart => {
            return Err(SpecError::new(
                key("duration_s"),
                "(given)",
                "no duration for restart (it is instantaneous; use crash with a duration)",
            ));
        }
        Some(d) if d.is_zero() => return Err(SpecError::new(key("duration_s"), 0, "a duration > 0")),
        _ => {}
    }
    match f.kind {
        FaultKind::ErrorBurst { rate } | FaultKind::PacketLoss { rate } => check_probability(key("rate"), rate),
        FaultKind::ClockSkew { offset_ms } if offset_ms.unsigned_abs() > 365 * 86_400_000 => {
            Err(SpecError::new(key("offset_ms"), offset_ms, "an offset of at most a year"))
        }
        _ => Ok(()),
    }
}

/// A semantic lock is on inventory's items: inventory must keep stock.
fn check_lock_has_stock(spec: &SimSpec, s: &ServiceSpec, semantic_lock: bool) -> Result<(), SpecError> {
    if semantic_lock && !spec.services.iter().any(|x| x.name == "inventory" && x.stock.is_some()) {
        return Err(SpecError::new(
            format!("services.{}.semantic_lock", s.name),
            true,
            "false, or true with `stock` set on inventory (the lock is on its items)",
        ));
    }
    Ok(())
}

/// A choreographed saga needs each participant of the order saga and one initiator, all
/// reached by the broker they publish to.
fn check_choreography(spec: &SimSpec) -> Result<(), SpecError> {
    let members: Vec<&ServiceSpec> =
        spec.services.iter().filter(|s| s.app_name() == Some("saga_choreography")).collect();
    if members.is_empty() {
        return Ok(());
    }
    let def = faultline_patterns::saga::SagaDefinition::order();
    let participants: Vec<&str> = def.steps.iter().map(|s| s.service).collect();
    for p in &participants {
        if !members.iter().any(|m| m.name == *p) {
            let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
            return Err(SpecError::new(
                "services",
                format!("{names:?} with app saga_choreography"),
                format!("one of each participant ({}) and one initiator", participants.join(", ")),
            ));
        }
    }
    let initiators: Vec<&str> = members.iter().map(|m| m.name.as_str()).filter(|n| !participants.contains(n)).collect();
    if initiators.len() != 1 {
        return Err(SpecError::new(
            "services",
            format!("initiators {initiators:?}"),
            "exactly one saga_choreography service besides inventory, payment and shipping (it starts the sagas)",
        ));
    }
    for m in &members {
        let broker = spec.services.iter().find(|b| m.calls.first() == Some(&b.name));
        if !broker.is_some_and(|b| b.calls.contains(&m.name)) {
            return Err(SpecError::new(
                format!("services.{}.calls", broker.map_or(m.name.as_str(), |b| b.name.as_str())),
                format!("{:?}", broker.map_or(&m.calls, |b| &b.calls)),
                format!("a broker that delivers to {} (it reacts to the saga's events)", m.name),
            ));
        }
    }
    Ok(())
}

/// A cycle of synchronous calls. A broker's deliveries are not part of any request (they run
/// from its log), so its calls do not close a cycle.
fn find_cycle(spec: &SimSpec) -> Option<String> {
    let deps: BTreeMap<&str, &Vec<String>> =
        spec.services.iter().filter(|s| s.app_name() != Some("broker")).map(|s| (s.name.as_str(), &s.calls)).collect();
    fn visit<'a>(
        n: &'a str,
        deps: &BTreeMap<&'a str, &'a Vec<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<String> {
        if let Some(pos) = path.iter().position(|p| *p == n) {
            let mut cycle: Vec<&str> = path[pos..].to_vec();
            cycle.push(n);
            return Some(format!("\"{}\"", cycle.join("->")));
        }
        if done.contains(n) {
            return None;
        }
        path.push(n);
        for d in deps.get(n).map(|v| v.as_slice()).unwrap_or(&[]) {
            if let Some(c) = visit(d, deps, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n);
        None
    }
    let mut done = BTreeSet::new();
    for s in &spec.services {
        if let Some(c) = visit(&s.name, &deps, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}
