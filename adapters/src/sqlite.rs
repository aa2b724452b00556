//! The ports on SQLite: [`SqliteStore`] (a service's state, outbox, inbox, idempotency and
//! checkpoint tables) and [`SqliteBroker`] (a topic's log and its consumer groups' offsets).
//!
//! A transaction is `BEGIN IMMEDIATE`: it takes SQLite's write lock at once, so transactions on
//! one file are serialized and outbox positions commit in order (a tailing relay never skips a
//! row). The database runs in WAL mode with a busy timeout, so that a relay or a consumer with
//! its own connection to the same file waits for a writer instead of failing (a wait longer than
//! the busy timeout, 5 s, is a `Conflict`: retry). rusqlite's calls block: each is short, but
//! on a current-thread runtime a second connection waiting for the write lock blocks the
//! thread; give a service that shares a file between connections a multi-thread runtime.

use std::path::{Path, PathBuf};
use std::time::Duration;

use faultline_patterns::outbox::ports::{
    Delivery, Message, PublishError, Publisher, Store, StoreError, StoreResult, Subscriber, Transaction,
};
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::{Mutex, MutexGuard};

use crate::{check_schema, foreign, SCHEMA_VERSION};

const SCHEMA: &str = "
CREATE TABLE faultline_schema (version INTEGER NOT NULL);
CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE outbox (position INTEGER PRIMARY KEY AUTOINCREMENT, id INTEGER NOT NULL,
                     key INTEGER NOT NULL, seq INTEGER NOT NULL, payload TEXT NOT NULL);
CREATE TABLE inbox (id INTEGER PRIMARY KEY);
CREATE TABLE idempotency (key TEXT PRIMARY KEY, answer TEXT NOT NULL);
CREATE TABLE checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
CREATE TABLE broker_log (offset INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, id INTEGER NOT NULL,
                         key INTEGER NOT NULL, seq INTEGER NOT NULL, payload TEXT NOT NULL);
CREATE TABLE broker_offsets (grp TEXT NOT NULL, topic TEXT NOT NULL, committed INTEGER NOT NULL,
                             PRIMARY KEY (grp, topic));
";

fn error(path: &Path, e: rusqlite::Error) -> StoreError {
    use rusqlite::ffi::{SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE};
    use rusqlite::ErrorCode::{CannotOpen, DatabaseBusy, DatabaseLocked, NotADatabase};
    let text = format!("{}: {e}", path.display());
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.extended_code, SQLITE_CONSTRAINT_PRIMARYKEY | SQLITE_CONSTRAINT_UNIQUE) =>
        {
            StoreError::Conflict(text)
        }
        // Another connection held the file's write lock longer than the busy timeout: retry.
        rusqlite::Error::SqliteFailure(f, _) if matches!(f.code, DatabaseBusy | DatabaseLocked) => {
            StoreError::Conflict(text)
        }
        rusqlite::Error::SqliteFailure(f, _) if matches!(f.code, CannotOpen | NotADatabase) => {
            StoreError::Unavailable(text)
        }
        _ if e.to_string().contains("no such table") => StoreError::Schema(text),
        _ => StoreError::Other(text),
    }
}

/// Opens `path`, creating the schema in a database that has no table yet, and checks it. The
/// check and the creation are one write transaction: two processes opening a new file at once
/// do not both create.
fn open(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path).map_err(|e| error(path, e))?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(|e| error(path, e))?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| error(path, e))?;
    conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| error(path, e))?;
    let checked = check(&conn, path);
    let end = if checked.is_ok() { "COMMIT" } else { "ROLLBACK" };
    conn.execute_batch(end).map_err(|e| error(path, e))?;
    checked.map(|()| conn)
}

fn check(conn: &Connection, path: &Path) -> StoreResult<()> {
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| error(path, e))?;
    let schema = |why: String| StoreError::Schema(format!("{}: {why}", path.display()));
    if tables.is_empty() {
        let create = format!("{SCHEMA} INSERT INTO faultline_schema VALUES ({SCHEMA_VERSION});");
        return conn.execute_batch(&create).map_err(|e| error(path, e));
    }
    if !tables.iter().any(|t| t == "faultline_schema") {
        return Err(schema(foreign(&tables)));
    }
    let version: Option<i64> = conn
        .query_row("SELECT version FROM faultline_schema", [], |r| r.get(0))
        .optional()
        .map_err(|e| error(path, e))?;
    check_schema(&tables, version).map_err(schema)
}

/// A message from columns `from..from + 4` of a row: id, key, seq, payload.
fn message(r: &rusqlite::Row<'_>, from: usize) -> rusqlite::Result<Message> {
    let n = |i: usize| r.get::<_, i64>(from + i).map(|v| v as u64);
    Ok(Message { id: n(0)?, key: n(1)?, seq: n(2)?, payload: r.get(from + 3)? })
}

/// A service's store in one SQLite file.
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        let path = path.as_ref().to_path_buf();
        Ok(SqliteStore { conn: Mutex::new(open(&path)?), path })
    }

    /// The committed state whose keys start with `prefix`, in key order (for reading a history
    /// back; not a port: the patterns never scan state).
    pub async fn state_with_prefix(&self, prefix: &str) -> StoreResult<Vec<(String, String)>> {
        let conn = self.conn.lock().await;
        let mut stmt = conn
            .prepare("SELECT key, value FROM state WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key")
            .map_err(|e| error(&self.path, e))?;
        let rows = stmt.query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)));
        rows.and_then(|r| r.collect()).map_err(|e| error(&self.path, e))
    }
}

/// A transaction on a [`SqliteStore`]; rolled back if dropped uncommitted.
pub struct SqliteTx<'a> {
    store: &'a SqliteStore,
    conn: MutexGuard<'a, Connection>,
    done: bool,
}

impl SqliteTx<'_> {
    fn run(&self, sql: &str, p: impl rusqlite::Params) -> StoreResult<()> {
        self.conn.execute(sql, p).map(|_| ()).map_err(|e| error(&self.store.path, e))
    }

    fn one<T: rusqlite::types::FromSql>(&self, sql: &str, p: impl rusqlite::Params) -> StoreResult<Option<T>> {
        self.conn.query_row(sql, p, |r| r.get(0)).optional().map_err(|e| error(&self.store.path, e))
    }
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl Transaction for SqliteTx<'_> {
    async fn read(&mut self, key: &str) -> StoreResult<Option<String>> {
        self.one("SELECT value FROM state WHERE key = ?1", [key])
    }
    async fn write(&mut self, key: &str, value: &str) -> StoreResult<()> {
        self.run(
            "INSERT INTO state (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
            [key, value],
        )
    }
    async fn enqueue(&mut self, m: &Message) -> StoreResult<()> {
        let sql = "INSERT INTO outbox (id, key, seq, payload) VALUES (?1, ?2, ?3, ?4)";
        self.run(sql, params![m.id as i64, m.key as i64, m.seq as i64, m.payload])
    }
    async fn inbox_contains(&mut self, id: u64) -> StoreResult<bool> {
        Ok(self.one::<i64>("SELECT id FROM inbox WHERE id = ?1", [id as i64])?.is_some())
    }
    async fn inbox_insert(&mut self, id: u64) -> StoreResult<()> {
        self.run("INSERT INTO inbox (id) VALUES (?1)", [id as i64])
    }
    async fn idempotency_get(&mut self, key: &str) -> StoreResult<Option<String>> {
        self.one("SELECT answer FROM idempotency WHERE key = ?1", [key])
    }
    async fn idempotency_put(&mut self, key: &str, answer: &str) -> StoreResult<()> {
        self.run("INSERT INTO idempotency (key, answer) VALUES (?1, ?2)", [key, answer])
    }
    async fn commit(mut self) -> StoreResult<()> {
        self.done = true;
        let result = self.conn.execute_batch("COMMIT").map_err(|e| error(&self.store.path, e));
        if result.is_err() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        result
    }
}

impl Store for SqliteStore {
    type Tx<'a> = SqliteTx<'a>;

    async fn begin(&self) -> StoreResult<SqliteTx<'_>> {
        let conn = self.conn.lock().await;
        conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| error(&self.path, e))?;
        Ok(SqliteTx { store: self, conn, done: false })
    }
    async fn outbox_after(&self, after: u64, limit: usize) -> StoreResult<Vec<(u64, Message)>> {
        let conn = self.conn.lock().await;
        let sql = "SELECT position, id, key, seq, payload FROM outbox WHERE position > ?1 ORDER BY position LIMIT ?2";
        let mut stmt = conn.prepare(sql).map_err(|e| error(&self.path, e))?;
        let rows = stmt.query_map(params![after as i64, limit.min(i64::MAX as usize) as i64], |r| {
            Ok((r.get::<_, i64>(0)? as u64, message(r, 1)?))
        });
        rows.and_then(|r| r.collect()).map_err(|e| error(&self.path, e))
    }
    async fn outbox_remove(&self, position: u64) -> StoreResult<()> {
        let conn = self.conn.lock().await;
        conn.execute("DELETE FROM outbox WHERE position = ?1", [position as i64])
            .map(|_| ())
            .map_err(|e| error(&self.path, e))
    }
    async fn checkpoint(&self, name: &str) -> StoreResult<u64> {
        let conn = self.conn.lock().await;
        let p: Option<i64> = conn
            .query_row("SELECT position FROM checkpoints WHERE name = ?1", [name], |r| r.get(0))
            .optional()
            .map_err(|e| error(&self.path, e))?;
        Ok(p.unwrap_or(0) as u64)
    }
    async fn set_checkpoint(&self, name: &str, position: u64) -> StoreResult<()> {
        let conn = self.conn.lock().await;
        let sql =
            "INSERT INTO checkpoints (name, position) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET position = ?2";
        conn.execute(sql, params![name, position as i64]).map(|_| ()).map_err(|e| error(&self.path, e))
    }
}

/// A broker in a SQLite file: topic `topic`'s log, and its consumer groups' offsets.
pub struct SqliteBroker {
    path: PathBuf,
    topic: String,
    conn: Mutex<Connection>,
}

impl SqliteBroker {
    /// Opens (or creates) the broker at `path`, for `topic`.
    pub fn open(path: impl AsRef<Path>, topic: &str) -> StoreResult<Self> {
        let path = path.as_ref().to_path_buf();
        Ok(SqliteBroker { conn: Mutex::new(open(&path)?), path, topic: topic.to_owned() })
    }

    /// Consumer group `group`'s subscriber, on its own connection.
    pub fn subscribe(&self, group: &str) -> StoreResult<SqliteSubscriber> {
        Ok(SqliteSubscriber { broker: SqliteBroker::open(&self.path, &self.topic)?, group: group.to_owned() })
    }

    /// Every message published to the topic, in order, duplicates included: the history.
    pub async fn log(&self) -> StoreResult<Vec<Delivery>> {
        self.read(0, usize::MAX).await
    }

    async fn read(&self, after: u64, limit: usize) -> StoreResult<Vec<Delivery>> {
        let conn = self.conn.lock().await;
        let sql = "SELECT offset, id, key, seq, payload FROM broker_log WHERE topic = ?1 AND offset > ?2 ORDER BY offset LIMIT ?3";
        let mut stmt = conn.prepare(sql).map_err(|e| error(&self.path, e))?;
        let rows = stmt.query_map(params![self.topic, after as i64, limit.min(i64::MAX as usize) as i64], |r| {
            Ok(Delivery { offset: r.get::<_, i64>(0)? as u64, message: message(r, 1)? })
        });
        rows.and_then(|r| r.collect()).map_err(|e| error(&self.path, e))
    }
}

impl Publisher for SqliteBroker {
    async fn publish(&self, m: &Message) -> Result<(), PublishError> {
        let conn = self.conn.lock().await;
        let sql = "INSERT INTO broker_log (topic, id, key, seq, payload) VALUES (?1, ?2, ?3, ?4, ?5)";
        conn.execute(sql, params![self.topic, m.id as i64, m.key as i64, m.seq as i64, m.payload])
            .map(|_| ())
            .map_err(|e| PublishError(error(&self.path, e).to_string()))
    }
}

/// One consumer group of a [`SqliteBroker`]'s topic.
pub struct SqliteSubscriber {
    broker: SqliteBroker,
    group: String,
}

impl Subscriber for SqliteSubscriber {
    async fn next(&mut self) -> StoreResult<Option<Delivery>> {
        let committed: Option<i64> = {
            let conn = self.broker.conn.lock().await;
            conn.query_row(
                "SELECT committed FROM broker_offsets WHERE grp = ?1 AND topic = ?2",
                params![self.group, self.broker.topic],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| error(&self.broker.path, e))?
        };
        let next = self.broker.read(committed.unwrap_or(0) as u64, 1).await?.pop();
        if next.is_none() {
            tokio::time::sleep(crate::POLL).await;
        }
        Ok(next)
    }
    async fn ack(&mut self, d: &Delivery) -> StoreResult<()> {
        let conn = self.broker.conn.lock().await;
        let sql = "INSERT INTO broker_offsets (grp, topic, committed) VALUES (?1, ?2, ?3)
                   ON CONFLICT (grp, topic) DO UPDATE SET committed = max(committed, ?3)";
        conn.execute(sql, params![self.group, self.broker.topic, d.offset as i64])
            .map(|_| ())
            .map_err(|e| error(&self.broker.path, e))
    }
}
