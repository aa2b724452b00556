//! The choreographed order saga on simulated nodes (`app = "saga_choreography"`).
//!
//! Every member publishes through its own transactional outbox (the polling relay of
//! [`super::outbox`]) to a broker that delivers each event to every member (one consumer group
//! each). A delivery is one local transaction: the inbox check (duplicates and redeliveries are
//! acknowledged without effect), the reaction ([`faultline_patterns::choreography::react`]: the
//! step's action or compensation, applied by the member as a participant), the `saga.record` it
//! amounts to, and the next event in the outbox, synced together. The records are those of the
//! orchestrated saga, so the S1-S3 checkers read both. Events carry the saga's item; under a
//! semantic lock, the first step's participant (inventory) parks a saga that wants a held item
//! and runs it when the lock is lifted (see [`Member::step`]).

use std::sync::Arc;

use faultline_patterns::choreography::{react, Reaction, Role, SagaEvent};
use faultline_patterns::outbox::ports::Message;
use faultline_patterns::saga::{LogRecord, SagaDefinition, SagaOutcome};

use super::participant::Participant;
use super::{outbox, ports};
use crate::call::{CallError, Meta, Op, Served};
use crate::event::EventKind;
use crate::kernel::app::{Answer, App};
use crate::spec::app::Relay;
use crate::store::StoreHandle;

/// How a participant's step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// It took effect.
    Done,
    /// Refused for good (declined, sold out): the saga compensates.
    Refused,
    /// Another saga holds the item: parked until the lock is lifted.
    Parked,
}

/// A member of the choreographed saga on one node.
pub(crate) struct Member {
    participant: Participant,
    /// React to failures with compensations (false: planted bug).
    compensate: bool,
    def: SagaDefinition,
}

impl Member {
    /// A member applying its steps as `participant`; `locking`: the saga holds a semantic lock.
    pub(crate) fn new(participant: Participant, compensate: bool, locking: bool) -> Self {
        let def = participant.ctx.world.spec.saga(locking);
        Member { participant, compensate, def }
    }

    fn record(&self, saga: u64, record: LogRecord) {
        self.participant.ctx.event(EventKind::SagaRecord { id: saga, record });
    }

    /// Queues `event` for the others, in the caller's transaction. Keyed by saga: one saga's
    /// events stay in one partition, in order. Every event carries the saga's item.
    fn publish(&self, s: &StoreHandle, saga: u64, item: u64, event: SagaEvent) {
        ports::append(s, &Message::new(event.message_id(saga), saga, item));
    }

    /// The initiator, on a client request: starts saga `request` for the request's item (once,
    /// however often the request is retried) and answers at once; the saga goes on through the
    /// broker.
    fn start_saga(&self, request: u64, meta: Meta) -> Result<Served, CallError> {
        let s = self.participant.ctx.store();
        let order = format!("order/{request}");
        if s.get(&order).is_none() {
            s.put(&order, b"pending");
            self.publish(&s, request, meta.key, SagaEvent::Started);
            s.sync();
            self.record(request, LogRecord::Started);
        }
        Ok(Served::Full)
    }

    /// A member, on a delivered event (`op.id`: the message, `op.seq`: the saga's item): reacts
    /// once per event (see the module docs). An error leaves the event unacknowledged: the
    /// broker delivers it again.
    fn deliver(&self, op: Op) -> Result<Served, CallError> {
        let Some((saga, event)) = SagaEvent::parse(op.id) else { return Ok(Served::Full) };
        let s = self.participant.ctx.store();
        let inbox = format!("inbox/{}", op.id);
        if s.get(&inbox).is_some() {
            return Ok(Served::Full);
        }
        let item = op.seq;
        let def = &self.def;
        let mut records = Vec::new();
        let reaction = match react(def, Role::of(def, &self.participant.ctx.spec().name), event) {
            // The planted bug: a participant that ignores failures (the saga never finishes).
            Reaction::Undo(_) if !self.compensate => Reaction::Ignore,
            reaction => reaction,
        };
        match reaction {
            Reaction::Ignore => {}
            Reaction::Do(k) => {
                self.step(&s, k, saga, item, &mut records)?;
            }
            Reaction::Undo(k) => {
                self.participant.apply(def.steps[k].compensation, saga, item)?;
                records.push((saga, LogRecord::CompensationDone(k)));
                self.publish(&s, saga, item, SagaEvent::Undone(k));
                self.unpark(&s, k, item, &mut records)?;
            }
            Reaction::Complete(k) => {
                for &(_, op) in def.on_complete.iter().filter(|(service, _)| *service == def.steps[k].service) {
                    self.participant.apply(op, saga, item)?;
                }
                self.unpark(&s, k, item, &mut records)?;
            }
            Reaction::Finish(outcome) => {
                let state = if outcome == SagaOutcome::Completed { "completed" } else { "cancelled" };
                s.put(&format!("order/{saga}"), state.as_bytes());
                records.push((saga, LogRecord::Finished(outcome)));
            }
        }
        s.put(&inbox, b"1");
        s.sync();
        for (saga, r) in records {
            self.record(saga, r);
        }
        Ok(Served::Full)
    }

    /// Runs step `k`'s action for `saga` and tells the others how it went. If another saga
    /// holds the item (a semantic lock), the saga is parked until the lock is lifted: waiting
    /// (leaving the event unacknowledged) would block its partition, and with it the very event
    /// that lifts the lock.
    fn step(
        &self,
        s: &StoreHandle,
        k: usize,
        saga: u64,
        item: u64,
        records: &mut Vec<(u64, LogRecord)>,
    ) -> Result<Step, CallError> {
        let step = &self.def.steps[k];
        Ok(match self.participant.apply(step.action, saga, item) {
            Ok(_) => {
                records.push((saga, LogRecord::StepDone(k)));
                self.publish(s, saga, item, SagaEvent::Done(k));
                Step::Done
            }
            Err(CallError::Conflict) => {
                let n = s.get_u64("parked_next") + 1;
                s.put("parked_next", n.to_string().as_bytes());
                s.put(&format!("parked/{item:020}/{n:020}"), saga.to_string().as_bytes());
                self.participant.ctx.event(EventKind::SagaParked { id: saga, item });
                Step::Parked
            }
            Err(_) => {
                // Refused: leave a tombstone (a late copy of the action is refused too) and
                // tell the others.
                self.participant.apply(step.compensation, saga, item)?;
                records.extend([(saga, LogRecord::StepFailed(k)), (saga, LogRecord::CompensationDone(k))]);
                self.publish(s, saga, item, SagaEvent::Failed(k));
                Step::Refused
            }
        })
    }

    /// The item's lock was lifted: the sagas parked on it run their step now, in the same
    /// transaction, in the order they came, until one holds the item again. (Unparking only
    /// the first stalled the rest whenever it was refused: found by the tests.)
    fn unpark(
        &self,
        s: &StoreHandle,
        k: usize,
        item: u64,
        records: &mut Vec<(u64, LogRecord)>,
    ) -> Result<(), CallError> {
        while let Some(key) = s.keys_with_prefix(&format!("parked/{item:020}/")).into_iter().next() {
            let saga = s.get_u64(&key);
            s.delete(&key);
            if self.step(s, k, saga, item, records)? != Step::Refused {
                break;
            }
        }
        Ok(())
    }
}

impl App for Member {
    /// Starts the outbox's relay (after every start).
    fn start(self: Arc<Self>) {
        let ctx = Arc::new(self.participant.ctx.clone());
        outbox::start_relay(&ctx, Relay::Polling, false);
    }

    fn handle(self: Arc<Self>, request: u64, meta: Meta) -> Option<Answer> {
        let result = match meta.op {
            Some(op) => self.deliver(op),
            None => self.start_saga(request, meta),
        };
        Some(Box::pin(async move { result }))
    }
}
