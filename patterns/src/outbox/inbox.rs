//! The inbox: a consumer applies each event once, however often the broker delivers it.
//!
//! The event's id goes into the inbox table in the same transaction as the change it causes:
//! a redelivery finds it there and is acknowledged without being applied again, and a crash
//! before the commit leaves neither the change nor the id (the broker delivers again).

use super::ports::{Message, Store, StoreResult, Transaction};

/// Begins applying `message` on `store`: `None` when the inbox already holds it (acknowledge
/// it and do nothing); otherwise a transaction with the id already recorded, in which the
/// caller makes its change and commits. `dedup = false` skips the check (a planted bug for
/// the simulator's O2; never in a service).
pub async fn begin<'s, S: Store>(store: &'s S, message: &Message, dedup: bool) -> StoreResult<Option<S::Tx<'s>>> {
    let mut tx = store.begin().await?;
    let seen = tx.inbox_contains(message.id).await?;
    if seen && dedup {
        return Ok(None);
    }
    if !seen {
        tx.inbox_insert(message.id).await?;
    }
    Ok(Some(tx))
}
