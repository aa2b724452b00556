//! A push broker on a simulated node (`app = "broker"`): `publish` appends to a partition (key
//! mod `partitions`) in the broker's durable store, synced. Each service it calls is a consumer
//! group: one delivery loop per group and partition pushes messages in order and commits the
//! group's offset only after the ack: at-least-once, per-key order, redelivery from the last
//! commit after any crash or lost ack. One broker service is one topic. A broker's deliveries
//! are not part of any request, so they do not count as call cycles.

use std::sync::Arc;
use std::time::Duration;

use super::ports::message;
use crate::call::{CallError, Meta, Op, Served};
use crate::event::EventKind;
use crate::kernel::app::{Answer, App, AppCtx};

/// A broker on one node.
pub(crate) struct Broker {
    ctx: Arc<AppCtx>,
    partitions: u64,
}

impl Broker {
    pub(crate) fn new(ctx: AppCtx, partitions: u32) -> Self {
        Broker { ctx: Arc::new(ctx), partitions: u64::from(partitions.max(1)) }
    }

    /// Appends a message to its partition, durably.
    fn publish(&self, op: Op) -> Result<Served, CallError> {
        let part = op.key % self.partitions;
        let s = self.ctx.store();
        let offset = s.get_u64(&format!("head/{part}")) + 1;
        s.put(&format!("log/{part}/{offset:020}"), format!("{},{},{}", op.id, op.key, op.seq).as_bytes());
        s.put(&format!("head/{part}"), offset.to_string().as_bytes());
        s.sync();
        self.ctx.event(EventKind::BrokerPublish { part, offset, event: op.id, key: op.key, seq: op.seq });
        Ok(Served::Full)
    }
}

impl App for Broker {
    /// One delivery loop per consumer group (each service it calls) and partition.
    fn start(self: Arc<Self>) {
        for group in 0..self.ctx.deps.len() {
            for part in 0..self.partitions {
                tokio::spawn(deliver(self.ctx.clone(), group, part));
            }
        }
    }

    fn handle(self: Arc<Self>, _request: u64, meta: Meta) -> Option<Answer> {
        let result = self.publish(meta.op?);
        Some(Box::pin(async move { result }))
    }
}

/// Delivers partition `part` to consumer group `group`, from the group's committed offset.
async fn deliver(ctx: Arc<AppCtx>, group: usize, part: u64) {
    let Some(dep) = ctx.deps.get(group).cloned() else { return };
    let s = ctx.store();
    let offset_key = format!("offset/{group}/{part}");
    loop {
        let next = s.get_u64(&offset_key) + 1;
        let Some(entry) = s.get(&format!("log/{part}/{next:020}")) else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let m = message(&entry);
        let (id, key, seq) = (m.id, m.key, m.seq);
        let meta = Meta { op: Some(Op { name: "deliver", id, key, seq }), key, ..Meta::default() };
        match dep.call(&ctx.world, 0, meta).await {
            Ok(_) => {
                s.put(&offset_key, next.to_string().as_bytes());
                s.sync();
            }
            // Not acknowledged: deliver the same message again, in order.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
