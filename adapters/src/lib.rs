//! faultline's consistency-pattern ports on real databases: the same relays, inbox and
//! idempotency code the simulator tests (`faultline_patterns::outbox`), on
//!
//! - [`sqlite`] (feature `sqlite`, the default): a service's store in one SQLite file, and a
//!   broker made of a table in another (or the same) file: embedded, nothing to run;
//! - [`postgres`] (feature `postgres`): the same tables in PostgreSQL, with real concurrent
//!   transactions, and the broker as a table too, so that a team can run everything against
//!   the database it already has.
//!
//! Why a table as the broker rather than Redis Streams: the store and the broker then share one
//! schema, one set of failure modes and one server, and the relay's at-least-once and the
//! inbox's exactly-once are tested against a broker whose log a test can read back as the
//! history (every publication, duplicates included). The broker is a log per topic plus a
//! committed offset per consumer group: Kafka's model, small.
//!
//! Every database this crate opens holds a `faultline_schema` table with the schema's version
//! ([`SCHEMA_VERSION`]); a missing table or another version is refused with an error naming
//! it, never silently migrated.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

/// The version of the tables this crate reads and writes.
pub const SCHEMA_VERSION: i64 = 1;

/// The tables of the schema, in the order they are checked.
pub const TABLES: [&str; 7] =
    ["state", "outbox", "inbox", "idempotency", "checkpoints", "broker_log", "broker_offsets"];

/// The checkpoint a log-tailing relay keeps its position under, by default.
pub const RELAY_CHECKPOINT: &str = "relay";

/// Checks a database's tables against the schema: `tables` are the names it has, `version`
/// what its `faultline_schema` says. The error says what is wrong and what to do, in words the
/// caller prefixes with the database's name.
pub(crate) fn check_schema(tables: &[String], version: Option<i64>) -> Result<(), String> {
    let Some(version) = version else {
        return Err("faultline_schema is empty (a faultline database holds one row with its version)".into());
    };
    if version != SCHEMA_VERSION {
        return Err(format!(
            "schema version {version}; this faultline-adapters reads version {SCHEMA_VERSION} (give a new database, or move this one away)"
        ));
    }
    match TABLES.iter().find(|t| !tables.iter().any(|have| have == *t)) {
        Some(missing) => {
            Err(format!("table `{missing}` is missing (schema version {SCHEMA_VERSION} has {})", TABLES.join(", ")))
        }
        None => Ok(()),
    }
}

/// The words for a database that has tables but no `faultline_schema`.
pub(crate) fn foreign(tables: &[String]) -> String {
    format!(
        "has tables ({}) but no faultline_schema: not a faultline database, or one from before schema versions (give a new database)",
        tables.join(", ")
    )
}

/// How long a subscriber waits before it looks again when its topic has nothing new.
pub const POLL: std::time::Duration = std::time::Duration::from_millis(5);
