//! Relays: they move committed outbox rows to the broker, in commit order, at least once.
//!
//! The polling relay reads the outbox table and deletes each row once the broker has it; the
//! log-tailing relay follows the outbox as a log from a durable checkpoint, which it advances
//! after each ack (as a connector that streams the database's commit log does). Either way a
//! relay that dies between the broker's ack and its own bookkeeping publishes that message
//! again after a restart: consumers deduplicate ([`super::inbox`]). A failed publish is retried
//! before any later row, so per-key order holds, for one relay per outbox: two relays on one
//! outbox (a relay in every replica) reorder and duplicate; run one (a leader) per outbox.

use std::sync::Arc;
use std::time::Duration;

use super::ports::{Message, PublishError, Publisher, Store, StoreError};

/// How a relay works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayConfig {
    /// Rows read per pass. Default 100.
    pub batch: usize,
    /// The wait after a pass that found nothing. Default 10 ms.
    pub idle: Duration,
    /// The wait after a failed publish or read. Default 10 ms.
    pub retry_after: Duration,
    /// Publishes a batch all at once instead of in order: loses per-key order (a planted bug
    /// for the simulator's O3; never set it in a service). Default false.
    pub parallel: bool,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            batch: 100,
            idle: Duration::from_millis(10),
            retry_after: Duration::from_millis(10),
            parallel: false,
        }
    }
}

/// Why a relay pass stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayError {
    /// The store failed (reading the outbox or doing the bookkeeping).
    Store(StoreError),
    /// The broker did not take a message.
    Publish(PublishError),
}

impl std::fmt::Display for RelayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RelayError::Store(e) => e.fmt(f),
            RelayError::Publish(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RelayError {}

impl From<StoreError> for RelayError {
    fn from(e: StoreError) -> Self {
        RelayError::Store(e)
    }
}

impl From<PublishError> for RelayError {
    fn from(e: PublishError) -> Self {
        RelayError::Publish(e)
    }
}

/// Which bookkeeping a relay does after each ack.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    /// Delete the row.
    Polling,
    /// Advance the named checkpoint.
    Tailing(String),
}

/// A relay from one store's outbox to one publisher.
pub struct Relay<S, P> {
    store: Arc<S>,
    publisher: Arc<P>,
    config: RelayConfig,
    mode: Mode,
}

impl<S: Store + 'static, P: Publisher + 'static> Relay<S, P> {
    /// A polling relay: publishes the outbox's rows and deletes each once the broker has it.
    pub fn polling(store: Arc<S>, publisher: Arc<P>, config: RelayConfig) -> Self {
        Relay { store, publisher, config, mode: Mode::Polling }
    }

    /// A log-tailing relay: publishes the outbox's rows after checkpoint `name` and advances
    /// the checkpoint after each ack; rows stay (a log is not deleted from).
    pub fn tailing(store: Arc<S>, publisher: Arc<P>, config: RelayConfig, name: &str) -> Self {
        Relay { store, publisher, config, mode: Mode::Tailing(name.to_owned()) }
    }

    /// One pass: reads up to a batch of rows and publishes them in order, doing the
    /// bookkeeping after each ack; stops at the first failure (that row goes first next time).
    /// Returns how many it published.
    pub async fn run_once(&self) -> Result<usize, RelayError> {
        let after = match &self.mode {
            Mode::Polling => 0,
            Mode::Tailing(name) => self.store.checkpoint(name).await?,
        };
        let rows = self.store.outbox_after(after, self.config.batch).await?;
        if self.config.parallel {
            return self.publish_all_at_once(rows).await;
        }
        let mut done = 0;
        for (position, message) in rows {
            self.publisher.publish(&message).await?;
            self.after_ack(position).await?;
            done += 1;
        }
        Ok(done)
    }

    async fn after_ack(&self, position: u64) -> Result<(), StoreError> {
        match &self.mode {
            Mode::Polling => self.store.outbox_remove(position).await,
            Mode::Tailing(name) => self.store.set_checkpoint(name, position).await,
        }
    }

    /// The planted bug: every row of the batch at once, in whatever order they land. A tailing
    /// relay moves its checkpoint past the batch once every row of it is published.
    async fn publish_all_at_once(&self, rows: Vec<(u64, Message)>) -> Result<usize, RelayError> {
        let (last, count) = (rows.last().map(|r| r.0), rows.len());
        let mut tasks = Vec::new();
        for (position, message) in rows {
            let (store, publisher) = (self.store.clone(), self.publisher.clone());
            let polling = self.mode == Mode::Polling;
            tasks.push(tokio::spawn(async move {
                publisher.publish(&message).await.ok()?;
                if polling {
                    store.outbox_remove(position).await.ok()?;
                }
                Some(())
            }));
        }
        let mut done = 0;
        for t in tasks {
            if let Ok(Some(())) = t.await {
                done += 1;
            }
        }
        if let (Mode::Tailing(name), Some(last)) = (&self.mode, last) {
            if done == count {
                self.store.set_checkpoint(name, last).await?;
            }
        }
        Ok(done)
    }

    /// Relays until the task is dropped: a pass, then the next at once if it published
    /// something, the idle wait if it found nothing, the retry wait after a failure (which it
    /// retries forever: use [`Relay::run_until`] to see failures).
    pub async fn run(&self) {
        self.run_until(|_| true).await;
    }

    /// As [`Relay::run`], telling `retry` every failure; returns it when `retry` says stop
    /// (say, a schema error that no retry will mend).
    pub async fn run_until(&self, mut retry: impl FnMut(&RelayError) -> bool) -> RelayError {
        loop {
            let wait = match self.run_once().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => self.config.idle,
                Err(e) if retry(&e) => self.config.retry_after,
                Err(e) => return e,
            };
            tokio::time::sleep(wait).await;
        }
    }
}
