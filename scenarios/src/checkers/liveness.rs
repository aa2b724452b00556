//! Checkers of progress and of side effects: `stall` (the watchdog saw requests in flight and
//! none completing: "quiet but work pending", a deadlock or a lost wake-up) and `exactly_once`
//! (a service that must execute each request once executed one twice: a double charge).

use std::collections::BTreeMap;
use std::sync::Arc;

use faultline_sim::{EventKind, Logged};

use super::{Findings, Invariant, Monitor, Violation};

const STALL: &[Invariant] =
    &[Invariant { id: "stall", statement: "while requests are in flight, some complete (no stall)" }];
const EXACTLY_ONCE: &[Invariant] = &[Invariant {
    id: "exactly_once",
    statement: "a service with exactly_once_check executes each request at most once",
}];

/// Reads the watchdog's `sim.stall` events.
#[derive(Debug, Default)]
pub struct Stall {
    found: Vec<Violation>,
}

impl Monitor for Stall {
    fn invariants(&self) -> &'static [Invariant] {
        STALL
    }

    fn on_event(&mut self, e: &Logged<'_>) {
        if let EventKind::Stall { inflight, quiet_s, oldest_us } = e.kind {
            let detail = format!(
                "stall at {:.1} s: {inflight} requests in flight, none completed for {quiet_s} s (oldest started at {:.1} s)",
                e.t_us as f64 / 1e6,
                *oldest_us as f64 / 1e6
            );
            self.found.push(Violation::at("stall", e, detail));
        }
    }

    fn finish(&mut self, findings: &mut Findings) {
        findings.violations.append(&mut self.found);
    }
}

/// Counts successful executions per (service, request) from `service.executed` events.
#[derive(Debug, Default)]
pub struct ExactlyOnce {
    executions: BTreeMap<(Arc<str>, u64), u32>,
    found: Vec<Violation>,
}

impl Monitor for ExactlyOnce {
    fn invariants(&self) -> &'static [Invariant] {
        EXACTLY_ONCE
    }

    fn on_event(&mut self, e: &Logged<'_>) {
        if let EventKind::Executed { service, request } = e.kind {
            let n = self.executions.entry((service.clone(), *request)).or_insert(0);
            *n += 1;
            if *n == 2 {
                let detail = format!("{service} executed request {request} more than once (a duplicate side effect)");
                self.found.push(Violation::at("exactly_once", e, detail));
            }
        }
    }

    fn finish(&mut self, findings: &mut Findings) {
        findings.violations.append(&mut self.found);
    }
}
