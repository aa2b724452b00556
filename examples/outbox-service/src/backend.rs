//! Where the service's three databases live: SQLite files in a directory (the default), or
//! three schemas of one PostgreSQL database. Each call opens a new connection, as a restarted
//! process would.

use std::path::PathBuf;

use faultline_adapters::postgres::{PgBroker, PgStore, PgSubscriber};
use faultline_adapters::sqlite::{SqliteBroker, SqliteStore, SqliteSubscriber};
use faultline_patterns::outbox::ports::{Delivery, Publisher, Store, StoreResult, Subscriber};

/// Reads a store's committed state back (for the history; not a port).
pub trait ReadBack {
    /// The state whose keys start with `prefix`, in key order.
    fn state_with_prefix(
        &self,
        prefix: &str,
    ) -> impl std::future::Future<Output = StoreResult<Vec<(String, String)>>> + Send;
}

impl ReadBack for SqliteStore {
    async fn state_with_prefix(&self, prefix: &str) -> StoreResult<Vec<(String, String)>> {
        SqliteStore::state_with_prefix(self, prefix).await
    }
}

impl ReadBack for PgStore {
    async fn state_with_prefix(&self, prefix: &str) -> StoreResult<Vec<(String, String)>> {
        PgStore::state_with_prefix(self, prefix).await
    }
}

/// The databases of one deployment.
pub trait Backend {
    /// A service's store.
    type Store: Store + ReadBack + 'static;
    /// The broker, as the relay's publisher.
    type Broker: Publisher + 'static;
    /// The shipping group's subscriber.
    type Subscriber: Subscriber + 'static;
    /// The orders service's store, on a new connection.
    fn orders(&self) -> impl std::future::Future<Output = StoreResult<Self::Store>> + Send;
    /// The shipping consumer's store, on a new connection.
    fn shipping(&self) -> impl std::future::Future<Output = StoreResult<Self::Store>> + Send;
    /// The broker, on a new connection.
    fn broker(&self) -> impl std::future::Future<Output = StoreResult<Self::Broker>> + Send;
    /// The shipping group's subscriber, on a new connection.
    fn subscriber(&self) -> impl std::future::Future<Output = StoreResult<Self::Subscriber>> + Send;
    /// Every publication, in order.
    fn published(&self) -> impl std::future::Future<Output = StoreResult<Vec<Delivery>>> + Send;
}

/// The topic the orders service publishes to.
pub const TOPIC: &str = "orders";

/// SQLite files in `dir`: `orders.db`, `shipping.db`, `broker.db`.
pub struct SqliteBackend(pub PathBuf);

impl Backend for SqliteBackend {
    type Store = SqliteStore;
    type Broker = SqliteBroker;
    type Subscriber = SqliteSubscriber;
    async fn orders(&self) -> StoreResult<SqliteStore> {
        SqliteStore::open(self.0.join("orders.db"))
    }
    async fn shipping(&self) -> StoreResult<SqliteStore> {
        SqliteStore::open(self.0.join("shipping.db"))
    }
    async fn broker(&self) -> StoreResult<SqliteBroker> {
        SqliteBroker::open(self.0.join("broker.db"), TOPIC)
    }
    async fn subscriber(&self) -> StoreResult<SqliteSubscriber> {
        self.broker().await?.subscribe("shipping")
    }
    async fn published(&self) -> StoreResult<Vec<Delivery>> {
        self.broker().await?.log().await
    }
}

/// Schemas `{prefix}_orders`, `{prefix}_shipping` and `{prefix}_broker` of the database at
/// `url`.
pub struct PgBackend {
    /// `postgres://user@host:port/db`.
    pub url: String,
    /// Names this deployment's schemas.
    pub prefix: String,
}

impl PgBackend {
    fn ns(&self, what: &str) -> String {
        format!("{}_{what}", self.prefix)
    }
}

impl Backend for PgBackend {
    type Store = PgStore;
    type Broker = PgBroker;
    type Subscriber = PgSubscriber;
    async fn orders(&self) -> StoreResult<PgStore> {
        PgStore::connect_in(&self.url, &self.ns("orders")).await
    }
    async fn shipping(&self) -> StoreResult<PgStore> {
        PgStore::connect_in(&self.url, &self.ns("shipping")).await
    }
    async fn broker(&self) -> StoreResult<PgBroker> {
        PgBroker::connect(&self.url, Some(&self.ns("broker")), TOPIC).await
    }
    async fn subscriber(&self) -> StoreResult<PgSubscriber> {
        self.broker().await?.subscribe("shipping").await
    }
    async fn published(&self) -> StoreResult<Vec<Delivery>> {
        self.broker().await?.log().await
    }
}
