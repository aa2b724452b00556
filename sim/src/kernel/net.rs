//! The transport: request/response messaging between nodes, with faultline's own link model:
//! per-link latency distributions, loss, duplication, reordering, one- and two-way partitions,
//! outages, and refused connections to crashed nodes.
//!
//! Sending decides a message's fate at once (`World::plan_message`) and posts it, stamped with
//! its arrival time, into the receiving node incarnation's [`Inbox`]; the receiving node's one
//! receive task takes it out when it is due. A message takes at least [`MESSAGE_FLOOR`] (1 ms)
//! so that no exchange runs in zero virtual time. madsim provides the executor, the clock,
//! the nodes (kill, restart, pause) and the timers; its network is not used.
//!
//! Responses are matched to calls through a pending table keyed by a run-wide call id; a call
//! that times out removes its entry, and a late answer is dropped.
//!
//! The network's hard call timeout is enforced by one sweeper task per node rather than a timer
//! per call: madsim's timer heap cannot cancel, so a 30 s timer per call would sit in the heap
//! for 30 virtual seconds (tens of thousands of entries at a few thousand calls per second).
//! Every call has the same timeout, so deadlines arrive in order and a FIFO queue holds them;
//! the sweeper sleeps until the oldest call that is still waiting.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use faultline_patterns::cache::CacheStore;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

use super::envelope::Envelope;
use super::inbox::Inbox;
use super::world::{World, MESSAGE_FLOOR};
use crate::call::{CallError, Meta, Served};

/// Receives a node's incoming requests.
pub(crate) trait Handler: Send + Sync + 'static {
    fn handle(self: Arc<Self>, transport: Arc<Transport>, from: u32, call: u64, request: u64, meta: Meta);
    /// Whether the node reports itself ready (cached; never waits).
    fn ready(&self) -> bool {
        true
    }
}

/// Calls waiting for an answer, and their deadlines in order.
#[derive(Default)]
struct Pending {
    waiters: BTreeMap<u64, oneshot::Sender<Result<Served, CallError>>>,
    deadlines: VecDeque<(Instant, u64)>,
}

/// Makes this node's clients of cache services (`None`: no such service). The applications
/// provide it; the transport only carries it to the edge stacks it builds.
pub(crate) type CacheClients = Arc<dyn Fn(&Arc<Transport>, &str) -> Option<Arc<dyn CacheStore<Served>>> + Send + Sync>;

/// One node incarnation's transport (rebuilt when the node restarts).
pub(crate) struct Transport {
    pub(crate) world: Arc<World>,
    pub(crate) me: u32,
    pub(crate) caches: CacheClients,
    inbox: Arc<Inbox<Envelope>>,
    pending: Mutex<Pending>,
    sweeper: Notify,
}

impl Transport {
    /// The transport of node `me`'s current incarnation, receiving from the inbox the
    /// incarnation opened when it started (messages still in flight to a previous incarnation
    /// were lost with its inbox).
    pub(crate) fn bind(world: Arc<World>, me: u32, caches: CacheClients) -> Arc<Transport> {
        let inbox = match world.inbox(me) {
            Some(inbox) => inbox,
            None => {
                world.open_inbox(me);
                world.inbox(me).unwrap_or_else(|| Arc::new(Inbox::new(world.clock.clone())))
            }
        };
        let pending = Mutex::new(Pending::default());
        Arc::new(Transport { world, me, caches, inbox, pending, sweeper: Notify::new() })
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fails calls whose deadline has passed; sleeps until the oldest call still waiting.
    async fn sweep_deadlines(self: Arc<Self>) {
        loop {
            let next = {
                let mut p = self.pending();
                let now = self.world.now();
                while let Some(&(deadline, call)) = p.deadlines.front() {
                    let waiting = p.waiters.contains_key(&call);
                    if waiting && deadline > now {
                        break;
                    }
                    p.deadlines.pop_front();
                    if let Some(tx) = p.waiters.remove(&call) {
                        let _ = tx.send(Err(CallError::Timeout));
                    }
                }
                p.deadlines.front().map(|d| d.0)
            };
            match next {
                Some(deadline) => super::timer::until(deadline).await,
                None => self.sweeper.notified().await,
            }
        }
    }

    /// Receives this node's messages, requests going to `handler`, until the node dies (its
    /// tasks, this one and the sweeper, die with it).
    pub(crate) async fn serve(self: Arc<Self>, handler: Option<Arc<dyn Handler>>) {
        tokio::spawn(self.clone().sweep_deadlines());
        let mut batch = Vec::new();
        loop {
            self.inbox.due(&mut batch).await;
            for envelope in batch.drain(..) {
                self.receive(envelope, handler.as_ref());
            }
        }
    }

    fn receive(self: &Arc<Self>, envelope: Envelope, handler: Option<&Arc<dyn Handler>>) {
        match envelope {
            Envelope::Request { from, call, request, meta } => {
                if let Some(h) = handler {
                    h.clone().handle(self.clone(), from, call, request, meta);
                }
            }
            Envelope::Live { from, call } => self.send(from, Envelope::Reply { call, result: Ok(Served::Full) }),
            Envelope::Health { from, call } => {
                let ready = handler.is_some_and(|h| h.ready());
                let result = if ready { Ok(Served::Full) } else { Err(CallError::Server) };
                self.send(from, Envelope::Reply { call, result });
            }
            Envelope::Reply { call, result } => {
                let waiter = self.pending().waiters.remove(&call);
                if let Some(tx) = waiter {
                    let _ = tx.send(result);
                }
            }
        }
    }

    /// Sends one message through the link model: it may be dropped, delayed or duplicated. A
    /// message to a node that is down is lost.
    pub(crate) fn send(&self, dst: u32, envelope: Envelope) {
        let Some((latency, duplicate)) = self.world.plan_message(self.me, dst) else { return };
        let Some(inbox) = self.world.inbox(dst) else { return };
        let now = self.world.now();
        if let Some(dup_latency) = duplicate {
            inbox.post(now + dup_latency.max(MESSAGE_FLOOR), self.world.next_message(), envelope.clone());
        }
        inbox.post(now + latency.max(MESSAGE_FLOOR), self.world.next_message(), envelope);
    }

    /// Calls `dst` with request `request` and waits for its answer, at most the network's
    /// hard call timeout.
    pub(crate) async fn call(self: &Arc<Self>, dst: u32, request: u64, meta: Meta) -> Result<Served, CallError> {
        self.round_trip(dst, |from, call| Envelope::Request { from, call, request, meta }).await
    }

    /// Asks `dst` whether it is ready; false on any failure or after `timeout`.
    pub(crate) async fn probe(self: &Arc<Self>, dst: u32, timeout: std::time::Duration) -> bool {
        matches!(
            tokio::time::timeout(timeout, self.round_trip(dst, |from, call| Envelope::Health { from, call })).await,
            Ok(Ok(_))
        )
    }

    /// Asks `dst` whether its process is alive (answering at all); false after `timeout`.
    pub(crate) async fn probe_live(self: &Arc<Self>, dst: u32, timeout: std::time::Duration) -> bool {
        matches!(
            tokio::time::timeout(timeout, self.round_trip(dst, |from, call| Envelope::Live { from, call })).await,
            Ok(Ok(_))
        )
    }

    async fn round_trip(
        self: &Arc<Self>,
        dst: u32,
        envelope: impl FnOnce(u32, u64) -> Envelope,
    ) -> Result<Served, CallError> {
        if !self.world.is_alive(dst) {
            super::timer::until(self.world.now() + self.world.refusal_delay(self.me, dst)).await;
            return Err(CallError::Refused);
        }
        let call = self.world.next_call();
        let (tx, rx) = oneshot::channel();
        {
            let mut p = self.pending();
            p.waiters.insert(call, tx);
            let was_idle = p.deadlines.is_empty();
            p.deadlines.push_back((self.world.now() + self.world.spec.network.call_timeout, call));
            // Answered calls leave their deadline behind until the sweeper passes; compact
            // now and then so that the queue stays proportional to the calls in flight.
            if p.deadlines.len() > 4096 && p.deadlines.len() > 4 * p.waiters.len() {
                let Pending { waiters, deadlines } = &mut *p;
                deadlines.retain(|(_, c)| waiters.contains_key(c));
            }
            if was_idle {
                self.sweeper.notify_one();
            }
        }
        let _forget = Forget { transport: self, call };
        self.send(dst, envelope(self.me, call));
        // The sender is dropped without an answer only when this node is torn down.
        rx.await.unwrap_or(Err(CallError::Refused))
    }
}

/// Removes a call's pending entry however the call ends (answer, timeout, cancellation).
struct Forget<'a> {
    transport: &'a Transport,
    call: u64,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.transport.pending().waiters.remove(&self.call);
    }
}
