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
use crate::event::{EventKind, StockChange as Logged};
use crate::server::recorded_call;
use crate::store::StoreHandle;
use crate::world::World;

/// How long a failed compensation waits before it is tried again.
const COMPENSATION_RETRY: Duration = Duration::from_millis(200);

/// The saga log in a node's durable store: key `saga/<id>`, records joined by `,`.
pub(crate) struct StoreSagaLog {
    pub(crate) store: StoreHandle,
    pub(crate) world: Arc<World>,
    pub(crate) node: u32,
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
        self.world.event(self.node, EventKind::SagaRecord { id, record });
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
    /// The orchestrator's node.
    pub(crate) node: u32,
    pub(crate) edges: BTreeMap<&'static str, (String, EdgeService)>,
    pub(crate) meta: Meta,
}

impl Participants for EdgeParticipants {
    fn perform(&self, service: &'static str, op: &'static str, id: u64) -> BoxFuture<StepResult> {
        let Some((edge, stack)) = self.edges.get(service).cloned() else {
            return Box::pin(async { StepResult::Failed });
        };
        let (world, node) = (self.world.clone(), self.node);
        let meta = Meta { op: Some(crate::call::Op { name: op, id, key: self.meta.key, seq: 0 }), ..self.meta };
        Box::pin(async move {
            let call_id = world.next_id();
            let result = recorded_call(&world, call_id, &edge, &stack, id, meta).await;
            if let Err(e) = result {
                world.event(node, EventKind::SagaOpFailed { id, service, op, error: e.name() });
            }
            match result {
                Ok(_) => StepResult::Done,
                // No answer: the participant may have applied it.
                Err(crate::call::CallError::Timeout) => StepResult::Unknown,
                // Another saga holds the item (a semantic lock): nothing was applied.
                Err(crate::call::CallError::Conflict) => StepResult::Busy,
                Err(_) => StepResult::Failed,
            }
        })
    }
}

/// Runs (or resumes) saga `id`.
pub(crate) async fn orchestrate(
    log: &StoreSagaLog,
    participants: &EdgeParticipants,
    id: u64,
    compensate: bool,
    semantic_lock: bool,
) -> faultline_patterns::saga::SagaOutcome {
    let def = if semantic_lock { SagaDefinition::order_with_semantic_lock() } else { SagaDefinition::order() };
    run_saga(&def, log, participants, id, compensate, COMPENSATION_RETRY).await
}

/// An item's stock at a participant.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ItemStock {
    /// Units not reserved.
    available: u64,
    /// The saga whose reservation holds the item's semantic lock.
    holder: Option<u64>,
}

/// What a saga operation does to an item's stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StockChange {
    /// The step's action: reserve one unit.
    Take,
    /// Its compensation: put the unit back.
    Return,
    /// The saga completed: the reservation is final.
    Confirm,
}

/// Applies `change` for `saga` to the stock of `(service, item)` (starting at `units`), with a
/// semantic lock when some orchestrator asks for one. Refuses a reservation with `Conflict`
/// while another saga holds the lock (the orchestrator waits and asks again) and with `Server`
/// when no unit is left (the step fails). Events: `stock.take`, `stock.out`, `stock.return`,
/// `stock.locked`, `stock.confirm`.
pub(crate) fn change_stock(
    world: &World,
    node: u32,
    key: (usize, u64),
    units: u64,
    saga: u64,
    change: StockChange,
) -> Result<(), crate::call::CallError> {
    let locking = world.spec.semantic_lock();
    let mut stock = world.stock.lock().unwrap_or_else(|e| e.into_inner());
    let item = stock.entry(key).or_insert(ItemStock { available: units, holder: None });
    let event = |change: Logged, available: u64, holder: Option<u64>| EventKind::Stock {
        change,
        item: key.1,
        saga,
        available,
        holder,
    };
    match change {
        StockChange::Take if locking && item.holder.is_some_and(|h| h != saga) => {
            world.event(node, event(Logged::Locked, item.available, Some(item.holder.unwrap_or(0))));
            return Err(crate::call::CallError::Conflict);
        }
        StockChange::Take if item.available == 0 => {
            world.event(node, event(Logged::Out, item.available, None));
            return Err(crate::call::CallError::Server);
        }
        StockChange::Take => {
            item.available -= 1;
            if locking {
                item.holder = Some(saga);
            }
            world.event(node, event(Logged::Take, item.available, None));
        }
        StockChange::Return => {
            item.available += 1;
            if item.holder == Some(saga) {
                item.holder = None;
            }
            world.event(node, event(Logged::Return, item.available, None));
        }
        StockChange::Confirm => {
            if item.holder == Some(saga) {
                item.holder = None;
            }
            world.event(node, event(Logged::Confirm, item.available, None));
        }
    }
    Ok(())
}
