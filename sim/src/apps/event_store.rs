//! An event store on a simulated node (`app = "event_store"`): per stream, a version and its
//! events; besides, one log of all appends in order (`position`), which projections follow.
//! `read` answers a stream's version, `append` adds one event if the stream is at the expected
//! version and refuses it as a `conflict` otherwise (`version_check = false`: planted bug, last
//! writer wins), `head` answers the last position, `read_at` the stream of the event at a
//! position; accounts also `read_event`, `read_snapshot` and `save_snapshot`. Each append is one
//! synced write, and an `es.append` event (what E1, E2 and E3 read).

use std::sync::Arc;

use crate::call::{CallError, Meta, Op, Served};
use crate::event::EventKind;
use crate::kernel::app::{Answer, App, AppCtx};

/// An event store on one node.
pub(crate) struct EventStore {
    ctx: AppCtx,
    version_check: bool,
}

impl EventStore {
    pub(crate) fn new(ctx: AppCtx, version_check: bool) -> Self {
        EventStore { ctx, version_check }
    }

    /// Event store: one operation (see the module docs).
    fn operate(&self, op: Op) -> Result<Served, CallError> {
        let s = self.ctx.store();
        // A position, event or snapshot not yet written answers without a value.
        let value = |key: String, parse: fn(&str) -> Option<u64>| {
            Ok(s.get(&key).and_then(|v| parse(&String::from_utf8_lossy(&v))).map_or(Served::Full, Served::Value))
        };
        match op.name {
            "head" => return Ok(Served::Value(s.get_u64("head"))),
            "read_at" => return value(format!("all/{:020}", op.seq), |v| v.parse().ok()),
            // An account event's amount: 1 a deposit, 2 a withdrawal.
            "read_event" => {
                return value(format!("es/{}/{:020}", op.key, op.seq), |v| {
                    v.split_once(',').and_then(|(_, kind)| kind.parse().ok())
                })
            }
            // The stream's snapshot: version << 32 | balance.
            "read_snapshot" => return value(format!("snap/{}", op.key), |v| v.parse().ok()),
            "save_snapshot" => {
                // Kept if newer than the one stored (`op.seq`: the packed snapshot).
                if op.seq >> 32 > s.get_u64(&format!("snap/{}", op.key)) >> 32 {
                    s.put(&format!("snap/{}", op.key), op.seq.to_string().as_bytes());
                    s.sync();
                }
                return Ok(Served::Full);
            }
            _ => {}
        }
        let stream = op.key;
        let version = s.get_u64(&format!("esver/{stream}"));
        if op.name == "read" {
            return Ok(Served::Value(version));
        }
        if self.version_check && op.seq != version {
            let conflict = EventKind::EsConflict { stream, expected: op.seq, actual: version, writer: op.id };
            self.ctx.event(conflict);
            return Err(CallError::Conflict);
        }
        let new = version + 1;
        let position = s.get_u64("head") + 1;
        // Accounts' events say what they do; plain appends only who wrote them.
        let kind = match op.name {
            "deposit" => Some(1),
            "withdraw" => Some(2),
            _ => None,
        };
        let event = kind.map_or(op.id.to_string(), |k| format!("{},{k}", op.id));
        s.put(&format!("es/{stream}/{new:020}"), event.as_bytes());
        s.put(&format!("esver/{stream}"), new.to_string().as_bytes());
        s.put(&format!("all/{position:020}"), stream.to_string().as_bytes());
        s.put("head", position.to_string().as_bytes());
        s.sync();
        let kind = kind.map(|_| op.name);
        let append = EventKind::EsAppend { stream, expected: op.seq, version: new, writer: op.id, position, kind };
        self.ctx.event(append);
        Ok(Served::Full)
    }
}

impl App for EventStore {
    fn handle(self: Arc<Self>, _request: u64, meta: Meta) -> Option<Answer> {
        let result = self.operate(meta.op?);
        Some(Box::pin(async move { result }))
    }
}
