//! The one trait an application on a node implements, and what the kernel hands it.
//!
//! A replica admits a request, holds a slot for its service time and then, if its service runs
//! an application, lets the application answer it ([`App::handle`]); otherwise it does the
//! generic work (calling its dependencies). After every (re)start of the node the application
//! starts its background work ([`App::start`]: relays, deliveries, a projection, resumed
//! sagas). The kernel chooses nothing about applications: an [`AppHost`], given by whoever
//! starts the run, builds one per node incarnation and keeps the state applications share
//! across replicas and restarts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use faultline_patterns::cache::CacheStore;
use faultline_patterns::BoxFuture;

use super::edge::Dep;
use super::net::Transport;
use super::world::World;
use crate::call::{CallError, Meta, Served};
use crate::event::EventKind;
use crate::rng::SimRng;
use crate::spec::ServiceSpec;
use crate::store::StoreHandle;

/// An answer to one request.
pub(crate) type Answer = BoxFuture<Result<Served, CallError>>;

/// An application on one node incarnation.
pub(crate) trait App: Send + Sync + 'static {
    /// Starts background work; called after every start of the node.
    fn start(self: Arc<Self>) {}

    /// Answers request `request` (after the replica's service time), or `None` to leave it to
    /// the replica's generic work.
    fn handle(self: Arc<Self>, request: u64, meta: Meta) -> Option<Answer>;
}

/// Builds the applications of a run and keeps their shared state.
pub(crate) trait AppHost: Send + Sync {
    /// The application of the node `ctx` describes, if its service runs one.
    fn build(&self, ctx: AppCtx) -> Option<Arc<dyn App>>;

    /// A client of the cache service `service`, for a node's edge stacks.
    fn cache_client(&self, transport: &Arc<Transport>, service: &str) -> Option<Arc<dyn CacheStore<Served>>>;
}

/// What an application reaches on its node.
#[derive(Clone)]
pub(crate) struct AppCtx {
    pub(crate) world: Arc<World>,
    /// The node's index.
    pub(crate) node: u32,
    /// The service's index in the spec.
    pub(crate) service: usize,
    /// The node's dependencies, in the order its service calls them.
    pub(crate) deps: Arc<[Dep]>,
    /// The replica's random stream (service times, errors, work times).
    pub(crate) rng: Arc<Mutex<SimRng>>,
}

impl AppCtx {
    /// The service's spec.
    pub(crate) fn spec(&self) -> &ServiceSpec {
        &self.world.spec.services[self.service]
    }

    /// The node's durable store.
    pub(crate) fn store(&self) -> StoreHandle {
        self.world.store(self.node)
    }

    /// Records an event on this node.
    pub(crate) fn event(&self, kind: EventKind) {
        self.world.event(self.node, kind);
    }

    /// Its first dependency (the broker or event store an application calls).
    pub(crate) fn first_dep(&self) -> Option<&Dep> {
        self.deps.first()
    }

    /// A sample of the service's work time (the pause between a read and the write it decides).
    pub(crate) fn work_time(&self) -> Duration {
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        self.spec().service_time.sample(&mut rng)
    }
}
