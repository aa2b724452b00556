//! Idempotency keys without a transaction: a duplicate waits for the running request and gets
//! its answer; a failure is forgotten and a retry runs; the work runs once per success.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use faultline_patterns::idempotency::{once, Answers, MemoryAnswers, Seen};

#[tokio::test(start_paused = true)]
async fn a_duplicate_waits_for_the_running_request_and_gets_its_answer_without_running() {
    let answers: Arc<MemoryAnswers<u64, &'static str>> = Arc::default();
    let runs = Arc::new(AtomicU32::new(0));
    let call = |answers: Arc<MemoryAnswers<u64, &'static str>>, runs: Arc<AtomicU32>| async move {
        once(&*answers, 7, Duration::from_millis(5), || async {
            runs.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(40)).await;
            Ok::<_, ()>("charged")
        })
        .await
    };
    let first = tokio::spawn(call(answers.clone(), runs.clone()));
    tokio::time::sleep(Duration::from_millis(1)).await;
    let copy = tokio::spawn(call(answers.clone(), runs.clone()));
    assert_eq!((first.await.unwrap(), copy.await.unwrap()), (Ok("charged"), Ok("charged")));
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the copy waited and was answered from the record");
    assert_eq!(answers.claim(&7), Seen::Answered("charged"));
}

#[tokio::test(start_paused = true)]
async fn a_failure_is_forgotten_so_a_retry_runs_again() {
    let answers: MemoryAnswers<u64, u32> = MemoryAnswers::default();
    let failed: Result<u32, &str> = once(&answers, 1, Duration::from_millis(5), || async { Err("declined") }).await;
    assert_eq!(failed, Err("declined"));
    let retried: Result<u32, &str> = once(&answers, 1, Duration::from_millis(5), || async { Ok(3) }).await;
    assert_eq!(retried, Ok(3), "the retry ran");
}
