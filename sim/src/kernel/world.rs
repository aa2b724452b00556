//! The shared state of one run, kept thin: the nodes and their addresses, the link model, active
//! faults and the network's randomness, occupancy gauges, each node's durable store, the
//! recorder, service discovery's registry and the services' idempotency records. One `World`
//! per run, reached through an `Arc` by every node. Applications keep their own state (see
//! the `apps` module); the kernel knows none of them.
//!
//! The simulation is single-threaded, so the mutexes here are never contended; they exist
//! because madsim tasks must be `Send`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use madsim::task::NodeId;
use madsim::time::TimeHandle;
use tokio::time::Instant;

use super::envelope::Envelope;
use super::inbox::Inbox;
use super::timers::Timers;
use crate::dist::Dist;
use crate::event::{Event, EventKind};
use crate::fault::{FaultEffect, FaultKind, Target};
use crate::record::{AttemptRecord, RecordSink, Recorder, RequestRecord};
use crate::rng::{stream, SimRng};
use crate::spec::{LinkModel, SimSpec, CLIENT};
use crate::store::{StoreData, StoreHandle};

/// The least time a message takes: a link latency below it behaves as it. It keeps every
/// exchange from running in zero virtual time (a request loop that never lets time pass).
pub(crate) const MESSAGE_FLOOR: Duration = Duration::from_millis(1);

/// A node of the run.
pub(crate) struct NodeInfo {
    pub(crate) name: String,
    /// Index into `spec.services`, `None` for the client.
    pub(crate) service: Option<usize>,
    /// Its address in madsim (nodes are named by index in faultline's own messages).
    pub(crate) ip: IpAddr,
    pub(crate) madsim_id: OnceLock<NodeId>,
}

/// A fault while it is active, resolved to node indices.
#[derive(Debug, Clone)]
pub(crate) struct ActiveFault {
    pub(crate) kind: FaultKind,
    pub(crate) nodes: Vec<u32>,
    /// Directed (src, dst) pairs, for link targets.
    pub(crate) links: Vec<(u32, u32)>,
}

impl ActiveFault {
    fn hits_node(&self, n: u32) -> bool {
        self.nodes.contains(&n)
    }
    fn hits_message(&self, src: u32, dst: u32) -> bool {
        self.links.contains(&(src, dst)) || self.hits_node(src) || self.hits_node(dst)
    }
}

/// Time-integrated number of requests in a node (for Little's law and utilisation).
#[derive(Debug, Clone, Default)]
pub(crate) struct Occupancy {
    pub(crate) in_system: u64,
    pub(crate) area_us: u128,
    pub(crate) last_us: u64,
    pub(crate) incarnation: u64,
    pub(crate) admitted: u64,
    pub(crate) rejected: u64,
}

impl Occupancy {
    fn advance(&mut self, now_us: u64) {
        self.area_us += u128::from(self.in_system) * u128::from(now_us.saturating_sub(self.last_us));
        self.last_us = now_us;
    }
}

pub(crate) struct Dynamic {
    pub(crate) alive: Vec<bool>,
    pub(crate) active: BTreeMap<usize, ActiveFault>,
    /// What each fault of the plan did, by index.
    pub(crate) effects: Vec<FaultEffect>,
    pub(crate) link_rngs: BTreeMap<(u32, u32), SimRng>,
    pub(crate) occupancy: Vec<Occupancy>,
}

/// A zero count for every fault of the plan.
fn no_effects(spec: &SimSpec) -> Vec<FaultEffect> {
    let zero = |(id, f): (usize, &crate::fault::Fault)| FaultEffect {
        id,
        kind: f.kind.name().to_owned(),
        target: f.target.to_string(),
        ..FaultEffect::default()
    };
    spec.faults.0.iter().enumerate().map(zero).collect()
}

/// What the faults active on a node do to a request there.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct NodeEffects {
    /// The highest error-burst rate, and its fault.
    pub(crate) error: Option<(f64, usize)>,
    /// The latency spike (the one listed last), and its fault.
    pub(crate) latency: Option<(Dist, usize)>,
}

/// The run's shared state.
pub struct World {
    pub(crate) spec: SimSpec,
    /// The link model of every (caller, callee) pair of services (the client is group 0),
    /// resolved once: messages look it up by index instead of by name.
    link_table: Vec<LinkModel>,
    pub(crate) start: Instant,
    /// The run's clock. Asking it is much cheaper than `Instant::now()`, which madsim answers
    /// by intercepting libc's `clock_gettime`.
    pub(crate) clock: TimeHandle,
    /// The clock's reading when the run began.
    start_elapsed: Duration,
    pub(crate) nodes: Vec<NodeInfo>,
    /// The nodes' names, shared by the records that name them.
    node_names: Vec<Arc<str>>,
    /// The sink reads attempts: record them.
    attempts_wanted: bool,
    /// The run has ended (what is still in flight is unfinished).
    over: std::sync::atomic::AtomicBool,
    pub(crate) dynamic: Mutex<Dynamic>,
    pub(crate) recorder: Mutex<Recorder>,
    /// Each node's durable store, by node index.
    stores: Vec<Arc<Mutex<StoreData>>>,
    /// Service discovery: last heartbeat (µs) per registered node.
    pub(crate) registry: Mutex<BTreeMap<u32, u64>>,
    /// Idempotency store per (service, request id): `None` while running, then the result.
    pub(crate) idempotency: faultline_patterns::idempotency::MemoryAnswers<(usize, u64), crate::call::Served>,
    /// Workload requests in flight: id -> (start, route).
    pub(crate) inflight: Mutex<BTreeMap<u64, (u64, u16)>>,
    peak_inflight: std::sync::atomic::AtomicU64,
    pub(crate) idle: tokio::sync::Notify,
    /// The patterns' cancellable timer (driven by a task of the run), and the clock that
    /// waits with it.
    pub(crate) timers: Arc<Timers>,
    pub(crate) waits: faultline_patterns::Clock,
    /// Each node's current incarnation's inbox (`None` while it is down).
    inboxes: Mutex<Vec<Option<Arc<Inbox<Envelope>>>>>,
    next_id: AtomicU64,
    next_call: AtomicU64,
    next_message: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl World {
    pub(crate) fn new(spec: SimSpec, sink: Box<dyn RecordSink>, bin_us: u64) -> World {
        let mut nodes =
            vec![NodeInfo { name: CLIENT.to_owned(), service: None, ip: ip_of(0), madsim_id: OnceLock::new() }];
        for (si, s) in spec.services.iter().enumerate() {
            for r in 0..s.replicas {
                let i = nodes.len() as u32;
                nodes.push(NodeInfo {
                    name: format!("{}-{r}", s.name),
                    service: Some(si),
                    ip: ip_of(i),
                    madsim_id: OnceLock::new(),
                });
            }
        }
        let n = nodes.len();
        let clock = TimeHandle::current();
        let timers = Timers::new(clock.clone());
        let inboxes = (0..n).map(|_| Some(Arc::new(Inbox::new(clock.clone())))).collect();
        let names = nodes.iter().map(|n| n.name.clone()).chain(std::iter::once("sim".to_owned())).collect();
        let recorder = Recorder::new(sink, bin_us, names);
        let attempts_wanted = recorder.wants_attempts();
        let node_names = nodes.iter().map(|n| Arc::<str>::from(n.name.as_str())).collect();
        let groups: Vec<&str> = std::iter::once(CLIENT).chain(spec.services.iter().map(|s| s.name.as_str())).collect();
        let link_table = groups
            .iter()
            .flat_map(|from| groups.iter().map(move |to| (*from, *to)))
            .map(|(from, to)| {
                spec.network.links.get(&(from.to_owned(), to.to_owned())).copied().unwrap_or(spec.network.default)
            })
            .collect();
        let effects = no_effects(&spec);
        World {
            link_table,
            spec,
            start: clock.now_instant(),
            start_elapsed: clock.elapsed(),
            waits: timers.clock(),
            timers,
            clock,
            nodes,
            node_names,
            attempts_wanted,
            over: std::sync::atomic::AtomicBool::new(false),
            dynamic: Mutex::new(Dynamic {
                alive: vec![true; n],
                active: BTreeMap::new(),
                effects,
                link_rngs: BTreeMap::new(),
                occupancy: vec![Occupancy::default(); n],
            }),
            recorder: Mutex::new(recorder),
            stores: (0..n).map(|_| Arc::new(Mutex::new(StoreData::default()))).collect(),
            registry: Mutex::new(BTreeMap::new()),
            idempotency: Default::default(),
            inflight: Mutex::new(BTreeMap::new()),
            peak_inflight: std::sync::atomic::AtomicU64::new(0),
            idle: tokio::sync::Notify::new(),
            // Every node is up from the start, and so is its inbox: a message sent before the
            // node's task first runs waits for it instead of being lost.
            inboxes: Mutex::new(inboxes),
            next_id: AtomicU64::new(1),
            next_call: AtomicU64::new(1),
            next_message: AtomicU64::new(0),
        }
    }

    pub(crate) fn dynamic(&self) -> MutexGuard<'_, Dynamic> {
        lock(&self.dynamic)
    }

    /// Virtual µs since the run began.
    pub(crate) fn now_us(&self) -> u64 {
        self.clock.elapsed().saturating_sub(self.start_elapsed).as_micros() as u64
    }

    /// The virtual time now.
    pub(crate) fn now(&self) -> Instant {
        self.clock.now_instant()
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn next_call(&self) -> u64 {
        self.next_call.fetch_add(1, Ordering::Relaxed)
    }

    /// The service name a node belongs to (`client` for the client).
    pub(crate) fn service_name(&self, node: u32) -> &str {
        match self.nodes[node as usize].service {
            Some(s) => &self.spec.services[s].name,
            None => CLIENT,
        }
    }

    /// Node indices of the replicas of service `s`.
    pub(crate) fn replicas_of(&self, service: &str) -> Vec<u32> {
        (0..self.nodes.len() as u32).filter(|&i| self.service_name(i) == service).collect()
    }

    /// Node indices a target name covers (a service: every replica; a node: itself).
    pub(crate) fn resolve(&self, name: &str) -> Vec<u32> {
        let by_service = self.replicas_of(name);
        if !by_service.is_empty() {
            return by_service;
        }
        (0..self.nodes.len() as u32).filter(|&i| self.nodes[i as usize].name == name).collect()
    }

    pub(crate) fn resolve_fault(&self, kind: &FaultKind, target: &Target) -> ActiveFault {
        match target {
            Target::Node(n) => ActiveFault { kind: kind.clone(), nodes: self.resolve(n), links: Vec::new() },
            Target::Link { from, to, both } => {
                let (a, b) = (self.resolve(from), self.resolve(to));
                let mut links = Vec::new();
                for &x in &a {
                    for &y in &b {
                        links.push((x, y));
                        if *both {
                            links.push((y, x));
                        }
                    }
                }
                ActiveFault { kind: kind.clone(), nodes: Vec::new(), links }
            }
        }
    }

    /// A new, empty inbox for `node`'s new incarnation (it restarts).
    pub(crate) fn open_inbox(&self, node: u32) {
        lock(&self.inboxes)[node as usize] = Some(Arc::new(Inbox::new(self.clock.clone())));
    }

    /// The inbox of `node`'s current incarnation, if it is up.
    pub(crate) fn inbox(&self, node: u32) -> Option<Arc<Inbox<Envelope>>> {
        lock(&self.inboxes)[node as usize].clone()
    }

    /// The sending order of the next message (ties between arrivals at one instant).
    pub(crate) fn next_message(&self) -> u64 {
        self.next_message.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn is_alive(&self, node: u32) -> bool {
        self.dynamic().alive[node as usize]
    }

    fn link_model(&self, src: u32, dst: u32) -> LinkModel {
        let group = |n: u32| self.nodes[n as usize].service.map_or(0, |s| s + 1);
        self.link_table[group(src) * (self.spec.services.len() + 1) + group(dst)]
    }

    /// What happens to one message from `src` to `dst`: `None` when it is dropped, else its
    /// latency and, when it is duplicated, the copy's latency.
    pub(crate) fn plan_message(&self, src: u32, dst: u32) -> Option<(Duration, Option<Duration>)> {
        let link = self.link_model(src, dst);
        let mut d = self.dynamic();
        let mut loss = link.loss;
        let mut lossy = None;
        for (&i, f) in &d.active {
            match f.kind {
                FaultKind::Outage if f.hits_node(src) || f.hits_node(dst) => {
                    d.effects[i].messages_dropped += 1;
                    return None;
                }
                FaultKind::Partition if f.links.contains(&(src, dst)) => {
                    d.effects[i].messages_dropped += 1;
                    return None;
                }
                FaultKind::PacketLoss { rate } if f.hits_message(src, dst) && rate > loss => {
                    loss = rate;
                    lossy = Some(i);
                }
                _ => {}
            }
        }
        let rng = self.link_rng(&mut d, src, dst);
        if rng.chance(loss) {
            if let Some(i) = lossy {
                d.effects[i].messages_dropped += 1;
            }
            return None;
        }
        let mut latency = link.latency.sample(rng);
        if rng.chance(link.reorder) {
            latency += link.reorder_window.mul_f64(rng.unit());
        }
        let dup = rng.chance(link.duplicate).then(|| link.latency.sample(rng));
        Some((latency, dup))
    }

    /// A round trip's latency to a refusing (crashed) node.
    pub(crate) fn refusal_delay(&self, src: u32, dst: u32) -> Duration {
        let link = self.link_model(src, dst);
        let mut d = self.dynamic();
        (link.latency.sample(self.link_rng(&mut d, src, dst)) * 2).max(MESSAGE_FLOOR * 2)
    }

    /// The random stream of the directed link `src -> dst`, created on first use.
    fn link_rng<'a>(&self, d: &'a mut Dynamic, src: u32, dst: u32) -> &'a mut SimRng {
        d.link_rngs.entry((src, dst)).or_insert_with(|| {
            stream(self.spec.seed, &format!("net/{}/{}", self.nodes[src as usize].name, self.nodes[dst as usize].name))
        })
    }

    /// The error burst and the latency spike active on `node` (the fault's index with each).
    pub(crate) fn node_effects(&self, node: u32) -> NodeEffects {
        let d = self.dynamic();
        let mut out = NodeEffects::default();
        for (&i, f) in &d.active {
            if !f.hits_node(node) {
                continue;
            }
            match f.kind {
                FaultKind::ErrorBurst { rate } if out.error.is_none_or(|(r, _)| rate > r) => {
                    out.error = Some((rate, i))
                }
                FaultKind::LatencySpike { add } => out.latency = Some((add, i)),
                _ => {}
            }
        }
        out
    }

    /// Counts one thing fault `i` did.
    pub(crate) fn fault_hit(&self, i: usize, what: impl FnOnce(&mut FaultEffect)) {
        if let Some(e) = self.dynamic().effects.get_mut(i) {
            what(e);
        }
    }

    /// The node's wall clock: virtual time plus any active clock skew, in ms since
    /// 2026-01-01T00:00:00Z (a fixed epoch so that runs are reproducible).
    pub fn wall_clock_ms(&self, node: u32) -> i64 {
        const EPOCH_MS: i64 = 1_767_225_600_000;
        let mut d = self.dynamic();
        let mut skew = 0i64;
        let mut skewed = Vec::new();
        let now_us = self.now_us();
        for (&i, f) in &d.active {
            let offset_ms = match f.kind {
                FaultKind::ClockSkew { offset_ms } => offset_ms,
                FaultKind::ClockDrift { rate } => {
                    // `i` is the fault's place in the plan, which holds its start.
                    let start_us = self.spec.faults.0.get(i).map_or(now_us, |p| p.at.as_micros() as u64);
                    let since_us = now_us.saturating_sub(start_us);
                    (since_us as f64 * rate / 1000.0).round() as i64
                }
                _ => continue,
            };
            if f.hits_node(node) && offset_ms != 0 {
                skew += offset_ms;
                skewed.push(i);
            }
        }
        for i in skewed {
            d.effects[i].clock_reads += 1;
        }
        EPOCH_MS + (now_us / 1000) as i64 + skew
    }

    /// Records one request.
    pub(crate) fn record_request(&self, r: &RequestRecord) {
        lock(&self.recorder).request(r);
    }

    /// The name of node `node`, shared.
    pub(crate) fn node_name(&self, node: u32) -> Arc<str> {
        self.node_names[node as usize].clone()
    }

    /// Whether the run has ended.
    pub(crate) fn is_over(&self) -> bool {
        self.over.load(Ordering::Relaxed)
    }

    /// The run has ended: what is still in flight is unfinished.
    pub(crate) fn set_over(&self) {
        self.over.store(true, Ordering::Relaxed);
    }

    /// Whether attempts are recorded (a sink reads them).
    pub(crate) fn attempts_wanted(&self) -> bool {
        self.attempts_wanted
    }

    /// Records one attempt of a call.
    pub(crate) fn record_attempt(&self, a: &AttemptRecord) {
        lock(&self.recorder).attempt(a);
    }

    /// Records a level `pattern` holds on `node`'s stack for `edge` now (when attempts are
    /// recorded, and only from the node's current life: a crashed stack's calls give their
    /// permits back later, to a pool that no longer exists).
    pub(crate) fn record_level(
        &self,
        (node, life): (u32, u64),
        edge: &Arc<str>,
        pattern: &'static str,
        level: (u32, u32),
    ) {
        if self.attempts_wanted && self.incarnation(node) == life {
            let now = self.now_us();
            lock(&self.recorder).level(now, (node, edge), pattern, level);
        }
    }

    /// Records one event now, on node `node` ([`World::sim_node`] for the simulator itself),
    /// for the call being made when it happens, if any (a pattern's decision about it).
    pub(crate) fn event(&self, node: u32, kind: EventKind) {
        let e = Event { t_us: self.now_us(), node, request: super::current::current_call(), kind };
        lock(&self.recorder).event(&e);
    }

    /// The node index events of the simulator itself use (`sim` in the log).
    pub(crate) fn sim_node(&self) -> u32 {
        self.nodes.len() as u32
    }

    /// `node`'s current incarnation (it changes when the node crashes).
    pub(crate) fn incarnation(&self, node: u32) -> u64 {
        self.dynamic().occupancy[node as usize].incarnation
    }

    /// One more request in `node`; returns the incarnation to pass to `leave`.
    pub(crate) fn enter(&self, node: u32) -> u64 {
        let now = self.now_us();
        let mut d = self.dynamic();
        let o = &mut d.occupancy[node as usize];
        o.advance(now);
        o.in_system += 1;
        o.admitted += 1;
        o.incarnation
    }

    /// One request fewer in `node` (ignored if the node crashed since it entered).
    pub(crate) fn leave(&self, node: u32, incarnation: u64) {
        let now = self.now_us();
        let mut d = self.dynamic();
        let o = &mut d.occupancy[node as usize];
        if o.incarnation == incarnation && o.in_system > 0 {
            o.advance(now);
            o.in_system -= 1;
        }
    }

    pub(crate) fn rejected(&self, node: u32) {
        self.dynamic().occupancy[node as usize].rejected += 1;
    }

    /// Disk fault `fault` starts (`Some`) or ends on `node`; at its end, the writes it failed.
    pub(crate) fn disk_fault(&self, node: u32, fault: usize, error: Option<crate::store::DiskError>) -> u64 {
        lock(&self.stores[node as usize]).disk_fault(fault, error)
    }

    /// A crash empties the node.
    pub(crate) fn crash_node(&self, node: u32) {
        let now = self.now_us();
        {
            let mut d = self.dynamic();
            d.alive[node as usize] = false;
            let o = &mut d.occupancy[node as usize];
            o.advance(now);
            o.in_system = 0;
            o.incarnation += 1;
        }
        // Messages in flight to the dead incarnation die with its inbox.
        lock(&self.inboxes)[node as usize] = None;
        lock(&self.recorder).crash(now, node);
        let lost = lock(&self.stores[node as usize]).crash();
        self.event(node, EventKind::NodeCrash { unsynced_writes_lost: lost });
    }

    pub(crate) fn inflight(&self) -> MutexGuard<'_, BTreeMap<u64, (u64, u16)>> {
        lock(&self.inflight)
    }

    /// Workload request `id` on `route`, started at `start_us`, is in flight.
    pub(crate) fn start_request(&self, id: u64, start_us: u64, route: u16) {
        let mut inflight = self.inflight();
        inflight.insert(id, (start_us, route));
        self.peak_inflight.fetch_max(inflight.len() as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// The most workload requests in flight at once so far.
    pub(crate) fn peak_inflight(&self) -> u64 {
        self.peak_inflight.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A heartbeat from `node` now.
    pub(crate) fn heartbeat(&self, node: u32) {
        let now = self.now_us();
        lock(&self.registry).insert(node, now);
    }

    /// Whether the registry lists `node` now: a heartbeat within the service's TTL.
    pub(crate) fn registered(&self, node: u32) -> bool {
        let Some(service) = self.nodes[node as usize].service else { return false };
        let Some((_, ttl)) = self.spec.services[service].register else { return true };
        let now = self.now_us();
        lock(&self.registry).get(&node).is_some_and(|t| now.saturating_sub(*t) <= ttl.as_micros() as u64)
    }

    /// Node `node`'s durable store.
    pub(crate) fn store(&self, node: u32) -> StoreHandle {
        StoreHandle { data: self.stores[node as usize].clone() }
    }

    pub(crate) fn recorder(&self) -> MutexGuard<'_, Recorder> {
        lock(&self.recorder)
    }
}

/// Node `i`'s address: 10.x.0.y.
fn ip_of(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, (i / 250) as u8 + 1, 0, (i % 250) as u8 + 1))
}
