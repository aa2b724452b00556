//! The transactional outbox on a simulated node (`app = "outbox"`) and its relays; the saga
//! choreography's members publish through the same outbox and polling relay.
//!
//! The change and its outbox record are one synced write; a relay publishes records in order:
//! the polling relay reads the outbox table and deletes each record after the broker's ack, the
//! log tailer (`relay = "log_tailing"`) follows the commit log from a durable position (a crash
//! between publish and delete, or publish and position, republishes: at-least-once). Planted
//! bugs: `outbox_mode = "dual_write_commit_first"` (commit, then publish from the request: a
//! crash between loses the event), `"dual_write_publish_first"` (a crash between leaves a
//! phantom event), and `relay_parallel = true` (the relay publishes its batch at once: per-key
//! order is lost).
//!
//! Events the O1-O3 checkers read: `change.commit` here, `broker.publish` and `consumer.apply`
//! at the broker and the consumer.

use std::sync::Arc;
use std::time::Duration;

use crate::call::{CallError, Meta, Op, Served};
use crate::event::EventKind;
use crate::kernel::app::{Answer, App, AppCtx};
use crate::spec::app::{OutboxMode, Relay};
use crate::store::StoreHandle;

/// A stored message `id,key,seq` (missing fields read as 0).
pub(crate) fn message(entry: &[u8]) -> (u64, u64, u64) {
    let text = String::from_utf8_lossy(entry);
    let mut f = text.split(',').map(|x| x.parse::<u64>().unwrap_or(0));
    (f.next().unwrap_or(0), f.next().unwrap_or(0), f.next().unwrap_or(0))
}

/// Writes message `id,key,seq` into `table` (`outbox` for a polling relay, `wal` for a log
/// tailer), in the caller's local transaction (the caller syncs). Records are keyed by commit
/// order (not message id: requests commit out of id order), so that the relay, reading them in
/// key order, keeps per-key order.
pub(crate) fn append(s: &StoreHandle, table: &str, id: u64, key: u64, seq: u64) {
    let position = s.get_u64("outbox_next") + 1;
    s.put("outbox_next", position.to_string().as_bytes());
    s.put(&format!("{table}/{position:020}"), format!("{id},{key},{seq}").as_bytes());
}

/// An outbox writer on one node.
pub(crate) struct Writer {
    ctx: Arc<AppCtx>,
    mode: OutboxMode,
    relay_parallel: bool,
    relay: Relay,
}

impl Writer {
    pub(crate) fn new(ctx: AppCtx, mode: OutboxMode, relay_parallel: bool, relay: Relay) -> Self {
        Writer { ctx: Arc::new(ctx), mode, relay_parallel, relay }
    }

    /// One change (a new order for the request's key) and its message.
    async fn write(&self, request: u64, meta: Meta) -> Result<Served, CallError> {
        let s = self.ctx.store();
        let key = meta.key;
        let seq = s.get_u64(&format!("seq/{key}")) + 1;
        let commit = |s: &StoreHandle| {
            s.put(&format!("order/{request}"), format!("{key},{seq}").as_bytes());
            s.put(&format!("seq/{key}"), seq.to_string().as_bytes());
        };
        let committed = || self.ctx.event(EventKind::ChangeCommit { event: request, key, seq });
        if self.mode == OutboxMode::Outbox {
            commit(&s);
            let table = if self.relay == Relay::LogTailing { "wal" } else { "outbox" };
            append(&s, table, request, key, seq);
            s.sync(); // the change and its outbox record commit together
            committed();
            return Ok(Served::Full);
        }
        let publish_first = self.mode == OutboxMode::DualWritePublishFirst;
        let Some(dep) = self.ctx.first_dep() else { return Err(CallError::Server) };
        let op = Op { name: "publish", id: request, key, seq };
        let publish = || dep.call(&self.ctx.world, request, Meta { op: Some(op), ..meta });
        if publish_first {
            publish().await?;
        } else {
            commit(&s);
            s.sync();
            committed();
        }
        // The work between the two writes: a crash here splits them.
        crate::kernel::timer::until(self.ctx.world.now() + self.ctx.work_time()).await;
        if publish_first {
            commit(&s);
            s.sync();
            committed();
        } else {
            publish().await?;
        }
        Ok(Served::Full)
    }
}

impl App for Writer {
    /// In outbox mode, starts the relay (after every start).
    fn start(self: Arc<Self>) {
        if self.mode != OutboxMode::Outbox {
            return;
        }
        match self.relay {
            Relay::LogTailing => tokio::spawn(tail_log(self.ctx.clone())),
            Relay::Polling => tokio::spawn(poll(self.ctx.clone(), self.relay_parallel)),
        };
    }

    fn handle(self: Arc<Self>, request: u64, meta: Meta) -> Option<Answer> {
        if meta.op.is_some() {
            return None;
        }
        Some(Box::pin(async move { self.write(request, meta).await }))
    }
}

/// The log-tailing relay: publishes commit-log entries in order from its durable position,
/// advancing it after each ack (a crash between the two republishes one entry). It looks for a
/// new entry every millisecond, as a connector streaming the log would.
async fn tail_log(ctx: Arc<AppCtx>) {
    let Some(dep) = ctx.first_dep().cloned() else { return };
    let s = ctx.store();
    loop {
        let next = s.get_u64("tail_position") + 1;
        let Some(entry) = s.get(&format!("wal/{next:020}")) else {
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        };
        let (id, key, seq) = message(&entry);
        let meta = Meta { op: Some(Op { name: "publish", id, key, seq }), key, ..Meta::default() };
        if dep.call(&ctx.world, id, meta).await.is_ok() {
            s.put("tail_position", next.to_string().as_bytes());
            s.sync();
        } else {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The polling relay: every 10 ms, publishes the outbox's records in order, deleting each after
/// the broker's ack; a failed publish is retried before any later record. With `parallel` (a
/// planted bug) it publishes the whole batch at once.
pub(crate) async fn poll(ctx: Arc<AppCtx>, parallel: bool) {
    let Some(dep) = ctx.first_dep().cloned() else { return };
    let s = ctx.store();
    loop {
        let mut batch = Vec::new();
        for k in s.keys_with_prefix("outbox/") {
            let Some(v) = s.get(&k) else { continue };
            let (id, key, seq) = message(&v);
            let meta = Meta { op: Some(Op { name: "publish", id, key, seq }), key, ..Meta::default() };
            let (ctx, dep, s) = (ctx.clone(), dep.clone(), s.clone());
            let publish = async move {
                let ok = dep.call(&ctx.world, id, meta).await.is_ok();
                if ok {
                    s.delete(&k);
                    s.sync();
                }
                ok
            };
            if parallel {
                batch.push(tokio::spawn(publish));
            } else if !publish.await {
                break; // keep the order: retry this record before any later one
            }
        }
        for b in batch {
            let _ = b.await;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
