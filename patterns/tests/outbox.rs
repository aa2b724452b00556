//! The outbox, its relays, the inbox and idempotency keys on the in-memory ports, on whichever
//! runtime the build has (real tokio in CI's real step, madsim otherwise).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use faultline_patterns::outbox::idempotency::{self, Claim};
use faultline_patterns::outbox::inbox;
use faultline_patterns::outbox::memory::{MemoryBroker, MemoryStore};
use faultline_patterns::outbox::ports::{Message, PublishError, Publisher, Store, StoreError, Subscriber, Transaction};
use faultline_patterns::outbox::relay::{Relay, RelayConfig, RelayError};

/// Commits order `id` for `key` and its message in one transaction.
async fn place(store: &MemoryStore, id: u64, key: u64) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    let seq = tx.read(&format!("seq/{key}")).await?.map_or(0, |v| v.parse().unwrap()) + 1;
    tx.write(&format!("seq/{key}"), &seq.to_string()).await?;
    tx.enqueue(&Message::new(id, key, seq)).await?;
    tx.commit().await
}

/// A broker that refuses every publish after the first `ok`.
struct Flaky {
    inner: MemoryBroker,
    ok: u32,
    calls: AtomicU32,
}

impl Publisher for Flaky {
    async fn publish(&self, m: &Message) -> Result<(), PublishError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) >= self.ok {
            return Err(PublishError("broker down".into()));
        }
        self.inner.publish(m).await
    }
}

#[tokio::test]
async fn an_uncommitted_change_sends_nothing_and_a_committed_one_is_relayed_in_order() {
    let store = Arc::new(MemoryStore::default());
    let mut tx = store.begin().await.unwrap();
    tx.enqueue(&Message::new(99, 1, 1)).await.unwrap();
    drop(tx); // never committed
    for id in 1..=5 {
        place(&store, id, id % 2).await.unwrap();
    }
    let broker = Arc::new(MemoryBroker::default());
    let relay = Relay::polling(store.clone(), broker.clone(), RelayConfig { batch: 2, ..RelayConfig::default() });
    assert_eq!(relay.run_once().await.unwrap(), 2, "a pass publishes at most a batch");
    while relay.run_once().await.unwrap() > 0 {}
    let ids: Vec<u64> = broker.published().iter().map(|m| m.id).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5], "commit order, and nothing uncommitted");
    assert_eq!(store.outbox_len(), 0, "the polling relay deletes what the broker has");
}

#[tokio::test]
async fn a_failed_publish_stops_the_pass_and_goes_first_next_time() {
    let store = Arc::new(MemoryStore::default());
    for id in 1..=4 {
        place(&store, id, 7).await.unwrap();
    }
    let flaky = Arc::new(Flaky { inner: MemoryBroker::default(), ok: 2, calls: AtomicU32::new(0) });
    let relay = Relay::tailing(store.clone(), flaky.clone(), RelayConfig::default(), "relay");
    let err = relay.run_once().await.unwrap_err();
    assert!(matches!(err, RelayError::Publish(_)), "{err}");
    assert_eq!(store.checkpoint("relay").await.unwrap(), 2, "the checkpoint stays on the last ack");
    let broker = Arc::new(MemoryBroker::default());
    let relay = Relay::tailing(store.clone(), broker.clone(), RelayConfig::default(), "relay");
    assert_eq!(relay.run_once().await.unwrap(), 2);
    let seqs: Vec<u64> = broker.published().iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [3, 4], "resumed at the first unacknowledged row, in order");
    assert_eq!(store.outbox_len(), 4, "a log is not deleted from");
}

#[tokio::test]
async fn the_inbox_applies_a_redelivered_message_once() {
    let broker = Arc::new(MemoryBroker::default());
    let m = Message::new(5, 1, 1);
    broker.publish(&m).await.unwrap();
    broker.publish(&m).await.unwrap(); // at-least-once: a copy
    let (shipping, mut sub) = (MemoryStore::default(), broker.subscribe("shipping"));
    let mut applied = 0;
    while let Some(d) = sub.next().await.unwrap() {
        if let Some(mut tx) = inbox::begin(&shipping, &d.message, true).await.unwrap() {
            tx.write("shipped", &(applied + 1).to_string()).await.unwrap();
            tx.commit().await.unwrap();
            applied += 1;
        }
        sub.ack(&d).await.unwrap();
    }
    assert_eq!(applied, 1);
    // Without the check (the simulator's planted bug) the copy is applied again.
    assert!(inbox::begin(&shipping, &m, false).await.unwrap().is_some());
}

#[tokio::test]
async fn an_idempotency_key_answers_a_retry_without_doing_the_work_again() {
    let store = MemoryStore::default();
    let Claim::First(mut tx) = idempotency::begin(&store, "k1").await.unwrap() else { panic!("first") };
    tx.write("charges", "1").await.unwrap();
    // A concurrent duplicate begins too, before the first commits.
    let Claim::First(mut late) = idempotency::begin(&store, "k1").await.unwrap() else { panic!("not yet answered") };
    idempotency::finish(tx, "k1", "charged 10").await.unwrap();
    late.write("charges", "2").await.unwrap();
    let err = idempotency::finish(late, "k1", "charged 10").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(store.state("charges").as_deref(), Some("1"), "the duplicate's work is not committed");
    match idempotency::begin(&store, "k1").await.unwrap() {
        Claim::Answered(a) => assert_eq!(a, "charged 10"),
        Claim::First(_) => panic!("the retry must get the recorded answer"),
    }
}
