//! What a node runs when it starts, and again after every restart.

use std::sync::{Arc, Mutex};

use super::app::{AppCtx, AppHost};
use super::driver::drive_workload;
use super::edge::Dep;
use super::net::{CacheClients, Handler, Transport};
use super::replica::Replica;
use super::supervisor::supervise_liveness;
use super::world::World;
use crate::rng::stream;

/// The task node `me` runs (again after each restart): binds its transport, then serves as a
/// replica of its service (with its application, if any) or, for the client node, drives the
/// workload and the liveness supervisor.
pub(crate) async fn start_node(world: Arc<World>, host: Arc<dyn AppHost>, me: u32) {
    let apps = host.clone();
    let caches: CacheClients = Arc::new(move |t: &Arc<Transport>, service: &str| apps.cache_client(t, service));
    let transport = Transport::bind(world.clone(), me, caches);
    let Some(service) = world.nodes[me as usize].service else {
        tokio::spawn(drive_workload(transport.clone()));
        tokio::spawn(supervise_liveness(transport.clone()));
        transport.serve(None).await;
        return;
    };
    let deps: Arc<[Dep]> = Dep::all(&transport).into();
    let rng = Arc::new(Mutex::new(stream(world.spec.seed, &format!("svc/{}", world.nodes[me as usize].name))));
    let ctx = AppCtx { world: world.clone(), node: me, service, deps: deps.clone(), rng: rng.clone() };
    let app = host.build(ctx);
    let replica = Replica::new(&transport, deps, rng, app.clone());
    if let Some(app) = app {
        app.start();
    }
    let replica: Arc<dyn Handler> = replica;
    transport.serve(Some(replica)).await;
}
