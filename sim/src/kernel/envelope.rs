//! What travels between nodes: requests, probes and replies, one per message.

use crate::call::{CallError, Meta, Served};

/// What travels between nodes.
#[derive(Debug, Clone)]
pub(crate) enum Envelope {
    Request {
        from: u32,
        call: u64,
        request: u64,
        meta: Meta,
    },
    /// A health probe: answered at once from the node's cached readiness.
    Health {
        from: u32,
        call: u64,
    },
    /// A liveness probe: answered by any running process, ready or not.
    Live {
        from: u32,
        call: u64,
    },
    Reply {
        call: u64,
        result: Result<Served, CallError>,
    },
}
