//! An inbox consumer on a simulated node (`app = "consumer"`): applies each delivered message
//! once per event id through the patterns' inbox ([`faultline_patterns::outbox::inbox`]) on the
//! node's store (`dedup = false` is the planted bug). Its `consumer.apply` events are what O2
//! and O3 read.

use std::sync::Arc;

use faultline_patterns::outbox::inbox;
use faultline_patterns::outbox::ports::{Message, Transaction};

use super::ports::SimStore;
use crate::call::{CallError, Meta, Served};
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
        Some(Box::pin(async move {
            let store = SimStore(self.ctx.store());
            let message = Message::new(op.id, op.key, op.seq);
            // Seen before: acknowledge without applying again.
            if let Some(tx) = inbox::begin(&store, &message, self.dedup).await.map_err(|_| CallError::Server)? {
                tx.commit().await.map_err(|_| CallError::Server)?;
                self.ctx.event(EventKind::ConsumerApply { event: op.id, key: op.key, seq: op.seq });
            }
            Ok(Served::Full)
        }))
    }
}
