//! The event log's vocabulary: every kind of event a run records, with typed fields.
//!
//! Checkers and measures read these values as the run goes (they never parse text); the CSV
//! row of `events.csv` (`t_us,node,kind,detail`, the detail as `key=value` pairs) is rendered
//! from them, and the fingerprint hashes that row.

use std::fmt::Write as _;
use std::sync::Arc;

use faultline_patterns::saga::LogRecord;
use faultline_patterns::PatternEvent;

/// One event: when, on which node (an index into the run's node names), and what.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Virtual time, µs since the run began.
    pub t_us: u64,
    /// The node, as an index into the run's node names (the last name is `sim`).
    pub node: u32,
    /// The call it concerns (`requests.csv`'s `id`; 0 for none): a pattern's decision during a
    /// call names that call.
    pub request: u64,
    /// What happened.
    pub kind: EventKind,
}

/// An event as observers see it: with its line in `events.csv` and its node's name.
#[derive(Debug, Clone, Copy)]
pub struct Logged<'a> {
    /// Line number in `events.csv`, counting the header as line 1.
    pub line: u64,
    /// Virtual time, µs since the run began.
    pub t_us: u64,
    /// The node's name (`sim` for the simulator itself).
    pub node: &'a str,
    /// What happened.
    pub kind: &'a EventKind,
}

/// An event kept after the run (by a memory sink), with its line and node name.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedEvent {
    /// Line number in `events.csv`, counting the header as line 1.
    pub line: u64,
    /// Virtual time, µs since the run began.
    pub t_us: u64,
    /// The node's name.
    pub node: String,
    /// What happened.
    pub kind: EventKind,
}

impl OwnedEvent {
    /// The view observers take.
    pub fn logged(&self) -> Logged<'_> {
        Logged { line: self.line, t_us: self.t_us, node: &self.node, kind: &self.kind }
    }
}

impl From<&Logged<'_>> for OwnedEvent {
    fn from(e: &Logged<'_>) -> Self {
        OwnedEvent { line: e.line, t_us: e.t_us, node: e.node.to_owned(), kind: e.kind.clone() }
    }
}

/// A change to an item's stock at a saga participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockChange {
    /// A reservation took a unit.
    Take,
    /// A reservation was refused: no unit left.
    Out,
    /// A compensation put a unit back.
    Return,
    /// A reservation was refused: another saga holds the item's semantic lock.
    Locked,
    /// The saga completed: its reservation is final (and its lock lifted).
    Confirm,
}

impl StockChange {
    fn name(self) -> &'static str {
        match self {
            StockChange::Take => "stock.take",
            StockChange::Out => "stock.out",
            StockChange::Return => "stock.return",
            StockChange::Locked => "stock.locked",
            StockChange::Confirm => "stock.confirm",
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// The run began.
    RunStart {
        /// Scenario name.
        scenario: String,
        /// Root seed.
        seed: u64,
    },
    /// The run ended (after the drain and settle time).
    RunEnd {
        /// Virtual time at the end, µs.
        end_us: u64,
    },
    /// A fault of the plan started.
    FaultStart {
        /// Its index in the plan.
        id: usize,
        /// Its kind's name.
        kind: &'static str,
        /// Its target as written.
        target: Arc<str>,
    },
    /// A fault of the plan ended.
    FaultEnd {
        /// Its index in the plan.
        id: usize,
        /// Its kind's name.
        kind: &'static str,
        /// Its target as written.
        target: Arc<str>,
    },
    /// The node crashed (a fault or a supervisor's restart).
    NodeCrash {
        /// Writes to its store that were not synced and are lost.
        unsynced_writes_lost: usize,
    },
    /// The node started again.
    NodeRestart,
    /// A supervisor restarts a replica that failed its liveness probes.
    LivenessRestart {
        /// Probes failed in a row.
        failed_probes: u32,
    },
    /// A replica is starting and refuses requests for `ms`.
    StartupBegin {
        /// Startup time, ms.
        ms: u64,
    },
    /// A replica's readiness changed.
    Readiness {
        /// Ready now.
        up: bool,
        /// The dependencies its readiness includes, joined by `+`.
        deps: Arc<str>,
    },
    /// A request arrived after the deadline it carries and was refused.
    DeadlineExpiredOnArrival {
        /// The request's record id.
        request: u64,
    },
    /// The watchdog saw requests in flight and none completing.
    Stall {
        /// Workload requests in flight.
        inflight: usize,
        /// How long nothing completed, whole seconds.
        quiet_s: u64,
        /// When the oldest request in flight started, µs.
        oldest_us: u64,
    },
    /// A service with `exactly_once_check` executed a request successfully.
    Executed {
        /// The service.
        service: Arc<str>,
        /// The request's id (kept by retries and duplicates).
        request: u64,
    },
    /// A pattern's decision (a retry scheduled, a breaker transition...).
    Pattern(PatternEvent),
    /// A saga log record, written durably.
    SagaRecord {
        /// The saga.
        id: u64,
        /// The record.
        record: LogRecord,
    },
    /// A restarted orchestrator resumes an unfinished saga.
    SagaResume {
        /// The saga.
        id: u64,
    },
    /// A saga's call to a participant failed.
    SagaOpFailed {
        /// The saga.
        id: u64,
        /// The participant.
        service: &'static str,
        /// The operation.
        op: &'static str,
        /// The error's name.
        error: &'static str,
    },
    /// A choreography member parks a saga until another saga lifts its lock on the item.
    SagaParked {
        /// The saga.
        id: u64,
        /// The item.
        item: u64,
    },
    /// A participant applied (or, with `applied=0`, tombstoned) an operation.
    ParticipantEffect {
        /// The participant service.
        service: Arc<str>,
        /// The operation.
        op: &'static str,
        /// The saga.
        saga: u64,
        /// Times it has taken effect for this saga.
        applied: u32,
    },
    /// A participant refused an action whose saga already compensated it.
    ParticipantRefused {
        /// The participant service.
        service: Arc<str>,
        /// The operation.
        op: &'static str,
        /// The saga.
        saga: u64,
    },
    /// An item's stock changed (or a reservation was refused).
    Stock {
        /// What happened.
        change: StockChange,
        /// The item.
        item: u64,
        /// The saga.
        saga: u64,
        /// Units available after it.
        available: u64,
        /// The saga holding the item's lock, for a refusal because of it.
        holder: Option<u64>,
    },
    /// An outbox writer committed a change (and, in outbox mode, its message).
    ChangeCommit {
        /// The event id.
        event: u64,
        /// The aggregate key.
        key: u64,
        /// Its sequence number within the key.
        seq: u64,
    },
    /// A broker appended a message to a partition, durably.
    BrokerPublish {
        /// The partition.
        part: u64,
        /// Its offset in the partition.
        offset: u64,
        /// The event id.
        event: u64,
        /// The aggregate key.
        key: u64,
        /// Its sequence number within the key.
        seq: u64,
    },
    /// A consumer applied a delivered message.
    ConsumerApply {
        /// The event id.
        event: u64,
        /// The aggregate key.
        key: u64,
        /// Its sequence number within the key.
        seq: u64,
    },
    /// An event store appended one event to a stream.
    EsAppend {
        /// The stream.
        stream: u64,
        /// The version the writer expected.
        expected: u64,
        /// The stream's new version.
        version: u64,
        /// The writer (its request id).
        writer: u64,
        /// Position in the store's log of all appends.
        position: u64,
        /// `deposit` or `withdraw` for an account's events.
        kind: Option<&'static str>,
    },
    /// An event store refused an append: the stream was not at the expected version.
    EsConflict {
        /// The stream.
        stream: u64,
        /// The version the writer expected.
        expected: u64,
        /// The stream's version.
        actual: u64,
        /// The writer.
        writer: u64,
    },
    /// An event-sourced account loaded its state.
    EsLoad {
        /// The stream.
        stream: u64,
        /// The version loaded.
        version: u64,
        /// The balance it computed.
        balance: i64,
        /// The snapshot's version (0: none).
        snapshot: u64,
        /// Events replayed after the snapshot.
        replayed: u64,
    },
    /// A projector applied one event to its read model.
    ProjectionApply {
        /// The position applied (its checkpoint after).
        position: u64,
        /// The event's stream.
        stream: u64,
        /// The read model's count for that stream after it.
        count: u64,
    },
}

impl EventKind {
    /// Appends the `kind` column, e.g. `fault.start` or `retry.scheduled`.
    pub fn write_name(&self, out: &mut String) {
        let name = match self {
            EventKind::RunStart { .. } => "run.start",
            EventKind::RunEnd { .. } => "run.end",
            EventKind::FaultStart { .. } => "fault.start",
            EventKind::FaultEnd { .. } => "fault.end",
            EventKind::NodeCrash { .. } => "node.crash",
            EventKind::NodeRestart => "node.restart",
            EventKind::LivenessRestart { .. } => "liveness.restart",
            EventKind::StartupBegin { .. } => "startup.begin",
            EventKind::Readiness { up: true, .. } => "readiness.up",
            EventKind::Readiness { up: false, .. } => "readiness.down",
            EventKind::DeadlineExpiredOnArrival { .. } => "deadline.expired_on_arrival",
            EventKind::Stall { .. } => "sim.stall",
            EventKind::Executed { .. } => "service.executed",
            EventKind::Pattern(p) => {
                let _ = write!(out, "{}.{}", p.pattern, p.kind);
                return;
            }
            EventKind::SagaRecord { .. } => "saga.record",
            EventKind::SagaResume { .. } => "saga.resume",
            EventKind::SagaOpFailed { .. } => "saga.op_failed",
            EventKind::SagaParked { .. } => "saga.parked",
            EventKind::ParticipantEffect { .. } => "participant.effect",
            EventKind::ParticipantRefused { .. } => "participant.refused",
            EventKind::Stock { change, .. } => change.name(),
            EventKind::ChangeCommit { .. } => "change.commit",
            EventKind::BrokerPublish { .. } => "broker.publish",
            EventKind::ConsumerApply { .. } => "consumer.apply",
            EventKind::EsAppend { .. } => "es.append",
            EventKind::EsConflict { .. } => "es.conflict",
            EventKind::EsLoad { .. } => "es.load",
            EventKind::ProjectionApply { .. } => "projection.apply",
        };
        out.push_str(name);
    }

    /// Appends the `detail` column: `key=value` pairs separated by spaces (unquoted).
    pub fn write_detail(&self, out: &mut String) {
        let _ = match self {
            EventKind::RunStart { scenario, seed } => write!(out, "scenario={scenario} seed={seed}"),
            EventKind::RunEnd { end_us } => write!(out, "t_s={:.3}", *end_us as f64 / 1e6),
            EventKind::FaultStart { id, kind, target } | EventKind::FaultEnd { id, kind, target } => {
                write!(out, "id={id} kind={kind} target={target}")
            }
            EventKind::NodeCrash { unsynced_writes_lost } => write!(out, "unsynced_writes_lost={unsynced_writes_lost}"),
            EventKind::NodeRestart => Ok(()),
            EventKind::LivenessRestart { failed_probes } => write!(out, "after {failed_probes} failed probes"),
            EventKind::StartupBegin { ms } => write!(out, "ms={ms}"),
            EventKind::Readiness { deps, .. } => write!(out, "deps={deps}"),
            EventKind::DeadlineExpiredOnArrival { request } => write!(out, "request={request}"),
            EventKind::Stall { inflight, quiet_s, oldest_us } => {
                write!(out, "inflight={inflight} quiet_s={quiet_s} oldest_started_s={:.1}", *oldest_us as f64 / 1e6)
            }
            EventKind::Executed { service, request } => write!(out, "service={service} request={request}"),
            EventKind::Pattern(p) => write!(out, "{}", p.detail),
            EventKind::SagaRecord { id, record } => write!(out, "id={id} record={}", record.encode()),
            EventKind::SagaResume { id } => write!(out, "id={id}"),
            EventKind::SagaOpFailed { id, service, op, error } => {
                write!(out, "id={id} service={service} op={op} error={error}")
            }
            EventKind::SagaParked { id, item } => write!(out, "id={id} item={item}"),
            EventKind::ParticipantEffect { service, op, saga, applied } => {
                write!(out, "service={service} op={op} saga={saga} applied={applied}")
            }
            EventKind::ParticipantRefused { service, op, saga } => {
                write!(out, "service={service} op={op} saga={saga} reason=compensated")
            }
            EventKind::Stock { item, saga, available, holder, .. } => {
                let _ = write!(out, "item={item} saga={saga} available={available}");
                match holder {
                    Some(h) => write!(out, " holder={h}"),
                    None => Ok(()),
                }
            }
            EventKind::ChangeCommit { event, key, seq } | EventKind::ConsumerApply { event, key, seq } => {
                write!(out, "event={event} key={key} seq={seq}")
            }
            EventKind::BrokerPublish { part, offset, event, key, seq } => {
                write!(out, "part={part} offset={offset} event={event} key={key} seq={seq}")
            }
            EventKind::EsAppend { stream, expected, version, writer, position, kind } => {
                let _ = write!(
                    out,
                    "stream={stream} expected={expected} version={version} writer={writer} position={position}"
                );
                match kind {
                    Some(k) => write!(out, " kind={k}"),
                    None => Ok(()),
                }
            }
            EventKind::EsConflict { stream, expected, actual, writer } => {
                write!(out, "stream={stream} expected={expected} actual={actual} writer={writer}")
            }
            EventKind::EsLoad { stream, version, balance, snapshot, replayed } => write!(
                out,
                "stream={stream} version={version} balance={balance} snapshot={snapshot} replayed={replayed}"
            ),
            EventKind::ProjectionApply { position, stream, count } => {
                write!(out, "position={position} stream={stream} count={count}")
            }
        };
    }

    /// The `kind` column as a string.
    pub fn name(&self) -> String {
        let mut s = String::new();
        self.write_name(&mut s);
        s
    }

    /// The `detail` column as a string.
    pub fn detail(&self) -> String {
        let mut s = String::new();
        self.write_detail(&mut s);
        s
    }
}

impl Event {
    /// Appends the CSV row (no newline), naming the node `node`; the detail is quoted when it
    /// needs to be.
    pub fn write_row(&self, node: &str, out: &mut String) {
        let _ = write!(out, "{},{node},", self.t_us);
        self.kind.write_name(out);
        out.push(',');
        let start = out.len();
        if self.request != 0 {
            let _ = write!(out, "request={} ", self.request);
        }
        self.kind.write_detail(out);
        if out[start..].contains([',', '"', '\n']) {
            let quoted = format!("\"{}\"", out[start..].replace('"', "\"\""));
            out.truncate(start);
            out.push_str(&quoted);
        }
    }
}
