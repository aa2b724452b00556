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

/// How long a subscriber waits before it looks again when its topic has nothing new.
pub const POLL: std::time::Duration = std::time::Duration::from_millis(5);
