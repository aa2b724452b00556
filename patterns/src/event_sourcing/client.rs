//! The writer's side of optimistic concurrency: read the stream's version, decide with what was
//! read, append expecting that version; when another writer got there first (a conflict), read
//! again and decide again. Of writers that read the same version at most one wins; none loses
//! an update. An append that failed otherwise (a timeout) may have happened: a caller that
//! tries again may append twice.
//!
//! [`VersionedStreams`] is the port: the store's version of a stream and an append that names
//! the version it expects. The simulator implements it over the network to its event store
//! node (`sim/src/apps/es_writer.rs`); [`MemoryEventStore`] implements it in memory.

use std::future::Future;

use super::{EventStore, ExpectedVersion, MemoryEventStore, WrongExpectedVersion};

/// Why an append did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendError<E> {
    /// The stream had moved on: read again.
    Conflict(WrongExpectedVersion),
    /// The store could not be reached or refused for another reason (the port's own error).
    Failed(E),
}

/// Streams with versions, appended to with an expected version.
pub trait VersionedStreams<Ev>: Send + Sync {
    /// What a failed call says (a network error, a database error).
    type Error: Send;
    /// The stream's version now (0: no event yet).
    fn version(&self, stream: &str) -> impl Future<Output = Result<u64, Self::Error>> + Send;
    /// Appends `event` if the stream is at `expected`; returns the new version.
    fn append(
        &self,
        stream: &str,
        expected: u64,
        event: Ev,
    ) -> impl Future<Output = Result<u64, AppendError<Self::Error>>> + Send;
}

/// Reads `stream`'s version, asks `decide` for the event to append at it, and appends it
/// expecting that version; on a conflict, reads and decides again, at most `attempts` times in
/// all. Returns the new version, the last conflict when every attempt lost, or the first other
/// failure.
pub async fn append_expecting<S, Ev, F, Fut>(
    streams: &S,
    stream: &str,
    attempts: u32,
    decide: F,
) -> Result<u64, AppendError<S::Error>>
where
    S: VersionedStreams<Ev>,
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Ev>,
{
    append_expecting_with_pause(streams, stream, attempts, decide, |_| std::future::ready(())).await
}

/// [`append_expecting`] that waits `pause(n)` after the `n`-th conflict (1-based) before it
/// reads again: a backoff, so that writers that keep colliding on one stream spread out
/// (Brooker's "Exponential Backoff And Jitter" measures exactly this contention). The wait is
/// the caller's: the runtime's timer, with whatever jitter it draws.
pub async fn append_expecting_with_pause<S, Ev, F, Fut, P, PFut>(
    streams: &S,
    stream: &str,
    attempts: u32,
    mut decide: F,
    mut pause: P,
) -> Result<u64, AppendError<S::Error>>
where
    S: VersionedStreams<Ev>,
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Ev>,
    P: FnMut(u32) -> PFut,
    PFut: Future<Output = ()>,
{
    let mut last = WrongExpectedVersion { stream: stream.to_owned(), expected: 0, actual: 0 };
    for attempt in 1..=attempts.max(1) {
        if attempt > 1 {
            pause(attempt - 1).await;
        }
        let version = streams.version(stream).await.map_err(AppendError::Failed)?;
        let event = decide(version).await;
        match streams.append(stream, version, event).await {
            Err(AppendError::Conflict(c)) => last = c,
            other => return other,
        }
    }
    Err(AppendError::Conflict(last))
}

impl<Ev: Clone + Send + 'static> VersionedStreams<Ev> for MemoryEventStore<Ev> {
    type Error = std::convert::Infallible;
    async fn version(&self, stream: &str) -> Result<u64, Self::Error> {
        Ok(self.versions.lock().map(|v| v.get(stream).copied().unwrap_or(0)).unwrap_or(0))
    }
    async fn append(&self, stream: &str, expected: u64, event: Ev) -> Result<u64, AppendError<Self::Error>> {
        EventStore::append(self, stream, ExpectedVersion::Exact(expected), vec![event])
            .await
            .map_err(AppendError::Conflict)
    }
}
