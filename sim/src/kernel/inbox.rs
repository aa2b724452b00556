//! A node incarnation's inbox: messages in flight to it, each delivered at its own arrival time.
//!
//! The sender decides a message's fate (the link model: lost, or a latency, maybe a copy) and
//! puts it here at once, stamped with its arrival time; the receiving node's one receive task
//! takes messages out when they are due. There is no task, no sleep and no madsim network
//! operation per message: the inbox keeps its messages in a heap ordered by (arrival, sending
//! order) and arms one timer, for the earliest. A message that arrives while the node is
//! paused waits; one for an incarnation that died dies with it (the inbox is dropped).
//!
//! madsim clamps every `sleep` to at least 1 ms from now. The inbox needs exact arrival times
//! (a message due 0.3 ms after the previous one must not wait a whole millisecond), so it arms
//! its timer with `Sleep::reset`, which madsim does not clamp (as [`super::timer`] does).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::time::{Instant, Sleep};

/// One message in flight, due at `at`.
struct InFlight<M> {
    at: Instant,
    /// Sending order: messages due at the same instant arrive in the order they were sent.
    seq: u64,
    message: M,
}

impl<M> PartialEq for InFlight<M> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<M> Eq for InFlight<M> {}
impl<M> PartialOrd for InFlight<M> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<M> Ord for InFlight<M> {
    /// Reversed, so that the standard max-heap pops the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

struct State<M> {
    queue: BinaryHeap<InFlight<M>>,
    /// The timer armed for the earliest message, and its deadline.
    timer: Option<(Instant, Pin<Box<Sleep>>)>,
    /// The receive task, while it waits.
    waiter: Option<Waker>,
}

/// Messages in flight to one node incarnation.
pub(crate) struct Inbox<M> {
    state: Mutex<State<M>>,
}

impl<M> Inbox<M> {
    pub(crate) fn new() -> Self {
        Inbox { state: Mutex::new(State { queue: BinaryHeap::new(), timer: None, waiter: None }) }
    }

    fn state(&self) -> MutexGuard<'_, State<M>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts `message` in flight, due at `at`; `seq` orders messages due at the same instant.
    pub(crate) fn post(&self, at: Instant, seq: u64, message: M) {
        let mut s = self.state();
        let earliest = s.queue.peek().map(|m| m.at);
        s.queue.push(InFlight { at, seq, message });
        // Wake the receive task only when its timer is now too late.
        if earliest.is_none_or(|e| at < e) {
            if let Some(w) = s.waiter.take() {
                w.wake();
            }
        }
    }

    /// Waits for the messages that are due and moves them into `out`, in arrival order.
    pub(crate) fn due<'a>(&'a self, out: &'a mut Vec<M>) -> Due<'a, M> {
        Due { inbox: self, out }
    }

    fn poll_due(&self, cx: &mut Context<'_>, out: &mut Vec<M>) -> Poll<()> {
        let mut s = self.state();
        let now = Instant::now();
        while s.queue.peek().is_some_and(|m| m.at <= now) {
            if let Some(m) = s.queue.pop() {
                out.push(m.message);
            }
        }
        if !out.is_empty() {
            return Poll::Ready(());
        }
        s.waiter = Some(cx.waker().clone());
        let Some(next) = s.queue.peek().map(|m| m.at) else { return Poll::Pending };
        if s.timer.as_ref().is_none_or(|(armed, _)| *armed != next) {
            let mut sleep = Box::pin(tokio::time::sleep_until(next));
            sleep.as_mut().reset(next);
            s.timer = Some((next, sleep));
            if let Some((_, sleep)) = s.timer.as_mut() {
                // Registers the timer; it cannot be due yet (the earliest message is not).
                let _ = sleep.as_mut().poll(cx);
            }
        }
        Poll::Pending
    }
}

/// The future of [`Inbox::due`].
pub(crate) struct Due<'a, M> {
    inbox: &'a Inbox<M>,
    out: &'a mut Vec<M>,
}

impl<M> Future for Due<'_, M> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.inbox.poll_due(cx, this.out)
    }
}
