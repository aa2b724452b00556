//! The order saga on simulated nodes: a durable saga log on the orchestrator's store, and
//! participants reached through the orchestrator's edge stacks.
//!
//! Every log record is written and synced before the orchestrator acts on it, and is also an
//! event (`saga.record`, `id=.. record=..`), which is what the saga checkers read. A restarted
//! orchestrator finds its unfinished sagas in the store and resumes them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use faultline_patterns::saga::{run_saga, LogRecord, Participants, SagaDefinition, SagaLog, StepResult};
use faultline_patterns::BoxFuture;

use crate::call::{EdgeService, Meta};
use crate::server::recorded_call;
use crate::store::StoreHandle;
use crate::world::World;

/// How long a failed compensation waits before it is tried again.
const COMPENSATION_RETRY: Duration = Duration::from_millis(200);

/// The saga log in a node's durable store: key `saga/<id>`, records joined by `,`.
pub(crate) struct StoreSagaLog {
    pub(crate) store: StoreHandle,
    pub(crate) world: Arc<World>,
    pub(crate) node: String,
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
        self.world.event(&self.node, "saga.record", format!("id={id} record={}", record.encode()));
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
pub(crate) struct EdgeParticipants {
    pub(crate) world: Arc<World>,
    pub(crate) edges: BTreeMap<&'static str, (String, EdgeService)>,
    pub(crate) meta: Meta,
}

impl Participants for EdgeParticipants {
    fn perform(&self, service: &'static str, op: &'static str, id: u64) -> BoxFuture<StepResult> {
        let Some((edge, stack)) = self.edges.get(service).cloned() else { return Box::pin(async { StepResult::Failed }) };
        let world = self.world.clone();
        let meta = Meta { op: Some(crate::call::Op { name: op, id, ..Default::default() }), ..self.meta };
        Box::pin(async move {
            let call_id = world.next_id();
            let result = recorded_call(&world, call_id, &edge, &stack, id, meta).await;
            if let Err(e) = result {
                let node = edge.split_once("->").map_or("sim", |(from, _)| from).to_owned();
                world.event(&node, "saga.op_failed", format!("id={id} service={service} op={op} error={}", e.name()));
            }
            match result {
                Ok(_) => StepResult::Done,
                // No answer: the participant may have applied it.
                Err(crate::call::CallError::Timeout) => StepResult::Unknown,
                Err(_) => StepResult::Failed,
            }
        })
    }
}

/// Runs (or resumes) saga `id`.
pub(crate) async fn orchestrate(log: &StoreSagaLog, participants: &EdgeParticipants, id: u64, compensate: bool) -> faultline_patterns::saga::SagaOutcome {
    run_saga(&SagaDefinition::order(), log, participants, id, compensate, COMPENSATION_RETRY).await
}
