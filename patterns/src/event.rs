//! Pattern decisions as events.
//!
//! Every decision a pattern takes (a retry scheduled, a timeout fired, later a breaker
//! transition) is reported to an [`EventSink`]. The simulator records them in its event log with
//! the virtual time and node; a production service may log them. Patterns never format output
//! themselves.

use std::sync::Arc;

/// One decision taken by a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternEvent {
    /// The pattern, e.g. `retry`.
    pub pattern: &'static str,
    /// What happened, e.g. `scheduled`.
    pub kind: &'static str,
    /// Free-form `key=value` details, e.g. `attempt=2 delay_ms=37`.
    pub detail: String,
}

/// Receives pattern events. Implementations must be cheap: they are called on the request path.
pub trait EventSink: Send + Sync {
    /// Records one event.
    fn emit(&self, event: PatternEvent);
    /// Whether it keeps events at all: when not, patterns do not even build their details.
    fn enabled(&self) -> bool {
        true
    }
    /// A level a pattern holds changed: `in_use` of `limit` (a bulkhead's permits taken, an
    /// adaptive limit's calls in flight). A gauge, not an event: it is reported on every
    /// change, so a sink keeps aggregates (the simulator, the most per time bin; a service, a
    /// metric) rather than rows. Default: ignored.
    fn level(&self, _pattern: &'static str, _in_use: u32, _limit: u32) {}
    /// Whether it keeps levels at all: when not, patterns do not compute them (they are
    /// reported on every call). Default false.
    fn wants_levels(&self) -> bool {
        false
    }
}

impl dyn EventSink {
    /// Emits an event whose details are built only if the sink keeps events.
    pub fn report(&self, pattern: &'static str, kind: &'static str, detail: impl FnOnce() -> String) {
        if self.enabled() {
            self.emit(PatternEvent { pattern, kind, detail: detail() });
        }
    }
}

/// A sink that drops every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEvents;

impl EventSink for NoEvents {
    fn emit(&self, _event: PatternEvent) {}
    fn enabled(&self) -> bool {
        false
    }
}

/// A shared, type-erased sink.
pub type SharedSink = Arc<dyn EventSink>;

/// One level a pattern reported ([`EventSink::level`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    /// The pattern, e.g. `bulkhead`.
    pub pattern: &'static str,
    /// How much of the limit is taken.
    pub in_use: u32,
    /// The limit then.
    pub limit: u32,
}

/// A sink that keeps every event and level in memory (for tests and small tools).
#[derive(Debug, Default)]
pub struct MemorySink {
    events: std::sync::Mutex<Vec<PatternEvent>>,
    levels: std::sync::Mutex<Vec<Level>>,
}

impl MemorySink {
    /// Every event received so far, in order.
    pub fn events(&self) -> Vec<PatternEvent> {
        self.events.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Every level received so far, in order.
    pub fn levels(&self) -> Vec<Level> {
        self.levels.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl EventSink for MemorySink {
    fn emit(&self, event: PatternEvent) {
        if let Ok(mut v) = self.events.lock() {
            v.push(event);
        }
    }
    fn level(&self, pattern: &'static str, in_use: u32, limit: u32) {
        if let Ok(mut v) = self.levels.lock() {
            v.push(Level { pattern, in_use, limit });
        }
    }
    fn wants_levels(&self) -> bool {
        true
    }
}
