//! Running a spec: one seed, one madsim runtime on a fresh OS thread.
//!
//! The run creates a node per replica plus the `client` node, starts the workload and the fault
//! scheduler, lets the workload send for `duration`, drains in-flight requests (at most
//! `drain`), records what is still unfinished, then kills every node (madsim leaks the tasks of
//! live nodes when a runtime is dropped).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use madsim::runtime::{Handle, Runtime};
use serde::{Deserialize, Serialize};

use crate::call::Meta;
use crate::event::EventKind;
use crate::fault::{FaultKind, FaultWindow};
use crate::net::{Handler, Transport};
use crate::record::{EdgeSummary, Outcome, RecordSink, RequestRecord};
use crate::rng::stream;
use crate::server::{edge_client, recorded_call, Replica};
use crate::spec::{SimSpec, CLIENT};
use crate::store::StoreHandle;
use crate::workload::{Arrivals, KeySampler};
use crate::world::World;

/// Per-service figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSummary {
    /// Service name.
    pub service: String,
    /// Replicas.
    pub replicas: u32,
    /// Requests admitted (queued or served).
    pub admitted: u64,
    /// Requests rejected because the queue was full.
    pub rejected: u64,
    /// Time-average number of requests inside the service (queued + in service), all replicas.
    pub mean_in_system: f64,
}

/// What a run produced besides its rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutput {
    /// Scenario name.
    pub scenario: String,
    /// Root seed.
    pub seed: u64,
    /// Hash of every request and event row, in order (16 hex digits when printed).
    pub fingerprint: String,
    /// How long the workload sent, seconds.
    pub duration_s: f64,
    /// Virtual time at the end of the run (after draining), seconds.
    pub end_s: f64,
    /// Request rows.
    pub requests: u64,
    /// Event rows.
    pub events: u64,
    /// Per-edge summaries, the entry edge first.
    pub edges: Vec<EdgeSummary>,
    /// Per-service figures.
    pub services: Vec<ServiceSummary>,
    /// Fault windows, for shading charts.
    pub faults: Vec<FaultWindow>,
}

impl RunOutput {
    /// The summary of one edge.
    pub fn edge(&self, name: &str) -> Option<&EdgeSummary> {
        self.edges.iter().find(|e| e.edge == name)
    }
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunError {
    /// The simulation panicked: a bug in faultline (or in a pattern under test).
    Panicked {
        /// The seed, to reproduce it.
        seed: u64,
        /// The panic message.
        message: String,
    },
    /// The record sink failed (e.g. a disk error writing CSV).
    Sink(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Panicked { seed, message } => write!(f, "the simulation panicked (seed {seed}): {message}"),
            RunError::Sink(e) => write!(f, "writing records failed: {e}"),
        }
    }
}

impl std::error::Error for RunError {}

/// A view of a running simulation, for probes (tests, future checkers) running beside it.
#[derive(Clone)]
pub struct SimHandle {
    world: Arc<World>,
}

impl SimHandle {
    fn node(&self, name: &str) -> u32 {
        self.world.nodes.iter().position(|n| n.name == name).unwrap_or_else(|| panic!("no node named {name}")) as u32
    }
    /// The durable store of a node (e.g. `payment-0`).
    pub fn store(&self, node: &str) -> StoreHandle {
        StoreHandle { world: self.world.clone(), node: self.node(node) }
    }
    /// A node's wall clock, ms since 2026-01-01 (virtual time plus clock skew).
    pub fn wall_clock_ms(&self, node: &str) -> i64 {
        self.world.wall_clock_ms(self.node(node))
    }
    /// Whether a node is up (not crashed).
    pub fn is_alive(&self, node: &str) -> bool {
        self.world.is_alive(self.node(node))
    }
    /// Live madsim tasks (asking also prunes finished ones): stays flat in a healthy run.
    pub fn num_tasks(&self) -> usize {
        Handle::current().metrics().num_tasks()
    }
    /// Calls in flight from every node's transport, plus workload requests in flight.
    pub fn inflight_requests(&self) -> usize {
        self.world.inflight().len()
    }
    /// Virtual time since the run began.
    pub fn elapsed(&self) -> Duration {
        Duration::from_micros(self.world.now_us())
    }
}

/// A probe: an async function started beside the run, on the simulator's own context.
pub type Probe = Arc<dyn Fn(SimHandle) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Runs `spec` on a fresh thread, streaming rows to `sink`, **without checking anything**:
/// no invariant checker runs here (they live outside the simulator). To run a scenario with
/// every checker that applies and get its verdict, use `faultline_scenarios::execute`.
pub fn run_unchecked(spec: SimSpec, sink: Box<dyn RecordSink>) -> Result<RunOutput, RunError> {
    run_with_probe(spec, sink, None)
}

/// Like [`run_unchecked`], with a probe running beside the simulation.
pub fn run_with_probe(spec: SimSpec, sink: Box<dyn RecordSink>, probe: Option<Probe>) -> Result<RunOutput, RunError> {
    let seed = spec.seed;
    // Each seed gets a fresh OS thread: madsim seeds HashMap's RandomState per thread (pitfall 4).
    // lint: allow(determinism) one thread per seed, outside the simulation
    let thread = std::thread::Builder::new().name(format!("seed-{seed}")).spawn(move || {
        let rt = Runtime::with_seed_and_config(seed, madsim_config());
        rt.block_on(simulate(spec, sink, probe))
    });
    let joined = match thread {
        Ok(t) => t.join(),
        Err(e) => return Err(RunError::Panicked { seed, message: format!("cannot start a thread: {e}") }),
    };
    match joined {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(RunError::Panicked { seed, message })
        }
    }
}

/// madsim's configuration for faultline: no global latency (links model their own), no loss.
pub fn madsim_config() -> madsim::Config {
    let mut cfg = madsim::Config::default();
    cfg.net.send_latency = Duration::ZERO..Duration::from_nanos(1);
    cfg.net.packet_loss_rate = 0.0;
    cfg
}

/// The bin width of time series: at least 1 s, at most ~240 bins per run.
pub fn series_bin(duration: Duration) -> Duration {
    Duration::from_secs((duration.as_secs() / 240).max(1))
}

/// The body of a run, inside a madsim runtime. Public so that madsim's `check_determinism`
/// can drive it.
pub async fn simulate(spec: SimSpec, sink: Box<dyn RecordSink>, probe: Option<Probe>) -> Result<RunOutput, RunError> {
    let bin_us = series_bin(spec.duration).as_micros() as u64;
    let world = Arc::new(World::new(spec, sink, bin_us));
    let handle = Handle::current();
    world.event(world.sim_node(), EventKind::RunStart { scenario: world.spec.name.clone(), seed: world.spec.seed });

    for i in 0..world.nodes.len() as u32 {
        let w = world.clone();
        let info = &world.nodes[i as usize];
        let node = handle
            .create_node()
            .name(info.name.clone())
            .ip(info.addr.ip())
            .init(move || start_node(w.clone(), i))
            .build();
        let _ = info.madsim_id.set(node.id());
    }

    let faults = tokio::spawn(run_faults(world.clone()));
    let housekeeping = tokio::spawn(prune_tasks());
    let watchdog = world.spec.stall_after.map(|after| tokio::spawn(watch_for_stalls(world.clone(), after)));
    if let Some(probe) = probe {
        tokio::spawn(probe(SimHandle { world: world.clone() }));
    }

    let run_end = world.spec.duration;
    tokio::time::sleep(run_end).await;
    let deadline = run_end + world.spec.drain;
    loop {
        let now = Duration::from_micros(world.now_us());
        if world.inflight().is_empty() || now >= deadline {
            break;
        }
        let _ = tokio::time::timeout(deadline - now, world.idle.notified()).await;
    }

    if !world.spec.settle.is_zero() {
        tokio::time::sleep(world.spec.settle).await;
    }
    let end_us = world.now_us();
    let unfinished: Vec<(u64, u64)> = world.inflight().iter().map(|(id, start)| (*id, *start)).collect();
    let entry = format!("{CLIENT}->{}", world.spec.workload.target);
    for (id, start_us) in unfinished {
        world.record_request(&RequestRecord {
            id,
            parent: 0,
            edge: entry.clone(),
            start_us,
            end_us,
            outcome: Outcome::Unfinished,
            attempts: 0,
        });
    }
    world.event(world.sim_node(), EventKind::RunEnd { end_us });
    faults.abort();
    housekeeping.abort();
    if let Some(w) = watchdog {
        w.abort();
    }
    for info in &world.nodes {
        if let Some(id) = info.madsim_id.get() {
            handle.kill(*id);
        }
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
    let _ = Handle::current().metrics().num_tasks();
    finish(&world, end_us)
}

/// The stall watchdog: once a second, if workload requests are in flight and none has
/// completed for `after`, records one `sim.stall` event (until progress resumes).
async fn watch_for_stalls(world: Arc<World>, after: Duration) {
    let mut last_count = world.recorder().counts().0;
    let mut last_progress = world.now_us();
    let mut reported = false;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let count = world.recorder().counts().0;
        let now = world.now_us();
        let inflight = world.inflight().len();
        if count != last_count || inflight == 0 {
            last_count = count;
            last_progress = now;
            reported = false;
            continue;
        }
        let quiet = Duration::from_micros(now - last_progress);
        if quiet >= after && !reported {
            reported = true;
            let oldest_us = world.inflight().values().min().copied().unwrap_or(now);
            world.event(world.sim_node(), EventKind::Stall { inflight, quiet_s: quiet.as_secs(), oldest_us });
        }
    }
}

fn finish(world: &World, end_us: u64) -> Result<RunOutput, RunError> {
    let mut recorder = world.recorder();
    recorder.finish().map_err(RunError::Sink)?;
    // The entry edge first, then dependency edges in declaration order.
    let order: Vec<String> = world.spec.call_edges().iter().map(|(a, b)| format!("{a}->{b}")).collect();
    let mut edges = recorder.edge_summaries();
    edges.sort_by_key(|e| order.iter().position(|o| *o == e.edge));
    let (requests, events) = recorder.counts();
    let fingerprint = format!("{:016x}", recorder.fingerprint());
    drop(recorder);
    let d = world.dynamic();
    let services = world
        .spec
        .services
        .iter()
        .map(|s| {
            let nodes = world.replicas_of(&s.name);
            let mut occ: Vec<_> = nodes.iter().map(|&n| d.occupancy[n as usize].clone()).collect();
            for o in &mut occ {
                o.area_us += u128::from(o.in_system) * u128::from(end_us.saturating_sub(o.last_us));
            }
            ServiceSummary {
                service: s.name.clone(),
                replicas: s.replicas,
                admitted: occ.iter().map(|o| o.admitted).sum(),
                rejected: occ.iter().map(|o| o.rejected).sum(),
                mean_in_system: occ.iter().map(|o| o.area_us as f64).sum::<f64>() / end_us.max(1) as f64,
            }
        })
        .collect();
    let run_end_s = end_us as f64 / 1e6;
    let faults = world
        .spec
        .faults
        .0
        .iter()
        .filter(|f| f.at.as_secs_f64() < run_end_s)
        .map(|f| FaultWindow {
            kind: f.kind.name().to_owned(),
            target: f.target.to_string(),
            start_s: f.at.as_secs_f64(),
            end_s: f.end().map_or(run_end_s, |e| e.as_secs_f64().min(run_end_s)),
        })
        .collect();
    Ok(RunOutput {
        scenario: world.spec.name.clone(),
        seed: world.spec.seed,
        fingerprint,
        duration_s: world.spec.duration.as_secs_f64(),
        end_s: run_end_s,
        requests,
        events,
        edges,
        services,
        faults,
    })
}

/// The task a node runs (again after each restart).
async fn start_node(world: Arc<World>, me: u32) {
    let transport = match Transport::bind(world.clone(), me).await {
        Ok(t) => t,
        Err(e) => {
            world.event(me, EventKind::NodeBindFailed { error: e.to_string() });
            return;
        }
    };
    if world.nodes[me as usize].service.is_some() {
        let replica = Replica::new(&transport);
        replica.resume_sagas();
        replica.start_deliveries();
        replica.start_relay();
        replica.start_projection();
        let replica: Arc<dyn Handler> = replica;
        transport.serve(Some(replica)).await;
    } else {
        tokio::spawn(drive_workload(transport.clone()));
        tokio::spawn(supervise_liveness(transport.clone()));
        transport.serve(None).await;
    }
}

/// The kubelet: for every service with liveness settings, probes each replica and restarts one
/// that fails `failure_threshold` probes in a row (a stuck or paused process). After a restart
/// it waits out the service's startup time before probing again.
async fn supervise_liveness(transport: Arc<Transport>) {
    let world = transport.world.clone();
    for service in &world.spec.services {
        let Some(config) = service.liveness else { continue };
        let startup = service.startup;
        for node in world.replicas_of(&service.name) {
            let (transport, world) = (transport.clone(), world.clone());
            tokio::spawn(async move {
                let mut tracker = faultline_patterns::health::ProbeTracker::new(config, true);
                tokio::time::sleep(startup).await;
                loop {
                    tokio::time::sleep(config.period).await;
                    let alive = !world.is_alive(node) || transport.probe_live(node, config.timeout).await;
                    if tracker.on_result(alive) == Some(false) {
                        world.event(node, EventKind::LivenessRestart { failed_probes: config.failure_threshold });
                        world.crash_node(node);
                        if let Some(id) = madsim_id(&world, node) {
                            Handle::current().kill(id);
                        }
                        restart(&world, &[node]);
                        tracker = faultline_patterns::health::ProbeTracker::new(config, true);
                        tokio::time::sleep(startup).await;
                    }
                }
            });
        }
    }
}

/// The client node: sends the workload's requests through the entry edge's stack.
async fn drive_workload(transport: Arc<Transport>) {
    let world = transport.world.clone();
    let target = world.spec.workload.target.clone();
    let stack = edge_client(&transport, &target);
    let keys = world.spec.workload.keys.map(|k| Arc::new(KeySampler::new(k)));
    let client_space = world.spec.workload.clients;
    let edge = format!("{CLIENT}->{target}");
    let run = world.spec.duration;
    let start = world.start;
    match world.spec.workload.arrivals.clone() {
        Arrivals::Closed { clients, think } => {
            for c in 0..clients {
                let (world, stack, edge, keys) = (world.clone(), stack.clone(), edge.clone(), keys.clone());
                tokio::spawn(async move {
                    let mut rng = stream(world.spec.seed, &format!("workload/client-{c}"));
                    // A closed-loop user is one API client throughout.
                    let client = client_space.map_or(1, |cs| cs.client(&mut rng));
                    while Duration::from_micros(world.now_us()) < run {
                        let key = keys.as_ref().map_or(0, |k| k.key(rng.unit()));
                        let route = if world.spec.workload.routes.is_empty() {
                            0
                        } else {
                            world.spec.workload.route(rng.unit())
                        };
                        one_request(&world, &edge, &stack, Meta { key, client, deadline: None, route, op: None }).await;
                        let pause = think.sample(&mut rng);
                        if !pause.is_zero() {
                            tokio::time::sleep(pause).await;
                        }
                    }
                });
            }
        }
        arrivals => {
            let mut rng = stream(world.spec.seed, "workload");
            let mut key_rng = stream(world.spec.seed, "workload/keys");
            let mut client_rng = stream(world.spec.seed, "workload/clients");
            let mut route_rng = stream(world.spec.seed, "workload/routes");
            let mut t = Duration::ZERO;
            while let Some(next) = arrivals.next_arrival(t, run, &mut rng) {
                t = next;
                // Absolute schedule: madsim makes every sleep last at least 1 ms, so sleep only
                // for an arrival still ahead and start every one already due at once. (Sleeping
                // for each capped a run at 1,000 arrivals per second whatever its rate.)
                if start + t > tokio::time::Instant::now() {
                    tokio::time::sleep_until(start + t).await;
                }
                let key = keys.as_ref().map_or(0, |k| k.key(key_rng.unit()));
                let client = client_space.map_or(1, |cs| cs.client(&mut client_rng));
                let route =
                    if world.spec.workload.routes.is_empty() { 0 } else { world.spec.workload.route(route_rng.unit()) };
                let (world, stack, edge) = (world.clone(), stack.clone(), edge.clone());
                tokio::spawn(async move {
                    one_request(&world, &edge, &stack, Meta { key, client, deadline: None, route, op: None }).await
                });
            }
        }
    }
}

async fn one_request(world: &World, edge: &str, stack: &crate::call::EdgeService, meta: Meta) {
    // In flight by record id, so that requests still running at the end can be recorded.
    let id = world.next_id();
    world.inflight().insert(id, world.now_us());
    let _ = recorded_call(world, id, edge, stack, 0, meta).await;
    let empty = {
        let mut inflight = world.inflight();
        inflight.remove(&id);
        inflight.is_empty()
    };
    if empty {
        world.idle.notify_one();
    }
}

/// Applies the fault plan at its times.
async fn run_faults(world: Arc<World>) {
    let mut steps: Vec<(Duration, usize, bool)> = Vec::new();
    for (i, f) in world.spec.faults.0.iter().enumerate() {
        steps.push((f.at, i, true));
        if let Some(end) = f.end() {
            steps.push((end, i, false));
        }
    }
    steps.sort_by_key(|&(t, i, start)| (t, !start, i));
    for (t, i, start) in steps {
        tokio::time::sleep_until(world.start + t).await;
        let fault = &world.spec.faults.0[i];
        if start {
            start_fault(&world, i);
        } else {
            end_fault(&world, i);
        }
        let (id, kind, target) = (i, fault.kind.name(), fault.target.to_string().into());
        let event =
            if start { EventKind::FaultStart { id, kind, target } } else { EventKind::FaultEnd { id, kind, target } };
        world.event(world.sim_node(), event);
    }
}

fn madsim_id(world: &World, node: u32) -> Option<madsim::task::NodeId> {
    world.nodes[node as usize].madsim_id.get().copied()
}

fn start_fault(world: &World, i: usize) {
    let fault = &world.spec.faults.0[i];
    let active = world.resolve_fault(&fault.kind, &fault.target);
    let handle = Handle::current();
    match fault.kind {
        FaultKind::Crash | FaultKind::Restart => {
            for &n in &active.nodes {
                world.crash_node(n);
                if let Some(id) = madsim_id(world, n) {
                    handle.kill(id);
                }
            }
            if fault.kind == FaultKind::Restart {
                restart(world, &active.nodes);
            }
        }
        FaultKind::Pause => {
            for &n in &active.nodes {
                if let Some(id) = madsim_id(world, n) {
                    handle.pause(id);
                }
            }
        }
        _ => {}
    }
    world.dynamic().active.insert(i, active);
}

fn end_fault(world: &World, i: usize) {
    let Some(active) = world.dynamic().active.remove(&i) else { return };
    let handle = Handle::current();
    match active.kind {
        FaultKind::Crash => restart(world, &active.nodes),
        FaultKind::Pause => {
            for &n in &active.nodes {
                if let Some(id) = madsim_id(world, n) {
                    handle.resume(id);
                }
            }
        }
        _ => {}
    }
}

fn restart(world: &World, nodes: &[u32]) {
    let handle = Handle::current();
    for &n in nodes {
        world.dynamic().alive[n as usize] = true;
        if let Some(id) = madsim_id(world, n) {
            handle.restart(id);
        }
        world.event(n, EventKind::NodeRestart);
    }
}

/// madsim keeps every spawned task in a per-node list until something prunes it; asking for
/// the task count does (MADSIM.md pitfall 6). Without this a long run's memory grows.
async fn prune_tasks() {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let _ = Handle::current().metrics().num_tasks();
    }
}
