//! `[workload]`: who sends requests (the target, the keys and API clients they carry, their
//! routes) and when (the arrivals, chosen by `kind`).

use std::collections::BTreeMap;
use std::time::Duration;

use faultline_sim::{Arrivals, ClientSpace, Dist, KeySpace, RouteStep, Workload};
use serde::Deserialize;
use toml::Table;

use crate::read::de::{err, KeyError, Parts};
use crate::read::units::{Num, Probability, Seconds};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkloadFile {
    target: String,
    keys: Option<u64>,
    key_skew: Option<Num>,
    api_clients: Option<u32>,
    unauthenticated: Option<Probability>,
    noisy_client_share: Option<Probability>,
    #[serde(default)]
    routes: BTreeMap<String, Num>,
    #[serde(default)]
    route_steps: Vec<RouteStepFile>,
}

/// `[[workload.route_steps]]`: from `at_s` on, these shares (a route left out gets none).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteStepFile {
    at_s: Seconds,
    routes: BTreeMap<String, Num>,
}

/// When requests are sent (`kind`), each with its keys.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum ArrivalsFile {
    Constant { rate_per_s: Num },
    Poisson { rate_per_s: Num },
    Burst { rate_per_s: Num, burst_rate_per_s: Num, burst_every_s: Seconds, burst_len_s: Seconds },
    Ramp { from_rate_per_s: Num, to_rate_per_s: Num },
    Closed { clients: u32, think: Option<Dist> },
}

pub(super) fn read(table: Table) -> Result<Workload, KeyError> {
    let mut parts = Parts::new::<WorkloadFile>("workload", table);
    let arrivals = match parts.take_required::<ArrivalsFile>("kind")? {
        ArrivalsFile::Constant { rate_per_s } => Arrivals::Constant { rate_per_s: rate_per_s.0 },
        ArrivalsFile::Poisson { rate_per_s } => Arrivals::Poisson { rate_per_s: rate_per_s.0 },
        ArrivalsFile::Burst { rate_per_s, burst_rate_per_s, burst_every_s, burst_len_s } => Arrivals::Burst {
            rate_per_s: rate_per_s.0,
            burst_rate_per_s: burst_rate_per_s.0,
            burst_every: burst_every_s.0,
            burst_len: burst_len_s.0,
        },
        ArrivalsFile::Ramp { from_rate_per_s, to_rate_per_s } => {
            Arrivals::Ramp { from_rate_per_s: from_rate_per_s.0, to_rate_per_s: to_rate_per_s.0 }
        }
        ArrivalsFile::Closed { clients, think } => {
            Arrivals::Closed { clients, think: think.unwrap_or(Dist::Const(Duration::ZERO)) }
        }
    };
    let w: WorkloadFile = parts.rest()?;
    if w.key_skew.is_some() && w.keys.is_none() {
        return err("workload.key_skew", "given without `keys` (the number of distinct keys)");
    }
    let keys = w.keys.map(|count| KeySpace { count, skew: w.key_skew.map_or(1.0, |s| s.0) });
    let clients =
        (w.api_clients.is_some() || w.unauthenticated.is_some() || w.noisy_client_share.is_some()).then(|| {
            ClientSpace {
                count: w.api_clients.unwrap_or(1),
                unauthenticated: w.unauthenticated.map_or(0.0, |p| p.0),
                noisy_share: w.noisy_client_share.map_or(0.0, |p| p.0),
            }
        });
    let routes: Vec<(String, f64)> = w.routes.into_iter().map(|(r, share)| (r, share.0)).collect();
    let mut route_steps = Vec::new();
    for (i, step) in w.route_steps.into_iter().enumerate() {
        if let Some((bad, _)) = routes.iter().find(|(r, _)| !r.starts_with('/')) {
            return err(
                format!("workload.routes.{bad}"),
                format!("\"{bad}\" is not allowed (expected a path starting with /)"),
            );
        }
        if routes.is_empty() {
            return err(
                format!("workload.route_steps[{i}]"),
                "given without `routes` (the steps change their shares: set `routes` first)",
            );
        }
        if let Some(unknown) = step.routes.keys().find(|r| !routes.iter().any(|(n, _)| n == *r)) {
            let known: Vec<&str> = routes.iter().map(|(n, _)| n.as_str()).collect();
            return err(
                format!("workload.route_steps[{i}].routes"),
                format!("\"{unknown}\" is not a route of the workload (expected one of: {})", known.join(", ")),
            );
        }
        let shares = routes.iter().map(|(n, _)| step.routes.get(n).map_or(0.0, |s| s.0)).collect();
        route_steps.push(RouteStep { at: step.at_s.0, shares });
    }
    Ok(Workload { target: w.target, arrivals, keys, clients, routes, route_steps })
}
