//! faultline's testbed on top of madsim: seeded runs of simulated services, networks, faults
//! and workloads, recorded as rows, aggregates and a fingerprint.
//!
//! Where to start:
//! - [`spec`]: what to simulate ([`SimSpec`], built with [`SimSpec::builder`]).
//! - [`run_unchecked`]: run a spec for one seed on a fresh thread; records stream to a
//!   [`RecordSink`]. It checks nothing: `faultline_scenarios::execute` runs a scenario with
//!   every checker that applies and returns its [`verdict::Verdict`].
//! - [`event`]: the typed events of the event log; [`verdict`]: what checkers conclude.
//! - [`fault`], [`workload`], [`dist`]: the data a spec is made of.
//! - [`record`]: request and event rows, the fingerprint, per-edge summaries.
//! - [`call`]: the request/error types on a call edge and the [`EdgeStack`] hook that puts
//!   patterns on it.
//!
//! Inside: [`rng`] derives every random stream from `(seed, label)`; `world` holds a run's
//! shared state; `net` is the transport over madsim endpoints; `server` is a service replica;
//! [`store`] is the per-node durable store.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod cache;
pub mod call;
mod choreography;
pub mod dist;
pub mod event;
mod event_store;
pub mod fault;
mod net;
mod outbox;
pub mod record;
pub mod rng;
mod run;
mod saga;
mod server;
pub mod spec;
pub mod stats;
pub mod store;
pub mod verdict;
pub mod workload;
mod world;

pub use call::{Bare, CallError, CallRequest, EdgeContext, EdgeService, EdgeStack, Meta, Op, Served};
pub use dist::Dist;
pub use event::{Event, EventKind, Logged, OwnedEvent};
pub use fault::{Fault, FaultKind, FaultPlan, FaultWindow, Target};
pub use record::{EdgeSummary, MemorySink, NullSink, Outcome, RecordSink};
pub use run::{
    madsim_config, run_unchecked, run_with_probe, series_bin, simulate, Probe, RunError, RunOutput, ServiceSummary,
    SimHandle,
};
pub use spec::{
    AppSpec, GatewaySpec, LinkModel, NetworkSpec, OutboxMode, Relay, ServiceSpec, SimBuilder, SimSpec, SpecError,
    CLIENT,
};
pub use verdict::{Execution, Measures, Verdict};
pub use workload::{Arrivals, ClientSpace, KeySpace, Workload};
pub use world::World;
