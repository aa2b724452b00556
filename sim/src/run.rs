//! Running a spec: one seed, one madsim runtime on a fresh OS thread. This is where the kernel
//! (`crate::kernel`) and the applications (`crate::apps`) meet: the one place that knows both.
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

use crate::apps::Apps;
use crate::event::EventKind;
use crate::kernel::app::AppHost;
use crate::kernel::boot::start_node;
use crate::kernel::faults::run_faults;
use crate::kernel::lifecycle::kill_all;
use crate::kernel::output::finish;
pub use crate::kernel::output::{RunOutput, ServiceSummary};
use crate::kernel::watchdog::{prune_tasks, watch_for_stalls};
use crate::kernel::world::World;
use crate::record::{Outcome, RecordSink, RequestRecord};
use crate::spec::{SimSpec, CLIENT};
use crate::store::StoreHandle;

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
        self.world.store(self.node(node))
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

/// The bin width of time series: about 120 bins per run, whole milliseconds, at least 10 ms.
pub fn series_bin(duration: Duration) -> Duration {
    // About 120 bins, whole milliseconds, at least 10 ms (a 1 s run still draws), 1 s for the
    // 2-minute runs of the catalog.
    let ms = (duration.as_millis() / 120).max(10);
    Duration::from_millis(ms as u64)
}

/// The body of a run, inside a madsim runtime. Public so that madsim's `check_determinism`
/// can drive it.
pub async fn simulate(spec: SimSpec, sink: Box<dyn RecordSink>, probe: Option<Probe>) -> Result<RunOutput, RunError> {
    let bin_us = series_bin(spec.duration).as_micros() as u64;
    let host: Arc<dyn AppHost> = Arc::new(Apps::new(&spec));
    let world = Arc::new(World::new(spec, sink, bin_us));
    world.event(world.sim_node(), EventKind::RunStart { scenario: world.spec.name.clone(), seed: world.spec.seed });
    let handle = Handle::current();
    for i in 0..world.nodes.len() as u32 {
        let (w, host) = (world.clone(), host.clone());
        let info = &world.nodes[i as usize];
        let node = handle
            .create_node()
            .name(info.name.clone())
            .ip(info.ip)
            .init(move || start_node(w.clone(), host.clone(), i))
            .build();
        let _ = info.madsim_id.set(node.id());
    }
    let timers = tokio::spawn(world.timers.clone().drive());
    let faults = tokio::spawn(run_faults(world.clone()));
    let housekeeping = tokio::spawn(prune_tasks());
    let watchdog = world.spec.stall_after.map(|after| tokio::spawn(watch_for_stalls(world.clone(), after)));
    if let Some(probe) = probe {
        tokio::spawn(probe(SimHandle { world: world.clone() }));
    }
    let end_us = drain(&world).await;
    faults.abort();
    housekeeping.abort();
    timers.abort();
    if let Some(w) = watchdog {
        w.abort();
    }
    kill_all(&world);
    tokio::time::sleep(Duration::from_millis(1)).await;
    let _ = Handle::current().metrics().num_tasks();
    finish(&world, end_us).map_err(RunError::Sink)
}

/// Lets the workload send for the run's duration, waits for the requests in flight (at most
/// `drain`) and for background work (`settle`), records what is still unfinished, and returns
/// the end time (µs).
async fn drain(world: &World) -> u64 {
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
    world.set_over();
    let unfinished: Vec<(u64, (u64, u16))> = world.inflight().iter().map(|(id, v)| (*id, *v)).collect();
    let entry: Arc<str> = format!("{CLIENT}->{}", world.spec.workload.target).into();
    for (id, (start_us, route)) in unfinished {
        let edge = entry.clone();
        let outcome = Outcome::Unfinished;
        let record =
            RequestRecord { id, parent: 0, edge, start_us, end_us, outcome, attempts: 0, replica: None, route };
        world.record_request(&record);
    }
    world.event(world.sim_node(), EventKind::RunEnd { end_us });
    end_us
}
