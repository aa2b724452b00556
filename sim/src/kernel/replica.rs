//! A service replica: gateway duties, admission (concurrency limit + bounded queue), service
//! time and errors, idempotency keys, then its application's answer or the generic work:
//! calling its dependencies through each edge's pattern stack, in order or all at once.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faultline_patterns::rate_limiter::KeyedLimiter;
use tokio::sync::Semaphore;

use super::app::App;
use super::edge::Dep;
use super::envelope::Envelope;
use super::net::{Handler, Transport};
use super::world::World;
use crate::call::{CallError, Meta, Served};
use crate::event::EventKind;
use crate::rng::SimRng;
use crate::spec::ServiceSpec;

/// How often a duplicate of a running request looks for its outcome.
const IDEMPOTENCY_POLL: Duration = Duration::from_millis(5);

/// One replica incarnation.
pub(crate) struct Replica {
    world: Arc<World>,
    node: u32,
    service: usize,
    permits: Semaphore,
    waiting: AtomicU32,
    rng: Arc<Mutex<SimRng>>,
    deps: Arc<[Dep]>,
    app: Option<Arc<dyn App>>,
    /// Per workload route, which of `deps` a request on it calls (`None`: all).
    routes: Option<Vec<Vec<bool>>>,
    ready: Arc<AtomicBool>,
    per_client: Mutex<KeyedLimiter<u32>>,
    /// Until when (µs of virtual time) the replica is still starting.
    starting_until_us: u64,
}

impl Replica {
    /// A replica on `transport`'s node, with its dependencies, random stream and application.
    /// Starts probing its readiness dependencies and heartbeating to the registry.
    pub(crate) fn new(
        transport: &Arc<Transport>,
        deps: Arc<[Dep]>,
        rng: Arc<Mutex<SimRng>>,
        app: Option<Arc<dyn App>>,
    ) -> Arc<Replica> {
        let world = transport.world.clone();
        let node = transport.me;
        let service = world.nodes[node as usize].service.unwrap_or(0);
        let spec = &world.spec.services[service];
        let ready = Arc::new(AtomicBool::new(true));
        if !spec.readiness.is_empty() {
            let deps = spec.readiness.clone();
            tokio::spawn(track_readiness(transport.clone(), deps, spec.readiness_period, ready.clone()));
        }
        if let Some((heartbeat, _)) = spec.register {
            tokio::spawn(heartbeats(world.clone(), node, spec.startup, heartbeat));
        }
        let starting_until_us = world.now_us() + spec.startup.as_micros() as u64;
        if !spec.startup.is_zero() {
            world.event(node, EventKind::StartupBegin { ms: spec.startup.as_millis() as u64 });
        }
        Arc::new(Replica {
            routes: route_table(&world, spec),
            starting_until_us,
            ready,
            per_client: Mutex::new(KeyedLimiter::default()),
            permits: Semaphore::new(spec.concurrency as usize),
            waiting: AtomicU32::new(0),
            rng,
            deps,
            app,
            world,
            node,
            service,
        })
    }

    fn spec(&self) -> &ServiceSpec {
        &self.world.spec.services[self.service]
    }

    /// A gateway's checks, before any work: credentials, then the client's rate limit.
    fn admit_client(&self, meta: Meta) -> Result<(), CallError> {
        let Some(gateway) = &self.spec().gateway else { return Ok(()) };
        if gateway.auth && meta.client == 0 {
            return Err(CallError::Unauthorized);
        }
        if let Some(limit) = &gateway.per_client {
            let now = Duration::from_micros(self.world.now_us());
            let mut limiter = self.per_client.lock().unwrap_or_else(|e| e.into_inner());
            if limiter.reserve(meta.client, limit, now).is_err() {
                return Err(CallError::RateLimited);
            }
        }
        Ok(())
    }

    /// Idempotency keys (the patterns', on the run's shared answers) and the exactly-once
    /// record around one execution of `request`.
    async fn execute_once(&self, request: u64, meta: Meta) -> Result<Served, CallError> {
        let spec = self.spec();
        let run = || async {
            let result = self.process(request, meta).await;
            if spec.exactly_once_check && result.is_ok() {
                // The exactly-once checker counts these: a second one for a request is a
                // duplicate side effect (a double charge).
                self.world.event(self.node, EventKind::Executed { service: spec.name.as_str().into(), request });
            }
            result
        };
        if !spec.idempotency {
            return run().await;
        }
        // A duplicate of a request that is still running waits for its outcome (looking every
        // 5 ms): the stored result if it succeeded, a new execution if it failed.
        let key = (self.service, request);
        faultline_patterns::idempotency::once(&self.world.idempotency, key, IDEMPOTENCY_POLL, run).await
    }

    /// Admission, service time and errors, then the application's answer or the generic work.
    async fn process(&self, request: u64, meta: Meta) -> Result<Served, CallError> {
        if self.world.now_us() < self.starting_until_us {
            // Still starting: nothing listens yet.
            return Err(CallError::Refused);
        }
        self.admit_client(meta)?;
        let spec = self.spec();
        if self.permits.available_permits() == 0 && self.waiting.load(Ordering::Relaxed) >= spec.queue {
            self.world.rejected(self.node);
            return Err(CallError::Rejected);
        }
        let incarnation = self.world.enter(self.node);
        let _leave = Leave { world: &self.world, node: self.node, incarnation };
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let permit = self.permits.acquire().await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        let _permit = permit.map_err(|_| CallError::Server)?;

        let (work, failed) = self.draw_work();
        if !work.is_zero() {
            super::timer::until(self.world.now() + work).await;
        }
        if failed {
            return Err(CallError::Server);
        }
        if let Some(answer) = self.app.clone().and_then(|app| app.handle(request, meta)) {
            return answer.await;
        }
        self.call_dependencies(request, meta).await
    }

    /// This request's service time (with any latency spike) and whether it fails on its own.
    fn draw_work(&self) -> (Duration, bool) {
        let spec = self.spec();
        let faults = self.world.node_effects(self.node);
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        let mut work = spec.service_time.sample(&mut rng);
        if let Some((add, _)) = faults.latency {
            work += add.sample(&mut rng);
        }
        let own = rng.chance(spec.error_rate);
        let burst = !own && rng.chance(faults.error.map_or(0.0, |(rate, _)| rate));
        drop(rng);
        if let Some((_, i)) = faults.latency {
            self.world.fault_hit(i, |e| e.calls_delayed += 1);
        }
        if let (true, Some((_, i))) = (burst, faults.error) {
            self.world.fault_hit(i, |e| e.calls_failed += 1);
        }
        (work, own || burst)
    }

    /// The generic work: every dependency on the request's route, in order (stopping at the
    /// first required failure) or all at once (API composition).
    async fn call_dependencies(&self, request: u64, meta: Meta) -> Result<Served, CallError> {
        let on_route =
            |i: usize| self.routes.as_ref().is_none_or(|r| r.get(usize::from(meta.route)).is_some_and(|deps| deps[i]));
        let results: Vec<(bool, Result<Served, CallError>)> = if self.spec().parallel {
            // A call whose caller is dropped keeps running to its end, as a spawned request would.
            let calls: Vec<_> = self
                .deps
                .iter()
                .enumerate()
                .filter(|(i, _)| on_route(*i))
                .map(|(_, dep)| {
                    let (world, dep) = (self.world.clone(), dep.clone());
                    tokio::spawn(async move { (dep.optional, dep.call(&world, request, meta).await) })
                })
                .collect();
            let mut out = Vec::with_capacity(calls.len());
            for c in calls {
                out.push(c.await.unwrap_or((false, Err(CallError::Server))));
            }
            out
        } else {
            let mut out = Vec::with_capacity(self.deps.len());
            for (i, dep) in self.deps.iter().enumerate() {
                if !on_route(i) {
                    continue;
                }
                let r = dep.call(&self.world, request, meta).await;
                let failed_required = r.is_err() && !dep.optional;
                out.push((dep.optional, r));
                if failed_required {
                    break;
                }
            }
            out
        };
        let mut partial = false;
        for (optional, r) in results {
            match (r, optional) {
                // A partial answer from below makes this one partial too (a gateway
                // forwarding it, say), and so does a fallback used here: the page went out
                // without its price, and the caller should see that it was degraded.
                (Ok(Served::Partial | Served::Fallback), _) => partial = true,
                (Ok(_), _) => {}
                (Err(_), true) => partial = true,
                (Err(_), false) => return Err(CallError::Dependency),
            }
        }
        Ok(if partial { Served::Partial } else { Served::Full })
    }
}

/// Per workload route, which of the service's calls a request on it makes (`None`: all).
fn route_table(world: &World, spec: &ServiceSpec) -> Option<Vec<Vec<bool>>> {
    (!spec.routes.is_empty()).then(|| {
        let on = |route: &String, d: &String| spec.routes.get(route).is_some_and(|ds| ds.contains(d));
        world.spec.workload.routes.iter().map(|(route, _)| spec.calls.iter().map(|d| on(route, d)).collect()).collect()
    })
}

/// Heartbeats to the discovery registry once started.
async fn heartbeats(world: Arc<World>, node: u32, startup: Duration, period: Duration) {
    tokio::time::sleep(startup).await;
    loop {
        world.heartbeat(node);
        tokio::time::sleep(period).await;
    }
}

/// Keeps `ready` true while every listed dependency has a replica that answers its probe
/// (Spring Boot's readiness with dependency indicators), off the request path.
async fn track_readiness(transport: Arc<Transport>, deps: Vec<String>, period: Duration, ready: Arc<AtomicBool>) {
    let world = transport.world.clone();
    let groups: Vec<Vec<u32>> = deps.iter().map(|d| world.replicas_of(d)).collect();
    let timeout = period.min(Duration::from_secs(1));
    loop {
        let mut all_up = true;
        for group in &groups {
            let mut up = false;
            for &dst in group {
                if transport.probe(dst, timeout).await {
                    up = true;
                    break;
                }
            }
            all_up &= up;
        }
        if ready.swap(all_up, Ordering::Relaxed) != all_up {
            world.event(transport.me, EventKind::Readiness { up: all_up, deps: deps.join("+").into() });
        }
        tokio::time::sleep(period).await;
    }
}

impl Handler for Replica {
    fn ready(&self) -> bool {
        self.world.now_us() >= self.starting_until_us && self.ready.load(Ordering::Relaxed)
    }

    fn handle(self: Arc<Self>, transport: Arc<Transport>, from: u32, call: u64, request: u64, meta: Meta) {
        // The request's future is boxed inside the task: a task is moved a few times on its way
        // into madsim's executor, and a small one is cheap to move.
        tokio::spawn(async move {
            let result = Box::pin(self.serve(request, meta)).await;
            transport.send(from, Envelope::Reply { call, result });
        });
    }
}

impl Replica {
    /// One request, within the deadline it carries.
    async fn serve(&self, request: u64, meta: Meta) -> Result<Served, CallError> {
        match meta.deadline {
            // The caller stops waiting at its deadline: work past it is wasted, so it is refused
            // on arrival or dropped midway (the losing work is cancelled).
            Some(deadline) => {
                let left = deadline.saturating_duration_since(self.world.now());
                if left.is_zero() {
                    self.world.event(self.node, EventKind::DeadlineExpiredOnArrival { request });
                    Err(CallError::Timeout)
                } else {
                    self.world
                        .waits
                        .timeout(left, self.execute_once(request, meta))
                        .await
                        .unwrap_or(Err(CallError::Timeout))
                }
            }
            None => self.execute_once(request, meta).await,
        }
    }
}

/// One request fewer in the node however the request ends.
struct Leave<'a> {
    world: &'a World,
    node: u32,
    incarnation: u64,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.world.leave(self.node, self.incarnation);
    }
}
