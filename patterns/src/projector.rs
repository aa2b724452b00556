//! The CQRS projector: folds an event store's global log into a read model kept in a
//! [`Store`], each event's change to the read model and the checkpoint (the last position
//! applied) in one transaction. After a crash it resumes from a checkpoint that matches its
//! read model, so each event is applied once however often it is read; the read model lags the
//! log (`head - checkpoint`), which is normal, not an error.
//!
//! The read model is the service's own ([`ReadModel`]); the log is any
//! [`EventStore`], or whatever the host reads events from
//! ([`Projector::apply`] takes them as read).

use std::future::Future;

use crate::event_sourcing::{EventStore, Recorded};
use crate::outbox::ports::{Store, StoreResult, Transaction};

/// A read model: how one event changes it.
pub trait ReadModel<E>: Send + Sync {
    /// Applies `event` to the read model, in `tx` (which the projector commits with the
    /// checkpoint).
    fn apply<T: Transaction>(&self, tx: &mut T, event: &Recorded<E>) -> impl Future<Output = StoreResult<()>> + Send;
}

/// A projector named `name` (its checkpoint is the state key `projector/{name}`, apart from
/// the store's own checkpoints, which relays keep).
pub struct Projector<S, M> {
    store: S,
    model: M,
    key: String,
}

fn position(value: Option<String>) -> u64 {
    value.and_then(|v| v.parse().ok()).unwrap_or(0)
}

impl<S: Store, M> Projector<S, M> {
    /// A projector of `model` kept in `store`.
    pub fn new(store: S, model: M, name: &str) -> Self {
        Projector { store, model, key: format!("projector/{name}") }
    }

    /// The last position applied (0: none).
    pub async fn checkpoint(&self) -> StoreResult<u64> {
        let mut tx = self.store.begin().await?;
        let at = position(tx.read(&self.key).await?);
        tx.commit().await?;
        Ok(at)
    }

    /// Applies `events` (in position order) one transaction each, the read model's change and
    /// the checkpoint together; skips an event at or below the checkpoint (read again) and
    /// stops at a gap (an event that is not the next position). Returns how many it applied.
    pub async fn apply<E>(&self, events: &[Recorded<E>]) -> StoreResult<usize>
    where
        M: ReadModel<E>,
    {
        let mut applied = 0;
        for event in events {
            let mut tx = self.store.begin().await?;
            let at = position(tx.read(&self.key).await?);
            if event.position <= at {
                continue;
            }
            if event.position != at + 1 {
                break;
            }
            self.model.apply(&mut tx, event).await?;
            tx.write(&self.key, &event.position.to_string()).await?;
            tx.commit().await?;
            applied += 1;
        }
        Ok(applied)
    }

    /// Reads up to `batch` events after the checkpoint from `log` and applies them.
    pub async fn catch_up<E>(&self, log: &dyn EventStore<E>, batch: usize) -> StoreResult<usize>
    where
        M: ReadModel<E>,
    {
        let from = self.checkpoint().await? + 1;
        let events = log.read_all(from, batch).await;
        self.apply(&events).await
    }

    /// Half of the planted bug the simulator's E3 must catch: the read model's change alone,
    /// committed; the checkpoint follows later ([`Projector::advance`]), so a crash between
    /// applies the event again. Never in a service.
    pub async fn apply_without_checkpoint<E>(&self, event: &Recorded<E>) -> StoreResult<()>
    where
        M: ReadModel<E>,
    {
        let mut tx = self.store.begin().await?;
        self.model.apply(&mut tx, event).await?;
        tx.commit().await
    }

    /// The planted bug's other half: moves the checkpoint to `position`.
    pub async fn advance(&self, position: u64) -> StoreResult<()> {
        let mut tx = self.store.begin().await?;
        tx.write(&self.key, &position.to_string()).await?;
        tx.commit().await
    }
}
