//! Messaging on simulated nodes: a push broker, the transactional outbox and its relay, and an
//! inbox consumer.
//!
//! - **Broker** (`app = "broker"`): `publish` appends to a partition (key mod `partitions`) in
//!   the broker's durable store, synced. Each service it calls is a consumer group: one
//!   delivery loop per group and partition pushes messages in order and commits the group's
//!   offset only after the ack: at-least-once, per-key order, redelivery from the last commit
//!   after any crash or lost ack. One broker service is one topic.
//! - **Outbox** (`app = "outbox"`): the change and its outbox record are one synced write; a
//!   relay publishes records in order: the polling relay reads the outbox table and deletes each
//!   record after the broker's ack, the log tailer (`relay = "log_tailing"`) follows the commit
//!   log from a durable position (a crash between publish and delete, or publish and position,
//!   republishes: at-least-once). The saga choreography members use the same outbox and relay.
//!   Planted bugs: `outbox_mode =
//!   "dual_write_commit_first"` (commit, then publish from the request: a crash between loses
//!   the event), `"dual_write_publish_first"` (a crash between leaves a phantom event), and
//!   `relay_parallel = true` (the relay publishes its batch at once: per-key order is lost).
//! - **Consumer** (`app = "consumer"`): applies each delivery once per event id, remembering
//!   ids in an inbox in its store (`dedup = false` is the planted bug).
//!
//! Events the O1-O3 checkers read: `change.commit`, `broker.publish`, `consumer.apply`.

use std::sync::Arc;
use std::time::Duration;

use crate::call::{CallError, Meta, Op, Served};
use crate::event::EventKind;
use crate::server::{recorded_call, Replica};
use crate::spec::{AppSpec, OutboxMode, Relay};
use crate::store::StoreHandle;

/// A stored message `id,key,seq` (missing fields read as 0).
fn message(entry: &[u8]) -> (u64, u64, u64) {
    let text = String::from_utf8_lossy(entry);
    let mut f = text.split(',').map(|x| x.parse::<u64>().unwrap_or(0));
    (f.next().unwrap_or(0), f.next().unwrap_or(0), f.next().unwrap_or(0))
}

impl Replica {
    /// The broker's partition count (1 for anything that is not a broker).
    fn partitions(&self) -> u64 {
        match self.world.spec.services[self.service].app {
            Some(AppSpec::Broker { partitions }) => u64::from(partitions.max(1)),
            _ => 1,
        }
    }

    /// Broker: appends a message to its partition, durably.
    pub(crate) fn broker_publish(&self, op: Op) -> Result<Served, CallError> {
        let part = op.key % self.partitions();
        let s = self.store();
        let offset = s.get_u64(&format!("head/{part}")) + 1;
        s.put(&format!("log/{part}/{offset:020}"), format!("{},{},{}", op.id, op.key, op.seq).as_bytes());
        s.put(&format!("head/{part}"), offset.to_string().as_bytes());
        s.sync();
        self.world.event(self.node, EventKind::BrokerPublish { part, offset, event: op.id, key: op.key, seq: op.seq });
        Ok(Served::Full)
    }

    /// Broker: starts one delivery loop per consumer group (each service it calls) and
    /// partition (after every start).
    pub(crate) fn start_deliveries(self: &Arc<Self>) {
        if !matches!(self.world.spec.services[self.service].app, Some(AppSpec::Broker { .. })) {
            return;
        }
        for group in 0..self.deps.len() {
            for part in 0..self.partitions() {
                let this = self.clone();
                tokio::spawn(async move { this.deliver_partition(group, part).await });
            }
        }
    }

    /// Delivers partition `part` to consumer group `group`, from the group's committed offset.
    async fn deliver_partition(self: Arc<Self>, group: usize, part: u64) {
        let Some((edge, stack, _)) = self.deps.get(group).cloned() else { return };
        let s = self.store();
        let offset_key = format!("offset/{group}/{part}");
        loop {
            let next = s.get_u64(&offset_key) + 1;
            let Some(entry) = s.get(&format!("log/{part}/{next:020}")) else {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            };
            let (id, key, seq) = message(&entry);
            let meta = Meta { op: Some(Op { name: "deliver", id, key, seq }), key, ..Meta::default() };
            match recorded_call(&self.world, self.world.next_id(), &edge, &stack, 0, meta).await {
                Ok(_) => {
                    s.put(&offset_key, next.to_string().as_bytes());
                    s.sync();
                }
                // Not acknowledged: deliver the same message again, in order.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Consumer: applies a delivered message once per event id (unless dedup is off).
    pub(crate) fn consumer_apply(&self, op: Op) -> Result<Served, CallError> {
        let dedup = !matches!(self.world.spec.services[self.service].app, Some(AppSpec::Consumer { dedup: false }));
        let s = self.store();
        let inbox = format!("inbox/{}", op.id);
        if dedup && s.get(&inbox).is_some() {
            return Ok(Served::Full); // seen before: acknowledge without applying again
        }
        s.put(&inbox, b"1");
        s.sync();
        self.world.event(self.node, EventKind::ConsumerApply { event: op.id, key: op.key, seq: op.seq });
        Ok(Served::Full)
    }

    /// Writer: one change (a new order for the request's key) and its message.
    pub(crate) async fn outbox_write(&self, request: u64, meta: Meta) -> Result<Served, CallError> {
        let spec = &self.world.spec.services[self.service];
        let s = self.store();
        let key = meta.key;
        let seq = s.get_u64(&format!("seq/{key}")) + 1;
        let commit = |s: &StoreHandle| {
            s.put(&format!("order/{request}"), format!("{key},{seq}").as_bytes());
            s.put(&format!("seq/{key}"), seq.to_string().as_bytes());
        };
        let node = self.node;
        let committed =
            |world: &crate::world::World| world.event(node, EventKind::ChangeCommit { event: request, key, seq });
        let op = Op { name: "publish", id: request, key, seq };
        let mode = match spec.app {
            Some(AppSpec::Outbox { mode, .. }) => mode,
            _ => return Err(CallError::Server),
        };
        match mode {
            OutboxMode::Outbox => {
                commit(&s);
                self.outbox_append(&s, request, key, seq);
                s.sync(); // the change and its outbox record commit together
                committed(&self.world);
                Ok(Served::Full)
            }
            dual_write => {
                let publish_first = dual_write == OutboxMode::DualWritePublishFirst;
                let Some((edge, stack, _)) = self.deps.first().cloned() else { return Err(CallError::Server) };
                let publish = || {
                    recorded_call(
                        &self.world,
                        self.world.next_id(),
                        &edge,
                        &stack,
                        request,
                        Meta { op: Some(op), ..meta },
                    )
                };
                if publish_first {
                    publish().await?;
                } else {
                    commit(&s);
                    s.sync();
                    committed(&self.world);
                }
                // The work between the two writes: a crash here splits them.
                tokio::time::sleep(self.work_time()).await;
                if publish_first {
                    commit(&s);
                    s.sync();
                    committed(&self.world);
                } else {
                    publish().await?;
                }
                Ok(Served::Full)
            }
        }
    }

    /// Writes message `id,key,seq` to the outbox, in the caller's local transaction (it syncs).
    /// Records are keyed by commit order (not message id: requests commit out of id order), so
    /// that the relay, reading them in key order, keeps per-key order. A polling relay reads
    /// (and deletes) outbox rows; a log tailer reads the commit log, where the transaction's
    /// entry carries the message.
    pub(crate) fn outbox_append(&self, s: &StoreHandle, id: u64, key: u64, seq: u64) {
        let table = match self.world.spec.services[self.service].app {
            Some(AppSpec::Outbox { relay: Relay::LogTailing, .. }) => "wal",
            _ => "outbox",
        };
        let position = s.get_u64("outbox_next") + 1;
        s.put("outbox_next", position.to_string().as_bytes());
        s.put(&format!("{table}/{position:020}"), format!("{id},{key},{seq}").as_bytes());
    }

    /// Writer in outbox mode, or a saga choreography member: starts the relay (after every
    /// start).
    pub(crate) fn start_relay(self: &Arc<Self>) {
        if !matches!(
            self.world.spec.services[self.service].app,
            Some(AppSpec::Outbox { mode: OutboxMode::Outbox, .. } | AppSpec::SagaChoreography { .. })
        ) {
            return;
        }
        let this = self.clone();
        match self.world.spec.services[self.service].app {
            Some(AppSpec::Outbox { relay: Relay::LogTailing, .. }) => {
                tokio::spawn(async move { this.tail_log().await })
            }
            _ => tokio::spawn(async move { this.relay().await }),
        };
    }

    /// The log-tailing relay: publishes commit-log entries in order from its durable position,
    /// advancing it after each ack (a crash between the two republishes one entry). It looks for
    /// a new entry every millisecond, as a connector streaming the log would.
    async fn tail_log(self: Arc<Self>) {
        let Some((edge, stack, _)) = self.deps.first().cloned() else { return };
        let s = self.store();
        loop {
            let next = s.get_u64("tail_position") + 1;
            let Some(entry) = s.get(&format!("wal/{next:020}")) else {
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            };
            let (id, key, seq) = message(&entry);
            let meta = Meta { op: Some(Op { name: "publish", id, key, seq }), key, ..Meta::default() };
            if recorded_call(&self.world, self.world.next_id(), &edge, &stack, id, meta).await.is_ok() {
                s.put("tail_position", next.to_string().as_bytes());
                s.sync();
            } else {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }

    /// The polling relay.
    async fn relay(self: Arc<Self>) {
        let Some((edge, stack, _)) = self.deps.first().cloned() else { return };
        let parallel =
            matches!(self.world.spec.services[self.service].app, Some(AppSpec::Outbox { relay_parallel: true, .. }));
        let s = self.store();
        loop {
            let pending = s.keys_with_prefix("outbox/");
            let mut batch = Vec::new();
            for k in pending {
                let Some(v) = s.get(&k) else { continue };
                let (id, key, seq) = message(&v);
                let meta = Meta { op: Some(Op { name: "publish", id, key, seq }), key, ..Meta::default() };
                let (world, edge, stack, s, k) =
                    (self.world.clone(), edge.clone(), stack.clone(), s.clone(), k.clone());
                let publish = async move {
                    let ok = recorded_call(&world, world.next_id(), &edge, &stack, id, meta).await.is_ok();
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
}
