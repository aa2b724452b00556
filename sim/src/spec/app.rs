//! The applications a service can run instead of the generic work (the consistency patterns),
//! with their settings, and the wiring each one needs (what it must call).
//!
//! The settings marked "planted bug" exist so that checkers can be shown catching them.

use super::{ServiceSpec, SimSpec, SpecError};

/// An application a service runs instead of the generic work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppSpec {
    /// Orchestrates the run's saga ([`SimSpec::saga`]) over its calls: the saga's participants
    /// (inventory, payment, shipping in the built-in order saga).
    OrderSaga {
        /// Compensate failed sagas (false: planted bug).
        compensate: bool,
        /// Hold a semantic lock on the saga's item from its reservation until the saga ends
        /// (another saga wanting the item waits); lifted by `release` or by `confirm`.
        semantic_lock: bool,
    },
    /// A participant of the orchestrated saga: applies the operations an orchestrator sends.
    /// Services an order saga calls without an application of their own get this one.
    SagaParticipant(ParticipantSpec),
    /// A member of the choreographed saga (a service a step names runs that step; the one other
    /// member starts sagas and records their outcome): reacts
    /// to saga events delivered by the broker it calls, publishing its own through an outbox.
    SagaChoreography {
        /// React to failures with compensations (false: planted bug).
        compensate: bool,
        /// On the initiator: inventory holds a semantic lock on the saga's item from its
        /// reservation until the saga ends, and parks the sagas that want a held item.
        semantic_lock: bool,
        /// Its settings as a participant.
        participant: ParticipantSpec,
    },
    /// Writes changes with a transactional outbox and relays them to the broker it calls.
    Outbox {
        /// How the change and its message are written.
        mode: OutboxMode,
        /// The relay publishes its batch all at once (planted bug: per-key order lost).
        relay_parallel: bool,
        /// How the relay finds what to publish.
        relay: Relay,
    },
    /// A push broker delivering to the consumers it calls.
    Broker {
        /// Messages go to key mod partitions.
        partitions: u32,
    },
    /// Applies delivered messages.
    Consumer {
        /// Apply each event id once (false: planted bug).
        dedup: bool,
    },
    /// Event streams with optimistic concurrency.
    EventStore {
        /// Refuse stale appends (false: planted bug, last writer wins).
        version_check: bool,
    },
    /// Reads a stream, works, appends with the version read (calls an event store).
    EsWriter {
        /// Attempts in all (a conflict reads again, at most this many times) and the wait
        /// after each conflict before reading again (`Fixed { 0 }` without jitter: at once).
        conflict: faultline_patterns::retry::RetryConfig,
    },
    /// An event-sourced bank account (calls an event store): loads the account by replaying
    /// its events, from the latest snapshot if there is one, deposits or withdraws (never
    /// below zero), and appends with the version it loaded.
    Account {
        /// Save a snapshot every this many events (0: never; every load replays the stream).
        snapshot_every: u32,
        /// The snapshot holds the balance before the event it claims to include (planted bug).
        snapshot_off_by_one: bool,
        /// Answers queries only: loads the account and answers its balance, appending nothing
        /// (reads from the write model, what a CQRS read model replaces).
        read_only: bool,
    },
    /// A CQRS read model: follows the event store it calls from a durable checkpoint and
    /// counts each stream's events.
    Projector {
        /// Events read per round (concurrent reads of consecutive positions).
        batch: u32,
        /// The read model and its checkpoint are written in one transaction (false: planted
        /// bug, a crash between the two applies an event twice).
        atomic: bool,
    },
}

/// How a saga participant behaves (orchestrated or choreographed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParticipantSpec {
    /// The actions (not compensations) of sagas whose id is a multiple of this fail for good
    /// (a declined card, say). `None`: never.
    pub decline_every: Option<u64>,
    /// Units of each item (the request's data key) in stock; its action takes one (refused
    /// when none is left), its compensation returns it. `None`: unlimited.
    pub stock: Option<u64>,
    /// Operations applied again on every delivery instead of once per saga (planted bug: a
    /// non-idempotent compensation).
    pub non_idempotent: Vec<String>,
}

/// How an outbox writer writes a change and its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxMode {
    /// Change and outbox record in one local transaction, published by the relay.
    Outbox,
    /// Planted bug: commit, then publish from the request (a crash between loses the event).
    DualWriteCommitFirst,
    /// Planted bug: publish, then commit (a crash between leaves a phantom event).
    DualWritePublishFirst,
}

/// How an outbox relay finds the messages to publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relay {
    /// Polling publisher: every 10 ms, reads the outbox rows in order, publishes each and
    /// deletes it after the broker's ack.
    Polling,
    /// Transaction log tailing (change data capture): follows the database's commit log from a
    /// durable read position, advanced after each ack; nothing is deleted.
    LogTailing,
}

impl AppSpec {
    /// The name used in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            AppSpec::OrderSaga { .. } => "order_saga",
            AppSpec::SagaParticipant(_) => "saga_participant",
            AppSpec::SagaChoreography { .. } => "saga_choreography",
            AppSpec::Outbox { .. } => "outbox",
            AppSpec::Broker { .. } => "broker",
            AppSpec::Consumer { .. } => "consumer",
            AppSpec::EventStore { .. } => "event_store",
            AppSpec::EsWriter { .. } => "es_writer",
            AppSpec::Projector { .. } => "projector",
            AppSpec::Account { .. } => "account",
        }
    }

    /// Its participant settings, for a saga participant (orchestrated or choreographed).
    pub fn participant(&self) -> Option<&ParticipantSpec> {
        match self {
            AppSpec::SagaParticipant(p) | AppSpec::SagaChoreography { participant: p, .. } => Some(p),
            _ => None,
        }
    }

    /// Whether this application holds a semantic lock on the saga's items.
    pub fn semantic_lock(&self) -> bool {
        matches!(
            self,
            AppSpec::OrderSaga { semantic_lock: true, .. } | AppSpec::SagaChoreography { semantic_lock: true, .. }
        )
    }

    /// Checks what service `s` (which runs this application) calls, and its settings.
    pub(super) fn validate(&self, s: &ServiceSpec, spec: &SimSpec) -> Result<(), SpecError> {
        let key = |k: &str| format!("services.{}.{k}", s.name);
        match self {
            AppSpec::Consumer { .. } | AppSpec::EventStore { .. } => Ok(()),
            AppSpec::EsWriter { .. } | AppSpec::Account { .. } => single_callee(s, spec, "event_store"),
            AppSpec::Projector { batch, .. } => {
                single_callee(s, spec, "event_store")?;
                match batch {
                    1..=256 => Ok(()),
                    _ => Err(SpecError::new(key("projection_batch"), batch, "an integer from 1 to 256")),
                }
            }
            AppSpec::Outbox { .. } => single_callee(s, spec, "broker"),
            AppSpec::SagaChoreography { semantic_lock, participant, .. } => {
                single_callee(s, spec, "broker")?;
                participant.validate(s)?;
                lock_has_stock(spec, s, *semantic_lock)
            }
            AppSpec::SagaParticipant(p) => p.validate(s),
            AppSpec::Broker { partitions } => validate_broker(s, spec, *partitions),
            AppSpec::OrderSaga { semantic_lock, .. } => {
                let participants = spec.saga_participants();
                if s.calls.len() != participants.len() || participants.iter().any(|w| !s.calls.iter().any(|c| c == w)) {
                    return Err(SpecError::new(
                        key("calls"),
                        format!("{:?}", s.calls),
                        format!("the saga's participants: {}", participants.join(", ")),
                    ));
                }
                lock_has_stock(spec, s, *semantic_lock)
            }
        }
    }
}

impl ParticipantSpec {
    fn validate(&self, s: &ServiceSpec) -> Result<(), SpecError> {
        if self.decline_every == Some(0) {
            return Err(SpecError::new(format!("services.{}.decline_every", s.name), 0, "an integer >= 1"));
        }
        Ok(())
    }
}

/// Applications that call one other application check what they call.
fn single_callee(s: &ServiceSpec, spec: &SimSpec, want: &str) -> Result<(), SpecError> {
    let callee = s.calls.first().and_then(|c| spec.services.iter().find(|x| &x.name == c));
    if s.calls.len() == 1 && callee.and_then(ServiceSpec::app_name) == Some(want) {
        Ok(())
    } else {
        Err(SpecError::new(
            format!("services.{}.calls", s.name),
            format!("{:?}", s.calls),
            format!("one service whose app is {want}"),
        ))
    }
}

/// Each service a broker calls is a consumer group: every message goes to each.
fn validate_broker(s: &ServiceSpec, spec: &SimSpec, partitions: u32) -> Result<(), SpecError> {
    let consumer = |c: &String| {
        spec.services
            .iter()
            .find(|x| &x.name == c)
            .and_then(ServiceSpec::app_name)
            .is_some_and(|a| a == "consumer" || a == "saga_choreography")
    };
    if s.calls.is_empty() || !s.calls.iter().all(consumer) {
        return Err(SpecError::new(
            format!("services.{}.calls", s.name),
            format!("{:?}", s.calls),
            "services whose app is consumer or saga_choreography (one consumer group each)",
        ));
    }
    if !(1..=1024).contains(&partitions) {
        return Err(SpecError::new(format!("services.{}.partitions", s.name), partitions, "an integer from 1 to 1024"));
    }
    Ok(())
}

/// A semantic lock is on the items of the saga's first participant (inventory, in the order
/// saga): it must keep stock.
fn lock_has_stock(spec: &SimSpec, s: &ServiceSpec, semantic_lock: bool) -> Result<(), SpecError> {
    let first = spec.saga_participants().first().copied().unwrap_or("inventory");
    let stocked = spec.service(first).and_then(ServiceSpec::participant).is_some_and(|p| p.stock.is_some());
    if semantic_lock && !stocked {
        return Err(SpecError::new(
            format!("services.{}.semantic_lock", s.name),
            true,
            format!("false, or true with `stock` set on {first} (the lock is on the items of the saga's first step)"),
        ));
    }
    Ok(())
}

/// A choreographed saga needs each participant of the order saga and one initiator, all
/// reached by the broker they publish to.
pub(super) fn validate_choreography(spec: &SimSpec) -> Result<(), SpecError> {
    let members: Vec<&ServiceSpec> =
        spec.services.iter().filter(|s| s.app_name() == Some("saga_choreography")).collect();
    if members.is_empty() {
        return Ok(());
    }
    let participants = spec.saga_participants();
    for p in &participants {
        if !members.iter().any(|m| m.name == *p) {
            let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
            return Err(SpecError::new(
                "services",
                format!("{names:?} with app saga_choreography"),
                format!("one of each participant ({}) and one initiator", participants.join(", ")),
            ));
        }
    }
    let initiators: Vec<&str> = members.iter().map(|m| m.name.as_str()).filter(|n| !participants.contains(n)).collect();
    if initiators.len() != 1 {
        return Err(SpecError::new(
            "services",
            format!("initiators {initiators:?}"),
            format!(
                "exactly one saga_choreography service besides the saga's participants ({}): it starts the sagas",
                participants.join(", ")
            ),
        ));
    }
    for m in &members {
        let broker = spec.services.iter().find(|b| m.calls.first() == Some(&b.name));
        if !broker.is_some_and(|b| b.calls.contains(&m.name)) {
            return Err(SpecError::new(
                format!("services.{}.calls", broker.map_or(m.name.as_str(), |b| b.name.as_str())),
                format!("{:?}", broker.map_or(&m.calls, |b| &b.calls)),
                format!("a broker that delivers to {} (it reacts to the saga's events)", m.name),
            ));
        }
    }
    Ok(())
}
