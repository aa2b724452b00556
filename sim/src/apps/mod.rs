//! The applications that run on simulated nodes (the consistency patterns), one module each,
//! behind the kernel's one trait ([`crate::kernel::app::App`]):
//!
//! - [`orchestrator`]: the orchestrated order saga, with its durable saga log;
//! - [`participant`]: a saga participant (effects, stock, semantic lock);
//! - [`choreography`]: a member of the choreographed saga (inbox + reaction + outbox);
//! - [`outbox`]: the transactional outbox writer and its relays (the patterns' own, on
//!   [`ports`]: the node's store and broker as the patterns' ports);
//! - [`broker`]: a push broker with consumer groups; [`consumer`]: an inbox consumer;
//! - [`event_store`], [`es_writer`], [`account`], [`projector`]: event sourcing and CQRS;
//! - [`cache`]: cache services, as stores for cache-aside layers.
//!
//! [`Apps`] builds the application of each node incarnation (chosen once, when the node
//! starts) and keeps the state applications share across replicas and restarts.

mod account;
mod broker;
mod cache;
mod choreography;
mod consumer;
mod es_writer;
mod event_store;
mod orchestrator;
mod outbox;
mod participant;
mod ports;
mod projector;

use std::collections::BTreeMap;
use std::sync::Arc;

use faultline_patterns::cache::CacheStore;

use crate::call::Served;
use crate::kernel::app::{App, AppCtx, AppHost};
use crate::kernel::net::Transport;
use crate::spec::{AppSpec, SimSpec};

/// The applications of one run and their shared state.
pub(crate) struct Apps {
    /// Each saga participant service's effects and stock, by service index.
    participants: BTreeMap<usize, Arc<participant::Shared>>,
    caches: Arc<cache::Caches>,
    /// Some saga of the run holds a semantic lock on its items.
    locking: bool,
}

impl Apps {
    pub(crate) fn new(spec: &SimSpec) -> Apps {
        let participants = spec
            .services
            .iter()
            .enumerate()
            .filter(|(_, s)| s.participant().is_some())
            .map(|(i, _)| (i, Arc::new(participant::Shared::default())))
            .collect();
        Apps { participants, caches: Arc::default(), locking: spec.semantic_lock() }
    }

    fn participant(&self, ctx: AppCtx) -> participant::Participant {
        let spec = ctx.spec().participant().cloned().unwrap_or_default();
        let shared = self.participants.get(&ctx.service).cloned().unwrap_or_default();
        participant::Participant::new(ctx, spec, shared, self.locking)
    }
}

impl AppHost for Apps {
    fn build(&self, ctx: AppCtx) -> Option<Arc<dyn App>> {
        let app: Arc<dyn App> = match ctx.spec().app.clone()? {
            AppSpec::OrderSaga { compensate, semantic_lock } => {
                Arc::new(orchestrator::Orchestrator::new(ctx, compensate, semantic_lock))
            }
            AppSpec::SagaParticipant(_) => Arc::new(self.participant(ctx)),
            AppSpec::SagaChoreography { compensate, .. } => {
                Arc::new(choreography::Member::new(self.participant(ctx), compensate, self.locking))
            }
            AppSpec::Outbox { mode, relay_parallel, relay } => {
                Arc::new(outbox::Writer::new(ctx, mode, relay_parallel, relay))
            }
            AppSpec::Broker { partitions } => Arc::new(broker::Broker::new(ctx, partitions)),
            AppSpec::Consumer { dedup } => Arc::new(consumer::Consumer::new(ctx, dedup)),
            AppSpec::EventStore { version_check } => Arc::new(event_store::EventStore::new(ctx, version_check)),
            AppSpec::EsWriter { conflict } => Arc::new(es_writer::EsWriter::new(ctx, conflict)),
            AppSpec::Account { snapshot_every, snapshot_off_by_one, read_only } => {
                Arc::new(account::Account::new(ctx, snapshot_every, snapshot_off_by_one, read_only))
            }
            AppSpec::Projector { batch, atomic } => Arc::new(projector::Projector::new(ctx, batch, atomic)),
        };
        Some(app)
    }

    fn cache_client(&self, transport: &Arc<Transport>, service: &str) -> Option<Arc<dyn CacheStore<Served>>> {
        let client = cache::SimCache::new(transport.clone(), service, self.caches.clone())?;
        Some(Arc::new(client))
    }
}
