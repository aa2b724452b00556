//! Checkers E1-E3 for event sourcing and CQRS: as monitors of a run's events (an event-sourced
//! account's loads, an event store's appends, a projector's read model), and over in-memory
//! histories with a seeded driver of concurrent writers.
//!
//! - E1: replay (or snapshot + tail) reproduces the state: every load equals the fold of its
//!   stream's events up to the version loaded.
//! - E2: of appends that expected the same version of a stream, at most one wins, and lands right after it.
//! - E3: a read model at checkpoint c equals the fold of the log up to c (lag is not a violation).
//!
//! The driver models concurrency as interleaving: each writer's operation is two steps (read
//! the aggregate; append with the version it read), and a seeded stream picks which writer
//! steps next. Every interleaving a real system could produce between those steps is one the
//! seed can pick, and the same seed always picks the same one.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use faultline_patterns::event_sourcing::{
    replay, Aggregate, EventStore, ExpectedVersion, MemoryEventStore, Projection, Recorded, Repository, Snapshot,
};
use faultline_sim::rng::stream;

use faultline_sim::{EventKind, Logged};

use super::{Findings, Invariant, Monitor, Violation};

/// Runs a future that is ready at once (the in-memory store's are).
fn now<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => unreachable!("the in-memory event store never waits"),
    }
}

/// A bank account: the aggregate of the examples and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    /// Current balance.
    pub balance: i64,
}

/// What happens to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountEvent {
    /// Money in.
    Deposited(i64),
    /// Money out.
    Withdrawn(i64),
}

impl Aggregate for Account {
    type Event = AccountEvent;
    fn apply(&mut self, e: &AccountEvent) {
        match e {
            AccountEvent::Deposited(n) => self.balance += n,
            AccountEvent::Withdrawn(n) => self.balance -= n,
        }
    }
}

/// One append attempt, as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Which writer.
    pub writer: u32,
    /// The stream.
    pub stream: String,
    /// The version the writer read and expected.
    pub expected: u64,
    /// The new version if it was accepted.
    pub accepted: Option<u64>,
}

/// E2: among appends that expected the same version of a stream, at most one was accepted, and
/// each accepted append landed right after the version it expected.
pub fn check_e2(history: &[Attempt]) -> Option<Violation> {
    let mut winners: BTreeMap<(&str, u64), usize> = BTreeMap::new();
    for (i, a) in history.iter().enumerate() {
        let Some(new_version) = a.accepted else { continue };
        if new_version != a.expected + 1 {
            return Some(Violation::in_history(
                "E2",
                i,
                lost_update(u64::from(a.writer), a.expected, &a.stream, new_version),
            ));
        }
        if let Some(first) = winners.insert((a.stream.as_str(), a.expected), i) {
            let detail = format!(
                "appends {first} and {i} both won with expected version {} of {} (a lost update)",
                a.expected, a.stream
            );
            return Some(Violation::in_history("E2", i, detail));
        }
    }
    None
}

/// E1: for every stream, loading through the repository (snapshot + tail) equals a full replay.
pub fn check_e1<A: Aggregate + PartialEq + std::fmt::Debug>(
    store: &dyn EventStore<A::Event>,
    repo: &Repository<A>,
    streams: &[String],
) -> Option<Violation> {
    for (i, s) in streams.iter().enumerate() {
        let all = now(store.read_stream(s, 1));
        let full = replay(Snapshot { version: 0, state: A::default() }, &all);
        let loaded = now(repo.load(store, s));
        if loaded != full {
            let detail = format!("stream {s}: snapshot + tail gives {loaded:?}, replay gives {full:?}");
            return Some(Violation::in_history("E1", i, detail));
        }
    }
    None
}

/// E3: the read model at its checkpoint equals the fold of the global log up to it.
pub fn check_e3<A: Aggregate + PartialEq + std::fmt::Debug>(
    store: &dyn EventStore<A::Event>,
    projection: &Projection<A>,
) -> Option<Violation> {
    let log: Vec<Recorded<A::Event>> = now(store.read_all(1, projection.checkpoint as usize));
    let mut expected: BTreeMap<String, A> = BTreeMap::new();
    for r in &log {
        expected.entry(r.stream.clone()).or_default().apply(&r.event);
    }
    if expected != projection.views {
        let detail = format!("read model {:?} != fold {:?}", projection.views, expected);
        return Some(Violation::in_history("E3", projection.checkpoint as usize, detail));
    }
    None
}

/// What one run of concurrent writers produced.
#[derive(Debug)]
pub struct WritersRun {
    /// Every append attempt in order.
    pub attempts: Vec<Attempt>,
    /// The first violation found by E1, E2, E3 or the business rule, if any.
    pub violation: Option<Violation>,
    /// Final balances by stream (from a full replay).
    pub balances: BTreeMap<String, i64>,
}

/// `writers` writers each try `ops` withdrawals of 30 from one of `accounts` accounts that start
/// with 100, never overdrawing as far as they can see; steps interleave as `seed` picks.
/// `version_check: false` runs the planted bug.
pub fn concurrent_writers(seed: u64, writers: u32, accounts: u32, ops: u32, version_check: bool) -> WritersRun {
    let store: MemoryEventStore<AccountEvent> =
        if version_check { MemoryEventStore::default() } else { MemoryEventStore::without_version_check() };
    let streams: Vec<String> = (0..accounts).map(|a| format!("account-{a}")).collect();
    for s in &streams {
        let _ = now(store.append(s, ExpectedVersion::Exact(0), vec![AccountEvent::Deposited(100)]));
    }
    let repo = Repository::<Account>::new(3);
    let mut rng = stream(seed, "es/writers");
    // Per writer: operations left, and a pending read (stream, version seen, balance seen).
    let mut left: Vec<u32> = vec![ops; writers as usize];
    let mut pending: Vec<Option<(String, u64, i64)>> = vec![None; writers as usize];
    let mut attempts = Vec::new();
    let mut projection = Projection::<Account>::default();
    while left.iter().any(|l| *l > 0) || pending.iter().any(Option::is_some) {
        let w = rng.below(u64::from(writers)) as usize;
        match pending[w].take() {
            None if left[w] > 0 => {
                let s = streams[rng.below(u64::from(accounts)) as usize].clone();
                let state = now(repo.load(&store, &s));
                pending[w] = Some((s, state.version, state.state.balance));
            }
            None => {}
            Some((s, version, balance)) => {
                left[w] -= 1;
                if balance < 30 {
                    continue; // the business rule, as this writer sees it
                }
                let accepted =
                    now(store.append(&s, ExpectedVersion::Exact(version), vec![AccountEvent::Withdrawn(30)])).ok();
                attempts.push(Attempt { writer: w as u32, stream: s, expected: version, accepted });
            }
        }
        if rng.chance(0.3) {
            now(projection.catch_up(&store, 4));
        }
    }
    let mut balances = BTreeMap::new();
    let mut violation = check_e2(&attempts);
    for s in &streams {
        let full = replay(Snapshot { version: 0, state: Account::default() }, &now(store.read_stream(s, 1)));
        if full.state.balance < 0 && violation.is_none() {
            let detail = format!("{s} overdrawn to {}", full.state.balance);
            violation = Some(Violation::in_history("invariant", attempts.len(), detail));
        }
        balances.insert(s.clone(), full.state.balance);
    }
    violation = violation.or_else(|| check_e1(&store, &repo, &streams)).or_else(|| check_e3(&store, &projection));
    WritersRun { attempts, violation, balances }
}

fn lost_update(writer: u64, expected: u64, stream: &str, version: u64) -> String {
    format!(
        "writer {writer} expected version {expected} of {stream} but its append became version {version}: another append landed in between (a lost update)"
    )
}

const E1: &[Invariant] =
    &[Invariant { id: "E1", statement: "every load (snapshot + replay) equals the fold of its stream's events" }];
const E2: &[Invariant] = &[Invariant {
    id: "E2",
    statement: "of appends expecting one version of a stream, at most one wins, and lands right after it",
}];
const E3: &[Invariant] =
    &[Invariant { id: "E3", statement: "a read model at checkpoint c equals the fold of the log up to c" }];

/// E1 on an event-sourced account service's events: every `es.load` (stream, version, balance,
/// loaded from a snapshot or by replay alone) must equal the fold of the stream's `es.append`
/// events up to that version (a deposit adds 10, a withdrawal takes 10).
#[derive(Debug, Default)]
pub struct ReplayChecker {
    /// stream -> balance after each version.
    balances: BTreeMap<u64, Vec<i64>>,
    found: Vec<Violation>,
}

impl Monitor for ReplayChecker {
    fn invariants(&self) -> &'static [Invariant] {
        E1
    }

    fn on_event(&mut self, e: &Logged<'_>) {
        match e.kind {
            EventKind::EsAppend { stream, kind: Some(kind), .. } => {
                let step = if *kind == "withdraw" { -10 } else { 10 };
                let history = self.balances.entry(*stream).or_default();
                let last = history.last().copied().unwrap_or(0);
                history.push(last + step);
            }
            EventKind::EsLoad { stream, version, balance, snapshot, replayed } => {
                let fold = match *version {
                    0 => Some(0),
                    v => self.balances.get(stream).and_then(|h| h.get(v as usize - 1)).copied(),
                };
                if fold != Some(*balance) {
                    let how = match snapshot {
                        0 => "by replaying every event".to_owned(),
                        s => format!("from the snapshot at version {s} and {replayed} events"),
                    };
                    let fold = fold.map_or("?".to_owned(), |f| f.to_string());
                    let detail = format!(
                        "account {stream} loaded {how} at version {version} has balance {balance}; its events fold to {fold}"
                    );
                    self.found.push(Violation::at("E1", e, detail));
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, findings: &mut Findings) {
        findings.violations.append(&mut self.found);
    }
}

/// E2 on an event store's accepted appends (`es.append`).
#[derive(Debug, Default)]
pub struct VersionChecker {
    /// (stream, expected version) -> the line of the append that won it.
    winners: BTreeMap<(u64, u64), u64>,
    found: Vec<Violation>,
}

impl Monitor for VersionChecker {
    fn invariants(&self) -> &'static [Invariant] {
        E2
    }

    fn on_event(&mut self, e: &Logged<'_>) {
        let EventKind::EsAppend { stream, expected, version, writer, .. } = e.kind else { return };
        if *version != expected + 1 {
            let detail = lost_update(*writer, *expected, &format!("stream-{stream}"), *version);
            self.found.push(Violation::at("E2", e, detail));
        } else if let Some(first) = self.winners.insert((*stream, *expected), e.line) {
            let detail = format!(
                "the appends at lines {first} and {} both won with expected version {expected} of stream-{stream} (a lost update)",
                e.line
            );
            self.found.push(Violation::at("E2", e, detail));
        }
    }

    fn finish(&mut self, findings: &mut Findings) {
        findings.violations.append(&mut self.found);
    }
}

/// E3 on a projector's events: each `projection.apply` (position `p`, stream `s`, count `n`)
/// must show the fold of the store's log up to `p`, that is `n` = the number of `es.append`
/// events of `s` at positions up to `p`. An event applied twice (or skipped) breaks it at the
/// first wrong count.
#[derive(Debug, Default)]
pub struct ReadModelChecker {
    positions: BTreeMap<u64, Vec<u64>>,
    found: Vec<Violation>,
}

impl Monitor for ReadModelChecker {
    fn invariants(&self) -> &'static [Invariant] {
        E3
    }

    fn on_event(&mut self, e: &Logged<'_>) {
        match e.kind {
            EventKind::EsAppend { stream, position, .. } => self.positions.entry(*stream).or_default().push(*position),
            EventKind::ProjectionApply { position, stream, count } => {
                // Positions grow: the events up to `position` are a prefix.
                let expected = self.positions.get(stream).map_or(0, |ps| ps.partition_point(|p| p <= position) as u64);
                if *count != expected {
                    let detail = format!(
                        "the read model counts {count} events of stream {stream} at checkpoint {position}; the log up to it has {expected}"
                    );
                    self.found.push(Violation::at("E3", e, detail));
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, findings: &mut Findings) {
        findings.violations.append(&mut self.found);
    }
}
