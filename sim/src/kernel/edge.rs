//! The edges a node calls: the scenario's pattern stack around a transport call, and the
//! recording of every call made through one.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use faultline_patterns::service::service_fn;
use faultline_patterns::{EventSink, PatternEvent, Service};

use super::current::InCall;
use super::net::Transport;
use super::world::World;
use crate::call::{CallError, CallRequest, EdgeContext, EdgeService, Meta, Served};
use crate::event::EventKind;
use crate::record::{AttemptRecord, Outcome, RequestRecord};

/// Records one attempt when it ends, or when its caller stops waiting for it (a timeout, a
/// deadline, a hedge that won): `abandoned`. An attempt dropped because its node died (even if
/// it restarted at once: its incarnation changed) or the run ended is not listed: madsim drops
/// those in its own order, and nothing in the run ended them.
struct AttemptGuard<'a> {
    world: &'a World,
    caller: u32,
    incarnation: u64,
    call: u64,
    attempt: u32,
    replica: u32,
    start_us: u64,
    recorded: bool,
}

impl<'a> AttemptGuard<'a> {
    fn new(world: &'a World, caller: u32, (call, attempt, replica): (u64, u32, u32)) -> Self {
        let start_us = world.now_us();
        let incarnation = world.incarnation(caller);
        let recorded = !world.attempts_wanted();
        AttemptGuard { world, caller, incarnation, call, attempt, replica, start_us, recorded }
    }

    fn ended(&mut self, outcome: &'static str) {
        if self.recorded {
            return;
        }
        self.recorded = true;
        let record = AttemptRecord {
            call: self.call,
            attempt: self.attempt,
            replica: self.world.node_name(self.replica),
            start_us: self.start_us,
            end_us: self.world.now_us(),
            outcome,
        };
        self.world.record_attempt(&record);
    }
}

impl Drop for AttemptGuard<'_> {
    fn drop(&mut self) {
        let same_life = self.world.is_alive(self.caller) && self.world.incarnation(self.caller) == self.incarnation;
        if !self.recorded && same_life && !self.world.is_over() {
            self.ended("abandoned");
        }
    }
}

/// How a call (or one attempt) ended.
fn outcome(result: &Result<Served, CallError>) -> Outcome {
    match result {
        Ok(Served::Full | Served::Value(_)) => Outcome::Ok,
        Ok(Served::Fallback) => Outcome::Fallback,
        Ok(Served::Partial) => Outcome::Partial,
        Err(e) => e.outcome(),
    }
}

/// One dependency of a node: the edge's name (`caller->callee`), its stack, and whether its
/// failure only makes the answer partial.
#[derive(Clone)]
pub(crate) struct Dep {
    pub(crate) edge: Arc<str>,
    pub(crate) stack: EdgeService,
    pub(crate) optional: bool,
}

impl Dep {
    /// The dependencies of `transport`'s node, in the order its service calls them.
    pub(crate) fn all(transport: &Arc<Transport>) -> Vec<Dep> {
        let world = &transport.world;
        let Some(service) = world.nodes[transport.me as usize].service else { return Vec::new() };
        let spec = &world.spec.services[service];
        spec.calls
            .iter()
            .map(|d| Dep {
                edge: format!("{}->{d}", spec.name).into(),
                stack: edge_client(transport, d),
                optional: spec.optional.contains(d),
            })
            .collect()
    }

    /// Calls this dependency with a new record id, on behalf of request `parent`.
    pub(crate) async fn call(&self, world: &World, parent: u64, meta: Meta) -> Result<Served, CallError> {
        recorded_call(world, world.next_id(), &self.edge, &self.stack, (parent, world.now_us()), meta).await
    }
}

/// Pattern events from one node's stack for one edge, into the run's event log; their levels
/// into `levels.csv`.
pub(crate) struct NodeEvents {
    pub(crate) world: Arc<World>,
    pub(crate) node: u32,
    /// The node's life when the stack was built.
    pub(crate) life: u64,
    /// `caller->callee`.
    pub(crate) edge: Arc<str>,
}

impl EventSink for NodeEvents {
    fn emit(&self, e: PatternEvent) {
        self.world.event(self.node, EventKind::Pattern(e));
    }
    fn level(&self, pattern: &'static str, in_use: u32, limit: u32) {
        self.world.record_level((self.node, self.life), &self.edge, pattern, (in_use, limit));
    }
    fn wants_levels(&self) -> bool {
        self.world.attempts_wanted()
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
        let attempt = req.attempts.fetch_add(1, Ordering::Relaxed) + 1;
        async move {
            let mut attempt = AttemptGuard::new(&t.world, me, (req.id, attempt, dst));
            let result = match req.meta.deadline {
                // Every hop bounds its calls by the deadline the request carries.
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(t.world.now());
                    t.world.waits.timeout(left, t.call(dst, req.id, req.meta)).await.unwrap_or(Err(CallError::Timeout))
                }
                None => t.call(dst, req.id, req.meta).await,
            };
            attempt.ended(outcome(&result).as_str());
            // The call names the replica whose answer it got (a hedge's winner, the last retry).
            req.replica.store(dst + 1, Ordering::Relaxed);
            result
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
    let cache: crate::call::CacheFactory =
        Arc::new(move |service: &str| (cache_transport.caches)(&cache_transport, service));
    let ctx = EdgeContext {
        membership,
        cache,
        probe,
        seed: world.spec.seed,
        replicas: count,
        from: from.clone(),
        to: to.to_owned(),
        node,
        events: Arc::new(NodeEvents {
            world: world.clone(),
            node: me,
            life: world.incarnation(me),
            edge: format!("{from}->{to}").into(),
        }),
        clock: world.waits.clone(),
    };
    world.spec.stack(&from, to).wrap(base, ctx)
}

/// Makes call `id` on an edge and records it as started at `start_us`.
pub(crate) async fn recorded_call(
    world: &World,
    id: u64,
    edge: &Arc<str>,
    stack: &EdgeService,
    (parent, start_us): (u64, u64),
    meta: Meta,
) -> Result<Served, CallError> {
    let mut req = CallRequest::new(id);
    req.meta = meta;
    let result = InCall::new(req.id, || stack.call(req.clone())).await;
    let outcome = outcome(&result);
    let replica = req.replica.load(Ordering::Relaxed).checked_sub(1).map(|n| world.node_name(n));
    world.record_request(&RequestRecord {
        id: req.id,
        parent,
        edge: edge.clone(),
        start_us,
        end_us: world.now_us(),
        outcome,
        attempts: req.attempts(),
        replica,
        route: meta.route,
    });
    result
}
