//! The scenario file format (TOML), read strictly.
//!
//! Every table denies unknown keys; serde reports them with the allowed ones, and
//! `serde_path_to_error` adds where they are. Values that depend on other values (a fault's
//! `rate` only for `error_burst` and `packet_loss`, a workload's keys per `kind`) are checked
//! afterwards with the same kind of message. The format is documented in
//! `docs/scenario-format.md`; keep the two in step.

use std::collections::BTreeMap;
use std::time::Duration;

use faultline_patterns::adaptive::{AimdConfig, Gradient2Config};
use faultline_patterns::balance::{BalanceConfig, Ejection, Strategy};
use faultline_patterns::bulkhead::BulkheadConfig;
use faultline_patterns::cache::CacheConfig;
use faultline_patterns::chaos::ChaosConfig;
use faultline_patterns::circuit_breaker::{BreakerConfig, OpenDuration, WindowKind};
use faultline_patterns::health::ProbeConfig;
use faultline_patterns::hedge::{HedgeConfig, HedgeDelay};
use faultline_patterns::rate_limiter::RateLimitConfig;
use faultline_patterns::retry::{Backoff, Jitter, RetryConfig};
use faultline_patterns::throttle::ThrottleConfig;
use faultline_patterns::timeout::TimeoutConfig;
use faultline_patterns::ConfigError;
use faultline_sim::{
    AppSpec, Arrivals, CallError, ClientSpace, Dist, Fault, FaultKind, GatewaySpec, KeySpace, LinkModel, NetworkSpec,
    OutboxMode, Outcome, ParticipantSpec, Relay, ServiceSpec, SimSpec, Target, Workload,
};
use serde::Deserialize;

use crate::stack::{BudgetSpec, LayerSpec, PatternStack, RetryOn};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Defaults to the file's stem.
    pub name: Option<String>,
    /// One or two sentences for `faultline list`.
    pub description: Option<String>,
    /// Root seed (default 1); `--seed` overrides it.
    pub seed: Option<u64>,
    /// How long the workload sends.
    pub duration_s: f64,
    /// How long in-flight requests may finish afterwards (default 60).
    pub drain_s: Option<f64>,
    /// Stall watchdog: no completion for this long with requests in flight fails the run
    /// (default 120; 0 turns it off).
    pub stall_after_s: Option<f64>,
    /// After the drain, time for background work to finish (default 0).
    pub settle_s: Option<f64>,
    #[serde(default)]
    network: NetworkFile,
    services: BTreeMap<String, ServiceFile>,
    #[serde(default)]
    edges: BTreeMap<String, EdgeFile>,
    workload: WorkloadFile,
    #[serde(default)]
    faults: Vec<FaultFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkFile {
    latency: Option<Dist>,
    loss: Option<f64>,
    duplicate: Option<f64>,
    reorder: Option<f64>,
    reorder_window_ms: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkFile {
    latency: Option<Dist>,
    loss: Option<f64>,
    duplicate: Option<f64>,
    reorder: Option<f64>,
    reorder_window_ms: Option<f64>,
    call_timeout_ms: Option<f64>,
    #[serde(default)]
    links: BTreeMap<String, LinkFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceFile {
    replicas: Option<u32>,
    service_time: Option<Dist>,
    concurrency: Option<u32>,
    queue: Option<u32>,
    error_rate: Option<f64>,
    #[serde(default)]
    calls: Vec<String>,
    #[serde(default)]
    readiness: Vec<String>,
    readiness_period_ms: Option<f64>,
    parallel: Option<bool>,
    #[serde(default)]
    optional: Vec<String>,
    gateway: Option<GatewayFile>,
    startup_ms: Option<f64>,
    liveness: Option<LivenessFile>,
    register: Option<RegisterFile>,
    idempotency: Option<bool>,
    exactly_once_check: Option<bool>,
    app: Option<String>,
    saga_compensate: Option<bool>,
    decline_every: Option<u64>,
    stock: Option<u64>,
    semantic_lock: Option<bool>,
    #[serde(default)]
    non_idempotent: Vec<String>,
    outbox_mode: Option<String>,
    relay_parallel: Option<bool>,
    relay: Option<String>,
    partitions: Option<u32>,
    dedup: Option<bool>,
    version_check: Option<bool>,
    projection_batch: Option<u32>,
    snapshot_every: Option<u32>,
    snapshot_off_by_one: Option<bool>,
    projection_atomic: Option<bool>,
    #[serde(default)]
    routes: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterFile {
    heartbeat_ms: Option<f64>,
    ttl_ms: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LivenessFile {
    period_ms: Option<f64>,
    timeout_ms: Option<f64>,
    failure_threshold: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GatewayFile {
    auth: Option<bool>,
    client_rate_per_s: Option<f64>,
    client_burst: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EdgeFile {
    #[serde(default)]
    stack: Vec<String>,
    retry: Option<RetryFile>,
    timeout: Option<TimeoutFile>,
    breaker: Option<BreakerFile>,
    bulkhead: Option<BulkheadFile>,
    fallback: Option<FallbackFile>,
    rate_limiter: Option<RateLimitFile>,
    throttle: Option<ThrottleFile>,
    adaptive: Option<AdaptiveFile>,
    hedge: Option<HedgeFile>,
    chaos: Option<ChaosFile>,
    balance: Option<BalanceFile>,
    cache: Option<CacheFile>,
    deadline: Option<DeadlineFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeadlineFile {
    deadline_ms: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheFile {
    service: Option<String>,
    ttl_ms: Option<f64>,
    ttl_jitter: Option<f64>,
    xfetch_beta: Option<f64>,
    stale_ms: Option<f64>,
    single_flight: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BalanceFile {
    strategy: Option<String>,
    eject_after: Option<u32>,
    ejection_s: Option<f64>,
    max_ejected_percent: Option<f64>,
    decay_s: Option<f64>,
    fail_open: Option<bool>,
    health_period_ms: Option<f64>,
    health_timeout_ms: Option<f64>,
    unhealthy_after: Option<u32>,
    healthy_after: Option<u32>,
    discovery_refresh_ms: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitFile {
    algorithm: Option<String>,
    rate_per_s: Option<f64>,
    burst: Option<u32>,
    max_wait_ms: Option<f64>,
    window_ms: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThrottleFile {
    k: Option<f64>,
    window_s: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdaptiveFile {
    algorithm: Option<String>,
    initial: Option<u32>,
    min: Option<u32>,
    max: Option<u32>,
    backoff_ratio: Option<f64>,
    tolerance: Option<f64>,
    long_window: Option<u32>,
    smoothing: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HedgeFile {
    delay_ms: Option<f64>,
    percentile: Option<f64>,
    initial_delay_ms: Option<f64>,
    max_ratio: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChaosFile {
    error_rate: Option<f64>,
    latency_rate: Option<f64>,
    latency_ms: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkheadFile {
    max_concurrent: Option<u32>,
    max_queue: Option<u32>,
    max_wait_ms: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FallbackFile {
    on: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BreakerFile {
    window: Option<String>,
    window_size: Option<u32>,
    window_s: Option<u32>,
    failure_rate: Option<f64>,
    slow_rate: Option<f64>,
    slow_call_ms: Option<f64>,
    minimum_calls: Option<u32>,
    open_ms: Option<f64>,
    open_multiplier: Option<f64>,
    open_max_ms: Option<f64>,
    half_open_permits: Option<u32>,
    max_wait_in_half_open_ms: Option<f64>,
    automatic: Option<bool>,
    #[serde(default)]
    ignore: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetryFile {
    max_attempts: Option<u32>,
    backoff: Option<String>,
    delay_ms: Option<f64>,
    base_ms: Option<f64>,
    cap_ms: Option<f64>,
    jitter: Option<String>,
    retry_on: Option<Vec<String>>,
    budget: Option<String>,
    budget_tokens: Option<u32>,
    retry_cost: Option<u32>,
    timeout_cost: Option<u32>,
    budget_ratio: Option<f64>,
    budget_min_per_s: Option<f64>,
    budget_ttl_s: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeoutFile {
    timeout_ms: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkloadFile {
    target: String,
    kind: String,
    rate_per_s: Option<f64>,
    burst_rate_per_s: Option<f64>,
    burst_every_s: Option<f64>,
    burst_len_s: Option<f64>,
    from_rate_per_s: Option<f64>,
    to_rate_per_s: Option<f64>,
    clients: Option<u32>,
    think: Option<Dist>,
    keys: Option<u64>,
    key_skew: Option<f64>,
    api_clients: Option<u32>,
    unauthenticated: Option<f64>,
    noisy_client_share: Option<f64>,
    #[serde(default)]
    routes: BTreeMap<String, f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultFile {
    kind: String,
    target: String,
    at_s: f64,
    duration_s: Option<f64>,
    rate: Option<f64>,
    add: Option<Dist>,
    offset_ms: Option<i64>,
}

/// A problem at a key: the key path, the value and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    /// Dotted path.
    pub key: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

fn err<T>(key: impl Into<String>, message: impl Into<String>) -> Result<T, KeyError> {
    Err(KeyError { key: key.into(), message: message.into() })
}

/// A number as a person would write it (`1e300`, not three hundred digits).
fn show(v: f64) -> String {
    if v.is_finite() && v.abs() >= 1e9 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

fn seconds(key: &str, v: f64) -> Result<Duration, KeyError> {
    if v.is_finite() && (0.0..=31_536_000.0).contains(&v) {
        Ok(Duration::from_secs_f64(v))
    } else {
        err(key, format!("{} is not allowed (expected a number of seconds from 0 to 31536000)", show(v)))
    }
}

fn millis(key: &str, v: f64) -> Result<Duration, KeyError> {
    seconds(key, v / 1000.0).map_err(|_| KeyError {
        key: key.to_owned(),
        message: format!("{} is not allowed (expected a number of milliseconds from 0 to 31536000000)", show(v)),
    })
}

/// Rejects keys given for a `kind` that does not use them.
fn only(table: &str, kind: &str, given: &[(&str, bool)], allowed: &[&str]) -> Result<(), KeyError> {
    for (name, present) in given {
        if *present && !allowed.contains(name) {
            return err(
                format!("{table}.{name}"),
                format!("`{name}` is not used by kind \"{kind}\" (its keys: {})", allowed.join(", ")),
            );
        }
    }
    Ok(())
}

impl ScenarioFile {
    /// Turns the file into a validated spec.
    pub fn into_spec(self, default_name: &str) -> Result<(SimSpec, String), KeyError> {
        let name = self.name.clone().unwrap_or_else(|| default_name.to_owned());
        let description = self.description.clone().unwrap_or_default();
        let mut b = SimSpec::builder(name)
            .seed(self.seed.unwrap_or(1))
            .duration(seconds("duration_s", self.duration_s)?)
            .drain(seconds("drain_s", self.drain_s.unwrap_or(60.0))?)
            .settle(seconds("settle_s", self.settle_s.unwrap_or(0.0))?)
            .stall_after(match self.stall_after_s {
                Some(v) if v == 0.0 => None,
                Some(v) => Some(seconds("stall_after_s", v)?),
                None => Some(Duration::from_secs(120)),
            })
            .network(network(&self.network)?);
        for (name, s) in &self.services {
            let mut spec = ServiceSpec::new(name.clone());
            spec.replicas = s.replicas.unwrap_or(spec.replicas);
            spec.service_time = s.service_time.unwrap_or(spec.service_time);
            spec.concurrency = s.concurrency.unwrap_or(spec.concurrency);
            spec.queue = s.queue.unwrap_or(spec.queue);
            spec.error_rate = s.error_rate.unwrap_or(spec.error_rate);
            spec.calls = s.calls.clone();
            spec.readiness = s.readiness.clone();
            spec.parallel = s.parallel.unwrap_or(false);
            spec.routes = s.routes.clone();
            spec.idempotency = s.idempotency.unwrap_or(false);
            spec.exactly_once_check = s.exactly_once_check.unwrap_or(false);
            let orchestrated =
                self.services.values().any(|o| o.app.as_deref() == Some("order_saga") && o.calls.contains(name));
            spec.app = app(name, s, orchestrated)?;
            if let Some(ms) = s.startup_ms {
                spec.startup = millis(&format!("services.{name}.startup_ms"), ms)?;
            }
            if let Some(r) = &s.register {
                let key = format!("services.{name}.register");
                let heartbeat = millis(&format!("{key}.heartbeat_ms"), r.heartbeat_ms.unwrap_or(1000.0))?;
                let ttl = millis(&format!("{key}.ttl_ms"), r.ttl_ms.unwrap_or(3000.0))?;
                spec.register = Some((heartbeat, ttl));
            }
            if let Some(l) = &s.liveness {
                let d = ProbeConfig::default();
                let key = format!("services.{name}.liveness");
                let ms = |k: &str, v: Option<f64>, default: Duration| {
                    v.map_or(Ok(default), |v| millis(&format!("{key}.{k}"), v))
                };
                spec.liveness = Some(ProbeConfig {
                    period: ms("period_ms", l.period_ms, d.period)?,
                    timeout: ms("timeout_ms", l.timeout_ms, d.timeout)?,
                    failure_threshold: l.failure_threshold.unwrap_or(d.failure_threshold),
                    success_threshold: 1,
                });
            }
            spec.optional = s.optional.clone();
            spec.gateway = s.gateway.as_ref().map(|g| GatewaySpec {
                auth: g.auth.unwrap_or(true),
                per_client: g.client_rate_per_s.map(|rate_per_s| RateLimitConfig {
                    rate_per_s,
                    burst: g.client_burst.unwrap_or(1),
                    ..RateLimitConfig::default()
                }),
            });
            if let Some(ms) = s.readiness_period_ms {
                spec.readiness_period = millis(&format!("services.{name}.readiness_period_ms"), ms)?;
            }
            b = b.service(spec);
        }
        for (edge, e) in &self.edges {
            let (from, to) = edge.split_once("->").ok_or_else(|| KeyError {
                key: format!("edges.\"{edge}\""),
                message: format!(
                    "\"{edge}\" is not an edge name (expected \"caller->callee\", e.g. \"orders->payment\")"
                ),
            })?;
            let services: Vec<&str> = self.services.keys().map(String::as_str).collect();
            b = b.edge(from.trim(), to.trim(), std::sync::Arc::new(edge_stack(edge, e, &services)?));
        }
        b = b.workload(workload(&self.workload)?);
        for (i, f) in self.faults.iter().enumerate() {
            b = b.fault(fault(i, f)?);
        }
        let spec = b.build().map_err(|e| KeyError {
            key: e.key.clone(),
            message: format!("{} is not allowed (expected {})", e.value, e.allowed),
        })?;
        Ok((spec, description))
    }
}

/// The service's application and its settings; an application's keys without that
/// application are an error.
fn app(name: &str, s: &ServiceFile, orchestrated: bool) -> Result<Option<AppSpec>, KeyError> {
    let table = format!("services.{name}");
    let kind = s.app.as_deref().unwrap_or("none");
    let participant =
        ParticipantSpec { decline_every: s.decline_every, stock: s.stock, non_idempotent: s.non_idempotent.clone() };
    let as_participant = [
        ("decline_every", s.decline_every.is_some()),
        ("stock", s.stock.is_some()),
        ("non_idempotent", !s.non_idempotent.is_empty()),
    ];
    if kind == "none" {
        if let Some((key, _)) = as_participant.iter().find(|(_, given)| *given) {
            if !orchestrated {
                return err(format!("{table}.{key}"), format!("`{key}` is for saga participants: a service an order_saga calls, or one with app saga_choreography"));
            }
            return Ok(Some(AppSpec::SagaParticipant(participant)));
        }
    }
    let given = [
        ("decline_every", s.decline_every.is_some()),
        ("stock", s.stock.is_some()),
        ("non_idempotent", !s.non_idempotent.is_empty()),
        ("saga_compensate", s.saga_compensate.is_some()),
        ("semantic_lock", s.semantic_lock.is_some()),
        ("outbox_mode", s.outbox_mode.is_some()),
        ("relay_parallel", s.relay_parallel.is_some()),
        ("relay", s.relay.is_some()),
        ("partitions", s.partitions.is_some()),
        ("dedup", s.dedup.is_some()),
        ("version_check", s.version_check.is_some()),
        ("projection_batch", s.projection_batch.is_some()),
        ("snapshot_every", s.snapshot_every.is_some()),
        ("snapshot_off_by_one", s.snapshot_off_by_one.is_some()),
        ("projection_atomic", s.projection_atomic.is_some()),
    ];
    let keys: &[&str] = match kind {
        "order_saga" => &["saga_compensate", "semantic_lock"],
        "saga_choreography" => &["saga_compensate", "semantic_lock", "decline_every", "stock", "non_idempotent"],
        "saga_participant" => &["decline_every", "stock", "non_idempotent"],
        "outbox" => &["outbox_mode", "relay_parallel", "relay"],
        "broker" => &["partitions"],
        "consumer" => &["dedup"],
        "event_store" => &["version_check"],
        "projector" => &["projection_batch", "projection_atomic"],
        "account" => &["snapshot_every", "snapshot_off_by_one"],
        "none" | "es_writer" => &[],
        other => return err(format!("{table}.app"), format!("\"{other}\" is not allowed (expected order_saga, saga_participant, saga_choreography, outbox, broker, consumer, event_store, es_writer, account or projector)")),
    };
    if let Some((key, _)) = given.iter().find(|(k, present)| *present && !keys.contains(k)) {
        return err(
            format!("{table}.{key}"),
            format!(
                "`{key}` is not used by app \"{kind}\" (its keys: {})",
                if keys.is_empty() { "none".into() } else { keys.join(", ") }
            ),
        );
    }
    Ok(Some(match kind {
        "none" => return Ok(None),
        "order_saga" => AppSpec::OrderSaga { compensate: s.saga_compensate.unwrap_or(true), semantic_lock: s.semantic_lock.unwrap_or(false) },
        "saga_choreography" => AppSpec::SagaChoreography { compensate: s.saga_compensate.unwrap_or(true), semantic_lock: s.semantic_lock.unwrap_or(false), participant },
        "saga_participant" => AppSpec::SagaParticipant(participant),
        "outbox" => AppSpec::Outbox {
            mode: match s.outbox_mode.as_deref().unwrap_or("outbox") {
                "outbox" => OutboxMode::Outbox,
                "dual_write_commit_first" => OutboxMode::DualWriteCommitFirst,
                "dual_write_publish_first" => OutboxMode::DualWritePublishFirst,
                other => return err(format!("{table}.outbox_mode"), format!("\"{other}\" is not allowed (expected outbox, dual_write_commit_first or dual_write_publish_first)")),
            },
            relay_parallel: s.relay_parallel.unwrap_or(false),
            relay: match s.relay.as_deref().unwrap_or("polling") {
                "polling" => Relay::Polling,
                "log_tailing" if s.relay_parallel == Some(true) => {
                    return err(format!("{table}.relay_parallel"), "true is not allowed with relay = \"log_tailing\" (a log tailer reads one entry at a time; expected false)".to_owned())
                }
                "log_tailing" => Relay::LogTailing,
                other => return err(format!("{table}.relay"), format!("\"{other}\" is not allowed (expected polling or log_tailing)")),
            },
        },
        "broker" => AppSpec::Broker { partitions: s.partitions.unwrap_or(4) },
        "consumer" => AppSpec::Consumer { dedup: s.dedup.unwrap_or(true) },
        "event_store" => AppSpec::EventStore { version_check: s.version_check.unwrap_or(true) },
        "account" => AppSpec::Account { snapshot_every: s.snapshot_every.unwrap_or(0), snapshot_off_by_one: s.snapshot_off_by_one.unwrap_or(false) },
        "projector" => AppSpec::Projector { batch: s.projection_batch.unwrap_or(16), atomic: s.projection_atomic.unwrap_or(true) },
        _ => AppSpec::EsWriter,
    }))
}

fn link(key: &str, base: LinkModel, l: &LinkFile) -> Result<LinkModel, KeyError> {
    Ok(LinkModel {
        latency: l.latency.unwrap_or(base.latency),
        loss: l.loss.unwrap_or(base.loss),
        duplicate: l.duplicate.unwrap_or(base.duplicate),
        reorder: l.reorder.unwrap_or(base.reorder),
        reorder_window: match l.reorder_window_ms {
            Some(ms) => millis(&format!("{key}.reorder_window_ms"), ms)?,
            None => base.reorder_window,
        },
    })
}

fn network(n: &NetworkFile) -> Result<NetworkSpec, KeyError> {
    let mut spec = NetworkSpec::default();
    let as_link = LinkFile {
        latency: n.latency,
        loss: n.loss,
        duplicate: n.duplicate,
        reorder: n.reorder,
        reorder_window_ms: n.reorder_window_ms,
    };
    spec.default = link("network", spec.default, &as_link)?;
    if let Some(ms) = n.call_timeout_ms {
        spec.call_timeout = millis("network.call_timeout_ms", ms)?;
    }
    for (name, l) in &n.links {
        let key = format!("network.links.\"{name}\"");
        let (from, to) = name.split_once("->").ok_or_else(|| KeyError {
            key: key.clone(),
            message: format!("\"{name}\" is not a link name (expected \"from->to\" with service names)"),
        })?;
        spec.links.insert((from.trim().to_owned(), to.trim().to_owned()), link(&key, spec.default, l)?);
    }
    Ok(spec)
}

/// A pattern's `ConfigError` at `table.key`.
fn config_error(table: &str, c: ConfigError) -> KeyError {
    KeyError {
        key: format!("{table}.{}", c.key),
        message: format!("{} is not allowed (expected {})", c.value, c.allowed),
    }
}

fn breaker(key: &str, b: &BreakerFile) -> Result<LayerSpec, KeyError> {
    let d = BreakerConfig::default();
    let ms = |k: &str, v: Option<f64>| -> Result<Option<Duration>, KeyError> {
        v.map(|v| millis(&format!("{key}.{k}"), v)).transpose()
    };
    let window = match b.window.as_deref().unwrap_or("count") {
        "count" => {
            only(key, "count", &[("window_s", b.window_s.is_some())], &["window_size"])?;
            WindowKind::CountBased { size: b.window_size.unwrap_or(100) }
        }
        "time" => {
            only(key, "time", &[("window_size", b.window_size.is_some())], &["window_s"])?;
            WindowKind::TimeBased { seconds: b.window_s.unwrap_or(10) }
        }
        other => return err(format!("{key}.window"), format!("\"{other}\" is not allowed (expected count or time)")),
    };
    let open = ms("open_ms", b.open_ms)?.unwrap_or(Duration::from_secs(60));
    let open_duration = match (b.open_multiplier, ms("open_max_ms", b.open_max_ms)?) {
        (None, None) => OpenDuration::Fixed(open),
        (multiplier, max) => OpenDuration::Backoff {
            initial: open,
            multiplier: multiplier.unwrap_or(2.0),
            max: max.unwrap_or(open * 10),
        },
    };
    let config = BreakerConfig {
        window,
        failure_rate_threshold: b.failure_rate.unwrap_or(d.failure_rate_threshold),
        slow_call_rate_threshold: b.slow_rate.unwrap_or(d.slow_call_rate_threshold),
        slow_call_duration: ms("slow_call_ms", b.slow_call_ms)?.unwrap_or(d.slow_call_duration),
        minimum_calls: b.minimum_calls.unwrap_or(d.minimum_calls),
        open_duration,
        half_open_permits: b.half_open_permits.unwrap_or(d.half_open_permits),
        max_wait_in_half_open: ms("max_wait_in_half_open_ms", b.max_wait_in_half_open_ms)?,
        automatic_transition: b.automatic.unwrap_or(d.automatic_transition),
    }
    .validate()
    .map_err(|c| config_error(key, c))?;
    let mut ignore = std::collections::BTreeSet::new();
    for (i, name) in b.ignore.iter().enumerate() {
        let outcome = [Outcome::Error, Outcome::Timeout, Outcome::Rejected, Outcome::Refused]
            .into_iter()
            .find(|o| o.as_str() == name);
        match outcome {
            Some(o) => ignore.insert(o),
            None => {
                return err(
                    format!("{key}.ignore[{i}]"),
                    format!("\"{name}\" is not allowed (expected error, timeout, rejected or refused)"),
                )
            }
        };
    }
    Ok(LayerSpec::Breaker(config, ignore))
}

/// A list of error names (`retry_on`, `fallback.on`), if given.
fn error_names(key: &str, names: Option<&[String]>) -> Result<Option<std::collections::BTreeSet<CallError>>, KeyError> {
    let Some(names) = names else { return Ok(None) };
    let mut set = std::collections::BTreeSet::new();
    for (i, n) in names.iter().enumerate() {
        match CallError::parse(n) {
            Some(e) => set.insert(e),
            None => {
                return err(format!("{key}[{i}]"), format!("\"{n}\" is not allowed (expected {})", CallError::NAMES))
            }
        };
    }
    Ok(Some(set))
}

fn bulkhead(key: &str, b: &BulkheadFile) -> Result<LayerSpec, KeyError> {
    let d = BulkheadConfig::default();
    let max_wait = match b.max_wait_ms {
        Some(ms) => millis(&format!("{key}.max_wait_ms"), ms)?,
        None => d.max_wait,
    };
    let config = BulkheadConfig {
        max_concurrent: b.max_concurrent.unwrap_or(d.max_concurrent),
        max_queue: b.max_queue.unwrap_or(d.max_queue),
        max_wait,
    };
    Ok(LayerSpec::Bulkhead(config.validate().map_err(|c| config_error(key, c))?))
}

fn adaptive(key: &str, a: &AdaptiveFile) -> Result<LayerSpec, KeyError> {
    let given = [
        ("backoff_ratio", a.backoff_ratio.is_some()),
        ("tolerance", a.tolerance.is_some()),
        ("long_window", a.long_window.is_some()),
        ("smoothing", a.smoothing.is_some()),
    ];
    match a.algorithm.as_deref().unwrap_or("aimd") {
        "aimd" => {
            only(key, "aimd", &given, &["backoff_ratio"])?;
            let d = AimdConfig::default();
            let config = AimdConfig {
                initial: a.initial.unwrap_or(d.initial),
                min: a.min.unwrap_or(d.min),
                max: a.max.unwrap_or(d.max),
                backoff_ratio: a.backoff_ratio.unwrap_or(d.backoff_ratio),
            };
            Ok(LayerSpec::Adaptive(config.validate().map_err(|c| config_error(key, c))?))
        }
        "gradient2" => {
            only(key, "gradient2", &given, &["tolerance", "long_window", "smoothing"])?;
            let d = Gradient2Config::default();
            let config = Gradient2Config {
                initial: a.initial.unwrap_or(d.initial),
                min: a.min.unwrap_or(d.min),
                max: a.max.unwrap_or(d.max),
                tolerance: a.tolerance.unwrap_or(d.tolerance),
                long_window: a.long_window.unwrap_or(d.long_window),
                smoothing: a.smoothing.unwrap_or(d.smoothing),
            };
            Ok(LayerSpec::Gradient2(config.validate().map_err(|c| config_error(key, c))?))
        }
        other => err(format!("{key}.algorithm"), format!("\"{other}\" is not allowed (expected aimd or gradient2)")),
    }
}

fn rate_limiter(key: &str, r: &RateLimitFile) -> Result<LayerSpec, KeyError> {
    let d = RateLimitConfig::default();
    let max_wait = match r.max_wait_ms {
        Some(ms) => millis(&format!("{key}.max_wait_ms"), ms)?,
        None => d.max_wait,
    };
    let given =
        [("burst", r.burst.is_some()), ("max_wait_ms", r.max_wait_ms.is_some()), ("window_ms", r.window_ms.is_some())];
    let sliding_window = match r.algorithm.as_deref().unwrap_or("gcra") {
        "gcra" => {
            only(key, "gcra", &given, &["burst", "max_wait_ms"])?;
            None
        }
        "sliding_window" => {
            only(key, "sliding_window", &given, &["window_ms"])?;
            Some(millis(&format!("{key}.window_ms"), r.window_ms.unwrap_or(1000.0))?)
        }
        other => {
            return err(
                format!("{key}.algorithm"),
                format!("\"{other}\" is not allowed (expected gcra or sliding_window)"),
            )
        }
    };
    let config = RateLimitConfig {
        rate_per_s: r.rate_per_s.unwrap_or(d.rate_per_s),
        burst: r.burst.unwrap_or(d.burst),
        max_wait,
        sliding_window,
    };
    Ok(LayerSpec::RateLimit(config.validate().map_err(|c| config_error(key, c))?))
}

fn balance(key: &str, b: &BalanceFile) -> Result<LayerSpec, KeyError> {
    let d = BalanceConfig::default();
    let strategy = match &b.strategy {
        Some(s) => Strategy::parse(s).map_err(|c| config_error(key, c))?,
        None => d.strategy,
    };
    let ejection = if b.eject_after.is_some() || b.ejection_s.is_some() || b.max_ejected_percent.is_some() {
        let e = Ejection::default();
        Some(Ejection {
            consecutive_failures: b.eject_after.unwrap_or(e.consecutive_failures),
            base_ejection: match b.ejection_s {
                Some(s) => seconds(&format!("{key}.ejection_s"), s)?,
                None => e.base_ejection,
            },
            max_ejected_percent: b.max_ejected_percent.unwrap_or(e.max_ejected_percent),
        })
    } else {
        None
    };
    let decay = match b.decay_s {
        Some(s) => seconds(&format!("{key}.decay_s"), s)?,
        None => d.decay,
    };
    let config = BalanceConfig { strategy, ejection, decay, fail_open: b.fail_open.unwrap_or(d.fail_open) }
        .validate()
        .map_err(|c| config_error(key, c))?;
    let health = if b.health_period_ms.is_some()
        || b.health_timeout_ms.is_some()
        || b.unhealthy_after.is_some()
        || b.healthy_after.is_some()
    {
        let p = ProbeConfig::default();
        let ms =
            |k: &str, v: Option<f64>, default: Duration| v.map_or(Ok(default), |v| millis(&format!("{key}.{k}"), v));
        let probe = ProbeConfig {
            period: ms("health_period_ms", b.health_period_ms, p.period)?,
            timeout: ms("health_timeout_ms", b.health_timeout_ms, p.timeout)?,
            failure_threshold: b.unhealthy_after.unwrap_or(p.failure_threshold),
            success_threshold: b.healthy_after.unwrap_or(p.success_threshold),
        };
        Some(probe.validate().map_err(|c| config_error(key, c))?)
    } else {
        None
    };
    let discovery = match b.discovery_refresh_ms {
        Some(ms) => {
            let d = millis(&format!("{key}.discovery_refresh_ms"), ms)?;
            if d.is_zero() {
                return err(format!("{key}.discovery_refresh_ms"), "0 is not allowed (expected a duration > 0)");
            }
            Some(d)
        }
        None => None,
    };
    Ok(LayerSpec::Balance(config, health, discovery))
}

fn hedge(key: &str, h: &HedgeFile) -> Result<LayerSpec, KeyError> {
    let d = HedgeConfig::default();
    let delay = match (h.delay_ms, h.percentile) {
        (Some(_), Some(_)) => {
            return err(format!("{key}.percentile"), "give either delay_ms (a fixed delay) or percentile, not both")
        }
        (Some(ms), None) => {
            only(
                key,
                "fixed delay",
                &[("initial_delay_ms", h.initial_delay_ms.is_some())],
                &["delay_ms", "max_ratio"],
            )?;
            HedgeDelay::Fixed(millis(&format!("{key}.delay_ms"), ms)?)
        }
        (None, p) => {
            let initial = match h.initial_delay_ms {
                Some(ms) => millis(&format!("{key}.initial_delay_ms"), ms)?,
                None => Duration::from_millis(50),
            };
            HedgeDelay::Percentile { percentile: p.unwrap_or(95.0), initial }
        }
    };
    let config = HedgeConfig { delay, max_ratio: h.max_ratio.unwrap_or(d.max_ratio) };
    Ok(LayerSpec::Hedge(config.validate().map_err(|c| config_error(key, c))?))
}

fn cache(key: &str, c: &CacheFile, services: &[&str]) -> Result<LayerSpec, KeyError> {
    let d = CacheConfig::default();
    let service = c.service.clone().unwrap_or_else(|| "cache".to_owned());
    if !services.contains(&service.as_str()) {
        return err(
            format!("{key}.service"),
            format!("\"{service}\" is not allowed (expected one of the services: {})", services.join(", ")),
        );
    }
    let ms = |k: &str, v: Option<f64>, default: Duration| v.map_or(Ok(default), |v| millis(&format!("{key}.{k}"), v));
    let config = CacheConfig {
        ttl: ms("ttl_ms", c.ttl_ms, d.ttl)?,
        ttl_jitter: c.ttl_jitter.unwrap_or(d.ttl_jitter),
        xfetch_beta: c.xfetch_beta.unwrap_or(d.xfetch_beta),
        stale: ms("stale_ms", c.stale_ms, d.stale)?,
        single_flight: c.single_flight.unwrap_or(d.single_flight),
    };
    Ok(LayerSpec::Cache(service, config.validate().map_err(|e| config_error(key, e))?))
}

fn edge_stack(edge: &str, e: &EdgeFile, services: &[&str]) -> Result<PatternStack, KeyError> {
    let key = |k: &str| format!("edges.\"{edge}\".{k}");
    let mut layers = Vec::new();
    for (i, name) in e.stack.iter().enumerate() {
        let layer = match name.as_str() {
            "retry" => retry(&key("retry"), e.retry.as_ref().unwrap_or(&RetryFile::default()))?,
            "timeout" => {
                let t = e.timeout.as_ref().map_or(TimeoutConfig::default(), |t| match t.timeout_ms {
                    Some(ms) => TimeoutConfig { after: Duration::from_secs_f64(ms.max(0.0) / 1000.0) },
                    None => TimeoutConfig::default(),
                });
                LayerSpec::Timeout(TimeoutConfig::new(t.after).map_err(|c| KeyError {
                    key: key(&format!("timeout.{}", c.key)),
                    message: format!("{} is not allowed (expected {})", c.value, c.allowed),
                })?)
            }
            "breaker" => breaker(&key("breaker"), e.breaker.as_ref().unwrap_or(&BreakerFile::default()))?,
            "bulkhead" => bulkhead(&key("bulkhead"), e.bulkhead.as_ref().unwrap_or(&BulkheadFile::default()))?,
            "rate_limiter" => {
                rate_limiter(&key("rate_limiter"), e.rate_limiter.as_ref().unwrap_or(&RateLimitFile::default()))?
            }
            "throttle" => {
                let t = e.throttle.as_ref();
                let d = ThrottleConfig::default();
                let config = ThrottleConfig {
                    k: t.and_then(|t| t.k).unwrap_or(d.k),
                    window: t.and_then(|t| t.window_s).map_or(d.window, Duration::from_secs),
                };
                LayerSpec::Throttle(config.validate().map_err(|c| config_error(&key("throttle"), c))?)
            }
            "adaptive" => adaptive(&key("adaptive"), e.adaptive.as_ref().unwrap_or(&AdaptiveFile::default()))?,
            "hedge" => hedge(&key("hedge"), e.hedge.as_ref().unwrap_or(&HedgeFile::default()))?,
            "balance" => balance(&key("balance"), e.balance.as_ref().unwrap_or(&BalanceFile::default()))?,
            "cache" => cache(&key("cache"), e.cache.as_ref().unwrap_or(&CacheFile::default()), services)?,
            "deadline" => {
                let ms = e.deadline.as_ref().and_then(|d| d.deadline_ms).unwrap_or(1000.0);
                let d = millis(&key("deadline.deadline_ms"), ms)?;
                if d.is_zero() {
                    return err(key("deadline.deadline_ms"), "0 is not allowed (expected a duration > 0)");
                }
                LayerSpec::Deadline(d)
            }
            "chaos" => {
                let c = e.chaos.as_ref();
                let d = ChaosConfig::default();
                let latency = match c.and_then(|c| c.latency_ms) {
                    Some(ms) => millis(&key("chaos.latency_ms"), ms)?,
                    None => d.latency,
                };
                let config = ChaosConfig {
                    error_rate: c.and_then(|c| c.error_rate).unwrap_or(d.error_rate),
                    latency_rate: c.and_then(|c| c.latency_rate).unwrap_or(d.latency_rate),
                    latency,
                };
                LayerSpec::Chaos(config.validate().map_err(|c| config_error(&key("chaos"), c))?)
            }
            "fallback" => {
                let on = e.fallback.as_ref().and_then(|f| f.on.as_deref());
                LayerSpec::Fallback(error_names(&key("fallback.on"), on)?.unwrap_or_else(|| {
                    [
                        CallError::Server,
                        CallError::Dependency,
                        CallError::Timeout,
                        CallError::Rejected,
                        CallError::Refused,
                        CallError::Shed,
                    ]
                    .into_iter()
                    .collect()
                }))
            }
            other => {
                return err(
                    format!("{}[{i}]", key("stack")),
                    format!("\"{other}\" is not a layer (expected one of {})", LayerSpec::NAMES),
                )
            }
        };
        layers.push(layer);
    }
    let tables = [
        ("retry", e.retry.is_some()),
        ("timeout", e.timeout.is_some()),
        ("breaker", e.breaker.is_some()),
        ("bulkhead", e.bulkhead.is_some()),
        ("fallback", e.fallback.is_some()),
        ("rate_limiter", e.rate_limiter.is_some()),
        ("throttle", e.throttle.is_some()),
        ("adaptive", e.adaptive.is_some()),
        ("hedge", e.hedge.is_some()),
        ("chaos", e.chaos.is_some()),
        ("balance", e.balance.is_some()),
        ("cache", e.cache.is_some()),
        ("deadline", e.deadline.is_some()),
    ];
    for (name, present) in tables {
        if present && !e.stack.iter().any(|s| s == name) {
            return err(
                key(name),
                format!(
                    "`{name}` is configured but not in `stack` ({:?}); add it to the stack or remove the table",
                    e.stack
                ),
            );
        }
    }
    Ok(PatternStack(layers))
}

fn retry(key: &str, r: &RetryFile) -> Result<LayerSpec, KeyError> {
    let d = RetryConfig::default();
    let ms = |k: &str, v: Option<f64>, default: Duration| -> Result<Duration, KeyError> {
        match v {
            Some(v) => millis(&format!("{key}.{k}"), v),
            None => Ok(default),
        }
    };
    let shaped = |kind: &str| -> Result<(Duration, Duration), KeyError> {
        only(key, kind, &[("delay_ms", r.delay_ms.is_some())], &["base_ms", "cap_ms"])?;
        Ok((ms("base_ms", r.base_ms, RetryConfig::DEFAULT_BASE)?, ms("cap_ms", r.cap_ms, RetryConfig::DEFAULT_CAP)?))
    };
    let backoff = match r.backoff.as_deref().unwrap_or("exponential") {
        "exponential" => {
            let (base, cap) = shaped("exponential")?;
            Backoff::Exponential { base, cap }
        }
        "linear" => {
            let (base, cap) = shaped("linear")?;
            Backoff::Linear { base, cap }
        }
        "fixed" => {
            only(key, "fixed", &[("base_ms", r.base_ms.is_some()), ("cap_ms", r.cap_ms.is_some())], &["delay_ms"])?;
            Backoff::Fixed { delay: ms("delay_ms", r.delay_ms, RetryConfig::DEFAULT_BASE)? }
        }
        other => {
            return err(
                format!("{key}.backoff"),
                format!("\"{other}\" is not allowed (expected fixed, linear or exponential)"),
            )
        }
    };
    let jitter = match &r.jitter {
        Some(j) => Jitter::parse(j).map_err(|c| config_error(key, c))?,
        None => d.jitter,
    };
    let config = RetryConfig { max_attempts: r.max_attempts.unwrap_or(d.max_attempts), backoff, jitter }
        .validate()
        .map_err(|c| config_error(key, c))?;
    let on = error_names(&format!("{key}.retry_on"), r.retry_on.as_deref())?.map(RetryOn).unwrap_or_default();
    let budget_keys = [
        ("budget_tokens", r.budget_tokens.is_some()),
        ("retry_cost", r.retry_cost.is_some()),
        ("timeout_cost", r.timeout_cost.is_some()),
        ("budget_ratio", r.budget_ratio.is_some()),
        ("budget_min_per_s", r.budget_min_per_s.is_some()),
        ("budget_ttl_s", r.budget_ttl_s.is_some()),
    ];
    let budget = match r.budget.as_deref().unwrap_or("none") {
        "none" => {
            if let Some((name, _)) = budget_keys.iter().find(|(_, given)| *given) {
                return err(
                    format!("{key}.{name}"),
                    format!("`{name}` needs a budget: set budget = \"ratio\" or \"token_bucket\" (it is \"none\")"),
                );
            }
            BudgetSpec::None
        }
        "token_bucket" => {
            only(key, "token_bucket", &budget_keys, &["budget_tokens", "retry_cost", "timeout_cost"])?;
            BudgetSpec::TokenBucket {
                tokens: r.budget_tokens.unwrap_or(500),
                retry_cost: r.retry_cost.unwrap_or(5),
                timeout_cost: r.timeout_cost.unwrap_or(10),
            }
        }
        "ratio" => {
            only(key, "ratio", &budget_keys, &["budget_ratio", "budget_min_per_s", "budget_ttl_s"])?;
            BudgetSpec::Ratio {
                ratio: r.budget_ratio.unwrap_or(0.1),
                min_per_s: r.budget_min_per_s.unwrap_or(1.0),
                ttl_s: r.budget_ttl_s.unwrap_or(10),
            }
        }
        other => {
            return err(
                format!("{key}.budget"),
                format!("\"{other}\" is not allowed (expected none, token_bucket or ratio)"),
            )
        }
    };
    budget.validate().map_err(|c| config_error(key, c))?;
    Ok(LayerSpec::Retry(config, on, budget))
}

fn workload(w: &WorkloadFile) -> Result<Workload, KeyError> {
    let given = [
        ("rate_per_s", w.rate_per_s.is_some()),
        ("burst_rate_per_s", w.burst_rate_per_s.is_some()),
        ("burst_every_s", w.burst_every_s.is_some()),
        ("burst_len_s", w.burst_len_s.is_some()),
        ("from_rate_per_s", w.from_rate_per_s.is_some()),
        ("to_rate_per_s", w.to_rate_per_s.is_some()),
        ("clients", w.clients.is_some()),
        ("think", w.think.is_some()),
    ];
    let need = |k: &str, v: Option<f64>| {
        v.ok_or_else(|| KeyError {
            key: format!("workload.{k}"),
            message: format!("missing (kind \"{}\" needs it)", w.kind),
        })
    };
    let arrivals = match w.kind.as_str() {
        "constant" | "poisson" => {
            only("workload", &w.kind, &given, &["rate_per_s"])?;
            let rate_per_s = need("rate_per_s", w.rate_per_s)?;
            if w.kind == "constant" {
                Arrivals::Constant { rate_per_s }
            } else {
                Arrivals::Poisson { rate_per_s }
            }
        }
        "burst" => {
            only("workload", "burst", &given, &["rate_per_s", "burst_rate_per_s", "burst_every_s", "burst_len_s"])?;
            Arrivals::Burst {
                rate_per_s: need("rate_per_s", w.rate_per_s)?,
                burst_rate_per_s: need("burst_rate_per_s", w.burst_rate_per_s)?,
                burst_every: seconds("workload.burst_every_s", need("burst_every_s", w.burst_every_s)?)?,
                burst_len: seconds("workload.burst_len_s", need("burst_len_s", w.burst_len_s)?)?,
            }
        }
        "ramp" => {
            only("workload", "ramp", &given, &["from_rate_per_s", "to_rate_per_s"])?;
            Arrivals::Ramp {
                from_rate_per_s: need("from_rate_per_s", w.from_rate_per_s)?,
                to_rate_per_s: need("to_rate_per_s", w.to_rate_per_s)?,
            }
        }
        "closed" => {
            only("workload", "closed", &given, &["clients", "think"])?;
            Arrivals::Closed {
                clients: w.clients.ok_or_else(|| KeyError {
                    key: "workload.clients".into(),
                    message: "missing (kind \"closed\" needs it)".into(),
                })?,
                think: w.think.unwrap_or(Dist::Const(Duration::ZERO)),
            }
        }
        other => {
            return err(
                "workload.kind",
                format!("\"{other}\" is not allowed (expected constant, poisson, burst, ramp or closed)"),
            )
        }
    };
    if w.key_skew.is_some() && w.keys.is_none() {
        return err("workload.key_skew", "given without `keys` (the number of distinct keys)");
    }
    let keys = w.keys.map(|count| KeySpace { count, skew: w.key_skew.unwrap_or(1.0) });
    let clients = if w.api_clients.is_some() || w.unauthenticated.is_some() || w.noisy_client_share.is_some() {
        Some(ClientSpace {
            count: w.api_clients.unwrap_or(1),
            unauthenticated: w.unauthenticated.unwrap_or(0.0),
            noisy_share: w.noisy_client_share.unwrap_or(0.0),
        })
    } else {
        None
    };
    let routes = w.routes.iter().map(|(r, share)| (r.clone(), *share)).collect();
    Ok(Workload { target: w.target.clone(), arrivals, keys, clients, routes })
}

fn fault(i: usize, f: &FaultFile) -> Result<Fault, KeyError> {
    let table = format!("faults[{i}]");
    let given = [("rate", f.rate.is_some()), ("add", f.add.is_some()), ("offset_ms", f.offset_ms.is_some())];
    let base = ["kind", "target", "at_s", "duration_s"];
    let with =
        |extra: &'static str| -> Vec<&'static str> { base.iter().copied().chain(std::iter::once(extra)).collect() };
    let need =
        |k: &str| KeyError { key: format!("{table}.{k}"), message: format!("missing (kind \"{}\" needs it)", f.kind) };
    let kind = match f.kind.as_str() {
        "outage" | "partition" | "crash" | "restart" | "pause" => {
            only(&table, &f.kind, &given, &base)?;
            match f.kind.as_str() {
                "outage" => FaultKind::Outage,
                "partition" => FaultKind::Partition,
                "crash" => FaultKind::Crash,
                "restart" => FaultKind::Restart,
                _ => FaultKind::Pause,
            }
        }
        "error_burst" | "packet_loss" => {
            only(&table, &f.kind, &given, &with("rate"))?;
            let rate = f.rate.ok_or_else(|| need("rate"))?;
            if f.kind == "error_burst" {
                FaultKind::ErrorBurst { rate }
            } else {
                FaultKind::PacketLoss { rate }
            }
        }
        "latency_spike" => {
            only(&table, &f.kind, &given, &with("add"))?;
            FaultKind::LatencySpike { add: f.add.ok_or_else(|| need("add"))? }
        }
        "clock_skew" => {
            only(&table, &f.kind, &given, &with("offset_ms"))?;
            FaultKind::ClockSkew { offset_ms: f.offset_ms.ok_or_else(|| need("offset_ms"))? }
        }
        other => {
            return err(
                format!("{table}.kind"),
                format!("\"{other}\" is not allowed (expected one of {})", FaultKind::NAMES),
            )
        }
    };
    let target = Target::parse(&f.target).map_err(|m| KeyError { key: format!("{table}.target"), message: m })?;
    let at = seconds(&format!("{table}.at_s"), f.at_s)?;
    let duration = match f.duration_s {
        Some(d) => Some(seconds(&format!("{table}.duration_s"), d)?),
        None => None,
    };
    Ok(Fault::new(kind, target, at, duration))
}
