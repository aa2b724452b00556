//! The client node's workload: open-loop arrivals on a schedule, or closed-loop users who wait
//! for each answer and think.

use std::sync::Arc;
use std::time::Duration;

use super::edge::{edge_client, recorded_call};
use super::net::Transport;
use super::world::World;
use crate::call::{EdgeService, Meta};
use crate::rng::stream;
use crate::spec::CLIENT;
use crate::workload::{Arrivals, KeySampler};

/// Sends the workload's requests through the entry edge's stack.
pub(crate) async fn drive_workload(transport: Arc<Transport>) {
    let world = transport.world.clone();
    let target = world.spec.workload.target.clone();
    let entry = Entry {
        stack: edge_client(&transport, &target),
        edge: format!("{CLIENT}->{target}").into(),
        keys: world.spec.workload.keys.map(|k| Arc::new(KeySampler::new(k))),
    };
    match world.spec.workload.arrivals.clone() {
        Arrivals::Closed { clients, think } => {
            for c in 0..clients {
                tokio::spawn(closed_loop_user(world.clone(), entry.clone(), c, think));
            }
        }
        arrivals => open_loop(world, entry, arrivals).await,
    }
}

/// The entry edge, and the key space requests draw from.
#[derive(Clone)]
struct Entry {
    stack: EdgeService,
    edge: Arc<str>,
    keys: Option<Arc<KeySampler>>,
}

/// One closed-loop user: one API client throughout, sending, waiting, thinking.
async fn closed_loop_user(world: Arc<World>, entry: Entry, c: u32, think: crate::Dist) {
    let mut rng = stream(world.spec.seed, &format!("workload/client-{c}"));
    let client = world.spec.workload.clients.map_or(1, |cs| cs.client(&mut rng));
    while Duration::from_micros(world.now_us()) < world.spec.duration {
        let key = entry.keys.as_ref().map_or(0, |k| k.key(rng.unit()));
        let workload = &world.spec.workload;
        let now = Duration::from_micros(world.now_us());
        let route = if workload.routes.is_empty() { 0 } else { workload.route(now, rng.unit()) };
        let meta = Meta { key, client, deadline: None, route, op: None };
        one_request(&world, &entry.edge, &entry.stack, meta, world.now_us()).await;
        let pause = think.sample(&mut rng);
        if !pause.is_zero() {
            super::timer::until(world.now() + pause).await;
        }
    }
}

/// Open-loop arrivals on an absolute schedule.
async fn open_loop(world: Arc<World>, entry: Entry, arrivals: Arrivals) {
    let seed = world.spec.seed;
    let mut rng = stream(seed, "workload");
    let mut key_rng = stream(seed, "workload/keys");
    let mut client_rng = stream(seed, "workload/clients");
    let mut route_rng = stream(seed, "workload/routes");
    let (start, run) = (world.start, world.spec.duration);
    let mut t = Duration::ZERO;
    while let Some(next) = arrivals.next_arrival(t, run, &mut rng) {
        t = next;
        // Exact waits (madsim's own last at least 1 ms and would cap a run at 1,000 arrivals
        // per second); arrivals already due start at once.
        if start + t > world.now() {
            super::timer::until(start + t).await;
        }
        let key = entry.keys.as_ref().map_or(0, |k| k.key(key_rng.unit()));
        let client = world.spec.workload.clients.map_or(1, |cs| cs.client(&mut client_rng));
        let workload = &world.spec.workload;
        let route = if workload.routes.is_empty() { 0 } else { workload.route(t, route_rng.unit()) };
        let (world, entry) = (world.clone(), entry.clone());
        // The request starts at its arrival time, not when its task first runs: madsim moves the
        // clock 50-100 ns per task it runs, so that instant depends on what else the run does,
        // and two configurations on one seed would see arrivals a microsecond apart.
        let arrived_us = t.as_micros() as u64;
        tokio::spawn(async move {
            let meta = Meta { key, client, deadline: None, route, op: None };
            one_request(&world, &entry.edge, &entry.stack, meta, arrived_us).await
        });
    }
}

/// One workload request that started at `start_us`, tracked in flight by its record id so that
/// requests still running at the end can be recorded as unfinished.
async fn one_request(world: &World, edge: &Arc<str>, stack: &EdgeService, meta: Meta, start_us: u64) {
    let id = world.next_id();
    world.start_request(id, start_us, meta.route);
    let _ = recorded_call(world, id, edge, stack, (0, start_us), meta).await;
    let empty = {
        let mut inflight = world.inflight();
        inflight.remove(&id);
        inflight.is_empty()
    };
    if empty {
        world.idle.notify_one();
    }
}
