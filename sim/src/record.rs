//! What a run produces: request records, the event log, and the fingerprint.
//!
//! Records stream: each one is folded into the fingerprint, added to the aggregates and handed
//! to a [`RecordSink`] (the reports crate writes files). Nothing keeps every record in memory,
//! and nothing is formatted that no sink reads: a request is hashed from its fields and
//! formatted as a CSV row only by a sink that writes rows; an event, whose text details are its
//! canonical form, is formatted once and its row is both hashed and handed on.
//!
//! The fingerprint is 64-bit FNV-1a over every record in order: for a request, the byte `R`,
//! then `id`, `parent`, `start_us`, `end_us` (each u64, little-endian), `attempts` (u32,
//! little-endian), the outcome's index in [`Outcome::ALL`] (one byte) and the edge's name
//! (UTF-8); for an event, the byte `E` and its `events.csv` row. The same fingerprint means the
//! same records in the same order.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::event::{Event, Logged, OwnedEvent};
use crate::levels::{LevelRow, Levels};
use crate::rng::{fnv1a, FNV_OFFSET};
use crate::stats::{Answer, Histogram, Series, SeriesPoint};

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Answered successfully.
    Ok,
    /// The server answered with an error (its own, injected, or a failed dependency).
    Error,
    /// No answer before a deadline (a timeout layer or the transport's hard timeout).
    Timeout,
    /// The server's queue was full and it shed the request.
    Rejected,
    /// The target was down (crashed): the connection was refused.
    Refused,
    /// A pattern on the caller's side refused the call without making it.
    Shed,
    /// The call failed and a fallback on the caller's side answered instead.
    Fallback,
    /// Answered without the parts an optional dependency failed to provide.
    Partial,
    /// Refused by a gateway: no valid credentials.
    Unauthorized,
    /// Refused by a gateway: the client is over its rate limit.
    RateLimited,
    /// Refused by an event store: the stream had moved past the expected version.
    Conflict,
    /// Still in flight when the run ended.
    Unfinished,
}

impl Outcome {
    /// Every outcome, in column order.
    pub const ALL: [Outcome; 12] = [
        Outcome::Ok,
        Outcome::Error,
        Outcome::Timeout,
        Outcome::Rejected,
        Outcome::Refused,
        Outcome::Shed,
        Outcome::Fallback,
        Outcome::Partial,
        Outcome::Unauthorized,
        Outcome::RateLimited,
        Outcome::Conflict,
        Outcome::Unfinished,
    ];

    /// The lower-case name used in CSV and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
            Outcome::Rejected => "rejected",
            Outcome::Refused => "refused",
            Outcome::Shed => "shed",
            Outcome::Fallback => "fallback",
            Outcome::Partial => "partial",
            Outcome::Unauthorized => "unauthorized",
            Outcome::RateLimited => "rate_limited",
            Outcome::Conflict => "conflict",
            Outcome::Unfinished => "unfinished",
        }
    }
}

/// One call on one edge (a workload request is the call on the `client->entry` edge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// Unique in the run.
    pub id: u64,
    /// The request this call serves (0 for a workload request).
    pub parent: u64,
    /// `caller->callee`, by service name (shared: one allocation per edge, not per call).
    pub edge: Arc<str>,
    /// Virtual time the call started, µs since the run began.
    pub start_us: u64,
    /// Virtual time it ended.
    pub end_us: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// Attempts sent to the network (more than 1 with retries).
    pub attempts: u32,
    /// The node whose answer the call got (`None`: no attempt was answered).
    pub replica: Option<Arc<str>>,
    /// The workload route of the request it serves (an index into the workload's routes; 0
    /// without routes). Not in the fingerprint: it is the arrival's, which the fingerprint
    /// already fixes.
    pub route: u16,
}

/// One attempt of a call: what the transport sent to one replica, and how it ended. Written to
/// `attempts.csv` (linked to its call by `call`, `requests.csv`'s `id`), outside the
/// fingerprint: the call's record already counts its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// The call's record id.
    pub call: u64,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The node it went to.
    pub replica: Arc<str>,
    /// When it was sent, µs.
    pub start_us: u64,
    /// When its answer (or its failure) came back.
    pub end_us: u64,
    /// How it ended: an outcome's name, or `abandoned` (its caller stopped waiting: a
    /// timeout, a deadline, a hedge that won).
    pub outcome: &'static str,
}

/// The CSV header of `attempts.csv`.
pub const ATTEMPT_HEADER: &str = "call,attempt,replica,start_us,end_us,latency_us,outcome";

impl AttemptRecord {
    /// Appends the CSV row (no newline).
    pub fn write_row(&self, out: &mut String) {
        let latency = self.end_us.saturating_sub(self.start_us);
        let _ = write!(
            out,
            "{},{},{},{},{},{latency},{}",
            self.call, self.attempt, self.replica, self.start_us, self.end_us, self.outcome
        );
    }
}

/// The CSV header of `requests.csv`.
pub const REQUEST_HEADER: &str = "id,parent,edge,start_us,end_us,latency_us,outcome,attempts,replica";
/// The CSV header of `events.csv`.
pub const EVENT_HEADER: &str = "t_us,node,kind,detail";

impl RequestRecord {
    /// Latency in µs.
    pub fn latency_us(&self) -> u64 {
        self.end_us.saturating_sub(self.start_us)
    }

    /// Appends the CSV row (no newline).
    pub fn write_row(&self, out: &mut String) {
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{}",
            self.id,
            self.parent,
            self.edge,
            self.start_us,
            self.end_us,
            self.latency_us(),
            self.outcome.as_str(),
            self.attempts
        );
        out.push(',');
        if let Some(r) = &self.replica {
            out.push_str(r);
        }
    }
}

/// Where records go as the run produces them (files, checkers, memory, nowhere). An event
/// comes with its CSV row (it is formatted once, for the fingerprint); a sink that writes
/// request rows formats them itself ([`RequestRecord::write_row`]).
pub trait RecordSink: Send {
    /// One call.
    fn request(&mut self, record: &RequestRecord);
    /// One event, and its `events.csv` row (without newline).
    fn event(&mut self, event: &Logged<'_>, row: &str);
    /// Whether it reads attempts (the simulator records none otherwise).
    fn wants_attempts(&self) -> bool {
        false
    }
    /// One attempt of a call, when [`RecordSink::wants_attempts`].
    fn attempt(&mut self, _attempt: &AttemptRecord) {}
    /// The levels patterns held, the most per bin, at the end of the run (recorded only when
    /// [`RecordSink::wants_attempts`]: the sinks that write files want both).
    fn levels(&mut self, _rows: &[LevelRow]) {}
    /// The run is over: flush. An error here fails the run.
    fn finish(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// A sink that discards rows (the fingerprint and aggregates are still computed).
#[derive(Debug, Default)]
pub struct NullSink;

impl RecordSink for NullSink {
    fn request(&mut self, _record: &RequestRecord) {}
    fn event(&mut self, _event: &Logged<'_>, _row: &str) {}
}

/// Records kept by a [`MemorySink`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Rows {
    /// Request rows in order.
    pub requests: Vec<String>,
    /// Event rows in order.
    pub events: Vec<String>,
    /// The events themselves, in order.
    pub typed: Vec<OwnedEvent>,
}

/// A sink that keeps every row in memory; clone it before the run to read the rows after.
#[derive(Debug, Default, Clone)]
pub struct MemorySink(pub std::sync::Arc<std::sync::Mutex<Rows>>);

impl MemorySink {
    /// A copy of the rows received so far.
    pub fn rows(&self) -> Rows {
        self.0.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl RecordSink for MemorySink {
    fn request(&mut self, record: &RequestRecord) {
        let mut row = String::new();
        record.write_row(&mut row);
        if let Ok(mut r) = self.0.lock() {
            r.requests.push(row);
        }
    }
    fn event(&mut self, event: &Logged<'_>, row: &str) {
        if let Ok(mut r) = self.0.lock() {
            r.events.push(row.to_owned());
            r.typed.push(OwnedEvent::from(event));
        }
    }
}

/// Summary of one edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeSummary {
    /// `caller->callee`.
    pub edge: String,
    /// Calls recorded.
    pub requests: u64,
    /// Count per outcome name.
    pub outcomes: BTreeMap<String, u64>,
    /// Answered (ok, partial or fallback) / requests.
    pub success_rate: f64,
    /// Answered in a degraded way (partial or fallback) / requests.
    pub degraded_rate: f64,
    /// Latency over all calls whatever their outcome, ms.
    pub mean_ms: f64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// 99.9th percentile, ms.
    pub p999_ms: f64,
    /// Maximum, ms.
    pub max_ms: f64,
    /// Mean attempts per call.
    pub mean_attempts: f64,
    /// The edge's time series.
    pub series: Vec<SeriesPoint>,
}

/// The client requests of one workload route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteSummary {
    /// The route (`/products`).
    pub route: String,
    /// Client requests on it.
    pub requests: u64,
    /// Answered (ok, partial or fallback) / requests.
    pub success_rate: f64,
    /// Client latency on this route (answered or not): the mean.
    #[serde(default)]
    pub mean_ms: f64,
    /// The median.
    #[serde(default)]
    pub p50_ms: f64,
    /// The 99th percentile.
    #[serde(default)]
    pub p99_ms: f64,
}

/// One workload route's client requests: how many, how many answered, their latency.
#[derive(Default)]
struct RouteAgg {
    requests: u64,
    answered: u64,
    latency: Histogram,
}

struct EdgeAgg {
    outcomes: BTreeMap<Outcome, u64>,
    latency: Histogram,
    attempts: u64,
    series: Series,
}

/// Folds records into the fingerprint and aggregates and passes them to the sink.
pub struct Recorder {
    sink: Box<dyn RecordSink>,
    /// Node names by index; the last is `sim`.
    names: Vec<String>,
    hash: u64,
    row: String,
    edges: BTreeMap<Arc<str>, EdgeAgg>,
    bin_us: u64,
    requests: u64,
    events: u64,
    levels: Levels,
    /// Per workload route: its client requests.
    routes: BTreeMap<u16, RouteAgg>,
}

impl Recorder {
    /// A recorder that bins time series `bin_us` wide; events name their nodes from `names`.
    pub fn new(sink: Box<dyn RecordSink>, bin_us: u64, names: Vec<String>) -> Self {
        Recorder {
            sink,
            names,
            hash: FNV_OFFSET,
            row: String::with_capacity(128),
            edges: BTreeMap::new(),
            bin_us,
            requests: 0,
            events: 0,
            levels: Levels::new(bin_us),
            routes: BTreeMap::new(),
        }
    }

    /// Records one call.
    pub fn request(&mut self, r: &RequestRecord) {
        let mut h = fnv1a(self.hash, b"R");
        for v in [r.id, r.parent, r.start_us, r.end_us] {
            h = fnv1a(h, &v.to_le_bytes());
        }
        h = fnv1a(h, &r.attempts.to_le_bytes());
        h = fnv1a(h, &[Outcome::ALL.iter().position(|o| *o == r.outcome).unwrap_or(0) as u8]);
        self.hash = fnv1a(h, r.edge.as_bytes());
        self.sink.request(r);
        self.requests += 1;
        if !self.edges.contains_key(&r.edge) {
            let agg = EdgeAgg {
                outcomes: BTreeMap::new(),
                latency: Histogram::default(),
                attempts: 0,
                series: Series::new(self.bin_us),
            };
            self.edges.insert(r.edge.clone(), agg);
        }
        let Some(agg) = self.edges.get_mut(&r.edge) else { return };
        *agg.outcomes.entry(r.outcome).or_insert(0) += 1;
        agg.latency.record(r.latency_us());
        agg.attempts += u64::from(r.attempts);
        let answer = match r.outcome {
            Outcome::Ok => Answer::Ok,
            Outcome::Partial | Outcome::Fallback => Answer::Degraded,
            _ => Answer::Failed,
        };
        if r.parent == 0 {
            let route = self.routes.entry(r.route).or_default();
            route.requests += 1;
            route.answered += u64::from(answer != Answer::Failed);
            route.latency.record(r.latency_us());
        }
        agg.series.record(r.start_us, r.latency_us(), answer);
    }

    /// Records one event.
    pub fn event(&mut self, e: &Event) {
        let node = self.names.get(e.node as usize).map_or("?", String::as_str);
        self.row.clear();
        e.write_row(node, &mut self.row);
        self.hash = fnv1a(fnv1a(self.hash, b"E"), self.row.as_bytes());
        self.events += 1;
        // The header is line 1.
        let logged = Logged { line: self.events + 1, t_us: e.t_us, node, kind: &e.kind };
        self.sink.event(&logged, &self.row);
    }

    /// Whether its sink reads attempts.
    pub fn wants_attempts(&self) -> bool {
        self.sink.wants_attempts()
    }

    /// Hands one attempt to the sink (attempts are not in the fingerprint).
    pub fn attempt(&mut self, a: &AttemptRecord) {
        self.sink.attempt(a);
    }

    /// `pattern` on `node`'s stack for `edge` holds `level` (in use, limit) from `t_us` on
    /// (levels are not in the fingerprint).
    pub fn level(&mut self, t_us: u64, at: (u32, &Arc<str>), pattern: &'static str, level: (u32, u32)) {
        self.levels.set(t_us, at, pattern, level);
    }

    /// `node` crashed at `t_us`: the levels its stacks held are gone.
    pub fn crash(&mut self, t_us: u64, node: u32) {
        self.levels.crash(t_us, node);
    }

    /// The fingerprint so far.
    pub fn fingerprint(&self) -> u64 {
        self.hash
    }

    /// Requests and events recorded so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.requests, self.events)
    }

    /// Per workload route (`names`: the workload's routes, in order), its client requests and
    /// the share answered and their latency; empty when the workload has no routes.
    pub fn route_summaries(&self, names: &[(String, f64)]) -> Vec<RouteSummary> {
        let none = RouteAgg::default();
        names
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                let a = self.routes.get(&(i as u16)).unwrap_or(&none);
                let n = a.requests;
                let ms = |us: u64| us as f64 / 1e3;
                RouteSummary {
                    route: name.clone(),
                    requests: n,
                    success_rate: if n == 0 { 0.0 } else { a.answered as f64 / n as f64 },
                    mean_ms: a.latency.mean() / 1e3,
                    p50_ms: ms(a.latency.quantile(0.50)),
                    p99_ms: ms(a.latency.quantile(0.99)),
                }
            })
            .collect()
    }

    /// Per-edge summaries, by edge name.
    pub fn edge_summaries(&self) -> Vec<EdgeSummary> {
        self.edges
            .iter()
            .map(|(edge, a)| {
                let n = a.latency.count();
                let count = |o: Outcome| a.outcomes.get(&o).copied().unwrap_or(0);
                let degraded = count(Outcome::Partial) + count(Outcome::Fallback);
                let ok = count(Outcome::Ok) + degraded;
                let ms = |us: u64| us as f64 / 1e3;
                EdgeSummary {
                    edge: edge.to_string(),
                    requests: n,
                    outcomes: a.outcomes.iter().map(|(o, c)| (o.as_str().to_owned(), *c)).collect(),
                    success_rate: if n == 0 { 0.0 } else { ok as f64 / n as f64 },
                    degraded_rate: if n == 0 { 0.0 } else { degraded as f64 / n as f64 },
                    mean_ms: a.latency.mean() / 1e3,
                    p50_ms: ms(a.latency.quantile(0.50)),
                    p95_ms: ms(a.latency.quantile(0.95)),
                    p99_ms: ms(a.latency.quantile(0.99)),
                    p999_ms: ms(a.latency.quantile(0.999)),
                    max_ms: ms(a.latency.max()),
                    mean_attempts: if n == 0 { 0.0 } else { a.attempts as f64 / n as f64 },
                    series: a.series.points(),
                }
            })
            .collect()
    }

    /// Hands the levels up to `end_us` to the sink and flushes it.
    pub fn finish(&mut self, end_us: u64) -> Result<(), String> {
        let rows = self.levels.rows(end_us, &self.names);
        if !rows.is_empty() {
            self.sink.levels(&rows);
        }
        self.sink.finish()
    }
}
