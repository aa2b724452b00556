//! Idempotency keys: a request carries a key its client chose; the first request with that
//! key does the work and records its answer in the same transaction, and every later one gets
//! the recorded answer without doing the work again (Stripe's idempotency keys).
//!
//! Two requests with the same key at once both begin; the first to commit wins and the second
//! fails with a conflict (the store's unique key): its retry finds the answer.

use super::ports::{Store, StoreResult, Transaction};

/// What [`begin`] found.
pub enum Claim<T> {
    /// A request with this key was answered before: its answer.
    Answered(String),
    /// The first: do the work in this transaction, then [`finish`].
    First(T),
}

/// Looks up idempotency key `key` in a new transaction on `store`.
pub async fn begin<'s, S: Store>(store: &'s S, key: &str) -> StoreResult<Claim<S::Tx<'s>>> {
    let mut tx = store.begin().await?;
    Ok(match tx.idempotency_get(key).await? {
        Some(answer) => Claim::Answered(answer),
        None => Claim::First(tx),
    })
}

/// Records `answer` under `key` in `tx` and commits it with the work.
pub async fn finish<T: Transaction>(mut tx: T, key: &str, answer: &str) -> StoreResult<()> {
    tx.idempotency_put(key, answer).await?;
    tx.commit().await
}
