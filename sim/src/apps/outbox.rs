//! The transactional outbox on a simulated node (`app = "outbox"`); the saga choreography's
//! members publish through the same outbox and polling relay.
//!
//! The change and its outbox record are one transaction, and the relay is the patterns' own
//! ([`faultline_patterns::outbox::relay`]) on the node's store ([`super::ports`]): the polling
//! relay deletes each record after the broker's ack; the log tailer (`relay = "log_tailing"`)
//! follows the outbox from a durable checkpoint (a crash between publish and delete, or publish
//! and checkpoint, republishes: at-least-once). Planted bugs: `outbox_mode =
//! "dual_write_commit_first"` (commit, then publish from the request: a crash between loses the
//! event), `"dual_write_publish_first"` (a crash between leaves a phantom event), and
//! `relay_parallel = true` (the relay publishes its batch at once: per-key order is lost).
//!
//! Events the O1-O3 checkers read: `change.commit` here, `broker.publish` and `consumer.apply`
//! at the broker and the consumer.

use std::sync::Arc;
use std::time::Duration;

use faultline_patterns::outbox::ports::{Message, Store, Transaction};
use faultline_patterns::outbox::relay::{Relay as RelayLoop, RelayConfig};

use super::ports::{SimPublisher, SimStore};
use crate::call::{CallError, Meta, Op, Served};
use crate::event::EventKind;
use crate::kernel::app::{Answer, App, AppCtx};
use crate::spec::app::{OutboxMode, Relay};
use crate::store::StoreHandle;

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

    /// One change (a new order for the request's key) and its message, in one transaction.
    async fn commit_with_message(&self, request: u64, key: u64) -> Result<(), CallError> {
        let store = SimStore(self.ctx.store());
        let fail = |_| CallError::Server;
        let mut tx = store.begin().await.map_err(fail)?;
        let seq = tx.read(&format!("seq/{key}")).await.map_err(fail)?.and_then(|v| v.parse().ok()).unwrap_or(0) + 1;
        tx.write(&format!("order/{request}"), &format!("{key},{seq}")).await.map_err(fail)?;
        tx.write(&format!("seq/{key}"), &seq.to_string()).await.map_err(fail)?;
        tx.enqueue(&Message::new(request, key, seq)).await.map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        self.ctx.event(EventKind::ChangeCommit { event: request, key, seq });
        Ok(())
    }

    /// One change and its message.
    async fn write(&self, request: u64, meta: Meta) -> Result<Served, CallError> {
        if self.mode == OutboxMode::Outbox {
            self.commit_with_message(request, meta.key).await?;
            return Ok(Served::Full);
        }
        let s = self.ctx.store();
        let key = meta.key;
        let seq = s.get_u64(&format!("seq/{key}")) + 1;
        let commit = |s: &StoreHandle| {
            s.put(&format!("order/{request}"), format!("{key},{seq}").as_bytes());
            s.put(&format!("seq/{key}"), seq.to_string().as_bytes());
        };
        let committed = || self.ctx.event(EventKind::ChangeCommit { event: request, key, seq });
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

/// How the simulated relays pace themselves: the polling relay looks every 10 ms, the log
/// tailer every millisecond (as a connector streaming the log would); both retry a failed
/// publish after 10 ms.
fn relay_config(tailing: bool, parallel: bool) -> RelayConfig {
    let idle = Duration::from_millis(if tailing { 1 } else { 10 });
    RelayConfig { batch: 1000, idle, retry_after: Duration::from_millis(10), parallel }
}

/// Starts the node's relay: the patterns' relay over its store, publishing to its first
/// dependency (the broker). Dies with the node.
pub(crate) fn start_relay(ctx: &Arc<AppCtx>, relay: Relay, parallel: bool) {
    let Some(publisher) = SimPublisher::first(ctx) else { return };
    let (store, publisher) = (Arc::new(SimStore(ctx.store())), Arc::new(publisher));
    let relay = match relay {
        Relay::LogTailing => RelayLoop::tailing(store, publisher, relay_config(true, parallel), "relay"),
        Relay::Polling => RelayLoop::polling(store, publisher, relay_config(false, parallel)),
    };
    tokio::spawn(async move { relay.run().await });
}

impl App for Writer {
    /// In outbox mode, starts the relay (after every start).
    fn start(self: Arc<Self>) {
        if self.mode == OutboxMode::Outbox {
            start_relay(&self.ctx, self.relay, self.relay_parallel);
        }
    }

    fn handle(self: Arc<Self>, request: u64, meta: Meta) -> Option<Answer> {
        if meta.op.is_some() {
            return None;
        }
        Some(Box::pin(async move { self.write(request, meta).await }))
    }
}
