//! A saga participant (`app = "saga_participant"`, or any service an order saga calls): applies
//! each operation a saga sends once per saga, keeps stock per item (with a semantic lock when a
//! saga asks for one), refuses an action that arrives after its compensation, and records each
//! effect as an event the saga checkers read. The choreographed saga's members apply their
//! steps through it too. A participant with `calls` calls them before applying an operation.
//!
//! Its state (effects and stock) is the service's database, shared by its replicas and kept
//! across their crashes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use faultline_patterns::saga::SagaDefinition;

use crate::call::{CallError, Meta, Served};
use crate::event::{EventKind, StockChange};
use crate::kernel::app::{Answer, App, AppCtx};
use crate::spec::app::ParticipantSpec;

/// A participant service's state.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Times applied per (operation, saga).
    effects: Mutex<BTreeMap<(&'static str, u64), u32>>,
    /// Stock per item.
    stock: Mutex<BTreeMap<u64, ItemStock>>,
}

/// An item's stock at a participant.
#[derive(Debug, Clone, Copy, Default)]
struct ItemStock {
    /// Units not reserved.
    available: u64,
    /// The saga whose reservation holds the item's semantic lock.
    holder: Option<u64>,
}

/// A participant on one node.
pub(crate) struct Participant {
    pub(crate) ctx: AppCtx,
    spec: ParticipantSpec,
    shared: Arc<Shared>,
    /// Some saga of the run holds a semantic lock on its items.
    locking: bool,
    def: SagaDefinition,
}

impl Participant {
    pub(crate) fn new(ctx: AppCtx, spec: ParticipantSpec, shared: Arc<Shared>, locking: bool) -> Self {
        let def = ctx.world.spec.saga(false);
        Participant { ctx, spec, shared, locking, def }
    }

    /// Applies `op` for `saga` once (or, for a planted non-idempotent operation, every time),
    /// recording the effect as an event. `item`: the data key the saga is about.
    pub(crate) fn apply(&self, op: &'static str, saga: u64, item: u64) -> Result<Served, CallError> {
        let compensation_of_this = self.def.steps.iter().find(|s| s.action == op).map(|s| s.compensation);
        let action_undone_by_this = self.def.steps.iter().find(|s| s.compensation == op).map(|s| s.action);
        if compensation_of_this.is_some() && self.spec.decline_every.is_some_and(|every| saga.is_multiple_of(every)) {
            return Err(CallError::Server); // declined for good: the saga must compensate
        }
        let service: Arc<str> = self.ctx.spec().name.as_str().into();
        let count = {
            let mut effects = self.shared.effects.lock().unwrap_or_else(|e| e.into_inner());
            // An action arriving after its compensation (delayed or duplicated) is refused: the
            // saga has already undone it.
            if let Some(comp) = compensation_of_this {
                if effects.contains_key(&(comp, saga)) {
                    self.ctx.event(EventKind::ParticipantRefused { service, op, saga });
                    return Err(CallError::Server);
                }
            }
            // A compensation for an action that never took effect has nothing to undo; it
            // leaves a tombstone (count 0) so that a late action is refused.
            let nothing_to_undo =
                action_undone_by_this.is_some_and(|a| effects.get(&(a, saga)).copied().unwrap_or(0) == 0);
            let n = effects.entry((op, saga)).or_insert(0);
            if let Some(units) = self.spec.stock {
                let change = match (compensation_of_this, action_undone_by_this) {
                    (Some(_), _) if *n == 0 => Some(StockChange::Take),
                    (_, Some(_)) if *n == 0 && !nothing_to_undo => Some(StockChange::Return),
                    _ if op == crate::spec::saga::CONFIRM => Some(StockChange::Confirm),
                    _ => None,
                };
                if let Some(change) = change {
                    self.change_stock(item, units, saga, change)?;
                }
            }
            let reapply = self.spec.non_idempotent.iter().any(|o| o == op);
            if !nothing_to_undo && (*n == 0 || reapply) {
                *n += 1;
            }
            *n
        };
        self.ctx.event(EventKind::ParticipantEffect { service, op, saga, applied: count });
        Ok(Served::Full)
    }

    /// Applies `change` for `saga` to `item`'s stock (starting at `units`), with a semantic lock
    /// when some saga asks for one. Refuses a reservation with `Conflict` while another saga
    /// holds the lock (the saga waits and asks again) and with `Server` when no unit is left
    /// (the step fails). `Take` here never sees `Out` or `Locked`: those are refusals.
    fn change_stock(&self, item: u64, units: u64, saga: u64, change: StockChange) -> Result<(), CallError> {
        let mut stock = self.shared.stock.lock().unwrap_or_else(|e| e.into_inner());
        let entry = stock.entry(item).or_insert(ItemStock { available: units, holder: None });
        let event = |change, available, holder| EventKind::Stock { change, item, saga, available, holder };
        match change {
            StockChange::Take if self.locking && entry.holder.is_some_and(|h| h != saga) => {
                self.ctx.event(event(StockChange::Locked, entry.available, Some(entry.holder.unwrap_or(0))));
                return Err(CallError::Conflict);
            }
            StockChange::Take if entry.available == 0 => {
                self.ctx.event(event(StockChange::Out, entry.available, None));
                return Err(CallError::Server);
            }
            StockChange::Take => {
                entry.available -= 1;
                if self.locking {
                    entry.holder = Some(saga);
                }
            }
            StockChange::Return => {
                entry.available += 1;
                if entry.holder == Some(saga) {
                    entry.holder = None;
                }
            }
            StockChange::Confirm => {
                if entry.holder == Some(saga) {
                    entry.holder = None;
                }
            }
            StockChange::Out | StockChange::Locked => return Ok(()),
        }
        self.ctx.event(event(change, entry.available, None));
        Ok(())
    }
}

impl App for Participant {
    fn handle(self: Arc<Self>, request: u64, meta: Meta) -> Option<Answer> {
        let op = meta.op?;
        if self.ctx.deps.is_empty() {
            let result = self.apply(op.name, op.id, op.key);
            return Some(Box::pin(async move { result }));
        }
        // A participant with dependencies (payment calling an external payment API) calls
        // them in order, as plain requests, before it applies the operation: a failure there
        // fails the operation, and the saga retries or compensates it.
        Some(Box::pin(async move {
            for dep in self.ctx.deps.iter() {
                dep.call(&self.ctx.world, request, Meta { op: None, ..meta }).await?;
            }
            self.apply(op.name, op.id, op.key)
        }))
    }
}
