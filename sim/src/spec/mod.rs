//! The description of a simulated system and run, and the builder that validates it.
//!
//! - [`service`]: a service (replicas, capacity, errors, dependencies, gateway duties);
//! - [`app`]: the applications a service can run (sagas, outbox, broker, event store...);
//! - [`network`]: link models and the transport's hard timeout;
//! - `validate`: the checks [`SimBuilder::build`] runs, each naming the key it rejects.
//!
//! ```
//! use std::time::Duration;
//! use faultline_sim::{Arrivals, Dist, FaultKind, ServiceSpec, SimSpec, Target, Workload, Fault};
//! let spec = SimSpec::builder("tiny")
//!     .seed(7)
//!     .duration(Duration::from_secs(10))
//!     .service(ServiceSpec::new("api").service_time(Dist::parse("exp(5ms)").unwrap()).calls(["db"]))
//!     .service(ServiceSpec::new("db").service_time(Dist::parse("const(2ms)").unwrap()))
//!     .workload(Workload::new("api", Arrivals::Poisson { rate_per_s: 20.0 }))
//!     .fault(Fault::new(FaultKind::Outage, Target::parse("db").unwrap(), Duration::from_secs(3), Some(Duration::from_secs(2))))
//!     .build()
//!     .unwrap();
//! assert_eq!(spec.services.len(), 2);
//! ```

pub mod app;
pub mod network;
pub mod saga;
pub mod service;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use app::{AppSpec, OutboxMode, ParticipantSpec, Relay};
pub use network::{LinkModel, NetworkSpec};
pub use service::{GatewaySpec, ServiceSpec};

use crate::call::{Bare, EdgeStack};
use crate::fault::{Fault, FaultPlan};
use crate::workload::{Arrivals, Workload};

/// The name of the workload's node and the caller on the entry edge.
pub const CLIENT: &str = "client";

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
    /// ("quiet but work pending", e.g. a deadlock): the watchdog records it and the `stall`
    /// checker fails the run. Default 120 s; `None` turns the watchdog off.
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
    /// The saga an order saga follows (see [`SimSpec::saga`]); the built-in order saga unless
    /// the scenario gives one.
    pub saga: faultline_patterns::saga::SagaDefinition,
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
                workload: Workload::new("", Arrivals::Poisson { rate_per_s: 10.0 }),
                faults: FaultPlan::default(),
                saga: faultline_patterns::saga::SagaDefinition::order(),
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

    /// Whether the saga (orchestrated or choreographed) holds a semantic lock on its items.
    pub fn semantic_lock(&self) -> bool {
        self.services.iter().any(|s| s.app.as_ref().is_some_and(AppSpec::semantic_lock))
    }

    /// Whether an order saga (`app = "order_saga"`) calls the service named `name`.
    pub fn called_by_order_saga(&self, name: &str) -> bool {
        self.services
            .iter()
            .any(|o| matches!(o.app, Some(AppSpec::OrderSaga { .. })) && o.calls.iter().any(|c| c == name))
    }

    /// Whether a saga (orchestrated or choreographed) runs in this spec.
    pub fn has_saga(&self) -> bool {
        self.services
            .iter()
            .any(|s| matches!(s.app, Some(AppSpec::OrderSaga { .. } | AppSpec::SagaChoreography { .. })))
    }

    /// The service named `name`.
    pub fn service(&self, name: &str) -> Option<&ServiceSpec> {
        self.services.iter().find(|s| s.name == name)
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
    pub(crate) fn new(key: impl Into<String>, value: impl fmt::Display, allowed: impl Into<String>) -> Self {
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
    /// Sets the saga an order saga follows (default: the built-in order saga).
    pub fn saga(mut self, def: faultline_patterns::saga::SagaDefinition) -> Self {
        self.spec.saga = def;
        self
    }

    /// Validates and returns the spec. A service an order saga calls without an application
    /// of its own becomes a saga participant with default settings.
    pub fn build(mut self) -> Result<SimSpec, SpecError> {
        let participants: Vec<usize> = (0..self.spec.services.len())
            .filter(|&i| {
                self.spec.services[i].app.is_none() && self.spec.called_by_order_saga(&self.spec.services[i].name)
            })
            .collect();
        for i in participants {
            self.spec.services[i].app = Some(AppSpec::SagaParticipant(ParticipantSpec::default()));
        }
        validate::validate(&self.spec)?;
        Ok(self.spec)
    }
}
