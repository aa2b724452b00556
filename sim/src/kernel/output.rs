//! What a run produced besides its rows: per-edge and per-service figures, fault windows, the
//! fingerprint.

use serde::{Deserialize, Serialize};

use super::world::World;
use crate::fault::{FaultEffect, FaultWindow};
use crate::record::EdgeSummary;

/// Per-service figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSummary {
    /// Service name.
    pub service: String,
    /// Replicas.
    pub replicas: u32,
    /// Requests admitted (queued or served).
    pub admitted: u64,
    /// Requests rejected because the queue was full.
    pub rejected: u64,
    /// Time-average number of requests inside the service (queued + in service), all replicas.
    pub mean_in_system: f64,
}

/// What a run produced besides its rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutput {
    /// Scenario name.
    pub scenario: String,
    /// Root seed.
    pub seed: u64,
    /// Hash of every request and event row, in order (16 hex digits when printed).
    pub fingerprint: String,
    /// How long the workload sent, seconds.
    pub duration_s: f64,
    /// Virtual time at the end of the run (after draining), seconds.
    pub end_s: f64,
    /// Request rows.
    pub requests: u64,
    /// Event rows.
    pub events: u64,
    /// Per-edge summaries, the entry edge first.
    pub edges: Vec<EdgeSummary>,
    /// Per workload route, its client requests (empty without routes).
    #[serde(default)]
    pub routes: Vec<crate::record::RouteSummary>,
    /// Per-service figures.
    pub services: Vec<ServiceSummary>,
    /// Fault windows, for shading charts.
    pub faults: Vec<FaultWindow>,
    /// What each fault of the plan did (a fault that never started did nothing).
    pub fault_effects: Vec<FaultEffect>,
    /// The most workload requests in flight at once (sent by the clients, not yet answered).
    pub peak_in_flight: u64,
}

impl RunOutput {
    /// The summary of one edge.
    pub fn edge(&self, name: &str) -> Option<&EdgeSummary> {
        self.edges.iter().find(|e| e.edge == name)
    }
}

/// Flushes the recorder and gathers the run's output at `end_us`.
pub(crate) fn finish(world: &World, end_us: u64) -> Result<RunOutput, String> {
    let mut recorder = world.recorder();
    recorder.finish(end_us)?;
    // The entry edge first, then dependency edges in declaration order.
    let order: Vec<String> = world.spec.call_edges().iter().map(|(a, b)| format!("{a}->{b}")).collect();
    let mut edges = recorder.edge_summaries();
    edges.sort_by_key(|e| order.iter().position(|o| *o == e.edge));
    let routes = recorder.route_summaries(&world.spec.workload.routes);
    let (requests, events) = recorder.counts();
    let fingerprint = format!("{:016x}", recorder.fingerprint());
    drop(recorder);
    let d = world.dynamic();
    let services = world
        .spec
        .services
        .iter()
        .map(|s| {
            let nodes = world.replicas_of(&s.name);
            let mut occ: Vec<_> = nodes.iter().map(|&n| d.occupancy[n as usize].clone()).collect();
            for o in &mut occ {
                o.area_us += u128::from(o.in_system) * u128::from(end_us.saturating_sub(o.last_us));
            }
            ServiceSummary {
                service: s.name.clone(),
                replicas: s.replicas,
                admitted: occ.iter().map(|o| o.admitted).sum(),
                rejected: occ.iter().map(|o| o.rejected).sum(),
                mean_in_system: occ.iter().map(|o| o.area_us as f64).sum::<f64>() / end_us.max(1) as f64,
            }
        })
        .collect();
    let run_end_s = end_us as f64 / 1e6;
    let faults = world
        .spec
        .faults
        .0
        .iter()
        .filter(|f| f.at.as_secs_f64() < run_end_s)
        .map(|f| FaultWindow {
            kind: f.kind.name().to_owned(),
            target: f.target.to_string(),
            start_s: f.at.as_secs_f64(),
            end_s: f.end().map_or(run_end_s, |e| e.as_secs_f64().min(run_end_s)),
        })
        .collect();
    Ok(RunOutput {
        scenario: world.spec.name.clone(),
        seed: world.spec.seed,
        fingerprint,
        duration_s: world.spec.duration.as_secs_f64(),
        end_s: run_end_s,
        requests,
        events,
        edges,
        routes,
        services,
        faults,
        fault_effects: d.effects.clone(),
        peak_in_flight: world.peak_inflight(),
    })
}
