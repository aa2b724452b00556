//! The ports in memory: a store and a broker for tests and small tools (and the reference for
//! an adapter's behaviour). Transactions buffer their writes and apply them at commit, under
//! one lock; an inbox id or idempotency key another transaction committed first is a conflict.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use super::ports::{
    Delivery, Message, PublishError, Publisher, Store, StoreError, StoreResult, Subscriber, Transaction,
};

#[derive(Debug, Default)]
struct Data {
    state: BTreeMap<String, String>,
    outbox: BTreeMap<u64, Message>,
    last_position: u64,
    inbox: BTreeSet<u64>,
    answers: BTreeMap<String, String>,
    checkpoints: BTreeMap<String, u64>,
}

/// A store in memory.
#[derive(Debug, Default)]
pub struct MemoryStore(Mutex<Data>);

impl MemoryStore {
    fn data(&self) -> MutexGuard<'_, Data> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The committed state under `key`.
    pub fn state(&self, key: &str) -> Option<String> {
        self.data().state.get(key).cloned()
    }

    /// Outbox rows not yet removed.
    pub fn outbox_len(&self) -> usize {
        self.data().outbox.len()
    }
}

/// A transaction on a [`MemoryStore`].
pub struct MemoryTx<'a> {
    store: &'a MemoryStore,
    state: BTreeMap<String, String>,
    outbox: Vec<Message>,
    inbox: BTreeSet<u64>,
    answers: BTreeMap<String, String>,
}

impl Transaction for MemoryTx<'_> {
    async fn read(&mut self, key: &str) -> StoreResult<Option<String>> {
        Ok(self.state.get(key).cloned().or_else(|| self.store.state(key)))
    }
    async fn write(&mut self, key: &str, value: &str) -> StoreResult<()> {
        self.state.insert(key.to_owned(), value.to_owned());
        Ok(())
    }
    async fn enqueue(&mut self, message: &Message) -> StoreResult<()> {
        self.outbox.push(message.clone());
        Ok(())
    }
    async fn inbox_contains(&mut self, id: u64) -> StoreResult<bool> {
        Ok(self.inbox.contains(&id) || self.store.data().inbox.contains(&id))
    }
    async fn inbox_insert(&mut self, id: u64) -> StoreResult<()> {
        self.inbox.insert(id);
        Ok(())
    }
    async fn idempotency_get(&mut self, key: &str) -> StoreResult<Option<String>> {
        Ok(self.answers.get(key).cloned().or_else(|| self.store.data().answers.get(key).cloned()))
    }
    async fn idempotency_put(&mut self, key: &str, answer: &str) -> StoreResult<()> {
        self.answers.insert(key.to_owned(), answer.to_owned());
        Ok(())
    }
    async fn commit(self) -> StoreResult<()> {
        let mut d = self.store.data();
        if let Some(id) = self.inbox.iter().find(|id| d.inbox.contains(id)) {
            return Err(StoreError::Conflict(format!("event {id} is already in the inbox")));
        }
        if let Some(key) = self.answers.keys().find(|k| d.answers.contains_key(*k)) {
            return Err(StoreError::Conflict(format!("idempotency key {key} already has an answer")));
        }
        d.state.extend(self.state);
        for m in self.outbox {
            d.last_position += 1;
            let position = d.last_position;
            d.outbox.insert(position, m);
        }
        d.inbox.extend(self.inbox);
        d.answers.extend(self.answers);
        Ok(())
    }
}

impl Store for MemoryStore {
    type Tx<'a> = MemoryTx<'a>;

    async fn begin(&self) -> StoreResult<MemoryTx<'_>> {
        Ok(MemoryTx {
            store: self,
            state: BTreeMap::new(),
            outbox: Vec::new(),
            inbox: BTreeSet::new(),
            answers: BTreeMap::new(),
        })
    }
    async fn outbox_after(&self, after: u64, limit: usize) -> StoreResult<Vec<(u64, Message)>> {
        Ok(self.data().outbox.range(after + 1..).take(limit).map(|(p, m)| (*p, m.clone())).collect())
    }
    async fn outbox_remove(&self, position: u64) -> StoreResult<()> {
        self.data().outbox.remove(&position);
        Ok(())
    }
    async fn checkpoint(&self, name: &str) -> StoreResult<u64> {
        Ok(self.data().checkpoints.get(name).copied().unwrap_or(0))
    }
    async fn set_checkpoint(&self, name: &str, position: u64) -> StoreResult<()> {
        self.data().checkpoints.insert(name.to_owned(), position);
        Ok(())
    }
}

/// A broker in memory: one topic, a log every group reads from its own offset.
#[derive(Debug, Default)]
pub struct MemoryBroker {
    log: Mutex<Vec<Message>>,
    offsets: Mutex<BTreeMap<String, u64>>,
}

impl MemoryBroker {
    /// Every message published, in order (duplicates included).
    pub fn published(&self) -> Vec<Message> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Consumer group `group`'s subscriber (from its committed offset).
    pub fn subscribe(self: &Arc<Self>, group: &str) -> MemorySubscriber {
        MemorySubscriber { broker: self.clone(), group: group.to_owned() }
    }
}

impl Publisher for MemoryBroker {
    async fn publish(&self, message: &Message) -> Result<(), PublishError> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).push(message.clone());
        Ok(())
    }
}

/// One consumer group of a [`MemoryBroker`].
pub struct MemorySubscriber {
    broker: Arc<MemoryBroker>,
    group: String,
}

impl Subscriber for MemorySubscriber {
    async fn next(&mut self) -> StoreResult<Option<Delivery>> {
        let offset = self.broker.offsets.lock().unwrap_or_else(|e| e.into_inner()).get(&self.group).copied();
        let next = offset.unwrap_or(0) + 1;
        let found = {
            let log = self.broker.log.lock().unwrap_or_else(|e| e.into_inner());
            log.get(next as usize - 1).map(|m| Delivery { offset: next, message: m.clone() })
        };
        if found.is_none() {
            // Nothing yet: let the publishers run before the consumer asks again.
            tokio::task::yield_now().await;
        }
        Ok(found)
    }
    async fn ack(&mut self, delivery: &Delivery) -> StoreResult<()> {
        let mut offsets = self.broker.offsets.lock().unwrap_or_else(|e| e.into_inner());
        let o = offsets.entry(self.group.clone()).or_insert(0);
        *o = (*o).max(delivery.offset);
        Ok(())
    }
}
