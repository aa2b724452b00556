//! Idempotency keys for a service whose work is not one local transaction (an RPC handler that
//! calls others): the first request with a key runs; a duplicate that arrives while it runs
//! waits; if the first succeeded, the duplicate gets the recorded answer without running; if
//! it failed, the failure is forgotten and the duplicate runs the work itself (waiting
//! duplicates then run one at a time). Answers are kept until the store forgets them
//! ([`MemoryAnswers`] never does). (A service whose work is one
//! database transaction records the answer in that transaction instead:
//! `outbox::idempotency`.)
//!
//! The answers live behind a small port, [`Answers`], shared by the service's replicas and
//! kept across their restarts. Its calls are synchronous and must be quick (an in-process map,
//! a local cache); an answer store across the network wants an async port, not this one.
//! [`MemoryAnswers`] keeps them in memory. The simulator's replicas use this code with
//! `idempotency = true`.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

/// What a key's record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen<A> {
    /// No request had the key: it is now marked running, for the caller.
    First,
    /// A request with the key is running.
    Running,
    /// A request with the key succeeded with this answer.
    Answered(A),
}

/// Where answers are recorded.
pub trait Answers<K, A>: Send + Sync {
    /// Looks `key` up, marking it running when no request had it ([`Seen::First`]), at once.
    fn claim(&self, key: &K) -> Seen<A>;
    /// How the request that claimed `key` ended: its answer, or `None` (forget the key).
    fn finish(&self, key: &K, answer: Option<A>);
}

/// Answers in memory.
#[derive(Debug)]
pub struct MemoryAnswers<K, A>(Mutex<BTreeMap<K, Option<A>>>);

impl<K, A> Default for MemoryAnswers<K, A> {
    fn default() -> Self {
        MemoryAnswers(Mutex::new(BTreeMap::new()))
    }
}

impl<K: Ord + Clone + Send, A: Clone + Send> Answers<K, A> for MemoryAnswers<K, A> {
    fn claim(&self, key: &K) -> Seen<A> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(key) {
            Some(Some(a)) => Seen::Answered(a.clone()),
            Some(None) => Seen::Running,
            None => {
                map.insert(key.clone(), None);
                Seen::First
            }
        }
    }
    fn finish(&self, key: &K, answer: Option<A>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match answer {
            Some(a) => map.insert(key.clone(), Some(a)),
            None => map.remove(key),
        };
    }
}

/// Runs `work` once per `key`: the recorded answer if a request with the key succeeded;
/// otherwise waits (looking every `poll`) while one runs, then runs `work` if none succeeded.
/// Nothing here bounds the wait: bound it with the caller's deadline or a timeout around this
/// call.
///
/// Work that is dropped before it ends (its task cancelled) leaves its key marked running, on
/// purpose: it may have had its effect already, so a duplicate must not run it again; its
/// duplicates wait until their callers give up, for as long as the store keeps the key (no
/// lease expires it here). Count effects inside `work`: a duplicate
/// answered from the record returns `Ok` without running it.
pub async fn once<K, A, E, F, Fut>(answers: &dyn Answers<K, A>, key: K, poll: Duration, work: F) -> Result<A, E>
where
    A: Clone,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<A, E>>,
{
    loop {
        match answers.claim(&key) {
            Seen::Answered(a) => return Ok(a),
            Seen::Running => tokio::time::sleep(poll).await,
            Seen::First => break,
        }
    }
    let result = work().await;
    answers.finish(&key, result.as_ref().ok().cloned());
    result
}
