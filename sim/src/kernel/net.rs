//! The transport: request/response messaging over madsim endpoints, with what madsim's network
//! lacks added on top: per-link latency distributions, loss, duplication, reordering, one- and
//! two-way partitions, outages, and refused connections to crashed nodes.
//!
//! Each node binds one endpoint and runs several receive loops on it: madsim sleeps 1 ms after
//! every receive, so a single loop would cap a node at 1,000 messages per virtual second.
//! Responses are matched to calls through a pending table keyed by a run-wide call id; a call
//! that times out removes its entry, and a late answer is dropped (madsim's own mailbox would
//! keep it forever).
//!
//! The network's hard call timeout is enforced by one sweeper task per node rather than a timer
//! per call: madsim's timer heap cannot cancel, so a 30 s timer per call would sit in the heap
//! for 30 virtual seconds (tens of thousands of entries at a few thousand calls per second).
//! Every call has the same timeout, so deadlines arrive in order and a FIFO queue holds them;
//! the sweeper sleeps until the oldest call that is still waiting.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use faultline_patterns::cache::CacheStore;
use madsim::net::Endpoint;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

use super::world::{World, MADSIM_FLOOR};
use crate::call::{CallError, Meta, Served};

/// The madsim tag of every faultline message.
const TAG: u64 = 0x6661_756c_746c_696e;
/// Concurrent receive loops per node (each takes one message per virtual ms).
const RECEIVERS: usize = 32;

/// What travels between nodes.
#[derive(Debug, Clone)]
pub(crate) enum Envelope {
    Request {
        from: u32,
        call: u64,
        request: u64,
        meta: Meta,
    },
    /// A health probe: answered at once from the node's cached readiness.
    Health {
        from: u32,
        call: u64,
    },
    /// A liveness probe: answered by any running process, ready or not.
    Live {
        from: u32,
        call: u64,
    },
    Reply {
        call: u64,
        result: Result<Served, CallError>,
    },
}

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
    ep: Endpoint,
    pending: Mutex<Pending>,
    sweeper: Notify,
}

impl Transport {
    /// Binds the node's endpoint. Must run inside the node.
    pub(crate) async fn bind(world: Arc<World>, me: u32, caches: CacheClients) -> std::io::Result<Arc<Transport>> {
        let ep = Endpoint::bind(world.nodes[me as usize].addr).await?;
        let pending = Mutex::new(Pending::default());
        Ok(Arc::new(Transport { world, me, caches, ep, pending, sweeper: Notify::new() }))
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fails calls whose deadline has passed; sleeps until the oldest call still waiting.
    async fn sweep_deadlines(self: Arc<Self>) {
        loop {
            let next = {
                let mut p = self.pending();
                let now = Instant::now();
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
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => self.sweeper.notified().await,
            }
        }
    }

    /// Runs the receive loops; requests go to `handler`. Returns when the endpoint fails.
    pub(crate) async fn serve(self: Arc<Self>, handler: Option<Arc<dyn Handler>>) {
        let mut loops = Vec::with_capacity(RECEIVERS);
        loops.push(tokio::spawn(self.clone().sweep_deadlines()));
        for _ in 1..RECEIVERS {
            loops.push(tokio::spawn(self.clone().receive_loop(handler.clone())));
        }
        self.receive_loop(handler).await;
        for l in loops {
            l.abort();
        }
    }

    async fn receive_loop(self: Arc<Self>, handler: Option<Arc<dyn Handler>>) {
        while let Ok((payload, _from)) = self.ep.recv_from_raw(TAG).await {
            let Ok(envelope) = payload.downcast::<Envelope>() else { continue };
            match *envelope {
                Envelope::Request { from, call, request, meta } => {
                    if let Some(h) = &handler {
                        h.clone().handle(self.clone(), from, call, request, meta);
                    }
                }
                Envelope::Live { from, call } => {
                    let this = self.clone();
                    tokio::spawn(
                        async move { this.send(from, Envelope::Reply { call, result: Ok(Served::Full) }).await },
                    );
                }
                Envelope::Health { from, call } => {
                    let ready = handler.as_ref().is_some_and(|h| h.ready());
                    let result = if ready { Ok(Served::Full) } else { Err(CallError::Server) };
                    let this = self.clone();
                    tokio::spawn(async move { this.send(from, Envelope::Reply { call, result }).await });
                }
                Envelope::Reply { call, result } => {
                    let waiter = self.pending().waiters.remove(&call);
                    if let Some(tx) = waiter {
                        let _ = tx.send(result);
                    }
                }
            }
        }
    }

    /// Sends one message through the link model (it may be dropped, delayed or duplicated).
    pub(crate) async fn send(self: &Arc<Self>, dst: u32, envelope: Envelope) {
        let Some((latency, duplicate)) = self.world.plan_message(self.me, dst) else { return };
        if let Some(dup_latency) = duplicate {
            let this = self.clone();
            let copy = envelope.clone();
            tokio::spawn(async move { this.deliver_after(dst, dup_latency, copy).await });
        }
        self.deliver_after(dst, latency, envelope).await;
    }

    async fn deliver_after(&self, dst: u32, latency: std::time::Duration, envelope: Envelope) {
        let extra = latency.saturating_sub(MADSIM_FLOOR);
        if !extra.is_zero() {
            tokio::time::sleep(extra).await;
        }
        let addr = self.world.nodes[dst as usize].addr;
        // A send fails only when this node is being torn down; the message is then lost anyway.
        let _ = self.ep.send_to_raw(addr, TAG, Box::new(envelope)).await;
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
            tokio::time::sleep(self.world.refusal_delay(self.me, dst)).await;
            return Err(CallError::Refused);
        }
        let call = self.world.next_call();
        let (tx, rx) = oneshot::channel();
        {
            let mut p = self.pending();
            p.waiters.insert(call, tx);
            let was_idle = p.deadlines.is_empty();
            p.deadlines.push_back((Instant::now() + self.world.spec.network.call_timeout, call));
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
        self.send(dst, envelope(self.me, call)).await;
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
