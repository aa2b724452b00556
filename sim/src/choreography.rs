//! The choreographed order saga on simulated nodes (`app = "saga_choreography"`).
//!
//! Every member publishes through its own transactional outbox (the relay of `outbox.rs`) to a
//! broker that delivers each event to every member (one consumer group each). A delivery is one
//! local transaction: the inbox check (duplicates and redeliveries are acknowledged without
//! effect), the reaction ([`faultline_patterns::choreography::react`]: the step's action or
//! compensation, applied by the participant as in the orchestrated saga), the `saga.record`
//! it amounts to, and the next event in the outbox, synced together. The records are those of
//! the orchestrated saga, so the S1-S3 checkers read both.

use faultline_patterns::choreography::{react, Reaction, Role, SagaEvent};
use faultline_patterns::saga::{LogRecord, SagaDefinition, SagaOutcome};

use crate::call::{CallError, Meta, Op, Served};
use crate::server::Replica;
use crate::spec::AppSpec;
use crate::store::StoreHandle;

impl Replica {
    fn saga_record(&self, saga: u64, record: LogRecord) {
        self.world.event(&self.node_name(), "saga.record", format!("id={saga} record={}", record.encode()));
    }

    fn publish_saga_event(&self, s: &StoreHandle, saga: u64, event: SagaEvent) {
        // Keyed by saga: one saga's events stay in one partition, in order.
        self.outbox_append(s, event.message_id(saga), saga, 0);
    }

    /// The initiator, on a client request: starts saga `request` (once, however often the
    /// request is retried) and answers at once; the saga goes on through the broker.
    pub(crate) fn choreography_start(&self, request: u64, _meta: Meta) -> Result<Served, CallError> {
        let s = self.store();
        let order = format!("order/{request}");
        if s.get(&order).is_none() {
            s.put(&order, b"pending");
            self.publish_saga_event(&s, request, SagaEvent::Started);
            s.sync();
            self.saga_record(request, LogRecord::Started);
        }
        Ok(Served::Full)
    }

    /// A member, on a delivered event: reacts once per event (see the module docs). An error
    /// leaves the event unacknowledged: the broker delivers it again.
    pub(crate) fn choreography_deliver(&self, op: Op) -> Result<Served, CallError> {
        let Some((saga, event)) = SagaEvent::parse(op.id) else { return Ok(Served::Full) };
        let spec = &self.world.spec.services[self.service];
        let compensate = !matches!(spec.app, Some(AppSpec::SagaChoreography { compensate: false }));
        let s = self.store();
        let inbox = format!("inbox/{}", op.id);
        if s.get(&inbox).is_some() {
            return Ok(Served::Full);
        }
        let def = SagaDefinition::order();
        let mut records = Vec::new();
        match react(&def, Role::of(&def, &spec.name), event, compensate) {
            Reaction::Ignore => {}
            Reaction::Do(k) => {
                let step = &def.steps[k];
                if self.apply_saga_op(step.action, saga, 0).is_ok() {
                    records.push(LogRecord::StepDone(k));
                    self.publish_saga_event(&s, saga, SagaEvent::Done(k));
                } else {
                    // Refused: leave a tombstone (a late copy of the action is refused too)
                    // and tell the others.
                    self.apply_saga_op(step.compensation, saga, 0)?;
                    records.extend([LogRecord::StepFailed(k), LogRecord::CompensationDone(k)]);
                    self.publish_saga_event(&s, saga, SagaEvent::Failed(k));
                }
            }
            Reaction::Undo(k) => {
                self.apply_saga_op(def.steps[k].compensation, saga, 0)?;
                records.push(LogRecord::CompensationDone(k));
                self.publish_saga_event(&s, saga, SagaEvent::Undone(k));
            }
            Reaction::Finish(outcome) => {
                let state = if outcome == SagaOutcome::Completed { "completed" } else { "cancelled" };
                s.put(&format!("order/{saga}"), state.as_bytes());
                records.push(LogRecord::Finished(outcome));
            }
        }
        s.put(&inbox, b"1");
        s.sync();
        for r in records {
            self.saga_record(saga, r);
        }
        Ok(Served::Full)
    }
}
