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

/// Marks `id` as the current call until dropped, then puts back the one before (also when
/// a poll panics and a test harness catches it).
struct Current(u64);

impl Current {
    fn set(id: u64) -> Current {
        Current(CURRENT_CALL.with(|c| c.replace(id)))
    }
}

impl Drop for Current {
    fn drop(&mut self) {
        CURRENT_CALL.with(|c| c.set(self.0));
    }
}

/// A call's future, built and polled with the call marked as current: a layer's decision in
/// the synchronous part of `call` (a breaker refusing at once) names the call too.
pub(crate) struct InCall<F> {
    id: u64,
    inner: F,
}

impl<F: Future + Unpin> InCall<F> {
    /// Builds the call's future with `id` current.
    pub(crate) fn new(id: u64, build: impl FnOnce() -> F) -> Self {
        let _current = Current::set(id);
        InCall { id, inner: build() }
    }
}

impl<F: Future + Unpin> Future for InCall<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _current = Current::set(self.id);
        Pin::new(&mut self.inner).poll(cx)
    }
}
