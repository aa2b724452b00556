//! The ports on PostgreSQL: [`PgStore`] (a service's state, outbox, inbox, idempotency and
//! checkpoint tables) and [`PgBroker`] (a topic's log and its consumer groups' offsets), each
//! on its own connection.
//!
//! Transactions run at REPEATABLE READ: two that read and write the same rows (a customer's
//! next sequence number) do not both commit; the second fails with a `Conflict` and the caller
//! retries (so do a deadlock and a second inbox id or idempotency key). A transaction that adds
//! an outbox row takes the outbox table's advisory lock first, so outbox positions commit in
//! position order: otherwise a tailing relay could read position 8 while 7 is uncommitted,
//! move past 7 and never publish it (the sequence-gap bug of log-tailing outboxes). Publishing
//! takes the broker log's lock the same way. The locks are per table, so per schema: services
//! sharing a database do not wait for each other. Enqueue last in a transaction: the lock is
//! then held for the least time.

mod conn;

use faultline_patterns::outbox::ports::{
    Delivery, Message, PublishError, Publisher, Store, StoreError, StoreResult, Subscriber, Transaction,
};
use tokio_postgres::Row;

use conn::{Conn, InTx, Params};

/// The lock a writer of `table` takes (its OID: one per table, so per schema).
fn order_lock(table: &str) -> String {
    format!("SELECT pg_advisory_xact_lock('{table}'::regclass::oid::bigint)")
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
pub struct PgTx {
    tx: InTx,
    ordered: bool,
}

impl PgTx {
    async fn one<T: for<'r> tokio_postgres::types::FromSql<'r>>(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> StoreResult<Option<T>> {
        Ok(self.tx.query_opt(sql, params).await?.map(|r| r.get(0)))
    }
}

impl Transaction for PgTx {
    async fn read(&mut self, key: &str) -> StoreResult<Option<String>> {
        self.one("SELECT value FROM state WHERE key = $1", &[&key]).await
    }
    async fn write(&mut self, key: &str, value: &str) -> StoreResult<()> {
        let sql =
            "INSERT INTO state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value";
        self.tx.execute(sql, &[&key, &value]).await
    }
    async fn enqueue(&mut self, m: &Message) -> StoreResult<()> {
        if !self.ordered {
            self.tx.execute(&order_lock("outbox"), &[]).await?;
            self.ordered = true;
        }
        let sql = "INSERT INTO outbox (id, key, seq, payload) VALUES ($1, $2, $3, $4)";
        self.tx.execute(sql, &[&(m.id as i64), &(m.key as i64), &(m.seq as i64), &m.payload]).await
    }
    async fn inbox_contains(&mut self, id: u64) -> StoreResult<bool> {
        Ok(self.one::<i64>("SELECT id FROM inbox WHERE id = $1", &[&(id as i64)]).await?.is_some())
    }
    async fn inbox_insert(&mut self, id: u64) -> StoreResult<()> {
        self.tx.execute("INSERT INTO inbox (id) VALUES ($1)", &[&(id as i64)]).await
    }
    async fn idempotency_get(&mut self, key: &str) -> StoreResult<Option<String>> {
        self.one("SELECT answer FROM idempotency WHERE key = $1", &[&key]).await
    }
    async fn idempotency_put(&mut self, key: &str, answer: &str) -> StoreResult<()> {
        self.tx.execute("INSERT INTO idempotency (key, answer) VALUES ($1, $2)", &[&key, &answer]).await
    }
    async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await
    }
}

impl Store for PgStore {
    type Tx<'a> = PgTx;

    async fn begin(&self) -> StoreResult<PgTx> {
        Ok(PgTx { tx: self.0.begin("BEGIN ISOLATION LEVEL REPEATABLE READ").await?, ordered: false })
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

    async fn append(&self, m: &Message) -> StoreResult<()> {
        let mut tx = self.conn.begin("BEGIN").await?;
        tx.execute(&order_lock("broker_log"), &[]).await?;
        let insert = "INSERT INTO broker_log (topic, id, key, seq, payload) VALUES ($1, $2, $3, $4, $5)";
        let (id, key, seq) = (m.id as i64, m.key as i64, m.seq as i64);
        tx.execute(insert, &[&self.topic, &id, &key, &seq, &m.payload]).await?;
        tx.commit().await
    }
}

impl Publisher for PgBroker {
    /// One transaction: the log's order lock (offsets commit in order, so that no subscriber
    /// skips one), then the row. Cancelled half-way, it is rolled back.
    async fn publish(&self, m: &Message) -> Result<(), PublishError> {
        self.append(m).await.map_err(|e: StoreError| PublishError(e.to_string()))
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
