//! A service replica: admission (concurrency limit + bounded queue), service time, errors, and
//! calls to dependencies through each edge's pattern stack.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use faultline_patterns::service::service_fn;
use faultline_patterns::{EventSink, PatternEvent, Service};
use tokio::sync::Semaphore;

use crate::call::{CallError, CallRequest, EdgeContext, EdgeService, Meta, Served};
use crate::event::EventKind;
use crate::net::{Envelope, Handler, Transport};
use crate::record::{Outcome, RequestRecord};
use crate::rng::{stream, SimRng};
use crate::spec::AppSpec;
use crate::world::World;

/// Pattern events from one node, into the run's event log.
pub(crate) struct NodeEvents {
    pub(crate) world: Arc<World>,
    pub(crate) node: u32,
}

impl EventSink for NodeEvents {
    fn emit(&self, e: PatternEvent) {
        self.world.event(self.node, EventKind::Pattern(e));
    }
}

/// The stack for calls from `transport`'s node to service `to`: the scenario's layers around
/// a round-robin transport call.
pub(crate) fn edge_client(transport: &Arc<Transport>, to: &str) -> EdgeService {
    let world = transport.world.clone();
    let me = transport.me;
    let from = world.service_name(me).to_owned();
    let replicas = Arc::new(world.replicas_of(to));
    let next = Arc::new(AtomicU32::new(0));
    let t = transport.clone();
    let count = replicas.len();
    let targets = replicas.clone();
    let members = replicas.clone();
    let base: EdgeService = service_fn(move |req: CallRequest| {
        let t = t.clone();
        let i = match req.endpoint {
            Some(i) => i % replicas.len(),
            None => next.fetch_add(1, Ordering::Relaxed) as usize % replicas.len(),
        };
        let dst = replicas[i];
        req.attempts.fetch_add(1, Ordering::Relaxed);
        async move {
            match req.meta.deadline {
                // Every hop bounds its calls by the deadline the request carries.
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    tokio::time::timeout(left, t.call(dst, req.id, req.meta)).await.unwrap_or(Err(CallError::Timeout))
                }
                None => t.call(dst, req.id, req.meta).await,
            }
        }
    });
    let node = world.nodes[me as usize].name.clone();
    let prober = transport.clone();
    let probe: faultline_patterns::health::EndpointProbe = Arc::new(move |i: usize| {
        let (t, dst) = (prober.clone(), targets[i % targets.len()]);
        Box::pin(async move { t.probe(dst, std::time::Duration::from_secs(1)).await })
    });
    let registry_world = world.clone();
    let membership: faultline_patterns::balance::Membership =
        Arc::new(move || members.iter().map(|&n| registry_world.registered(n)).collect());
    let cache_transport = transport.clone();
    let cache: crate::call::CacheFactory = Arc::new(move |service: &str| {
        crate::cache::SimCache::new(cache_transport.clone(), service)
            .map(|c| Arc::new(c) as Arc<dyn faultline_patterns::cache::CacheStore<Served>>)
    });
    let ctx = EdgeContext {
        membership,
        cache,
        probe,
        seed: world.spec.seed,
        replicas: count,
        from: from.clone(),
        to: to.to_owned(),
        node,
        events: Arc::new(NodeEvents { world: world.clone(), node: me }),
    };
    world.spec.stack(&from, to).wrap(base, ctx)
}

/// Makes call `id` on an edge and records it.
pub(crate) async fn recorded_call(
    world: &World,
    id: u64,
    edge: &str,
    stack: &EdgeService,
    parent: u64,
    meta: Meta,
) -> Result<Served, CallError> {
    let mut req = CallRequest::new(id);
    req.meta = meta;
    let start_us = world.now_us();
    let result = stack.call(req.clone()).await;
    let outcome = match result {
        Ok(Served::Full | Served::Value(_)) => Outcome::Ok,
        Ok(Served::Fallback) => Outcome::Fallback,
        Ok(Served::Partial) => Outcome::Partial,
        Err(e) => e.outcome(),
    };
    world.record_request(&RequestRecord {
        id: req.id,
        parent,
        edge: edge.to_owned(),
        start_us,
        end_us: world.now_us(),
        outcome,
        attempts: req.attempts(),
    });
    result
}

/// One replica incarnation.
pub(crate) struct Replica {
    pub(crate) world: Arc<World>,
    pub(crate) node: u32,
    pub(crate) service: usize,
    permits: Semaphore,
    waiting: AtomicU32,
    pub(crate) rng: Mutex<SimRng>,
    pub(crate) deps: Vec<(String, EdgeService, bool)>,
    /// Per workload route, which of `deps` a request on it calls (`None`: all).
    routes: Option<Vec<Vec<bool>>>,
    ready: Arc<AtomicBool>,
    per_client: Mutex<faultline_patterns::rate_limiter::KeyedLimiter<u32>>,
    /// Until when (µs of virtual time) the replica is still starting.
    starting_until_us: u64,
}

impl Replica {
    pub(crate) fn new(transport: &Arc<Transport>) -> Arc<Replica> {
        let world = transport.world.clone();
        let node = transport.me;
        let service = world.nodes[node as usize].service.unwrap_or(0);
        let spec = &world.spec.services[service];
        let deps = spec
            .calls
            .iter()
            .map(|d| (format!("{}->{d}", spec.name), edge_client(transport, d), spec.optional.contains(d)))
            .collect();
        let name = &world.nodes[node as usize].name;
        let ready = Arc::new(AtomicBool::new(true));
        if !spec.readiness.is_empty() {
            tokio::spawn(track_readiness(
                transport.clone(),
                spec.readiness.clone(),
                spec.readiness_period,
                ready.clone(),
            ));
        }
        if let Some((heartbeat, _)) = spec.register {
            let (world, startup) = (world.clone(), spec.startup);
            tokio::spawn(async move {
                tokio::time::sleep(startup).await;
                loop {
                    world.heartbeat(node);
                    tokio::time::sleep(heartbeat).await;
                }
            });
        }
        let routes = (!spec.routes.is_empty()).then(|| {
            world
                .spec
                .workload
                .routes
                .iter()
                .map(|(route, _)| {
                    spec.calls.iter().map(|d| spec.routes.get(route).is_some_and(|ds| ds.contains(d))).collect()
                })
                .collect()
        });
        let starting_until_us = world.now_us() + spec.startup.as_micros() as u64;
        if !spec.startup.is_zero() {
            world.event(node, EventKind::StartupBegin { ms: spec.startup.as_millis() as u64 });
        }
        Arc::new(Replica {
            routes,
            starting_until_us,
            ready,
            per_client: Mutex::new(faultline_patterns::rate_limiter::KeyedLimiter::default()),
            permits: Semaphore::new(spec.concurrency as usize),
            waiting: AtomicU32::new(0),
            rng: Mutex::new(stream(world.spec.seed, &format!("svc/{name}"))),
            deps,
            world: world.clone(),
            node,
            service,
        })
    }

    /// This replica's durable store (its database).
    pub(crate) fn store(&self) -> crate::store::StoreHandle {
        crate::store::StoreHandle { world: self.world.clone(), node: self.node }
    }

    /// A gateway's checks, before any work: credentials, then the client's rate limit.
    fn admit_client(&self, meta: Meta) -> Result<(), CallError> {
        let Some(gateway) = &self.world.spec.services[self.service].gateway else { return Ok(()) };
        if gateway.auth && meta.client == 0 {
            return Err(CallError::Unauthorized);
        }
        if let Some(limit) = &gateway.per_client {
            let now = std::time::Duration::from_micros(self.world.now_us());
            let mut limiter = self.per_client.lock().unwrap_or_else(|e| e.into_inner());
            if limiter.reserve(meta.client, limit, now).is_err() {
                return Err(CallError::RateLimited);
            }
        }
        Ok(())
    }

    /// As a saga participant: applies `op` for `saga` once (or, for a planted non-idempotent
    /// operation, every time), recording the effect as an event the checkers read.
    /// `item`: the data key the saga is about (a participant with `stock` keeps units per item).
    pub(crate) fn apply_saga_op(&self, op: &'static str, saga: u64, item: u64) -> Result<Served, CallError> {
        let spec = &self.world.spec.services[self.service];
        let def = faultline_patterns::saga::SagaDefinition::order();
        let compensation_of_this = def.steps.iter().find(|s| s.action == op).map(|s| s.compensation);
        let action_undone_by_this = def.steps.iter().find(|s| s.compensation == op).map(|s| s.action);
        if compensation_of_this.is_some() && spec.decline_every.is_some_and(|every| saga % every == 0) {
            return Err(CallError::Server); // declined for good: the saga must compensate
        }
        let count = {
            let mut effects = self.world.effects.lock().unwrap_or_else(|e| e.into_inner());
            // An action arriving after its compensation (delayed or duplicated) is refused: the
            // saga has already undone it.
            if let Some(comp) = compensation_of_this {
                if effects.contains_key(&(self.service, comp, saga)) {
                    let service = spec.name.as_str().into();
                    self.world.event(self.node, EventKind::ParticipantRefused { service, op, saga });
                    return Err(CallError::Server);
                }
            }
            // A compensation for an action that never took effect has nothing to undo; it
            // leaves a tombstone (count 0) so that a late action is refused.
            let nothing_to_undo =
                action_undone_by_this.is_some_and(|a| effects.get(&(self.service, a, saga)).copied().unwrap_or(0) == 0);
            let n = effects.entry((self.service, op, saga)).or_insert(0);
            if let Some(units) = spec.stock {
                let change = match (compensation_of_this, action_undone_by_this) {
                    (Some(_), _) if *n == 0 => Some(crate::saga::StockChange::Take),
                    (_, Some(_)) if *n == 0 && !nothing_to_undo => Some(crate::saga::StockChange::Return),
                    _ if op == "confirm" => Some(crate::saga::StockChange::Confirm),
                    _ => None,
                };
                if let Some(change) = change {
                    crate::saga::change_stock(&self.world, self.node, (self.service, item), units, saga, change)?;
                }
            }
            let reapply = spec.non_idempotent.iter().any(|o| o == op);
            if !nothing_to_undo && (*n == 0 || reapply) {
                *n += 1;
            }
            *n
        };
        let service = spec.name.as_str().into();
        self.world.event(self.node, EventKind::ParticipantEffect { service, op, saga, applied: count });
        Ok(Served::Full)
    }

    /// As an orchestrator: runs (or, after a retry of the same request, resumes) the saga
    /// whose id is the request's id.
    async fn run_app(&self, request: u64, meta: Meta) -> Result<Served, CallError> {
        let (log, participants) = self.saga_ports(meta);
        // The item it is about, for a resumed saga (made durable with the saga's first record).
        log.store.put(&format!("saga_item/{request}"), meta.key.to_string().as_bytes());
        let (compensate, semantic_lock) = self.saga_settings();
        match crate::saga::orchestrate(&log, &participants, request, compensate, semantic_lock).await {
            faultline_patterns::saga::SagaOutcome::Completed => Ok(Served::Full),
            faultline_patterns::saga::SagaOutcome::Compensated => Err(CallError::Server),
        }
    }

    fn saga_ports(&self, meta: Meta) -> (crate::saga::StoreSagaLog, crate::saga::EdgeParticipants) {
        let log = crate::saga::StoreSagaLog {
            store: crate::store::StoreHandle { world: self.world.clone(), node: self.node },
            world: self.world.clone(),
            node: self.node,
        };
        let edges = self
            .deps
            .iter()
            .filter_map(|(edge, stack, _)| {
                let service = edge.split_once("->").map(|(_, to)| to)?;
                let service: &'static str = ["inventory", "payment", "shipping"].into_iter().find(|s| *s == service)?;
                Some((service, (edge.clone(), stack.clone())))
            })
            .collect();
        (log, crate::saga::EdgeParticipants { world: self.world.clone(), node: self.node, edges, meta })
    }

    /// Whether this order-saga orchestrator compensates failed sagas (not doing so is a
    /// planted bug), and whether it takes a semantic lock on the item.
    fn saga_settings(&self) -> (bool, bool) {
        match self.world.spec.services[self.service].app {
            Some(AppSpec::OrderSaga { compensate, semantic_lock }) => (compensate, semantic_lock),
            _ => (true, false),
        }
    }

    /// After a restart: resumes every saga the log shows unfinished.
    pub(crate) fn resume_sagas(self: &Arc<Self>) {
        if !matches!(self.world.spec.services[self.service].app, Some(AppSpec::OrderSaga { .. })) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let (log, _) = this.saga_ports(Meta::default());
            use faultline_patterns::saga::SagaLog;
            // All at once, as they ran before the crash: one saga may wait for another (a
            // semantic lock), and resuming them one by one deadlocked (found by faultline).
            for id in log.unfinished().await {
                this.world.event(this.node, EventKind::SagaResume { id });
                let this = this.clone();
                tokio::spawn(async move {
                    let key = this.store().get_u64(&format!("saga_item/{id}"));
                    let (log, participants) = this.saga_ports(Meta { key, ..Meta::default() });
                    let (compensate, semantic_lock) = this.saga_settings();
                    crate::saga::orchestrate(&log, &participants, id, compensate, semantic_lock).await;
                });
            }
        });
    }

    /// Idempotency and the exactly-once check around one execution of request `request`.
    async fn execute_once(&self, request: u64, meta: Meta) -> Result<Served, CallError> {
        let spec = &self.world.spec.services[self.service];
        let key = (self.service, request);
        if spec.idempotency {
            // A duplicate of a request that is still running waits for its outcome (polling
            // the store every 5 ms): the stored result if it succeeded, a new execution if it
            // failed. The caller's own timeout bounds the wait.
            loop {
                let state = {
                    let mut store = self.world.idempotency.lock().unwrap_or_else(|e| e.into_inner());
                    match store.get(&key) {
                        Some(Some(served)) => Some(Some(*served)),
                        Some(None) => Some(None),
                        None => {
                            store.insert(key, None);
                            None
                        }
                    }
                };
                match state {
                    Some(Some(served)) => return Ok(served),
                    Some(None) => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
                    None => break,
                }
            }
        }
        let result = self.process(request, meta).await;
        if spec.idempotency {
            let mut store = self.world.idempotency.lock().unwrap_or_else(|e| e.into_inner());
            match result {
                Ok(served) => store.insert(key, Some(served)),
                Err(_) => store.remove(&key), // failures are not stored: a retry may run again
            };
        }
        if spec.exactly_once_check && result.is_ok() {
            // The exactly-once checker counts these: a second one for a request is a duplicate
            // side effect (a double charge).
            self.world.event(self.node, EventKind::Executed { service: spec.name.as_str().into(), request });
        }
        result
    }

    async fn process(&self, request: u64, meta: Meta) -> Result<Served, CallError> {
        if self.world.now_us() < self.starting_until_us {
            // Still starting: nothing listens yet.
            return Err(CallError::Refused);
        }
        self.admit_client(meta)?;
        let spec = &self.world.spec.services[self.service];
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

        let (fault_error, fault_latency) = self.world.node_effects(self.node);
        let (work, failed) = {
            let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
            let mut work = spec.service_time.sample(&mut rng);
            if let Some(add) = fault_latency {
                work += add.sample(&mut rng);
            }
            let failed = rng.chance(spec.error_rate) || rng.chance(fault_error);
            (work, failed)
        };
        if !work.is_zero() {
            tokio::time::sleep(work).await;
        }
        if failed {
            return Err(CallError::Server);
        }
        match (spec.app, meta.op) {
            (Some(AppSpec::Broker { .. }), Some(op)) => return self.broker_publish(op),
            (Some(AppSpec::Consumer { .. }), Some(op)) => return self.consumer_apply(op),
            (Some(AppSpec::EventStore { .. }), Some(op)) => return self.event_store_op(op),
            (Some(AppSpec::EsWriter), None) => return self.es_write(request, meta).await,
            (Some(AppSpec::Account { snapshot_every, snapshot_off_by_one }), None) => {
                return self.account_write(request, meta, snapshot_every, snapshot_off_by_one).await
            }
            (Some(AppSpec::SagaChoreography { .. }), Some(op)) => return self.choreography_deliver(op),
            (Some(AppSpec::SagaChoreography { .. }), None) => return self.choreography_start(request, meta),
            (_, Some(op)) => return self.apply_saga_op(op.name, op.id, op.key),
            (Some(AppSpec::OrderSaga { .. }), None) => return self.run_app(request, meta).await,
            (Some(AppSpec::Outbox { .. }), None) => return self.outbox_write(request, meta).await,
            _ => {}
        }
        let on_route =
            |i: usize| self.routes.as_ref().is_none_or(|r| r.get(usize::from(meta.route)).is_some_and(|deps| deps[i]));
        let results: Vec<(bool, Result<Served, CallError>)> = if spec.parallel {
            // API composition: every dependency at once (a call whose caller is dropped keeps
            // running to its end, as a spawned request would).
            let calls: Vec<_> = self
                .deps
                .iter()
                .enumerate()
                .filter(|(i, _)| on_route(*i))
                .map(|(_, (edge, stack, optional))| {
                    let (world, edge, stack, optional) = (self.world.clone(), edge.clone(), stack.clone(), *optional);
                    tokio::spawn(async move {
                        (optional, recorded_call(&world, world.next_id(), &edge, &stack, request, meta).await)
                    })
                })
                .collect();
            let mut out = Vec::with_capacity(calls.len());
            for c in calls {
                out.push(c.await.unwrap_or((false, Err(CallError::Server))));
            }
            out
        } else {
            let mut out = Vec::with_capacity(self.deps.len());
            for (i, (edge, stack, optional)) in self.deps.iter().enumerate() {
                if !on_route(i) {
                    continue;
                }
                let r = recorded_call(&self.world, self.world.next_id(), edge, stack, request, meta).await;
                let failed_required = r.is_err() && !optional;
                out.push((*optional, r));
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
                // forwarding it, say); a caller-side fallback was this service's own choice.
                (Ok(Served::Partial), _) => partial = true,
                (Ok(_), _) => {}
                (Err(_), true) => partial = true,
                (Err(_), false) => return Err(CallError::Dependency),
            }
        }
        Ok(if partial { Served::Partial } else { Served::Full })
    }
}

/// Keeps `ready` true while every listed dependency has a replica that answers its probe
/// (Spring Boot's readiness with dependency indicators), off the request path.
async fn track_readiness(
    transport: Arc<Transport>,
    deps: Vec<String>,
    period: std::time::Duration,
    ready: Arc<AtomicBool>,
) {
    let world = transport.world.clone();
    let groups: Vec<Vec<u32>> = deps.iter().map(|d| world.replicas_of(d)).collect();
    let timeout = period.min(std::time::Duration::from_secs(1));
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
        tokio::spawn(async move {
            let result = match meta.deadline {
                // The caller stops waiting at its deadline: work past it is wasted, so it is
                // refused on arrival or dropped midway (the losing work is cancelled).
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    if left.is_zero() {
                        self.world.event(self.node, EventKind::DeadlineExpiredOnArrival { request });
                        Err(CallError::Timeout)
                    } else {
                        tokio::time::timeout(left, self.execute_once(request, meta))
                            .await
                            .unwrap_or(Err(CallError::Timeout))
                    }
                }
                None => self.execute_once(request, meta).await,
            };
            transport.send(from, Envelope::Reply { call, result }).await;
        });
    }
}

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
