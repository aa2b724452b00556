//! The consistency patterns' ports (`faultline_patterns::outbox::ports`) on a simulated node:
//! its durable store ([`SimStore`]) and its broker dependency ([`SimPublisher`]). The patterns'
//! relays and inbox run on these unchanged.
//!
//! The store's layout is the one the applications share: the outbox under `outbox/{position}`
//! (20 digits, so key order is commit order) holding `id,key,seq`, its last position under
//! `outbox_next`, the inbox under `inbox/{id}`, idempotency answers under `answer/{key}`,
//! checkpoints under `checkpoint/{name}`, and the service's own state under its keys. A
//! transaction buffers its writes and applies them at commit as one synced write. It has no
//! isolation of its own: nothing it does waits, so a caller that does not wait between `begin`
//! and `commit` runs without interleaving on its node (as a local transaction); one that waits
//! in between may see, and overwrite, another's commit. The simulated store never fails: a
//! crash ends the node instead.

use std::sync::Arc;

use faultline_patterns::outbox::ports::{
    Message, PublishError, Publisher, Store, StoreError, StoreResult, Transaction,
};

use crate::call::{Meta, Op};
use crate::kernel::app::AppCtx;
use crate::kernel::edge::Dep;
use crate::store::StoreHandle;

/// A stored message `id,key,seq` (missing fields read as 0).
pub(crate) fn message(entry: &[u8]) -> Message {
    let text = String::from_utf8_lossy(entry);
    let mut f = text.split(',').map(|x| x.parse::<u64>().unwrap_or(0));
    Message::new(f.next().unwrap_or(0), f.next().unwrap_or(0), f.next().unwrap_or(0))
}

/// Adds message `id,key,seq` to the outbox in the caller's write set (the caller syncs):
/// the next position, in commit order.
pub(crate) fn append(s: &StoreHandle, m: &Message) {
    let position = s.get_u64("outbox_next") + 1;
    s.put("outbox_next", position.to_string().as_bytes());
    s.put(&outbox_key(position), format!("{},{},{}", m.id, m.key, m.seq).as_bytes());
}

fn outbox_key(position: u64) -> String {
    format!("outbox/{position:020}")
}

/// A node's store, as the patterns' [`Store`].
#[derive(Clone)]
pub(crate) struct SimStore(pub(crate) StoreHandle);

/// One write of a transaction: a state key and its value, or an outbox message.
enum Write {
    Put(String, String),
    Enqueue(Message),
}

/// A transaction on a [`SimStore`].
pub(crate) struct SimTx {
    store: StoreHandle,
    writes: Vec<Write>,
}

impl SimTx {
    fn get(&self, key: &str) -> Option<String> {
        let mine = self.writes.iter().rev().find_map(|w| match w {
            Write::Put(k, v) if k == key => Some(v.clone()),
            _ => None,
        });
        mine.or_else(|| self.store.get(key).map(|v| String::from_utf8_lossy(&v).into_owned()))
    }
}

impl Transaction for SimTx {
    async fn read(&mut self, key: &str) -> StoreResult<Option<String>> {
        Ok(self.get(key))
    }
    async fn write(&mut self, key: &str, value: &str) -> StoreResult<()> {
        self.writes.push(Write::Put(key.to_owned(), value.to_owned()));
        Ok(())
    }
    async fn enqueue(&mut self, message: &Message) -> StoreResult<()> {
        self.writes.push(Write::Enqueue(message.clone()));
        Ok(())
    }
    async fn inbox_contains(&mut self, id: u64) -> StoreResult<bool> {
        Ok(self.get(&format!("inbox/{id}")).is_some())
    }
    async fn inbox_insert(&mut self, id: u64) -> StoreResult<()> {
        self.write(&format!("inbox/{id}"), "1").await
    }
    async fn idempotency_get(&mut self, key: &str) -> StoreResult<Option<String>> {
        Ok(self.get(&format!("answer/{key}")))
    }
    async fn idempotency_put(&mut self, key: &str, answer: &str) -> StoreResult<()> {
        self.write(&format!("answer/{key}"), answer).await
    }
    async fn commit(self) -> StoreResult<()> {
        for w in &self.writes {
            match w {
                Write::Put(k, v) => self.store.put(k, v.as_bytes()),
                Write::Enqueue(m) => append(&self.store, m),
            }
        }
        disk(self.store.try_sync())
    }
}

/// A failed sync, as the patterns' store error: the database is unavailable for now.
fn disk(r: Result<(), crate::store::DiskError>) -> StoreResult<()> {
    r.map_err(|e| StoreError::Unavailable(format!("disk: {e}")))
}

impl Store for SimStore {
    type Tx<'a> = SimTx;

    async fn begin(&self) -> StoreResult<SimTx> {
        Ok(SimTx { store: self.0.clone(), writes: Vec::new() })
    }
    async fn outbox_after(&self, after: u64, limit: usize) -> StoreResult<Vec<(u64, Message)>> {
        let rows = self.0.entries_from(&outbox_key(after + 1), "outbox/", limit);
        Ok(rows.into_iter().map(|(k, v)| (k["outbox/".len()..].parse().unwrap_or(0), message(&v))).collect())
    }
    async fn outbox_remove(&self, position: u64) -> StoreResult<()> {
        self.0.delete(&outbox_key(position));
        disk(self.0.try_sync())
    }
    async fn checkpoint(&self, name: &str) -> StoreResult<u64> {
        Ok(self.0.get_u64(&format!("checkpoint/{name}")))
    }
    async fn set_checkpoint(&self, name: &str, position: u64) -> StoreResult<()> {
        self.0.put(&format!("checkpoint/{name}"), position.to_string().as_bytes());
        disk(self.0.try_sync())
    }
}

/// A node's broker dependency, as the patterns' [`Publisher`]: a publish is a call through
/// the edge's stack, acknowledged by the broker's answer.
pub(crate) struct SimPublisher {
    ctx: Arc<AppCtx>,
    dep: Dep,
}

impl SimPublisher {
    /// Publishes to the node's first dependency (`None`: it has none).
    pub(crate) fn first(ctx: &Arc<AppCtx>) -> Option<Self> {
        Some(SimPublisher { ctx: ctx.clone(), dep: ctx.first_dep()?.clone() })
    }
}

impl Publisher for SimPublisher {
    async fn publish(&self, m: &Message) -> Result<(), PublishError> {
        let op = Op { name: "publish", id: m.id, key: m.key, seq: m.seq };
        let meta = Meta { op: Some(op), key: m.key, ..Meta::default() };
        match self.dep.call(&self.ctx.world, m.id, meta).await {
            Ok(_) => Ok(()),
            Err(e) => Err(PublishError(format!("{e:?}"))),
        }
    }
}
