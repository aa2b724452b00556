//! A PostgreSQL connection as the adapters use it: the URL shown without its password, errors
//! sorted into the ports' kinds, faultline's tables checked (or created) at connect, and a
//! transaction that is rolled back when it is dropped unfinished.

use std::sync::Arc;

use faultline_patterns::outbox::ports::{StoreError, StoreResult};
use tokio::sync::{Mutex, OwnedMutexGuard};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row};

use crate::{check_schema, foreign, SCHEMA_VERSION, TABLES};

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

/// Parameters of a statement.
pub(super) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// The database a URL names, as `user@host:port/dbname` (never its password), for messages.
pub(super) fn shown(url: &str) -> String {
    let Ok(c) = url.parse::<tokio_postgres::Config>() else { return "the given database URL".into() };
    let host = match c.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432);
    let user = c.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    format!("postgres://{user}{host}:{port}/{}", c.get_dbname().unwrap_or(""))
}

/// The error and what caused it ("error connecting to server: Connection refused").
fn with_cause(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// Sorts an error into the ports' kinds, naming the database.
pub(super) fn error(url: &str, e: tokio_postgres::Error) -> StoreError {
    let text = format!("{}: {}", shown(url), with_cause(&e));
    let retry = [SqlState::UNIQUE_VIOLATION, SqlState::T_R_SERIALIZATION_FAILURE, SqlState::T_R_DEADLOCK_DETECTED];
    match e.code() {
        Some(c) if retry.contains(c) => StoreError::Conflict(text),
        Some(c) if *c == SqlState::UNDEFINED_TABLE || *c == SqlState::UNDEFINED_COLUMN => StoreError::Schema(text),
        // The server ending the session (class 57: an administrator's terminate, a shutdown,
        // a restart; class 08: the connection failed) is the store going away, whether the
        // client reads the server's FATAL message or only finds the socket closed.
        Some(c) if c.code().starts_with("57") || c.code().starts_with("08") => StoreError::Unavailable(text),
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
    // A transaction left open by a crashed client ends after a minute rather than holding its
    // locks (and the outbox's order lock) forever.
    let mut setup = "SET idle_in_transaction_session_timeout = '60s';".to_owned();
    if let Some(ns) = namespace {
        let ident = format!("\"{}\"", ns.replace('"', "\"\""));
        setup += &format!("CREATE SCHEMA IF NOT EXISTS {ident}; SET search_path TO {ident};");
    }
    // Two connections creating the same schema at once: the loser's CREATE fails on the
    // catalog's unique key although IF NOT EXISTS (a known PostgreSQL race); once more finds it.
    if let Err(e) = client.batch_execute(&setup).await {
        match error(url, e) {
            StoreError::Conflict(_) => client.batch_execute(&setup).await.map_err(|e| error(url, e))?,
            other => return Err(other),
        }
    }
    let place = match namespace {
        Some(ns) => format!("{}, schema {ns}", shown(url)),
        None => shown(url),
    };
    let schema = |why: String| StoreError::Schema(format!("{place}: {why}"));
    let mut tables = table_names(&client, url).await?;
    if !tables.iter().any(|t| t == "faultline_schema") {
        if tables.iter().any(|t| TABLES.contains(&t.as_str())) {
            return Err(schema(foreign(&tables)));
        }
        let create = format!("BEGIN; {SCHEMA} INSERT INTO faultline_schema VALUES ({SCHEMA_VERSION}); COMMIT;");
        if let Err(e) = client.batch_execute(&create).await {
            let _ = client.batch_execute("ROLLBACK").await;
            tables = table_names(&client, url).await?;
            // Another process created them at the same time: fine. Anything else: say why.
            if !tables.iter().any(|t| t == "faultline_schema") {
                return Err(schema(format!("cannot create faultline's tables: {}", with_cause(&e))));
            }
        }
        tables = table_names(&client, url).await?;
    }
    let version = client
        .query_opt("SELECT version FROM faultline_schema", &[])
        .await
        .map_err(|e| error(url, e))?
        .map(|r| r.get::<_, i64>(0));
    check_schema(&tables, version).map_err(schema)?;
    Ok(client)
}

/// One connection to one schema.
pub(super) struct Conn {
    pub(super) url: String,
    pub(super) namespace: Option<String>,
    client: Arc<Mutex<Client>>,
}

impl Conn {
    pub(super) async fn new(url: &str, namespace: Option<&str>) -> StoreResult<Self> {
        let client = Arc::new(Mutex::new(connect(url, namespace).await?));
        Ok(Conn { url: url.to_owned(), namespace: namespace.map(str::to_owned), client })
    }

    pub(super) async fn query(&self, sql: &str, params: Params<'_>) -> StoreResult<Vec<Row>> {
        self.client.lock().await.query(sql, params).await.map_err(|e| error(&self.url, e))
    }

    pub(super) async fn execute(&self, sql: &str, params: Params<'_>) -> StoreResult<()> {
        self.client.lock().await.execute(sql, params).await.map(|_| ()).map_err(|e| error(&self.url, e))
    }

    /// Begins a transaction (`begin` is its first statement) on this connection, which it holds
    /// until it ends.
    pub(super) async fn begin(&self, begin: &str) -> StoreResult<InTx> {
        let client = self.client.clone().lock_owned().await;
        let tx = InTx { client: Some(client), url: self.url.clone(), failed: false };
        tx.client().batch_execute(begin).await.map_err(|e| error(&self.url, e))?;
        Ok(tx)
    }
}

/// A transaction in progress on a connection. Dropped unfinished (an error, a cancelled
/// future, a task aborted), it is rolled back by a task of its own, which holds the connection
/// until the server has done it: nothing waits behind an idle transaction's locks.
pub(super) struct InTx {
    client: Option<OwnedMutexGuard<Client>>,
    url: String,
    /// A statement failed: PostgreSQL has aborted the transaction, and would answer COMMIT by
    /// rolling back without an error.
    failed: bool,
}

impl InTx {
    fn client(&self) -> &Client {
        self.client.as_ref().expect("an unfinished transaction holds its connection")
    }

    fn check<T>(&mut self, r: Result<T, tokio_postgres::Error>) -> StoreResult<T> {
        r.map_err(|e| {
            self.failed = true;
            error(&self.url, e)
        })
    }

    pub(super) async fn execute(&mut self, sql: &str, params: Params<'_>) -> StoreResult<()> {
        let r = self.client().execute(sql, params).await.map(|_| ());
        self.check(r)
    }

    pub(super) async fn query_opt(&mut self, sql: &str, params: Params<'_>) -> StoreResult<Option<Row>> {
        let r = self.client().query_opt(sql, params).await;
        self.check(r)
    }

    /// Commits; refused if a statement failed (the server has rolled it back).
    pub(super) async fn commit(mut self) -> StoreResult<()> {
        if self.failed {
            return Err(StoreError::Other(format!(
                "{}: the transaction was rolled back: one of its statements failed",
                shown(&self.url)
            )));
        }
        let r = self.client().batch_execute("COMMIT").await;
        let r = self.check(r);
        if r.is_ok() {
            self.client = None;
        }
        r
    }
}

impl Drop for InTx {
    fn drop(&mut self) {
        let (Some(client), Ok(runtime)) = (self.client.take(), tokio::runtime::Handle::try_current()) else { return };
        runtime.spawn(async move {
            let _ = client.batch_execute("ROLLBACK").await;
        });
    }
}
