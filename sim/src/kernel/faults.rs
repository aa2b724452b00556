//! Applies the fault plan at its times: each fault is resolved to nodes or directed node pairs
//! and added to the world's active set (which the transport and replicas consult); crashes,
//! restarts and pauses also act on the madsim nodes. Each start and end is an event.

use std::sync::Arc;
use std::time::Duration;

use super::lifecycle::{crash, pause, restart};
use super::world::World;
use crate::event::EventKind;
use crate::fault::FaultKind;
use crate::store::DiskError;

/// Runs the plan to its end (the run aborts it when it is over).
pub(crate) async fn run_faults(world: Arc<World>) {
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

fn start_fault(world: &World, i: usize) {
    let fault = &world.spec.faults.0[i];
    let active = world.resolve_fault(&fault.kind, &fault.target);
    if matches!(fault.kind, FaultKind::Crash | FaultKind::Restart | FaultKind::Pause) {
        let running = active.nodes.iter().filter(|&&n| world.is_alive(n)).count() as u64;
        world.fault_hit(i, |e| e.nodes_hit += running);
    }
    match fault.kind {
        FaultKind::Crash | FaultKind::Restart => {
            for &n in &active.nodes {
                crash(world, n);
            }
            if fault.kind == FaultKind::Restart {
                for &n in &active.nodes {
                    restart(world, n);
                }
            }
        }
        FaultKind::Pause => {
            for &n in &active.nodes {
                pause(world, n, true);
            }
        }
        FaultKind::DiskFull | FaultKind::FsyncFail => {
            let error = if fault.kind == FaultKind::DiskFull { DiskError::Full } else { DiskError::FsyncFailed };
            for &n in &active.nodes {
                world.disk_fault(n, i, Some(error));
            }
        }
        _ => {}
    }
    world.dynamic().active.insert(i, active);
}

fn end_fault(world: &World, i: usize) {
    let Some(active) = world.dynamic().active.remove(&i) else { return };
    match active.kind {
        FaultKind::Crash => {
            for &n in &active.nodes {
                restart(world, n);
            }
        }
        FaultKind::Pause => {
            for &n in &active.nodes {
                pause(world, n, false);
            }
        }
        FaultKind::DiskFull | FaultKind::FsyncFail => {
            let failed: u64 = active.nodes.iter().map(|&n| world.disk_fault(n, i, None)).sum();
            world.fault_hit(i, |e| e.writes_failed += failed);
        }
        _ => {}
    }
}
