//! faultline's testbed on top of madsim: seeded runs of simulated services, networks, faults
//! and workloads, recorded as typed records, rows, aggregates and a fingerprint.
//!
//! Where to start:
//! - [`spec`]: what to simulate ([`SimSpec`], built with [`SimSpec::builder`]).
//! - [`run_unchecked`]: run a spec for one seed on a fresh thread; records stream to a
//!   [`RecordSink`]. It checks nothing: `faultline_scenarios::execute` runs a scenario with
//!   every checker that applies and returns its [`verdict::Verdict`].
//! - [`event`]: the typed events of the event log; [`verdict`]: what checkers conclude.
//! - [`fault`], [`workload`], [`dist`]: the data a spec is made of.
//! - [`record`]: request and event rows, the fingerprint, per-edge summaries; [`levels`]: the
//!   levels patterns hold (bulkhead permits, calls in flight), the most per time bin.
//! - [`call`]: the request/error types on a call edge and the [`EdgeStack`] hook that puts
//!   patterns on it.
//!
//! Inside: [`rng`] derives every random stream from `(seed, label)`; `kernel` is what every
//! run has (the shared world, the transport, replicas, faults, the workload); `apps` are the
//! applications on nodes (sagas, outbox, broker, event store...), behind one trait; [`store`]
//! is the per-node durable store. `run` is the one place that joins the two.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

// The simulator is madsim: without `--cfg madsim` the madsim crates are the real runtime and
// nothing below compiles. Say why first.
#[cfg(not(any(madsim, doc)))]
compile_error!(
    "faultline needs the simulation build: add `--cfg madsim` to RUSTFLAGS, e.g. in .cargo/config.toml: [build] rustflags = [\"--cfg\", \"madsim\"] (see faultline's docs/testing.md)"
);

mod apps;
pub mod call;
pub mod dist;
pub mod event;
pub mod fault;
mod kernel;
pub mod levels;
pub mod record;
pub mod rng;
mod run;
pub mod spec;
pub mod stats;
pub mod store;
pub mod verdict;
pub mod workload;

pub use call::{Bare, CallError, CallRequest, EdgeContext, EdgeService, EdgeStack, Meta, Op, Served};
pub use dist::Dist;
pub use event::{Event, EventKind, Logged, OwnedEvent};
pub use fault::{Fault, FaultEffect, FaultKind, FaultPlan, FaultWindow, Target};
pub use record::{EdgeSummary, MemorySink, NullSink, Outcome, RecordSink};
pub use run::{
    madsim_config, run_unchecked, run_with_probe, series_bin, simulate, Probe, RunError, RunOutput, ServiceSummary,
    SimHandle,
};
pub use spec::{
    AppSpec, GatewaySpec, LinkModel, NetworkSpec, OutboxMode, ParticipantSpec, Relay, ServiceSpec, SimBuilder, SimSpec,
    SpecError, CLIENT,
};
pub use verdict::{Execution, Measures, Verdict};
pub use workload::{Arrivals, ClientSpace, KeySpace, RouteStep, Workload};
