//! An inbox consumer on a simulated node (`app = "consumer"`): applies each delivered message
//! once per event id, remembering ids in an inbox in its store (`dedup = false` is the planted
//! bug). Its `consumer.apply` events are what O2 and O3 read.

use std::sync::Arc;

use crate::call::{Meta, Served};
use crate::event::EventKind;
use crate::kernel::app::{Answer, App, AppCtx};

/// A consumer on one node.
pub(crate) struct Consumer {
    ctx: AppCtx,
    dedup: bool,
}

impl Consumer {
    pub(crate) fn new(ctx: AppCtx, dedup: bool) -> Self {
        Consumer { ctx, dedup }
    }
}

impl App for Consumer {
    fn handle(self: Arc<Self>, _request: u64, meta: Meta) -> Option<Answer> {
        let op = meta.op?;
        let s = self.ctx.store();
        let inbox = format!("inbox/{}", op.id);
        // Seen before: acknowledge without applying again.
        if !(self.dedup && s.get(&inbox).is_some()) {
            s.put(&inbox, b"1");
            s.sync();
            self.ctx.event(EventKind::ConsumerApply { event: op.id, key: op.key, seq: op.seq });
        }
        Some(Box::pin(async { Ok(Served::Full) }))
    }
}
