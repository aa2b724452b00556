//! faultline's whole-system tests: one binary, a module per area. Shared fixtures are in
//! `support`. Every test prints the seed it used when it fails (the assertion messages do).

mod support;

mod cli;
mod consistency;
mod contention;
mod course;
mod cqrs;
mod defects;
mod determinism;
mod expectations;
mod experiments;
mod faults;
mod memory;
mod network;
mod patterns;
mod properties;
mod queueing;
mod replay;
mod report;
mod scenario_files;
mod shrink;
mod swarm;
mod verdicts;
mod workloads;
