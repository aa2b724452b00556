//! The checks a spec passes before it runs. Each names the key it rejects, the value found and
//! what is allowed, so that a scenario loader can hand the message to the user as it is.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::{app, LinkModel, ServiceSpec, SimSpec, SpecError, CLIENT};
use crate::fault::{Fault, FaultKind, Target};
use crate::workload::{Arrivals, Workload};

pub(super) fn validate(spec: &SimSpec) -> Result<(), SpecError> {
    validate_run(spec)?;
    let names = validate_services(spec)?;
    if spec.has_saga() {
        super::saga::validate(spec)?;
    }
    for s in &spec.services {
        validate_wiring(s, spec, &names)?;
    }
    app::validate_choreography(spec)?;
    if let Some(cycle) = find_cycle(spec) {
        return Err(SpecError::new("services", cycle, "calls without a cycle"));
    }
    validate_workload(&spec.workload, &names)?;
    validate_edges(spec)?;
    validate_network(spec, &names)?;
    for (i, f) in spec.faults.0.iter().enumerate() {
        validate_fault(i, f, spec, &names)?;
    }
    Ok(())
}

/// A name of letters (any script), digits and the characters in `also`.
pub(crate) fn is_name(name: &str, max_chars: usize, also: &str) -> bool {
    let n = name.chars().count();
    n > 0 && n <= max_chars && name.chars().all(|c| c.is_alphanumeric() || also.contains(c))
}

fn validate_run(spec: &SimSpec) -> Result<(), SpecError> {
    // The name becomes part of output paths: no separators, no leading dot.
    if !is_name(&spec.name, 80, "-_.") || spec.name.starts_with('.') {
        return Err(SpecError::new(
            "name",
            format!("\"{}\"", spec.name),
            "letters (any script), digits, - _ . (not starting with a dot), at most 80",
        ));
    }
    if spec.duration.is_zero() || spec.duration > Duration::from_secs(7 * 24 * 3600) {
        return Err(SpecError::new(
            "duration_s",
            spec.duration.as_secs_f64(),
            "a number of seconds above 0 and at most a week (604800)",
        ));
    }
    if spec.stall_after.is_some_and(|d| d < Duration::from_secs(1)) {
        return Err(SpecError::new(
            "stall_after_s",
            spec.stall_after.map_or(0.0, |d| d.as_secs_f64()),
            "at least 1 second (or 0 to turn the watchdog off)",
        ));
    }
    if spec.services.is_empty() {
        return Err(SpecError::new("services", "(none)", "at least one service"));
    }
    Ok(())
}

/// Each service on its own; returns the set of names.
fn validate_services(spec: &SimSpec) -> Result<BTreeSet<&str>, SpecError> {
    let mut names = BTreeSet::new();
    for s in &spec.services {
        let key = |f: &str| format!("services.{}.{f}", s.name);
        if !is_name(&s.name, 40, "_") || s.name == CLIENT || s.name == "sim" {
            return Err(SpecError::new(
                "services",
                format!("\"{}\"", s.name),
                "a name of letters (any script), digits and _ (not `client` or `sim`), at most 40",
            ));
        }
        if !names.insert(s.name.as_str()) {
            return Err(SpecError::new("services", format!("\"{}\"", s.name), "unique service names"));
        }
        if !(1..=64).contains(&s.replicas) {
            return Err(SpecError::new(key("replicas"), s.replicas, "an integer from 1 to 64"));
        }
        if !(1..=100_000).contains(&s.concurrency) {
            return Err(SpecError::new(key("concurrency"), s.concurrency, "an integer from 1 to 100000"));
        }
        if s.queue > 10_000_000 {
            return Err(SpecError::new(key("queue"), s.queue, "an integer from 0 to 10000000"));
        }
        check_probability(key("error_rate"), s.error_rate)?;
        validate_probes(s)?;
    }
    Ok(names)
}

fn validate_probes(s: &ServiceSpec) -> Result<(), SpecError> {
    let key = |f: &str| format!("services.{}.{f}", s.name);
    if let Some((heartbeat, ttl)) = s.register {
        if heartbeat.is_zero() || ttl <= heartbeat {
            return Err(SpecError::new(
                key("register.ttl_ms"),
                ttl.as_millis(),
                "a TTL longer than the heartbeat period (> 0)",
            ));
        }
    }
    if let Some(l) = s.liveness {
        if let Err(c) = l.validate() {
            return Err(SpecError::new(key(&format!("liveness.{}", c.key)), c.value, c.allowed));
        }
    }
    if s.readiness_period.is_zero() {
        return Err(SpecError::new(key("readiness_period_ms"), 0, "a duration > 0"));
    }
    if let Some(limit) = s.gateway.as_ref().and_then(|g| g.per_client) {
        if let Err(c) = limit.validate() {
            return Err(SpecError::new(key(&format!("gateway.client_{}", c.key)), c.value, c.allowed));
        }
    }
    Ok(())
}

/// What a service calls, routes and waits for, and what its application needs.
fn validate_wiring(s: &ServiceSpec, spec: &SimSpec, names: &BTreeSet<&str>) -> Result<(), SpecError> {
    let key = |f: &str| format!("services.{}.{f}", s.name);
    for (field, list) in [("calls", &s.calls), ("readiness", &s.readiness)] {
        if let Some(d) = list.iter().find(|d| !names.contains(d.as_str()) || **d == s.name) {
            return Err(SpecError::new(
                key(field),
                format!("\"{d}\""),
                format!("one of the other services: {}", join(names)),
            ));
        }
    }
    let one_of_its_calls = format!("one of its calls: {}", s.calls.join(", "));
    for (route, deps) in &s.routes {
        if !spec.workload.routes.iter().any(|(r, _)| r == route) {
            let known: Vec<&str> = spec.workload.routes.iter().map(|(r, _)| r.as_str()).collect();
            let allowed = format!("a workload route: {}", known.join(", "));
            return Err(SpecError::new(key("routes"), format!("\"{route}\""), allowed));
        }
        if let Some(d) = deps.iter().find(|d| !s.calls.contains(d)) {
            return Err(SpecError::new(key(&format!("routes.{route}")), format!("\"{d}\""), one_of_its_calls));
        }
    }
    if let Some(d) = s.optional.iter().find(|d| !s.calls.contains(d)) {
        return Err(SpecError::new(key("optional"), format!("\"{d}\""), one_of_its_calls));
    }
    if let Some(app) = &s.app {
        app.validate(s, spec)?;
    }
    if matches!(s.app, Some(app::AppSpec::SagaParticipant(_))) && !spec.called_by_order_saga(&s.name) {
        return Err(SpecError::new(
            key("app"),
            "\"saga_participant\"",
            "a service an order_saga calls (only an orchestrated saga's participants apply its operations)",
        ));
    }
    Ok(())
}

fn validate_workload(w: &Workload, names: &BTreeSet<&str>) -> Result<(), SpecError> {
    if !names.contains(w.target.as_str()) {
        return Err(SpecError::new(
            "workload.target",
            format!("\"{}\"", w.target),
            format!("one of the services: {}", join(names)),
        ));
    }
    validate_arrivals(&w.arrivals)?;
    for (route, share) in &w.routes {
        if !route.starts_with('/') {
            let allowed = "a path starting with / (\"/products\")";
            return Err(SpecError::new(format!("workload.routes.{route}"), format!("\"{route}\""), allowed));
        }
        if !(share.is_finite() && *share >= 0.0) {
            return Err(SpecError::new(format!("workload.routes.{route}"), share, "a share >= 0"));
        }
    }
    validate_route_steps(w)?;
    if let Some(c) = w.clients {
        if !(1..=1_000_000).contains(&c.count) {
            return Err(SpecError::new("workload.api_clients", c.count, "an integer from 1 to 1000000"));
        }
        check_probability("workload.unauthenticated".into(), c.unauthenticated)?;
        check_probability("workload.noisy_client_share".into(), c.noisy_share)?;
    }
    if let Some(k) = w.keys {
        if !(1..=1_000_000).contains(&k.count) {
            return Err(SpecError::new("workload.keys", k.count, "an integer from 1 to 1000000"));
        }
        if !(0.0..=5.0).contains(&k.skew) {
            return Err(SpecError::new("workload.key_skew", k.skew, "a Zipf exponent from 0 to 5"));
        }
    }
    Ok(())
}

fn validate_edges(spec: &SimSpec) -> Result<(), SpecError> {
    let edges: BTreeSet<(String, String)> = spec.call_edges().into_iter().collect();
    for (from, to) in spec.edges.keys() {
        if !edges.contains(&(from.clone(), to.clone())) {
            let list: Vec<String> = edges.iter().map(|(a, b)| format!("{a}->{b}")).collect();
            return Err(SpecError::new(
                "edges",
                format!("\"{from}->{to}\""),
                format!("an edge the system calls: {}", list.join(", ")),
            ));
        }
    }
    Ok(())
}

fn validate_network(spec: &SimSpec, names: &BTreeSet<&str>) -> Result<(), SpecError> {
    validate_link("network", &spec.network.default)?;
    for ((from, to), link) in &spec.network.links {
        for end in [from, to] {
            if end != CLIENT && !names.contains(end.as_str()) {
                return Err(SpecError::new(
                    "network.links",
                    format!("\"{from}->{to}\""),
                    format!("links between services (or client): {}", join(names)),
                ));
            }
        }
        validate_link(&format!("network.links.{from}->{to}"), link)?;
    }
    if spec.network.call_timeout.is_zero() {
        return Err(SpecError::new("network.call_timeout_ms", 0, "a duration > 0"));
    }
    Ok(())
}

fn join(names: &BTreeSet<&str>) -> String {
    names.iter().copied().collect::<Vec<_>>().join(", ")
}

fn check_probability(key: String, p: f64) -> Result<(), SpecError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(SpecError::new(key, p, "a probability from 0 to 1"))
    }
}

fn validate_link(key: &str, l: &LinkModel) -> Result<(), SpecError> {
    check_probability(format!("{key}.loss"), l.loss)?;
    check_probability(format!("{key}.duplicate"), l.duplicate)?;
    check_probability(format!("{key}.reorder"), l.reorder)
}

fn validate_arrivals(a: &Arrivals) -> Result<(), SpecError> {
    let rate = |k: &str, r: f64| {
        if r.is_finite() && (0.0..=1_000_000.0).contains(&r) {
            Ok(())
        } else {
            Err(SpecError::new(format!("workload.{k}"), r, "a rate from 0 to 1000000 per second"))
        }
    };
    match *a {
        Arrivals::Constant { rate_per_s } | Arrivals::Poisson { rate_per_s } => {
            if rate_per_s <= 0.0 {
                return Err(SpecError::new("workload.rate_per_s", rate_per_s, "a rate > 0"));
            }
            rate("rate_per_s", rate_per_s)
        }
        Arrivals::Burst { rate_per_s, burst_rate_per_s, burst_every, burst_len } => {
            rate("rate_per_s", rate_per_s)?;
            rate("burst_rate_per_s", burst_rate_per_s)?;
            if burst_every.is_zero() {
                return Err(SpecError::new("workload.burst_every_s", 0, "a period > 0 seconds"));
            }
            if burst_len > burst_every {
                return Err(SpecError::new(
                    "workload.burst_len_s",
                    burst_len.as_secs_f64(),
                    "a burst no longer than burst_every_s",
                ));
            }
            Ok(())
        }
        Arrivals::Ramp { from_rate_per_s, to_rate_per_s } => {
            rate("from_rate_per_s", from_rate_per_s)?;
            rate("to_rate_per_s", to_rate_per_s)
        }
        Arrivals::Closed { clients, .. } => {
            if (1..=100_000).contains(&clients) {
                Ok(())
            } else {
                Err(SpecError::new("workload.clients", clients, "an integer from 1 to 100000"))
            }
        }
    }
}

/// True when `name` is a service or one of its replica nodes.
pub fn is_known_target(spec: &SimSpec, name: &str) -> bool {
    if name == CLIENT {
        return true;
    }
    spec.services.iter().any(|s| s.name == name || (0..s.replicas).any(|i| format!("{}-{i}", s.name) == name))
}

fn validate_fault(i: usize, f: &Fault, spec: &SimSpec, names: &BTreeSet<&str>) -> Result<(), SpecError> {
    let key = |k: &str| format!("faults[{i}].{k}");
    let known = |n: &str| {
        if is_known_target(spec, n) {
            return Ok(());
        }
        let replicas: Vec<String> = names.iter().map(|s| format!("{s}-0")).collect();
        let allowed = format!("a service ({}), a replica ({}, ...), or client", join(names), replicas.join(", "));
        Err(SpecError::new(key("target"), format!("\"{n}\""), allowed))
    };
    match &f.target {
        Target::Node(n) => known(n)?,
        Target::Link { from, to, .. } => {
            known(from)?;
            known(to)?;
        }
    }
    let is_link = matches!(f.target, Target::Link { .. });
    let link_ok = matches!(f.kind, FaultKind::Partition | FaultKind::PacketLoss { .. });
    let target = format!("\"{}\"", f.target);
    if is_link && !link_ok {
        return Err(SpecError::new(key("target"), target, format!("a service or node for {}", f.kind.name())));
    }
    if !is_link && f.kind == FaultKind::Partition {
        return Err(SpecError::new(key("target"), target, "a link `a->b` or `a<->b` for a partition"));
    }
    let needs_duration = !matches!(f.kind, FaultKind::Crash | FaultKind::Restart);
    match f.duration {
        None if needs_duration => {
            return Err(SpecError::new(key("duration_s"), "(missing)", format!("a duration for {}", f.kind.name())));
        }
        Some(_) if f.kind == FaultKind::Restart => {
            let allowed = "no duration for restart (it is instantaneous; use crash with a duration)";
            return Err(SpecError::new(key("duration_s"), "(given)", allowed));
        }
        Some(d) if d.is_zero() => return Err(SpecError::new(key("duration_s"), 0, "a duration > 0")),
        _ => {}
    }
    match f.kind {
        FaultKind::ErrorBurst { rate } | FaultKind::PacketLoss { rate } => check_probability(key("rate"), rate),
        FaultKind::ClockSkew { offset_ms } if offset_ms.unsigned_abs() > 365 * 86_400_000 => {
            Err(SpecError::new(key("offset_ms"), offset_ms, "an offset of at most a year"))
        }
        FaultKind::ClockDrift { rate } if !rate.is_finite() || rate.abs() > 1.0 => {
            Err(SpecError::new(key("rate"), rate, "a drift from -1 to 1 extra seconds per second (0.01: 1% fast)"))
        }
        _ => Ok(()),
    }
}

/// A cycle of synchronous calls. A broker's deliveries are not part of any request (they run
/// from its log), so its calls do not close a cycle.
fn find_cycle(spec: &SimSpec) -> Option<String> {
    let deps: BTreeMap<&str, &Vec<String>> =
        spec.services.iter().filter(|s| s.app_name() != Some("broker")).map(|s| (s.name.as_str(), &s.calls)).collect();
    fn visit<'a>(
        n: &'a str,
        deps: &BTreeMap<&'a str, &'a Vec<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<String> {
        if let Some(pos) = path.iter().position(|p| *p == n) {
            let mut cycle: Vec<&str> = path[pos..].to_vec();
            cycle.push(n);
            return Some(format!("\"{}\"", cycle.join("->")));
        }
        if done.contains(n) {
            return None;
        }
        path.push(n);
        for d in deps.get(n).map(|v| v.as_slice()).unwrap_or(&[]) {
            if let Some(c) = visit(d, deps, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n);
        None
    }
    let mut done = BTreeSet::new();
    spec.services.iter().find_map(|s| visit(&s.name, &deps, &mut Vec::new(), &mut done))
}

/// Shares are numbers >= 0 adding up to more than 0, one per route; steps in time order.
fn validate_route_steps(w: &crate::Workload) -> Result<(), SpecError> {
    if !w.routes.is_empty() && w.routes.iter().map(|r| r.1).sum::<f64>() <= 0.0 {
        return Err(SpecError::new("workload.routes", "all 0", "at least one share > 0"));
    }
    if !w.route_steps.is_empty() && w.routes.is_empty() {
        return Err(SpecError::new("workload.route_steps", "given", "`routes` first (the steps change their shares)"));
    }
    for (i, step) in w.route_steps.iter().enumerate() {
        let key = |k: &str| format!("workload.route_steps[{i}].{k}");
        if i > 0 && step.at <= w.route_steps[i - 1].at {
            let at = format!("{}", step.at.as_secs_f64());
            return Err(SpecError::new(key("at_s"), at, "a time after the step before"));
        }
        if step.shares.len() != w.routes.len() {
            return Err(SpecError::new(key("routes"), step.shares.len(), "one share per route of the workload"));
        }
        if let Some((i, s)) = step.shares.iter().enumerate().find(|(_, s)| !(s.is_finite() && **s >= 0.0)) {
            return Err(SpecError::new(key(&format!("routes.{}", w.routes[i].0)), s, "a share >= 0"));
        }
        if step.shares.iter().sum::<f64>() <= 0.0 {
            return Err(SpecError::new(key("routes"), "all 0", "at least one share > 0"));
        }
    }
    Ok(())
}
