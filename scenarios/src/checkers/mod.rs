//! Invariant checkers (docs/checkers.md) and the measures taken beside them. They watch a run's
//! typed records as the run goes, never drive a system, and report every violation (with the
//! first few as evidence: a line of `events.csv`). They sit beside the scenarios, outside both
//! the patterns and the simulator.
//!
//! - [`saga`]: S1-S3 (every saga ends; compensations only for attempted steps, in reverse
//!   order, each taking effect once) and dirty reads (`SL`: a violation under a semantic lock,
//!   a measure otherwise).
//! - [`outbox`]: O1-O3 (every committed change published, no phantom; each event applied once;
//!   per-key order).
//! - [`event_sourcing`]: E1-E3 on a run's events, and a seeded in-memory driver of concurrent
//!   writers with the same checks.
//! - [`liveness`]: `stall` (requests in flight, none completing) and `exactly_once` (a request
//!   executed twice by a service that must not).
//! - [`measures`]: a read model's lag over time.
//! - [`expect`]: what the scenario expects to happen: faults that do something, `sometimes`.
//! - [`converge`]: the liveness phase: after the faults heal, the system comes back.
//!
//! [`for_spec`] picks the monitors that apply to a spec; [`Checking`] feeds them the records of
//! a run (it is a [`RecordSink`] in front of another one) and [`Monitors::conclude`] turns what
//! they found into a [`Verdict`].

pub mod converge;
pub mod event_sourcing;
pub mod expect;
pub mod liveness;
pub mod measures;
pub mod outbox;
pub mod saga;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use faultline_sim::record::{RecordSink, RequestRecord};
use faultline_sim::verdict::{Check, Evidence, Measures, Status, Verdict};
use faultline_sim::{Logged, SimSpec};

/// An invariant a monitor checks: a short name and what it states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invariant {
    /// e.g. `O1`.
    pub id: &'static str,
    /// e.g. `every committed change is published, and nothing else is`.
    pub statement: &'static str,
}

/// A broken invariant: which checker, where it shows, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// e.g. `E2`.
    pub checker: &'static str,
    /// The line in `events.csv` of the event that shows it (or the position in the history
    /// checked, for histories outside a run).
    pub line: u64,
    /// Virtual time of that event, µs.
    pub t_us: u64,
    /// The node of that event.
    pub node: String,
    /// What is wrong.
    pub detail: String,
}

impl Violation {
    /// A violation shown by the event `at`.
    pub fn at(checker: &'static str, at: &Logged<'_>, detail: impl Into<String>) -> Self {
        Violation { checker, line: at.line, t_us: at.t_us, node: at.node.to_owned(), detail: detail.into() }
    }

    /// A violation at position `index` of a history checked outside a run.
    pub fn in_history(checker: &'static str, index: usize, detail: impl Into<String>) -> Self {
        Violation { checker, line: index as u64, t_us: 0, node: String::new(), detail: detail.into() }
    }

    fn evidence(&self) -> Evidence {
        Evidence { line: self.line, t_us: self.t_us, node: self.node.clone(), detail: self.detail.clone() }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.checker, self.evidence().describe())
    }
}

/// Where an event is: its line in `events.csv`, its time and node. Checkers remember many, so
/// node names are shared ([`Nodes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// Line in `events.csv` (the header is line 1).
    pub line: u64,
    /// Virtual time, µs.
    pub t_us: u64,
    /// The node.
    pub node: Arc<str>,
}

impl Place {
    /// A violation of `checker` shown by the event here.
    pub fn violation(&self, checker: &'static str, detail: impl Into<String>) -> Violation {
        Violation { checker, line: self.line, t_us: self.t_us, node: self.node.to_string(), detail: detail.into() }
    }
}

/// Node names, each kept once.
#[derive(Debug, Default)]
pub struct Nodes(BTreeMap<String, Arc<str>>);

impl Nodes {
    /// Where `e` is.
    pub fn place(&mut self, e: &Logged<'_>) -> Place {
        let node = match self.0.get(e.node) {
            Some(n) => n.clone(),
            None => {
                let n: Arc<str> = e.node.into();
                self.0.insert(e.node.to_owned(), n.clone());
                n
            }
        };
        Place { line: e.line, t_us: e.t_us, node }
    }
}

/// Where a monitor reports, at the end of a run.
#[derive(Debug, Default)]
pub struct Findings {
    /// Every violation found.
    pub violations: Vec<Violation>,
    /// Figures measured.
    pub measures: Measures,
    /// What a checker could not judge, in words (it goes to the verdict's warnings).
    pub warnings: Vec<String>,
}

/// Watches a run's records. A checker states invariants and reports violations; a monitor
/// without invariants only measures.
pub trait Monitor: Send {
    /// The invariants it checks (empty for a pure measure).
    fn invariants(&self) -> &'static [Invariant];
    /// One event, as the run records it.
    fn on_event(&mut self, event: &Logged<'_>);
    /// One call, as the run records it.
    fn on_request(&mut self, _record: &RequestRecord) {}
    /// The run is over: report violations and measures.
    fn finish(&mut self, findings: &mut Findings);
}

/// The monitors that apply to a run of `spec`.
pub fn for_spec(spec: &SimSpec) -> Vec<Box<dyn Monitor>> {
    let apps = |names: &[&str]| spec.services.iter().any(|s| s.app_name().is_some_and(|a| names.contains(&a)));
    let mut out: Vec<Box<dyn Monitor>> = Vec::new();
    if apps(&["order_saga", "saga_choreography"]) {
        out.push(Box::new(saga::SagaChecker::new(spec.saga(false))));
    }
    if spec.semantic_lock() || spec.services.iter().any(|s| s.participant().is_some_and(|p| p.stock.is_some())) {
        out.push(Box::new(saga::DirtyReads::new(spec.semantic_lock())));
    }
    if apps(&["outbox"]) {
        out.push(Box::new(outbox::OutboxChecker::default()));
    }
    if apps(&["account"]) {
        out.push(Box::new(event_sourcing::ReplayChecker::default()));
    }
    if apps(&["event_store"]) {
        out.push(Box::new(event_sourcing::VersionChecker::default()));
    }
    if apps(&["projector"]) {
        out.push(Box::new(event_sourcing::ReadModelChecker::default()));
        out.push(Box::new(measures::ReadModelLag::default()));
    }
    if spec.services.iter().any(|s| s.exactly_once_check) {
        out.push(Box::new(liveness::ExactlyOnce::default()));
    }
    if spec.stall_after.is_some() {
        out.push(Box::new(liveness::Stall::default()));
    }
    out
}

/// A record sink that feeds every record to the monitors, then to `inner`.
pub struct Checking {
    inner: Box<dyn RecordSink>,
    monitors: Arc<Mutex<Vec<Box<dyn Monitor>>>>,
}

/// The monitors of a [`Checking`] sink, kept by whoever started the run to conclude it.
#[derive(Clone)]
pub struct Monitors(Arc<Mutex<Vec<Box<dyn Monitor>>>>);

impl Checking {
    /// Checks the records on their way to `inner`; the returned handle concludes the run.
    pub fn new(inner: Box<dyn RecordSink>, monitors: Vec<Box<dyn Monitor>>) -> (Checking, Monitors) {
        let shared = Arc::new(Mutex::new(monitors));
        (Checking { inner, monitors: shared.clone() }, Monitors(shared))
    }
}

impl RecordSink for Checking {
    fn request(&mut self, record: &RequestRecord) {
        if let Ok(mut m) = self.monitors.lock() {
            for monitor in m.iter_mut() {
                monitor.on_request(record);
            }
        }
        self.inner.request(record);
    }

    fn event(&mut self, event: &Logged<'_>, row: &str) {
        if let Ok(mut m) = self.monitors.lock() {
            for monitor in m.iter_mut() {
                monitor.on_event(event);
            }
        }
        self.inner.event(event, row);
    }

    fn wants_attempts(&self) -> bool {
        self.inner.wants_attempts()
    }

    fn attempt(&mut self, attempt: &faultline_sim::record::AttemptRecord) {
        self.inner.attempt(attempt);
    }

    fn levels(&mut self, rows: &[faultline_sim::levels::LevelRow]) {
        self.inner.levels(rows);
    }

    fn finish(&mut self) -> Result<(), String> {
        self.inner.finish()
    }
}

impl Monitors {
    /// The verdict and measures of the run the monitors watched.
    pub fn conclude(&self) -> (Verdict, Measures) {
        let mut monitors = self.0.lock().unwrap_or_else(|e| e.into_inner());
        conclude(monitors.as_mut_slice())
    }
}

/// Finishes `monitors` and gathers their findings: one [`Check`] per invariant, in the order
/// the monitors state them, with exact counts and the earliest violations as evidence.
pub fn conclude(monitors: &mut [Box<dyn Monitor>]) -> (Verdict, Measures) {
    let mut findings = Findings::default();
    let mut invariants = Vec::new();
    for m in monitors.iter_mut() {
        invariants.extend_from_slice(m.invariants());
        m.finish(&mut findings);
    }
    let mut by_checker: BTreeMap<&str, Vec<&Violation>> = BTreeMap::new();
    for v in &findings.violations {
        by_checker.entry(v.checker).or_default().push(v);
    }
    let check = |id: &str, statement: &str, mut found: Vec<&Violation>| {
        found.sort_by_key(|v| (v.line, v.t_us));
        Check {
            checker: id.to_owned(),
            invariant: statement.to_owned(),
            status: if found.is_empty() { Status::Held } else { Status::Violated },
            violations: found.len() as u64,
            evidence: found.iter().take(Check::EVIDENCE_KEPT).map(|v| v.evidence()).collect(),
        }
    };
    let mut checks: Vec<Check> = invariants
        .iter()
        .map(|inv| check(inv.id, inv.statement, by_checker.remove(inv.id).unwrap_or_default()))
        .collect();
    // A violation under a name no monitor states is a bug in that monitor: it is reported
    // anyway, never dropped.
    for (id, found) in by_checker {
        checks.push(check(id, "(an invariant its checker does not state)", found));
    }
    (Verdict { checks, warnings: findings.warnings }, findings.measures)
}

/// Runs monitors over events kept after a run (a memory sink's), for tests and tools.
pub fn check_events<'a>(
    monitors: Vec<Box<dyn Monitor>>,
    events: impl IntoIterator<Item = &'a faultline_sim::OwnedEvent>,
) -> (Verdict, Measures) {
    let mut monitors = monitors;
    for e in events {
        let logged = e.logged();
        for m in monitors.iter_mut() {
            m.on_event(&logged);
        }
    }
    conclude(&mut monitors)
}
