//! The orchestrated order saga on simulated nodes (`app = "order_saga"`): a durable saga log on
//! the orchestrator's store, and participants reached through its edge stacks.
//!
//! Every log record is written and synced before the orchestrator acts on it, and is also an
//! event (`saga.record`), which is what the saga checkers read. The planted bug
//! `saga_compensate = false` is an orchestrator that records its compensations without sending
//! them (S2 sees the effects that were never undone). A restarted orchestrator finds
//! its unfinished sagas in the store and resumes them, all at once (one may wait for another's
//! semantic lock; resuming them one by one deadlocked: found by faultline).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use faultline_patterns::saga::{run_saga, LogRecord, Participants, SagaLog, SagaOutcome, StepResult};
use faultline_patterns::BoxFuture;

use crate::call::{CallError, Meta, Op, Served};
use crate::event::EventKind;
use crate::kernel::app::{Answer, App, AppCtx};
use crate::kernel::edge::Dep;
use crate::store::StoreHandle;

/// How long a failed compensation (or a busy participant) waits before it is tried again.
const COMPENSATION_RETRY: Duration = Duration::from_millis(200);

/// An order-saga orchestrator on one node.
pub(crate) struct Orchestrator {
    ctx: Arc<AppCtx>,
    /// Compensate failed sagas (false: planted bug).
    compensate: bool,
    semantic_lock: bool,
}

impl Orchestrator {
    pub(crate) fn new(ctx: AppCtx, compensate: bool, semantic_lock: bool) -> Self {
        Orchestrator { ctx: Arc::new(ctx), compensate, semantic_lock }
    }

    /// Runs (or resumes) saga `id`; its calls carry `meta` (the request's: its item, client
    /// and deadline).
    async fn orchestrate(&self, id: u64, meta: Meta) -> SagaOutcome {
        let log = StoreSagaLog { store: self.ctx.store(), ctx: self.ctx.clone() };
        let participants = EdgeParticipants::new(&self.ctx, meta, self.compensate);
        let def = self.ctx.world.spec.saga(self.semantic_lock);
        run_saga(&def, &log, &participants, id, COMPENSATION_RETRY).await
    }
}

impl App for Orchestrator {
    /// After a restart: resumes every saga the log shows unfinished.
    fn start(self: Arc<Self>) {
        tokio::spawn(async move {
            let log = StoreSagaLog { store: self.ctx.store(), ctx: self.ctx.clone() };
            for id in log.unfinished().await {
                self.ctx.event(EventKind::SagaResume { id });
                let this = self.clone();
                tokio::spawn(async move {
                    let key = this.ctx.store().get_u64(&format!("saga_item/{id}"));
                    this.orchestrate(id, Meta { key, ..Meta::default() }).await;
                });
            }
        });
    }

    /// Runs (or, after a retry of the same request, resumes) the saga whose id is the
    /// request's id.
    fn handle(self: Arc<Self>, request: u64, meta: Meta) -> Option<Answer> {
        if meta.op.is_some() {
            return None;
        }
        Some(Box::pin(async move {
            // The item it is about, for a resumed saga (made durable with the saga's first record).
            self.ctx.store().put(&format!("saga_item/{request}"), meta.key.to_string().as_bytes());
            match self.orchestrate(request, meta).await {
                SagaOutcome::Completed => Ok(Served::Full),
                SagaOutcome::Compensated => Err(CallError::Server),
            }
        }))
    }
}

/// The saga log in a node's durable store: key `saga/<id>`, records joined by `,`.
struct StoreSagaLog {
    store: StoreHandle,
    ctx: Arc<AppCtx>,
}

fn key(id: u64) -> String {
    format!("saga/{id:020}")
}

impl SagaLog for StoreSagaLog {
    fn append(&self, id: u64, record: LogRecord) -> BoxFuture<()> {
        let mut text = self.store.get(&key(id)).map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_default();
        if !text.is_empty() {
            text.push(',');
        }
        text.push_str(&record.encode());
        self.store.put(&key(id), text.as_bytes());
        self.store.sync();
        self.ctx.event(EventKind::SagaRecord { id, record });
        Box::pin(async {})
    }

    fn read(&self, id: u64) -> BoxFuture<Vec<LogRecord>> {
        let text = self.store.get(&key(id)).map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_default();
        let records = text.split(',').filter_map(LogRecord::decode).collect();
        Box::pin(async move { records })
    }

    fn unfinished(&self) -> BoxFuture<Vec<u64>> {
        let ids = self
            .store
            .keys_with_prefix("saga/")
            .into_iter()
            .filter(|k| self.store.get(k).is_some_and(|v| !String::from_utf8_lossy(&v).contains("finished:")))
            .filter_map(|k| k.trim_start_matches("saga/").parse().ok())
            .collect();
        Box::pin(async move { ids })
    }
}

/// Participants reached through the orchestrator's edge stacks (patterns apply; every call is
/// recorded on its edge).
struct EdgeParticipants {
    ctx: Arc<AppCtx>,
    edges: BTreeMap<&'static str, Dep>,
    /// What the saga's calls carry (its item is the data key).
    meta: Meta,
    /// Send compensations (false: planted bug, they are reported done unsent).
    compensate: bool,
}

impl EdgeParticipants {
    fn new(ctx: &Arc<AppCtx>, meta: Meta, compensate: bool) -> Self {
        let edges = ctx
            .deps
            .iter()
            .filter_map(|dep| {
                let service = dep.edge.split_once("->").map(|(_, to)| to)?;
                let service: &'static str = ctx.world.spec.saga_participants().into_iter().find(|s| *s == service)?;
                Some((service, dep.clone()))
            })
            .collect();
        EdgeParticipants { ctx: ctx.clone(), edges, meta, compensate }
    }
}

impl Participants for EdgeParticipants {
    fn perform(&self, service: &'static str, op: &'static str, id: u64) -> BoxFuture<StepResult> {
        let Some(dep) = self.edges.get(service).cloned() else {
            return Box::pin(async { StepResult::Failed });
        };
        if !self.compensate && is_compensation(&self.ctx, op) {
            return Box::pin(async { StepResult::Done });
        }
        let ctx = self.ctx.clone();
        let meta = Meta { op: Some(Op { name: op, id, key: self.meta.key, seq: 0 }), ..self.meta };
        Box::pin(async move {
            let result = dep.call(&ctx.world, id, meta).await;
            if let Err(e) = result {
                ctx.event(EventKind::SagaOpFailed { id, service, op, error: e.name() });
            }
            match result {
                Ok(_) => StepResult::Done,
                // No answer: the participant may have applied it.
                Err(CallError::Timeout) => StepResult::Unknown,
                // Another saga holds the item (a semantic lock): nothing was applied.
                Err(CallError::Conflict) => StepResult::Busy,
                Err(_) => StepResult::Failed,
            }
        })
    }
}

/// Whether `op` undoes a step of the run's saga.
fn is_compensation(ctx: &AppCtx, op: &str) -> bool {
    ctx.world.spec.saga.steps.iter().any(|s| s.compensation == op)
}
