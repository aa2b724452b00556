//! Background duties of the run itself: the stall watchdog and madsim's task-list pruning.

use std::sync::Arc;
use std::time::Duration;

use madsim::runtime::Handle;

use super::world::World;
use crate::event::EventKind;

/// Once a second, if workload requests are in flight and none has completed for `after`,
/// records one `sim.stall` event (until progress resumes); the `stall` checker turns it into a
/// violation.
pub(crate) async fn watch_for_stalls(world: Arc<World>, after: Duration) {
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
            let oldest_us = world.inflight().values().map(|v| v.0).min().unwrap_or(now);
            world.event(world.sim_node(), EventKind::Stall { inflight, quiet_s: quiet.as_secs(), oldest_us });
        }
    }
}

/// madsim keeps every spawned task in a per-node list until something prunes it; asking for
/// the task count does (docs/madsim.md). Without this a long run's memory grows.
pub(crate) async fn prune_tasks() {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let _ = Handle::current().metrics().num_tasks();
    }
}
