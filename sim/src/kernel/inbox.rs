//! A node incarnation's inbox: messages in flight to it, each delivered at its own arrival time.
//!
//! The sender decides a message's fate (the link model: lost, or a latency, maybe a copy) and
//! puts it here at once, stamped with its arrival time; the receiving node's one receive task
//! takes messages out when they are due. There is no task, no sleep and no madsim network
//! operation per message: the inbox keeps a heap of (arrival, sending order, slot) over the
//! slots that hold the messages (so that the heap moves small entries), and arms one timer,
//! for the earliest. A message that arrives while the node is
//! paused waits; one for an incarnation that died dies with it (the inbox is dropped).
//!
//! madsim clamps every `sleep` to at least 1 ms from now. The inbox needs exact arrival times
//! (a message due 0.3 ms after the previous one must not wait a whole millisecond), so it arms
//! its timer with `Sleep::reset`, which madsim does not clamp (as `timer.rs` explains).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use madsim::time::TimeHandle;
use tokio::time::{Instant, Sleep};

/// One message in flight, due at `at`, held in `slot`.
#[derive(PartialEq, Eq)]
struct InFlight {
    at: Instant,
    /// Sending order: messages due at the same instant arrive in the order they were sent.
    seq: u64,
    slot: usize,
}

impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    /// Reversed, so that the standard max-heap pops the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

struct State<M> {
    queue: BinaryHeap<InFlight>,
    /// The messages, by slot; `free` lists the empty slots.
    slots: Vec<Option<M>>,
    free: Vec<usize>,
    /// The timer, reset to each earliest message in turn, and the deadline it is armed for.
    timer: Option<(Option<Instant>, Pin<Box<Sleep>>)>,
    /// The receive task, while it waits.
    waiter: Option<Waker>,
}

/// Messages in flight to one node incarnation.
pub(crate) struct Inbox<M> {
    state: Mutex<State<M>>,
    /// The run's clock (cheaper than `Instant::now()`, which madsim answers through libc).
    clock: TimeHandle,
}

impl<M> Inbox<M> {
    pub(crate) fn new(clock: TimeHandle) -> Self {
        let state = State { queue: BinaryHeap::new(), slots: Vec::new(), free: Vec::new(), timer: None, waiter: None };
        Inbox { state: Mutex::new(state), clock }
    }

    fn state(&self) -> MutexGuard<'_, State<M>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts `message` in flight, due at `at`; `seq` orders messages due at the same instant.
    pub(crate) fn post(&self, at: Instant, seq: u64, message: M) {
        let mut s = self.state();
        let earliest = s.queue.peek().map(|m| m.at);
        let slot = match s.free.pop() {
            Some(slot) => {
                s.slots[slot] = Some(message);
                slot
            }
            None => {
                s.slots.push(Some(message));
                s.slots.len() - 1
            }
        };
        s.queue.push(InFlight { at, seq, slot });
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
        let now = self.clock.now_instant();
        while s.queue.peek().is_some_and(|m| m.at <= now) {
            let Some(m) = s.queue.pop() else { break };
            if let Some(message) = s.slots[m.slot].take() {
                out.push(message);
            }
            s.free.push(m.slot);
        }
        if !out.is_empty() {
            return Poll::Ready(());
        }
        s.waiter = Some(cx.waker().clone());
        let Some(next) = s.queue.peek().map(|m| m.at) else { return Poll::Pending };
        let (armed, sleep) = s.timer.get_or_insert_with(|| (None, Box::pin(tokio::time::sleep_until(next))));
        if *armed != Some(next) {
            *armed = Some(next);
            sleep.as_mut().reset(next);
            // Registers the timer; it cannot be due yet (the earliest message is not).
            let _ = sleep.as_mut().poll(cx);
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
