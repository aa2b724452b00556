//! The simulator's kernel: what every run has, whatever its services do.
//!
//! - [`world`]: the thin shared state of a run (nodes, faults in force, stores, the recorder);
//! - [`net`]: the transport and the link model's effect on each message; [`inbox`]: the
//!   messages in flight to a node, each delivered at its arrival time;
//! - [`edge`]: a node's pattern stack per dependency, and the recording of each call and
//!   attempt; [`current`]: the call being made, which the events of its patterns name;
//! - [`replica`]: a service replica (gateway duties, admission, service time, errors,
//!   idempotency, the generic work of calling dependencies);
//! - [`app`]: the one trait an application on a node implements (the applications themselves
//!   are in the `apps` module; the kernel knows none of them);
//! - [`boot`]: what a node runs when it starts; [`lifecycle`]: its crash, restart and pause;
//!   [`faults`]: the fault plan's scheduler;
//! - [`driver`]: the workload; [`supervisor`]: liveness restarts; [`watchdog`]: stalls and
//!   madsim's task list; [`output`]: what a run returns besides its rows; [`timer`]: exact
//!   sleeps (madsim's own wait at least 1 ms).

pub(crate) mod app;
pub(crate) mod boot;
pub(crate) mod current;
pub(crate) mod driver;
pub(crate) mod edge;
pub(crate) mod envelope;
pub(crate) mod faults;
pub(crate) mod inbox;
pub(crate) mod lifecycle;
pub(crate) mod net;
pub(crate) mod output;
pub(crate) mod replica;
pub(crate) mod supervisor;
pub(crate) mod timer;
pub(crate) mod timers;
pub(crate) mod watchdog;
pub(crate) mod world;
