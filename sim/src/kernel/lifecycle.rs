//! The one way a node crashes, restarts, pauses and resumes, whether a fault or a supervisor
//! asks.

use madsim::runtime::Handle;
use madsim::task::NodeId;

use super::world::World;
use crate::event::EventKind;

fn madsim_id(world: &World, node: u32) -> Option<NodeId> {
    world.nodes[node as usize].madsim_id.get().copied()
}

/// Kills `node`: its tasks and unsynced writes are lost, callers are refused until it restarts.
pub(crate) fn crash(world: &World, node: u32) {
    world.crash_node(node);
    if let Some(id) = madsim_id(world, node) {
        Handle::current().kill(id);
    }
}

/// Starts `node` again (madsim re-runs its start task).
pub(crate) fn restart(world: &World, node: u32) {
    world.dynamic().alive[node as usize] = true;
    world.open_inbox(node);
    if let Some(id) = madsim_id(world, node) {
        Handle::current().restart(id);
    }
    world.event(node, EventKind::NodeRestart);
}

/// Freezes `node` (or, with `frozen = false`, lets it run again).
pub(crate) fn pause(world: &World, node: u32, frozen: bool) {
    if let Some(id) = madsim_id(world, node) {
        if frozen {
            Handle::current().pause(id);
        } else {
            Handle::current().resume(id);
        }
    }
}

/// Kills every node: madsim leaks the tasks of live nodes when a runtime is dropped.
pub(crate) fn kill_all(world: &World) {
    for info in &world.nodes {
        if let Some(id) = info.madsim_id.get() {
            Handle::current().kill(*id);
        }
    }
}
