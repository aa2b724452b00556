//! The built-in scenarios, compiled into the binary from `scenarios/catalog/*.toml`.

/// (name, file text), in the order `faultline list` shows them.
const ENTRIES: &[(&str, &str)] = &[
    ("shop-outage", include_str!("../catalog/shop-outage.toml")),
    ("shop-outage-resilient", include_str!("../catalog/shop-outage-resilient.toml")),
    ("shop-outage-breaker", include_str!("../catalog/shop-outage-breaker.toml")),
    ("shop", include_str!("../catalog/shop.toml")),
    ("shop-resilient", include_str!("../catalog/shop-resilient.toml")),
    ("billing", include_str!("../catalog/billing.toml")),
    ("product-page", include_str!("../catalog/product-page.toml")),
    ("product-page-fallback", include_str!("../catalog/product-page-fallback.toml")),
    ("tail-latency", include_str!("../catalog/tail-latency.toml")),
    ("tail-latency-hedged", include_str!("../catalog/tail-latency-hedged.toml")),
    ("overload", include_str!("../catalog/overload.toml")),
    ("overload-throttled", include_str!("../catalog/overload-throttled.toml")),
    ("overload-adaptive", include_str!("../catalog/overload-adaptive.toml")),
    ("overload-rate-limited", include_str!("../catalog/overload-rate-limited.toml")),
    ("retry-storm", include_str!("../catalog/retry-storm.toml")),
    ("retry-storm-budget", include_str!("../catalog/retry-storm-budget.toml")),
    ("metastable", include_str!("../catalog/metastable.toml")),
    ("chaos-drill", include_str!("../catalog/chaos-drill.toml")),
    ("bad-replicas", include_str!("../catalog/bad-replicas.toml")),
    ("bad-replicas-balanced", include_str!("../catalog/bad-replicas-balanced.toml")),
    ("shared-dependency", include_str!("../catalog/shared-dependency.toml")),
    ("shared-dependency-fail-open", include_str!("../catalog/shared-dependency-fail-open.toml")),
    ("deadline-chain", include_str!("../catalog/deadline-chain.toml")),
    ("deadline-chain-propagated", include_str!("../catalog/deadline-chain-propagated.toml")),
    ("stuck-replica", include_str!("../catalog/stuck-replica.toml")),
    ("stuck-replica-liveness", include_str!("../catalog/stuck-replica-liveness.toml")),
    ("stuck-replica-discovery", include_str!("../catalog/stuck-replica-discovery.toml")),
    ("payment-duplicates", include_str!("../catalog/payment-duplicates.toml")),
    ("payment-idempotent", include_str!("../catalog/payment-idempotent.toml")),
    ("outbox", include_str!("../catalog/outbox.toml")),
    ("order-flow-sync", include_str!("../catalog/order-flow-sync.toml")),
    ("order-flow-async", include_str!("../catalog/order-flow-async.toml")),
    ("duplicate-storm", include_str!("../catalog/duplicate-storm.toml")),
    ("concurrent-writers", include_str!("../catalog/concurrent-writers.toml")),
    ("account-snapshots", include_str!("../catalog/account-snapshots.toml")),
    ("cqrs-write-model", include_str!("../catalog/cqrs-write-model.toml")),
    ("cqrs-read-model", include_str!("../catalog/cqrs-read-model.toml")),
    ("account-crud", include_str!("../catalog/account-crud.toml")),
    ("account-events", include_str!("../catalog/account-events.toml")),
    ("occ-herd", include_str!("../catalog/occ-herd.toml")),
    ("projection-lag", include_str!("../catalog/projection-lag.toml")),
    ("order-saga", include_str!("../catalog/order-saga.toml")),
    ("order-saga-participant-crash", include_str!("../catalog/order-saga-participant-crash.toml")),
    ("order-saga-compensation-failure", include_str!("../catalog/order-saga-compensation-failure.toml")),
    ("order-saga-choreography", include_str!("../catalog/order-saga-choreography.toml")),
    ("order-saga-hot-items", include_str!("../catalog/order-saga-hot-items.toml")),
    ("order-saga-semantic-lock", include_str!("../catalog/order-saga-semantic-lock.toml")),
    ("herd", include_str!("../catalog/herd.toml")),
    ("strangler-fig", include_str!("../catalog/strangler-fig.toml")),
    ("strangler-fig-migration", include_str!("../catalog/strangler-fig-migration.toml")),
    ("mesh-library", include_str!("../catalog/mesh-library.toml")),
    ("mesh-sidecar", include_str!("../catalog/mesh-sidecar.toml")),
    ("product-db", include_str!("../catalog/product-db.toml")),
    ("product-cache-aside", include_str!("../catalog/product-cache-aside.toml")),
    ("api-gateway", include_str!("../catalog/api-gateway.toml")),
    ("api-gateway-composed", include_str!("../catalog/api-gateway-composed.toml")),
    ("gateway-routes", include_str!("../catalog/gateway-routes.toml")),
    ("flaky-network", include_str!("../catalog/flaky-network.toml")),
    ("crash-restart", include_str!("../catalog/crash-restart.toml")),
    ("chain3", include_str!("../catalog/chain3.toml")),
    ("mm1", include_str!("../catalog/mm1.toml")),
];

/// The text of a built-in scenario.
pub fn get(name: &str) -> Option<&'static str> {
    ENTRIES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Every built-in name, in catalog order.
pub fn names() -> Vec<String> {
    ENTRIES.iter().map(|(n, _)| (*n).to_owned()).collect()
}

/// Planted bugs in catalog scenarios, each caught by a checker: (scenario, the `--set` that
/// plants it, what catches it). `tests/verdicts.rs` runs each.
pub const PLANTED_BUGS: &[(&str, &str, &str)] = &[
    ("outbox", "services.orders.outbox_mode=dual_write_commit_first", "O1 (lost events) and O3"),
    ("outbox", "services.orders.outbox_mode=dual_write_publish_first", "O1 (phantom events)"),
    ("outbox", "services.shipping.dedup=false", "O2 (applied twice)"),
    ("outbox", "services.orders.relay_parallel=true", "O3 (order lost)"),
    ("order-saga", "services.orders.saga_compensate=false", "S2 (compensations never sent)"),
    ("order-saga", "services.payment.non_idempotent=[\"refund\"]", "S3"),
    ("order-saga-choreography", "services.inventory.saga_compensate=false", "S1 (failures ignored)"),
    ("projection-lag", "services.projector.projection_atomic=false", "E3"),
    ("account-snapshots", "services.accounts.snapshot_off_by_one=true", "E1"),
    ("concurrent-writers", "services.store.version_check=false", "E2"),
];

/// Scenarios that fail a check on purpose (they show what a checker catches).
pub const FAILING_ON_PURPOSE: &[&str] = &["payment-duplicates"];

/// The scenario the bare `faultline` command demonstrates: no patterns, retry + timeout, and
/// retry + breaker + timeout, on the same seed and faults.
pub const DEMO: [&str; 3] = ["shop-outage", "shop-outage-resilient", "shop-outage-breaker"];
