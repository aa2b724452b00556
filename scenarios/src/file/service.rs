//! `[services.NAME]`: a service's own keys, and its application's (chosen by `app`).

use std::collections::BTreeMap;

use faultline_patterns::health::ProbeConfig;
use faultline_patterns::rate_limiter::RateLimitConfig;
use faultline_patterns::retry::{Backoff, Jitter, RetryConfig};
use faultline_sim::{AppSpec, Dist, GatewaySpec, OutboxMode, ParticipantSpec, Relay, ServiceSpec};
use serde::Deserialize;
use toml::Table;

use crate::read::de::{err, KeyError, Parts};
use crate::read::units::{Millis, Names, Num, Probability};

/// The keys every service has.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceFile {
    replicas: Option<u32>,
    service_time: Option<Dist>,
    concurrency: Option<u32>,
    queue: Option<u32>,
    error_rate: Option<Probability>,
    #[serde(default)]
    calls: Names,
    #[serde(default)]
    readiness: Names,
    readiness_period_ms: Option<Millis>,
    parallel: Option<bool>,
    #[serde(default)]
    optional: Names,
    gateway: Option<GatewayFile>,
    startup_ms: Option<Millis>,
    liveness: Option<LivenessFile>,
    register: Option<RegisterFile>,
    idempotency: Option<bool>,
    exactly_once_check: Option<bool>,
    #[serde(default)]
    routes: BTreeMap<String, Names>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterFile {
    heartbeat_ms: Option<Millis>,
    ttl_ms: Option<Millis>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LivenessFile {
    period_ms: Option<Millis>,
    timeout_ms: Option<Millis>,
    failure_threshold: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GatewayFile {
    auth: Option<bool>,
    client_rate_per_s: Option<Num>,
    client_burst: Option<u32>,
}

/// The application a service runs (`app = "..."`), each with its keys.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum AppFile {
    None {},
    OrderSaga {
        saga_compensate: Option<bool>,
        semantic_lock: Option<bool>,
    },
    SagaParticipant {
        decline_every: Option<u64>,
        stock: Option<u64>,
        non_idempotent: Option<Vec<String>>,
    },
    SagaChoreography {
        saga_compensate: Option<bool>,
        semantic_lock: Option<bool>,
        decline_every: Option<u64>,
        stock: Option<u64>,
        non_idempotent: Option<Vec<String>>,
    },
    Outbox {
        outbox_mode: Option<OutboxModeName>,
        relay_parallel: Option<bool>,
        relay: Option<RelayName>,
    },
    Broker {
        partitions: Option<u32>,
    },
    Consumer {
        dedup: Option<bool>,
    },
    EventStore {
        version_check: Option<bool>,
    },
    EsWriter {
        conflict_attempts: Option<u32>,
        conflict_backoff: Option<ConflictBackoffFile>,
    },
    Account {
        snapshot_every: Option<u32>,
        snapshot_off_by_one: Option<bool>,
        read_only: Option<bool>,
    },
    Projector {
        projection_batch: Option<u32>,
        projection_atomic: Option<bool>,
    },
}

/// An event-store writer's wait after a conflict: exponential from `base_ms` to `cap_ms`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConflictBackoffFile {
    base_ms: Millis,
    cap_ms: Option<Millis>,
    jitter: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum OutboxModeName {
    Outbox,
    DualWriteCommitFirst,
    DualWritePublishFirst,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
enum RelayName {
    Polling,
    LogTailing,
}

/// Every service, in name order.
pub(super) fn read_all(services: &BTreeMap<String, Table>) -> Result<Vec<ServiceSpec>, KeyError> {
    let orchestrators: Vec<&str> = services
        .iter()
        .filter(|(_, t)| t.get("app").and_then(|a| a.as_str()) == Some("order_saga"))
        .map(|(n, _)| n.as_str())
        .collect();
    let called_by_orchestrator = |name: &str| {
        orchestrators.iter().any(|o| {
            services[*o]
                .get("calls")
                .and_then(|c| c.as_array())
                .is_some_and(|c| c.iter().any(|x| x.as_str() == Some(name)))
        })
    };
    services.iter().map(|(name, table)| read(name, table.clone(), called_by_orchestrator(name))).collect()
}

/// One service. `orchestrated`: an order saga calls it (so participant keys without an `app`
/// make it a saga participant, as they always have).
fn read(name: &str, table: Table, orchestrated: bool) -> Result<ServiceSpec, KeyError> {
    let key = format!("services.{name}");
    let participant_keys = ["decline_every", "stock", "non_idempotent"];
    let given = participant_keys.iter().find(|k| table.contains_key(**k)).copied();
    let mut parts = Parts::new::<ServiceFile>(key.clone(), table);
    let default_app = match given {
        Some(k) if !parts.has("app") && !orchestrated => {
            return err(
                format!("{key}.{k}"),
                format!(
                    "`{k}` is for saga participants: a service an order_saga calls, or one with app saga_choreography"
                ),
            )
        }
        Some(_) => "saga_participant",
        None => "none",
    };
    let app: AppFile = parts.take_tagged("app", default_app)?;
    let s: ServiceFile = parts.rest()?;
    let mut spec = ServiceSpec::new(name);
    spec.app = app_spec(&key, app)?;
    spec.replicas = s.replicas.unwrap_or(spec.replicas);
    spec.service_time = s.service_time.unwrap_or(spec.service_time);
    spec.concurrency = s.concurrency.unwrap_or(spec.concurrency);
    spec.queue = s.queue.unwrap_or(spec.queue);
    spec.error_rate = s.error_rate.map_or(spec.error_rate, |p| p.0);
    spec.calls = s.calls.0;
    spec.readiness = s.readiness.0;
    spec.parallel = s.parallel.unwrap_or(false);
    spec.optional = s.optional.0;
    spec.routes = s.routes.into_iter().map(|(r, n)| (r, n.0)).collect();
    spec.idempotency = s.idempotency.unwrap_or(false);
    spec.exactly_once_check = s.exactly_once_check.unwrap_or(false);
    spec.startup = s.startup_ms.map_or(spec.startup, |m| m.0);
    spec.readiness_period = s.readiness_period_ms.map_or(spec.readiness_period, |m| m.0);
    spec.register = s.register.map(|r| {
        (
            r.heartbeat_ms.map_or(std::time::Duration::from_secs(1), |m| m.0),
            r.ttl_ms.map_or(std::time::Duration::from_secs(3), |m| m.0),
        )
    });
    spec.liveness = s.liveness.map(|l| {
        let d = ProbeConfig::default();
        ProbeConfig {
            period: l.period_ms.map_or(d.period, |m| m.0),
            timeout: l.timeout_ms.map_or(d.timeout, |m| m.0),
            failure_threshold: l.failure_threshold.unwrap_or(d.failure_threshold),
            success_threshold: 1,
        }
    });
    spec.gateway = s.gateway.map(|g| GatewaySpec {
        auth: g.auth.unwrap_or(true),
        per_client: g.client_rate_per_s.map(|rate| RateLimitConfig {
            rate_per_s: rate.0,
            burst: g.client_burst.unwrap_or(1),
            ..RateLimitConfig::default()
        }),
    });
    Ok(spec)
}

fn participant(decline_every: Option<u64>, stock: Option<u64>, non_idempotent: Option<Vec<String>>) -> ParticipantSpec {
    ParticipantSpec { decline_every, stock, non_idempotent: non_idempotent.unwrap_or_default() }
}

fn app_spec(key: &str, app: AppFile) -> Result<Option<AppSpec>, KeyError> {
    Ok(Some(match app {
        AppFile::None {} => return Ok(None),
        AppFile::OrderSaga { saga_compensate, semantic_lock } => AppSpec::OrderSaga {
            compensate: saga_compensate.unwrap_or(true),
            semantic_lock: semantic_lock.unwrap_or(false),
        },
        AppFile::SagaParticipant { decline_every, stock, non_idempotent } => {
            AppSpec::SagaParticipant(participant(decline_every, stock, non_idempotent))
        }
        AppFile::SagaChoreography { saga_compensate, semantic_lock, decline_every, stock, non_idempotent } => {
            AppSpec::SagaChoreography {
                compensate: saga_compensate.unwrap_or(true),
                semantic_lock: semantic_lock.unwrap_or(false),
                participant: participant(decline_every, stock, non_idempotent),
            }
        }
        AppFile::Outbox { outbox_mode, relay_parallel, relay } => {
            if relay == Some(RelayName::LogTailing) && relay_parallel == Some(true) {
                return err(
                    format!("{key}.relay_parallel"),
                    "true is not allowed with relay = \"log_tailing\" (a log tailer reads one entry at a time; expected false)",
                );
            }
            AppSpec::Outbox {
                mode: match outbox_mode {
                    None | Some(OutboxModeName::Outbox) => OutboxMode::Outbox,
                    Some(OutboxModeName::DualWriteCommitFirst) => OutboxMode::DualWriteCommitFirst,
                    Some(OutboxModeName::DualWritePublishFirst) => OutboxMode::DualWritePublishFirst,
                },
                relay_parallel: relay_parallel.unwrap_or(false),
                relay: if relay == Some(RelayName::LogTailing) { Relay::LogTailing } else { Relay::Polling },
            }
        }
        AppFile::Broker { partitions } => AppSpec::Broker { partitions: partitions.unwrap_or(4) },
        AppFile::Consumer { dedup } => AppSpec::Consumer { dedup: dedup.unwrap_or(true) },
        AppFile::EventStore { version_check } => AppSpec::EventStore { version_check: version_check.unwrap_or(true) },
        AppFile::EsWriter { conflict_attempts, conflict_backoff } => {
            AppSpec::EsWriter { conflict: conflict_config(key, conflict_attempts, conflict_backoff)? }
        }
        AppFile::Account { snapshot_every, snapshot_off_by_one, read_only } => AppSpec::Account {
            snapshot_every: snapshot_every.unwrap_or(0),
            snapshot_off_by_one: snapshot_off_by_one.unwrap_or(false),
            read_only: read_only.unwrap_or(false),
        },
        AppFile::Projector { projection_batch, projection_atomic } => {
            AppSpec::Projector { batch: projection_batch.unwrap_or(16), atomic: projection_atomic.unwrap_or(true) }
        }
    }))
}

/// An event-store writer's conflict handling: `conflict_attempts` (default 10) and the backoff
/// (none by default: it reads again at once).
fn conflict_config(
    key: &str,
    attempts: Option<u32>,
    backoff: Option<ConflictBackoffFile>,
) -> Result<RetryConfig, KeyError> {
    let none = (Backoff::Fixed { delay: std::time::Duration::ZERO }, Jitter::None);
    let (backoff, jitter) = match backoff {
        None => none,
        Some(b) => {
            let jitter = match b.jitter.as_deref() {
                None => Jitter::Full,
                Some(j) => Jitter::parse(j).map_err(|c| KeyError {
                    key: format!("{key}.conflict_backoff.jitter"),
                    message: format!("{} is not allowed (expected {})", c.value, c.allowed),
                })?,
            };
            let cap = b.cap_ms.map_or(RetryConfig::DEFAULT_CAP, |m| m.0);
            (Backoff::Exponential { base: b.base_ms.0, cap }, jitter)
        }
    };
    let config = RetryConfig { max_attempts: attempts.unwrap_or(10), backoff, jitter };
    config.validate().map_err(|c| {
        let name = match c.key {
            "max_attempts" => "conflict_attempts".to_owned(),
            other => format!("conflict_backoff.{other}"),
        };
        KeyError {
            key: format!("{key}.{name}"),
            message: format!("{} is not allowed (expected {})", c.value, c.allowed),
        }
    })
}
