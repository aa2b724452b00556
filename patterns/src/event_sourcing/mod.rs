//! Event sourcing and CQRS.
//!
//! State is the fold of an append-only stream of events per aggregate. Writers append with an
//! **expected version** (optimistic concurrency): an append succeeds only if the stream is
//! still at the version the writer read, so of K concurrent writers that read the same version
//! exactly one wins and the others must re-read and decide again (no lost updates).
//! **Snapshots** bound replay time: load = latest snapshot + the events after it. A
//! **projection** (the read side of CQRS) folds the global log into a read model and remembers
//! its checkpoint; `head - checkpoint` is its lag, which is normal, not an error.
//!
//! [`EventStore`] is the port: [`MemoryEventStore`] implements it in memory.
//! `MemoryEventStore::without_version_check` is the planted bug the checkers must catch. The
//! writer's side, read-decide-append with retries on conflict, is `client`, on its own
//! narrower port (a stream's version and an append expecting one), which the simulator's
//! writers use over the network.

pub mod client;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use crate::service::BoxFuture;

/// What a writer expects the stream's version to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Whatever it is (no concurrency check).
    Any,
    /// Exactly this many events (0: the stream does not exist yet).
    Exact(u64),
}

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded<E> {
    /// Position in the global log (1-based).
    pub position: u64,
    /// The aggregate's stream.
    pub stream: String,
    /// Version within the stream (1-based).
    pub version: u64,
    /// The event.
    pub event: E,
}

/// An append was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongExpectedVersion {
    /// The stream.
    pub stream: String,
    /// What the writer expected.
    pub expected: u64,
    /// What the stream was at.
    pub actual: u64,
}

impl fmt::Display for WrongExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stream {}: expected version {}, found {}", self.stream, self.expected, self.actual)
    }
}

/// The event store port.
pub trait EventStore<E>: Send + Sync {
    /// Appends `events` if the stream is at `expected`; returns the new version.
    fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<E>,
    ) -> BoxFuture<Result<u64, WrongExpectedVersion>>;
    /// The stream's events from version `from` (1-based) on.
    fn read_stream(&self, stream: &str, from: u64) -> BoxFuture<Vec<Recorded<E>>>;
    /// The global log from position `from` (1-based) on, at most `max` events.
    fn read_all(&self, from: u64, max: usize) -> BoxFuture<Vec<Recorded<E>>>;
    /// The last global position (0 when empty).
    fn head(&self) -> BoxFuture<u64>;
}

/// An event store in memory.
pub struct MemoryEventStore<E> {
    log: Mutex<Vec<Recorded<E>>>,
    versions: Mutex<BTreeMap<String, u64>>,
    check_versions: bool,
}

impl<E> Default for MemoryEventStore<E> {
    fn default() -> Self {
        MemoryEventStore { log: Mutex::new(Vec::new()), versions: Mutex::new(BTreeMap::new()), check_versions: true }
    }
}

impl<E> MemoryEventStore<E> {
    /// The planted bug: appends ignore the expected version (last writer wins, updates lost).
    pub fn without_version_check() -> Self {
        MemoryEventStore { check_versions: false, ..Self::default() }
    }
}

impl<E: Clone + Send + 'static> EventStore<E> for MemoryEventStore<E> {
    fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<E>,
    ) -> BoxFuture<Result<u64, WrongExpectedVersion>> {
        let result = (|| {
            let mut versions = self.versions.lock().map_err(|_| WrongExpectedVersion {
                stream: stream.into(),
                expected: 0,
                actual: 0,
            })?;
            let mut log =
                self.log.lock().map_err(|_| WrongExpectedVersion { stream: stream.into(), expected: 0, actual: 0 })?;
            let actual = versions.get(stream).copied().unwrap_or(0);
            if let (true, ExpectedVersion::Exact(expected)) = (self.check_versions, expected) {
                if expected != actual {
                    return Err(WrongExpectedVersion { stream: stream.to_owned(), expected, actual });
                }
            }
            let mut version = actual;
            for event in events {
                version += 1;
                let position = log.len() as u64 + 1;
                log.push(Recorded { position, stream: stream.to_owned(), version, event });
            }
            versions.insert(stream.to_owned(), version);
            Ok(version)
        })();
        Box::pin(async move { result })
    }

    fn read_stream(&self, stream: &str, from: u64) -> BoxFuture<Vec<Recorded<E>>> {
        let events: Vec<Recorded<E>> = self
            .log
            .lock()
            .map(|l| l.iter().filter(|r| r.stream == stream && r.version >= from).cloned().collect())
            .unwrap_or_default();
        Box::pin(async move { events })
    }

    fn read_all(&self, from: u64, max: usize) -> BoxFuture<Vec<Recorded<E>>> {
        let events: Vec<Recorded<E>> = self
            .log
            .lock()
            .map(|l| l.iter().skip(from.saturating_sub(1) as usize).take(max).cloned().collect())
            .unwrap_or_default();
        Box::pin(async move { events })
    }

    fn head(&self) -> BoxFuture<u64> {
        let head = self.log.lock().map(|l| l.len() as u64).unwrap_or(0);
        Box::pin(async move { head })
    }
}

/// State built by folding events.
pub trait Aggregate: Clone + Default + Send + 'static {
    /// The events it is built from.
    type Event: Clone + Send + 'static;
    /// Applies one event.
    fn apply(&mut self, event: &Self::Event);
}

/// State and the version it reflects.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot<A> {
    /// The stream version the state includes.
    pub version: u64,
    /// The state.
    pub state: A,
}

/// The fold of `events` onto `start`.
pub fn replay<A: Aggregate>(start: Snapshot<A>, events: &[Recorded<A::Event>]) -> Snapshot<A> {
    let mut s = start;
    for r in events {
        if r.version > s.version {
            s.state.apply(&r.event);
            s.version = r.version;
        }
    }
    s
}

/// Loads and saves aggregates, snapshotting every `snapshot_every` events.
pub struct Repository<A: Aggregate> {
    snapshots: Mutex<BTreeMap<String, Snapshot<A>>>,
    snapshot_every: u64,
}

impl<A: Aggregate> Repository<A> {
    /// Snapshots every `snapshot_every` events (0: never).
    pub fn new(snapshot_every: u64) -> Self {
        Repository { snapshots: Mutex::new(BTreeMap::new()), snapshot_every }
    }

    /// The aggregate: its latest snapshot plus the events after it.
    pub async fn load(&self, store: &dyn EventStore<A::Event>, stream: &str) -> Snapshot<A> {
        let start = self
            .snapshots
            .lock()
            .ok()
            .and_then(|s| s.get(stream).cloned())
            .unwrap_or(Snapshot { version: 0, state: A::default() });
        let tail = store.read_stream(stream, start.version + 1).await;
        let loaded = replay(start, &tail);
        if self.snapshot_every > 0 && tail.len() as u64 >= self.snapshot_every {
            if let Ok(mut s) = self.snapshots.lock() {
                s.insert(stream.to_owned(), loaded.clone());
            }
        }
        loaded
    }
}

/// A read model folded from the global log, with its checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection<A> {
    /// The last global position folded in.
    pub checkpoint: u64,
    /// One read model per stream.
    pub views: BTreeMap<String, A>,
}

impl<A: Aggregate> Default for Projection<A> {
    fn default() -> Self {
        Projection { checkpoint: 0, views: BTreeMap::new() }
    }
}

impl<A: Aggregate> Projection<A> {
    /// Folds in up to `batch` events after the checkpoint; returns how many.
    pub async fn catch_up(&mut self, store: &dyn EventStore<A::Event>, batch: usize) -> usize {
        let events = store.read_all(self.checkpoint + 1, batch).await;
        for r in &events {
            self.views.entry(r.stream.clone()).or_default().apply(&r.event);
            self.checkpoint = r.position;
        }
        events.len()
    }

    /// How far behind the store's head it is (lag, not an error).
    pub async fn lag(&self, store: &dyn EventStore<A::Event>) -> u64 {
        store.head().await.saturating_sub(self.checkpoint)
    }
}
