//! The ports the consistency patterns run on. `patterns` defines them; the simulator implements
//! them on its simulated store and broker, `faultline-adapters` on SQLite and PostgreSQL, and
//! `outbox::memory` in memory for tests.
//!
//! A [`Store`] is a service's own database: a transaction reads and writes its state, adds an
//! outbox row (committed with the change or not at all), records inbox ids and idempotency
//! keys; outside transactions, relays read the outbox in commit order and keep checkpoints. A
//! [`Publisher`] hands a message to a broker and returns once the broker has it (the ack); a
//! [`Subscriber`] delivers a consumer group's messages in order and forgets one only once it
//! is acknowledged.

use std::fmt;
use std::future::Future;

/// A message: the event a change produces, for aggregate `key`, its `seq`-th.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The event's id (unique per event; consumers deduplicate on it).
    pub id: u64,
    /// The aggregate it belongs to (per-key order is kept).
    pub key: u64,
    /// Its sequence number within the key (1, 2, ...).
    pub seq: u64,
    /// What the consumer needs (free-form; the simulator leaves it empty).
    pub payload: String,
}

impl Message {
    /// A message without payload.
    pub fn new(id: u64, key: u64, seq: u64) -> Self {
        Message { id, key, seq, payload: String::new() }
    }
}

/// Why a store refused: each names what is wrong in the user's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The database cannot be reached (a URL, a file, a dropped connection).
    Unavailable(String),
    /// Its tables are missing or of another schema version.
    Schema(String),
    /// Another transaction got there first (a unique key, a serialization failure): retry.
    Conflict(String),
    /// Anything else the database said.
    Other(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(m) => write!(f, "database unavailable: {m}"),
            StoreError::Schema(m) => write!(f, "database schema: {m}"),
            StoreError::Conflict(m) => write!(f, "conflict with another transaction: {m}"),
            StoreError::Other(m) => write!(f, "database error: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// A result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// One transaction on a [`Store`]: nothing it writes is seen by others until
/// [`Transaction::commit`], and dropped uncommitted it writes nothing.
pub trait Transaction: Send {
    /// The service's state under `key`, as this transaction sees it.
    fn read(&mut self, key: &str) -> impl Future<Output = StoreResult<Option<String>>> + Send;
    /// Writes the service's state under `key`.
    fn write(&mut self, key: &str, value: &str) -> impl Future<Output = StoreResult<()>> + Send;
    /// Adds `message` to the outbox: it commits with this transaction's changes or not at all.
    fn enqueue(&mut self, message: &Message) -> impl Future<Output = StoreResult<()>> + Send;
    /// Whether the inbox holds event `id` (it was applied before).
    fn inbox_contains(&mut self, id: u64) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Records event `id` in the inbox.
    fn inbox_insert(&mut self, id: u64) -> impl Future<Output = StoreResult<()>> + Send;
    /// The answer recorded under idempotency key `key`, if any.
    fn idempotency_get(&mut self, key: &str) -> impl Future<Output = StoreResult<Option<String>>> + Send;
    /// Records `answer` under idempotency key `key` (a second, concurrent one conflicts).
    fn idempotency_put(&mut self, key: &str, answer: &str) -> impl Future<Output = StoreResult<()>> + Send;
    /// Makes every write durable and visible, at once.
    fn commit(self) -> impl Future<Output = StoreResult<()>> + Send;
}

/// A service's database.
pub trait Store: Send + Sync {
    /// Its transactions.
    type Tx<'a>: Transaction + 'a
    where
        Self: 'a;
    /// Starts a transaction.
    fn begin(&self) -> impl Future<Output = StoreResult<Self::Tx<'_>>> + Send;
    /// Up to `limit` committed outbox rows after position `after`, in commit order, with their
    /// positions (which only grow).
    fn outbox_after(&self, after: u64, limit: usize) -> impl Future<Output = StoreResult<Vec<(u64, Message)>>> + Send;
    /// Deletes the outbox row at `position` (a polling relay, once the broker has it).
    fn outbox_remove(&self, position: u64) -> impl Future<Output = StoreResult<()>> + Send;
    /// The position checkpoint `name` holds (0 when never set).
    fn checkpoint(&self, name: &str) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Durably sets checkpoint `name`.
    fn set_checkpoint(&self, name: &str, position: u64) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Why a broker did not take a message: it may or may not have it (publish again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishError(pub String);

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "publish failed: {}", self.0)
    }
}

impl std::error::Error for PublishError {}

/// Hands messages to a broker.
pub trait Publisher: Send + Sync {
    /// Returns once the broker has `message` durably (its ack).
    fn publish(&self, message: &Message) -> impl Future<Output = Result<(), PublishError>> + Send;
}

/// A message delivered to a consumer group, with its place in the topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its offset in the topic.
    pub offset: u64,
    /// The message.
    pub message: Message,
}

/// A consumer group's view of a topic: deliveries in order, each until acknowledged.
pub trait Subscriber: Send {
    /// The next message not yet acknowledged, waiting up to the subscriber's own poll time
    /// (`None`: nothing yet).
    fn next(&mut self) -> impl Future<Output = StoreResult<Option<Delivery>>> + Send;
    /// The group is done with `delivery` and every one before it.
    fn ack(&mut self, delivery: &Delivery) -> impl Future<Output = StoreResult<()>> + Send;
}

/// A shared store is a store.
impl<S: Store> Store for std::sync::Arc<S> {
    type Tx<'a>
        = S::Tx<'a>
    where
        Self: 'a;
    fn begin(&self) -> impl Future<Output = StoreResult<Self::Tx<'_>>> + Send {
        (**self).begin()
    }
    fn outbox_after(&self, after: u64, limit: usize) -> impl Future<Output = StoreResult<Vec<(u64, Message)>>> + Send {
        (**self).outbox_after(after, limit)
    }
    fn outbox_remove(&self, position: u64) -> impl Future<Output = StoreResult<()>> + Send {
        (**self).outbox_remove(position)
    }
    fn checkpoint(&self, name: &str) -> impl Future<Output = StoreResult<u64>> + Send {
        (**self).checkpoint(name)
    }
    fn set_checkpoint(&self, name: &str, position: u64) -> impl Future<Output = StoreResult<()>> + Send {
        (**self).set_checkpoint(name, position)
    }
}
