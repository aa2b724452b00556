//! The call being made on this thread: a pattern's event names the call it concerns without
//! the patterns knowing call ids.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

thread_local! {
    /// The call whose stack is being polled on this thread (0: none). Each run has its own
    /// thread and polls one task at a time, so a pattern's event is emitted while its call's
    /// future is polled, and names that call.
    static CURRENT_CALL: Cell<u64> = const { Cell::new(0) };
}

/// The call being made on this thread right now, if any (0: none).
pub(crate) fn current_call() -> u64 {
    CURRENT_CALL.with(Cell::get)
}

/// A call's future, polled with the call marked as current.
pub(crate) struct InCall<F> {
    /// The call's record id.
    pub(crate) id: u64,
    /// The stack's future.
    pub(crate) inner: F,
}

impl<F: Future + Unpin> Future for InCall<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let before = CURRENT_CALL.with(|c| c.replace(self.id));
        let out = Pin::new(&mut self.inner).poll(cx);
        CURRENT_CALL.with(|c| c.set(before));
        out
    }
}
