//! The CQRS projector on the in-memory ports: each event applied once across re-reads and
//! restarts, and the planted bug (read model and checkpoint committed apart) applying one twice.

use faultline_patterns::event_sourcing::{EventStore, ExpectedVersion, MemoryEventStore, Recorded};
use faultline_patterns::outbox::memory::MemoryStore;
use faultline_patterns::outbox::ports::{StoreResult, Transaction};
use faultline_patterns::projector::{Projector, ReadModel};

/// Sums each stream's amounts.
struct Balances;

impl ReadModel<i64> for Balances {
    async fn apply<T: Transaction>(&self, tx: &mut T, e: &Recorded<i64>) -> StoreResult<()> {
        let key = format!("balance/{}", e.stream);
        let now: i64 = tx.read(&key).await?.map_or(0, |v| v.parse().unwrap());
        tx.write(&key, &(now + e.event).to_string()).await
    }
}

async fn log() -> MemoryEventStore<i64> {
    let log = MemoryEventStore::default();
    for (stream, amount) in [("a", 10), ("b", 5), ("a", -3), ("b", 1), ("a", 2)] {
        let version = log.read_stream(stream, 1).await.len() as u64;
        log.append(stream, ExpectedVersion::Exact(version), vec![amount]).await.unwrap();
    }
    log
}

#[tokio::test]
async fn each_event_is_applied_once_however_often_it_is_read() {
    let log = log().await;
    let projector = Projector::new(MemoryStore::default(), Balances, "balances");
    assert_eq!(projector.catch_up(&log, 3).await.unwrap(), 3, "a batch of 3");
    let all = log.read_all(1, 100).await;
    assert_eq!(projector.apply(&all).await.unwrap(), 2, "the first three are skipped: read again");
    assert_eq!(projector.apply(&all).await.unwrap(), 0);
    assert_eq!(projector.checkpoint().await.unwrap(), 5);
    let balances = Projector::new(MemoryStore::default(), Balances, "gap");
    assert_eq!(balances.apply(&all[1..]).await.unwrap(), 0, "a gap (position 1 missing) stops it");
}

#[tokio::test]
async fn the_read_model_committed_without_its_checkpoint_applies_an_event_twice_after_a_crash() {
    let log = log().await;
    let store = std::sync::Arc::new(MemoryStore::default());
    let projector = Projector::new(store.clone(), Balances, "balances");
    let first = &log.read_all(1, 1).await[0];
    projector.apply_without_checkpoint(first).await.unwrap();
    // The crash: the checkpoint never moves. Restarted, the projector reads position 1 again.
    projector.catch_up(&log, 10).await.unwrap();
    assert_eq!(store.state("balance/a").as_deref(), Some("19"), "10 counted twice, -3, +2");
}
