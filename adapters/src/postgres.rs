//! The ports on PostgreSQL: [`PgStore`] (a service's state, outbox, inbox, idempotency and
//! checkpoint tables) and [`PgBroker`] (a topic's log and its consumer groups' offsets), each
//! on its own connection.
//!
//! Transactions run at READ COMMITTED, concurrently. Two things keep the patterns' promises
//! under concurrency: a transaction that adds an outbox row takes a transaction-scoped
//! advisory lock first, so outbox positions commit in position order (otherwise a tailing relay
//! could read position 8 while 7 is still uncommitted, advance past 7 and never publish it:
//! the sequence-gap bug of log-tailing outboxes); and the inbox and idempotency tables have
//! primary keys, so a second concurrent transaction with the same id conflicts at commit
//! instead of applying twice.

use std::sync::atomic::{AtomicBool, Ordering};

use faultline_patterns::outbox::ports::{
    Delivery, Message, PublishError, Publisher, Store, StoreError, StoreResult, Subscriber, Transaction,
};
use tokio::sync::{Mutex, MutexGuard};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, Row};

use crate::{SCHEMA_VERSION, TABLES};

const SCHEMA: &str = "
CREATE TABLE faultline_schema (version BIGINT NOT NULL);
CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE outbox (position BIGSERIAL PRIMARY KEY, id BIGINT NOT NULL, key BIGINT NOT NULL,
                     seq BIGINT NOT NULL, payload TEXT NOT NULL);
CREATE TABLE inbox (id BIGINT PRIMARY KEY);
CREATE TABLE idempotency (key TEXT PRIMARY KEY, answer TEXT NOT NULL);
CREATE TABLE checkpoints (name TEXT PRIMARY KEY, position BIGINT NOT NULL);
CREATE TABLE broker_log (\"offset\" BIGSERIAL PRIMARY KEY, topic TEXT NOT NULL, id BIGINT NOT NULL,
                         key BIGINT NOT NULL, seq BIGINT NOT NULL, payload TEXT NOT NULL);
CREATE TABLE broker_offsets (grp TEXT NOT NULL, topic TEXT NOT NULL, committed BIGINT NOT NULL,
                             PRIMARY KEY (grp, topic));
";

/// The advisory lock outbox writers and publishers take (any constant shared by all).
const ORDER_LOCK: i64 = 0x6661_756c_746c_696e;

/// The URL without its password, for messages.
fn shown(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}@{}", &url[..s + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// The error and what caused it ("error connecting to server: Connection refused").
fn with_cause(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

fn error(url: &str, e: tokio_postgres::Error) -> StoreError {
    let text = format!("{}: {}", shown(url), with_cause(&e));
    match e.code() {
        Some(c) if *c == SqlState::UNIQUE_VIOLATION || *c == SqlState::T_R_SERIALIZATION_FAILURE => {
            StoreError::Conflict(text)
        }
        Some(c) if *c == SqlState::UNDEFINED_TABLE || *c == SqlState::UNDEFINED_COLUMN => StoreError::Schema(text),
        Some(_) => StoreError::Other(text),
        None if e.is_closed() => StoreError::Unavailable(format!("{text} (the connection is closed)")),
        None => StoreError::Unavailable(text),
    }
}

/// The tables of the connection's current schema.
async fn table_names(client: &Client, url: &str) -> StoreResult<Vec<String>> {
    let sql = "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()";
    let rows = client.query(sql, &[]).await.map_err(|e| error(url, e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Connects to `url`, in PostgreSQL schema `namespace` if given (created if absent), and
/// checks (or, where there are no faultline tables yet, creates) faultline's tables.
async fn connect(url: &str, namespace: Option<&str>) -> StoreResult<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| StoreError::Unavailable(format!("cannot connect to {}: {}", shown(url), with_cause(&e))))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    if let Some(ns) = namespace {
        let ident = format!("\"{}\"", ns.replace('"', "\"\""));
        let sql = format!("CREATE SCHEMA IF NOT EXISTS {ident}; SET search_path TO {ident}");
        client.batch_execute(&sql).await.map_err(|e| error(url, e))?;
    }
    let tables = table_names(&client, url).await?;
    let schema = |why: String| StoreError::Schema(format!("{}: {why}", shown(url)));
    if !tables.iter().any(|t| t == "faultline_schema") {
        if let Some(t) = tables.iter().find(|t| TABLES.contains(&t.as_str())) {
            return Err(schema(format!(
                "has table `{t}` but no faultline_schema: a database from before schema versions"
            )));
        }
        let create = format!("BEGIN; {SCHEMA} INSERT INTO faultline_schema VALUES ({SCHEMA_VERSION}); COMMIT;");
        // Two processes creating at once: the loser's CREATE fails; it checks again below.
        if client.batch_execute(&create).await.is_err() {
            let _ = client.batch_execute("ROLLBACK").await;
        }
    }
    let version: i64 =
        client.query_one("SELECT version FROM faultline_schema", &[]).await.map_err(|e| error(url, e))?.get(0);
    if version != SCHEMA_VERSION {
        return Err(schema(format!(
            "schema version {version}; this faultline-adapters reads version {SCHEMA_VERSION}"
        )));
    }
    let tables = table_names(&client, url).await?;
    if let Some(missing) = TABLES.iter().find(|t| !tables.iter().any(|have| have == *t)) {
        return Err(schema(format!(
            "table `{missing}` is missing (schema version {SCHEMA_VERSION} has {})",
            TABLES.join(", ")
        )));
    }
    Ok(client)
}

/// One connection and whether a transaction on it was dropped uncommitted (it is rolled
/// back before the connection's next use: `Drop` cannot wait for the server).
struct Conn {
    url: String,
    namespace: Option<String>,
    client: Mutex<Client>,
    abandoned: AtomicBool,
}

impl Conn {
    async fn new(url: &str, namespace: Option<&str>) -> StoreResult<Self> {
        let client = Mutex::new(connect(url, namespace).await?);
        let namespace = namespace.map(str::to_owned);
        Ok(Conn { url: url.to_owned(), namespace, client, abandoned: AtomicBool::new(false) })
    }

    async fn lock(&self) -> StoreResult<MutexGuard<'_, Client>> {
        let client = self.client.lock().await;
        if self.abandoned.swap(false, Ordering::Relaxed) {
            client.batch_execute("ROLLBACK").await.map_err(|e| error(&self.url, e))?;
        }
        Ok(client)
    }

    async fn query(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> StoreResult<Vec<Row>> {
        self.lock().await?.query(sql, params).await.map_err(|e| error(&self.url, e))
    }

    async fn execute(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> StoreResult<()> {
        self.lock().await?.execute(sql, params).await.map(|_| ()).map_err(|e| error(&self.url, e))
    }
}

fn message(r: &Row, from: usize) -> Message {
    let n = |i: usize| r.get::<_, i64>(from + i) as u64;
    Message { id: n(0), key: n(1), seq: n(2), payload: r.get(from + 3) }
}

/// A service's store in PostgreSQL.
pub struct PgStore(Conn);

impl PgStore {
    /// Connects to `url` (e.g. `postgres://user@127.0.0.1:5432/db`), in its default schema.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Ok(PgStore(Conn::new(url, None).await?))
    }

    /// Connects to `url`, in PostgreSQL schema `namespace` (created if absent): one database
    /// can hold several services' stores.
    pub async fn connect_in(url: &str, namespace: &str) -> StoreResult<Self> {
        Ok(PgStore(Conn::new(url, Some(namespace)).await?))
    }

    /// The committed state whose keys start with `prefix`, in key order (for reading a history
    /// back; not a port).
    pub async fn state_with_prefix(&self, prefix: &str) -> StoreResult<Vec<(String, String)>> {
        let rows =
            self.0.query("SELECT key, value FROM state WHERE starts_with(key, $1) ORDER BY key", &[&prefix]).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// The server's process id of this store's connection (to end it from outside in a test).
    pub async fn backend_pid(&self) -> StoreResult<i32> {
        Ok(self.0.query("SELECT pg_backend_pid()", &[]).await?[0].get(0))
    }
}

/// A transaction on a [`PgStore`]; rolled back if dropped uncommitted.
pub struct PgTx<'a> {
    conn: &'a Conn,
    client: MutexGuard<'a, Client>,
    ordered: bool,
    done: bool,
}

impl PgTx<'_> {
    async fn run(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> StoreResult<()> {
        self.client.execute(sql, params).await.map(|_| ()).map_err(|e| error(&self.conn.url, e))
    }

    async fn one<T: for<'r> tokio_postgres::types::FromSql<'r>>(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> StoreResult<Option<T>> {
        let row = self.client.query_opt(sql, params).await.map_err(|e| error(&self.conn.url, e))?;
        Ok(row.map(|r| r.get(0)))
    }
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.conn.abandoned.store(true, Ordering::Relaxed);
        }
    }
}

impl Transaction for PgTx<'_> {
    async fn read(&mut self, key: &str) -> StoreResult<Option<String>> {
        self.one("SELECT value FROM state WHERE key = $1", &[&key]).await
    }
    async fn write(&mut self, key: &str, value: &str) -> StoreResult<()> {
        let sql =
            "INSERT INTO state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value";
        self.run(sql, &[&key, &value]).await
    }
    async fn enqueue(&mut self, m: &Message) -> StoreResult<()> {
        if !self.ordered {
            self.run("SELECT pg_advisory_xact_lock($1)", &[&ORDER_LOCK]).await?;
            self.ordered = true;
        }
        let sql = "INSERT INTO outbox (id, key, seq, payload) VALUES ($1, $2, $3, $4)";
        self.run(sql, &[&(m.id as i64), &(m.key as i64), &(m.seq as i64), &m.payload]).await
    }
    async fn inbox_contains(&mut self, id: u64) -> StoreResult<bool> {
        Ok(self.one::<i64>("SELECT id FROM inbox WHERE id = $1", &[&(id as i64)]).await?.is_some())
    }
    async fn inbox_insert(&mut self, id: u64) -> StoreResult<()> {
        self.run("INSERT INTO inbox (id) VALUES ($1)", &[&(id as i64)]).await
    }
    async fn idempotency_get(&mut self, key: &str) -> StoreResult<Option<String>> {
        self.one("SELECT answer FROM idempotency WHERE key = $1", &[&key]).await
    }
    async fn idempotency_put(&mut self, key: &str, answer: &str) -> StoreResult<()> {
        self.run("INSERT INTO idempotency (key, answer) VALUES ($1, $2)", &[&key, &answer]).await
    }
    async fn commit(mut self) -> StoreResult<()> {
        let result = self.client.batch_execute("COMMIT").await.map_err(|e| error(&self.conn.url, e));
        self.done = result.is_ok();
        result
    }
}

impl Store for PgStore {
    type Tx<'a> = PgTx<'a>;

    async fn begin(&self) -> StoreResult<PgTx<'_>> {
        let client = self.0.lock().await?;
        client.batch_execute("BEGIN").await.map_err(|e| error(&self.0.url, e))?;
        Ok(PgTx { conn: &self.0, client, ordered: false, done: false })
    }
    async fn outbox_after(&self, after: u64, limit: usize) -> StoreResult<Vec<(u64, Message)>> {
        let sql = "SELECT position, id, key, seq, payload FROM outbox WHERE position > $1 ORDER BY position LIMIT $2";
        let rows = self.0.query(sql, &[&(after as i64), &(limit.min(i64::MAX as usize) as i64)]).await?;
        Ok(rows.iter().map(|r| (r.get::<_, i64>(0) as u64, message(r, 1))).collect())
    }
    async fn outbox_remove(&self, position: u64) -> StoreResult<()> {
        self.0.execute("DELETE FROM outbox WHERE position = $1", &[&(position as i64)]).await
    }
    async fn checkpoint(&self, name: &str) -> StoreResult<u64> {
        let rows = self.0.query("SELECT position FROM checkpoints WHERE name = $1", &[&name]).await?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0) as u64))
    }
    async fn set_checkpoint(&self, name: &str, position: u64) -> StoreResult<()> {
        let sql = "INSERT INTO checkpoints (name, position) VALUES ($1, $2)
                   ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position";
        self.0.execute(sql, &[&name, &(position as i64)]).await
    }
}

/// A broker in PostgreSQL: topic `topic`'s log, and its consumer groups' offsets.
pub struct PgBroker {
    conn: Conn,
    topic: String,
}

impl PgBroker {
    /// Connects to `url`, for `topic`, in PostgreSQL schema `namespace` if given.
    pub async fn connect(url: &str, namespace: Option<&str>, topic: &str) -> StoreResult<Self> {
        Ok(PgBroker { conn: Conn::new(url, namespace).await?, topic: topic.to_owned() })
    }

    /// Consumer group `group`'s subscriber, on its own connection.
    pub async fn subscribe(&self, group: &str) -> StoreResult<PgSubscriber> {
        let broker = PgBroker::connect(&self.conn.url, self.conn.namespace.as_deref(), &self.topic).await?;
        Ok(PgSubscriber { broker, group: group.to_owned() })
    }

    /// Every message published to the topic, in order, duplicates included: the history.
    pub async fn log(&self) -> StoreResult<Vec<Delivery>> {
        self.read(0, i64::MAX).await
    }

    async fn read(&self, after: u64, limit: i64) -> StoreResult<Vec<Delivery>> {
        let sql = "SELECT \"offset\", id, key, seq, payload FROM broker_log WHERE topic = $1 AND \"offset\" > $2
                   ORDER BY \"offset\" LIMIT $3";
        let rows = self.conn.query(sql, &[&self.topic, &(after as i64), &limit]).await?;
        Ok(rows.iter().map(|r| Delivery { offset: r.get::<_, i64>(0) as u64, message: message(r, 1) }).collect())
    }
}

impl Publisher for PgBroker {
    /// One transaction: the order lock (offsets commit in order, so that no subscriber skips
    /// one), then the row.
    async fn publish(&self, m: &Message) -> Result<(), PublishError> {
        let fail = |e: StoreError| PublishError(e.to_string());
        let client = self.conn.lock().await.map_err(fail)?;
        let insert = "INSERT INTO broker_log (topic, id, key, seq, payload) VALUES ($1, $2, $3, $4, $5)";
        let result = async {
            client.batch_execute("BEGIN").await?;
            client.execute("SELECT pg_advisory_xact_lock($1)", &[&ORDER_LOCK]).await?;
            let (id, key, seq) = (m.id as i64, m.key as i64, m.seq as i64);
            client.execute(insert, &[&self.topic, &id, &key, &seq, &m.payload]).await?;
            client.batch_execute("COMMIT").await
        }
        .await;
        if let Err(e) = result {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(fail(error(&self.conn.url, e)));
        }
        Ok(())
    }
}

/// One consumer group of a [`PgBroker`]'s topic.
pub struct PgSubscriber {
    broker: PgBroker,
    group: String,
}

impl Subscriber for PgSubscriber {
    async fn next(&mut self) -> StoreResult<Option<Delivery>> {
        let sql = "SELECT committed FROM broker_offsets WHERE grp = $1 AND topic = $2";
        let rows = self.broker.conn.query(sql, &[&self.group, &self.broker.topic]).await?;
        let committed = rows.first().map_or(0, |r| r.get::<_, i64>(0) as u64);
        let next = self.broker.read(committed, 1).await?.pop();
        if next.is_none() {
            tokio::time::sleep(crate::POLL).await;
        }
        Ok(next)
    }
    async fn ack(&mut self, d: &Delivery) -> StoreResult<()> {
        let sql = "INSERT INTO broker_offsets (grp, topic, committed) VALUES ($1, $2, $3)
                   ON CONFLICT (grp, topic) DO UPDATE SET committed = GREATEST(broker_offsets.committed, EXCLUDED.committed)";
        self.broker.conn.execute(sql, &[&self.group, &self.broker.topic, &(d.offset as i64)]).await
    }
}
