//! The kubelet: restarts replicas that fail their liveness probes.

use std::sync::Arc;

use faultline_patterns::health::ProbeTracker;

use super::lifecycle::{crash, restart};
use super::net::Transport;
use crate::event::EventKind;

/// For every service with liveness settings, probes each replica and restarts one that fails
/// `failure_threshold` probes in a row (a stuck or paused process). After a restart it waits
/// out the service's startup time before probing again.
pub(crate) async fn supervise_liveness(transport: Arc<Transport>) {
    let world = transport.world.clone();
    for service in &world.spec.services {
        let Some(config) = service.liveness else { continue };
        let startup = service.startup;
        for node in world.replicas_of(&service.name) {
            let (transport, world) = (transport.clone(), world.clone());
            tokio::spawn(async move {
                let mut tracker = ProbeTracker::new(config, true);
                tokio::time::sleep(startup).await;
                loop {
                    tokio::time::sleep(config.period).await;
                    let alive = !world.is_alive(node) || transport.probe_live(node, config.timeout).await;
                    if tracker.on_result(alive) == Some(false) {
                        world.event(node, EventKind::LivenessRestart { failed_probes: config.failure_threshold });
                        crash(&world, node);
                        restart(&world, node);
                        tracker = ProbeTracker::new(config, true);
                        tokio::time::sleep(startup).await;
                    }
                }
            });
        }
    }
}
