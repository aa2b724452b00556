//! The optimistic-concurrency writer on the in-memory event store: a writer whose read went
//! stale reads again and decides again; nothing is lost.

use std::sync::atomic::{AtomicU32, Ordering};

use faultline_patterns::event_sourcing::client::{append_expecting, AppendError};
use faultline_patterns::event_sourcing::{EventStore, ExpectedVersion, MemoryEventStore};

#[tokio::test]
async fn a_writer_that_lost_the_race_reads_again_and_appends_after_the_winner() {
    let store: MemoryEventStore<i64> = MemoryEventStore::default();
    let decisions = AtomicU32::new(0);
    let result = append_expecting(&store, "acct", 5, |version| {
        let n = decisions.fetch_add(1, Ordering::SeqCst);
        let store = &store;
        async move {
            if n == 0 {
                // Another writer appends while this one is deciding with version 0.
                store.append("acct", ExpectedVersion::Exact(version), vec![100]).await.unwrap();
            }
            -30
        }
    })
    .await;
    assert_eq!(result, Ok(2), "appended at version 2, after the other writer's event");
    assert_eq!(decisions.load(Ordering::SeqCst), 2, "decided again with the new version");
    let amounts: Vec<i64> = store.read_stream("acct", 1).await.iter().map(|r| r.event).collect();
    assert_eq!(amounts, [100, -30], "no update lost");
}

#[tokio::test]
async fn every_attempt_lost_ends_in_the_last_conflict() {
    let store: MemoryEventStore<i64> = MemoryEventStore::default();
    let result = append_expecting(&store, "acct", 3, |version| {
        let store = &store;
        async move {
            store.append("acct", ExpectedVersion::Exact(version), vec![1]).await.unwrap();
            2
        }
    })
    .await;
    match result {
        Err(AppendError::Conflict(c)) => assert_eq!((c.expected, c.actual), (2, 3)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_writer_backs_off_after_each_conflict_before_it_reads_again() {
    use faultline_patterns::event_sourcing::client::append_expecting_with_pause;
    use faultline_patterns::retry::{Backoff, Jitter, RetryConfig};
    use std::time::Duration;
    let store: MemoryEventStore<i64> = MemoryEventStore::default();
    let backoff = RetryConfig {
        max_attempts: 4,
        backoff: Backoff::Exponential { base: Duration::from_millis(10), cap: Duration::from_secs(1) },
        jitter: Jitter::None,
    };
    let start = tokio::time::Instant::now();
    let pauses = std::sync::Mutex::new(Vec::new());
    // Two rivals win the first two races; the third read is fresh.
    let result = append_expecting_with_pause(
        &store,
        "acct",
        backoff.max_attempts,
        |version| {
            let store = &store;
            async move {
                if version < 2 {
                    store.append("acct", ExpectedVersion::Exact(version), vec![1]).await.unwrap();
                }
                5
            }
        },
        |conflict| {
            let wait = backoff.delay(conflict, Duration::ZERO, 0.0);
            pauses.lock().unwrap().push((conflict, wait));
            tokio::time::sleep(wait)
        },
    )
    .await;
    assert_eq!(result, Ok(3));
    let pauses = pauses.into_inner().unwrap();
    assert_eq!(pauses, [(1, Duration::from_millis(10)), (2, Duration::from_millis(20))]);
    let waited = start.elapsed();
    // Tokio's paused clock rounds a sleep up to its next millisecond tick.
    assert!(
        waited >= Duration::from_millis(30) && waited < Duration::from_millis(31),
        "waited {waited:?}, not 10 + 20 ms"
    );
}
