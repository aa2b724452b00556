//! Choreographed saga: no orchestrator. Each participant reacts to the events of the others
//! through a message broker, runs its local step or its compensation, and publishes what it did.
//!
//! The saga's steps are a [`SagaDefinition`], as for the orchestrated saga. The events say what
//! happened to a step: [`SagaEvent::Done`] (its action took effect), [`SagaEvent::Failed`] (it
//! was refused; its participant left a tombstone so that a late copy is refused too) and
//! [`SagaEvent::Undone`] (its compensation took effect). The reactions ([`react`]) make the
//! same saga as the orchestrator's: step `k` runs after `Done(k-1)`; step `k` is compensated
//! after `Failed(k+1)` or `Undone(k+1)`, so compensations run in reverse order; the initiator
//! records the outcome after `Done(last)` (completed) or after `Failed(0)` / `Undone(0)`
//! (compensated). A participant with an `on_complete` operation (a semantic lock's `confirm`)
//! runs it after `Done(last)`.
//!
//! What makes it correct is the messaging, not this module: every reaction must be one local
//! transaction that applies the step, remembers the event id (an inbox: redelivered and
//! duplicated events are skipped) and writes the next event to an outbox. A participant that
//! applied its step and crashed before publishing would otherwise stall the saga forever.

use crate::saga::{SagaDefinition, SagaOutcome};

/// What one participant tells the others about a saga.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SagaEvent {
    /// The initiator began the saga.
    Started,
    /// Step `i`'s action took effect.
    Done(usize),
    /// Step `i`'s action was refused (and its participant left a tombstone).
    Failed(usize),
    /// Step `i`'s compensation took effect.
    Undone(usize),
}

/// At most this many steps: an event's code fits in 4 bits.
pub const MAX_STEPS: usize = 5;

impl SagaEvent {
    /// A number from 0 to 15 naming the event.
    pub fn code(self) -> u64 {
        match self {
            SagaEvent::Started => 0,
            SagaEvent::Done(i) => 1 + 3 * i as u64,
            SagaEvent::Failed(i) => 2 + 3 * i as u64,
            SagaEvent::Undone(i) => 3 + 3 * i as u64,
        }
    }

    /// The event with this code.
    pub fn from_code(code: u64) -> Option<SagaEvent> {
        let Some(c) = code.checked_sub(1) else { return Some(SagaEvent::Started) };
        let i = (c / 3) as usize;
        if i >= MAX_STEPS {
            return None;
        }
        Some(match code {
            c if c % 3 == 1 => SagaEvent::Done(i),
            c if c % 3 == 2 => SagaEvent::Failed(i),
            _ => SagaEvent::Undone(i),
        })
    }

    /// A message id unique to this event of saga `saga` (each event happens once per saga):
    /// the inbox key.
    pub fn message_id(self, saga: u64) -> u64 {
        saga * 16 + self.code()
    }

    /// The saga and event a message id names.
    pub fn parse(message_id: u64) -> Option<(u64, SagaEvent)> {
        Some((message_id / 16, SagaEvent::from_code(message_id % 16)?))
    }
}

/// Who reacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Starts sagas and records their outcome.
    Initiator,
    /// Runs step `k` and its compensation.
    Participant(usize),
}

impl Role {
    /// The role of `service` in `def`: the participant of its step, else the initiator.
    pub fn of(def: &SagaDefinition, service: &str) -> Role {
        def.steps.iter().position(|s| s.service == service).map_or(Role::Initiator, Role::Participant)
    }
}

/// What a participant does on an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    /// Run step `k`'s action; publish `Done(k)`, or `Failed(k)` if it is refused.
    Do(usize),
    /// Run step `k`'s compensation (retried until it succeeds); publish `Undone(k)`.
    Undo(usize),
    /// The saga completed: run step `k`'s participant's `on_complete` operation (e.g. confirm
    /// a reservation, lifting a semantic lock). Nothing is published.
    Complete(usize),
    /// Record the saga's outcome.
    Finish(SagaOutcome),
    /// Not for this participant.
    Ignore,
}

/// The reaction of `role` to `event` in a saga of `def`.
pub fn react(def: &SagaDefinition, role: Role, event: SagaEvent) -> Reaction {
    let last = def.steps.len().saturating_sub(1);
    match (role, event) {
        (Role::Participant(0), SagaEvent::Started) => Reaction::Do(0),
        (Role::Participant(k), SagaEvent::Done(i)) if i + 1 == k => Reaction::Do(k),
        (Role::Participant(k), SagaEvent::Failed(i) | SagaEvent::Undone(i)) if i == k + 1 => Reaction::Undo(k),
        (Role::Participant(k), SagaEvent::Done(i))
            if i == last && def.on_complete.iter().any(|(service, _)| *service == def.steps[k].service) =>
        {
            Reaction::Complete(k)
        }
        (Role::Initiator, SagaEvent::Done(i)) if i == last => Reaction::Finish(SagaOutcome::Completed),
        (Role::Initiator, SagaEvent::Failed(0) | SagaEvent::Undone(0)) => Reaction::Finish(SagaOutcome::Compensated),
        _ => Reaction::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saga::example as order;
    use proptest::prelude::*;

    /// Delivers events to every role until none is left (in publication order) and returns the
    /// reactions in order; `fail_at`: the step whose action is refused.
    fn play(fail_at: Option<usize>) -> Vec<(Role, Reaction)> {
        play_def(&order(false), fail_at)
    }

    fn play_def(def: &SagaDefinition, fail_at: Option<usize>) -> Vec<(Role, Reaction)> {
        let roles = [Role::Initiator, Role::Participant(0), Role::Participant(1), Role::Participant(2)];
        let mut queue = std::collections::VecDeque::from([SagaEvent::Started]);
        let mut out = Vec::new();
        while let Some(e) = queue.pop_front() {
            for role in roles {
                let r = react(def, role, e);
                match r {
                    Reaction::Do(k) if Some(k) == fail_at => queue.push_back(SagaEvent::Failed(k)),
                    Reaction::Do(k) => queue.push_back(SagaEvent::Done(k)),
                    Reaction::Undo(k) => queue.push_back(SagaEvent::Undone(k)),
                    Reaction::Complete(_) | Reaction::Finish(_) | Reaction::Ignore => {}
                }
                if r != Reaction::Ignore {
                    out.push((role, r));
                }
            }
        }
        out
    }

    #[test]
    fn the_choreography_runs_the_same_saga_as_the_orchestrator() {
        use Reaction::*;
        let actions = |run: Vec<(Role, Reaction)>| run.into_iter().map(|(_, r)| r).collect::<Vec<_>>();
        assert_eq!(actions(play(None)), [Do(0), Do(1), Do(2), Finish(SagaOutcome::Completed)]);
        assert_eq!(
            actions(play(Some(2))),
            [Do(0), Do(1), Do(2), Undo(1), Undo(0), Finish(SagaOutcome::Compensated)],
            "reverse order"
        );
        assert_eq!(actions(play(Some(0))), [Do(0), Finish(SagaOutcome::Compensated)]);
        let locked = order(true);
        assert_eq!(
            actions(play_def(&locked, None)),
            [Do(0), Do(1), Do(2), Finish(SagaOutcome::Completed), Complete(0)],
            "inventory confirms"
        );
        assert_eq!(
            actions(play_def(&locked, Some(1))),
            [Do(0), Do(1), Undo(0), Finish(SagaOutcome::Compensated)],
            "a release needs no confirm"
        );
    }

    proptest! {
        #[test]
        fn message_ids_round_trip(saga in 0u64..1 << 40, k in 0usize..MAX_STEPS, kind in 0u8..4) {
            let e = match kind { 0 => SagaEvent::Started, 1 => SagaEvent::Done(k), 2 => SagaEvent::Failed(k), _ => SagaEvent::Undone(k) };
            prop_assert_eq!(SagaEvent::parse(e.message_id(saga)), Some((saga, e)));
        }
    }
}
