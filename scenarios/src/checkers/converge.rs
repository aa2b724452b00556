//! The liveness phase: once every fault has healed, the system must come back within a budget.
//! Safety checks say nothing went wrong; this one says the system did not stay wrong: a breaker
//! still open at the end though its callee healed long ago, or clients still failing more than
//! before the first fault, is a system that does not converge.
//!
//! Judged from the run's own records: client calls (`requests.csv`'s rows with no parent) started
//! after `heal + budget` and before the workload stopped, against those started before the first
//! fault; breaker state events per node; a read model's lag (appended events not yet projected)
//! at the end. (Sagas left unfinished, outboxes not drained and stuck backlogs are already S1,
//! O1 and `stall`, judged at the end of the run.)

use std::collections::BTreeMap;

use faultline_sim::event::EventKind;
use faultline_sim::record::{Outcome, RequestRecord};
use faultline_sim::Logged;

use super::{Findings, Invariant, Monitor, Nodes, Place};

const CONVERGE: &[Invariant] = &[Invariant {
    id: "converge",
    statement: "within the liveness budget after the last fault heals, no breaker stays open, clients fail no more than before the faults, and a read model catches up",
}];

/// Client requests before the first fault needed to judge the failure rate after the phase.
const MIN_BASELINE: u64 = 20;

/// The times the phase is judged by, µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase {
    /// The first fault starts.
    pub first_fault_us: u64,
    /// The last fault has healed.
    pub healed_us: u64,
    /// How long the system may take to come back.
    pub budget_us: u64,
    /// The workload stops.
    pub workload_end_us: u64,
}

/// Checks that the system converges after its faults heal.
pub struct Converge {
    phase: Phase,
    before: (u64, u64),
    after: (u64, u64),
    first_failure_after: Option<(u64, u64, Outcome)>,
    breakers: BTreeMap<String, (String, Place)>,
    end: Option<Place>,
    nodes: Nodes,
    /// A read model: the log's head, the projector's checkpoint, and where the last of either was.
    read_model: Option<(u64, u64, Place)>,
}

impl Converge {
    /// A check of `phase`.
    pub fn new(phase: Phase) -> Self {
        Converge {
            phase,
            before: (0, 0),
            after: (0, 0),
            first_failure_after: None,
            breakers: BTreeMap::new(),
            end: None,
            nodes: Nodes::default(),
            read_model: None,
        }
    }
}

fn failed(o: Outcome) -> bool {
    !matches!(o, Outcome::Ok | Outcome::Partial | Outcome::Fallback | Outcome::Unfinished)
}

impl Monitor for Converge {
    fn invariants(&self) -> &'static [Invariant] {
        CONVERGE
    }

    fn on_request(&mut self, r: &RequestRecord) {
        if r.parent != 0 || r.outcome == Outcome::Unfinished {
            return;
        }
        let p = self.phase;
        let bad = u64::from(failed(r.outcome));
        if r.start_us < p.first_fault_us {
            self.before = (self.before.0 + bad, self.before.1 + 1);
        } else if r.start_us >= p.healed_us + p.budget_us && r.start_us < p.workload_end_us {
            self.after = (self.after.0 + bad, self.after.1 + 1);
            if bad == 1 && self.first_failure_after.is_none_or(|(t, _, _)| r.start_us < t) {
                self.first_failure_after = Some((r.start_us, r.id, r.outcome));
            }
        }
    }

    fn on_event(&mut self, e: &Logged<'_>) {
        match e.kind {
            EventKind::Pattern(p) if p.pattern == "breaker" => {
                let place = self.nodes.place(e);
                self.breakers.insert(e.node.to_owned(), (p.kind.to_string(), place));
            }
            EventKind::RunEnd { .. } => self.end = Some(self.nodes.place(e)),
            EventKind::EsAppend { position, .. } | EventKind::ProjectionApply { position, .. } => {
                let place = self.nodes.place(e);
                let (head, checkpoint, _) = self.read_model.take().unwrap_or((0, 0, place.clone()));
                let appended = matches!(e.kind, EventKind::EsAppend { .. });
                let (head, checkpoint) =
                    if appended { (head.max(*position), checkpoint) } else { (head, checkpoint.max(*position)) };
                self.read_model = Some((head, checkpoint, place));
            }
            _ => {}
        }
    }

    fn finish(&mut self, findings: &mut Findings) {
        let p = self.phase;
        let s = |us: u64| us as f64 / 1e6;
        let Some(end) = self.end.clone() else { return };
        let settled = p.healed_us + p.budget_us;
        for (node, (state, place)) in &self.breakers {
            let open = matches!(state.as_str(), "open" | "half_open" | "forced_open");
            if open && end.t_us > settled && place.t_us < end.t_us {
                findings.violations.push(place.violation(
                    "converge",
                    format!(
                        "the breaker on {node} went {state} at {:.3} s and stayed so to the end ({:.3} s), though every fault had healed at {:.3} s",
                        s(place.t_us),
                        s(end.t_us),
                        s(p.healed_us)
                    ),
                ));
            }
        }
        if let Some((head, checkpoint, place)) = &self.read_model {
            if head > checkpoint && end.t_us > settled {
                findings.violations.push(place.violation(
                    "converge",
                    format!(
                        "the read model was still {} events behind at the end ({:.3} s), though every fault had healed at {:.3} s",
                        head - checkpoint,
                        s(end.t_us),
                        s(p.healed_us)
                    ),
                ));
            }
        }
        let judged = self.before.1 >= MIN_BASELINE;
        let share = |(bad, all): (u64, u64)| if all == 0 { 0.0 } else { bad as f64 / all as f64 };
        let (base, now) = (share(self.before), share(self.after));
        let allowed = (2.0 * base).max(base + 0.02);
        if self.after.1 > 0 && judged && now > allowed {
            let (t, id, outcome) = self.first_failure_after.unwrap_or((0, 0, Outcome::Error));
            findings.violations.push(end.violation(
                "converge",
                format!(
                    "{:.1}% of client requests failed after the faults healed at {:.3} s and the {:.1} s budget ({} of {}; the first: request {id} at {:.3} s, {}), against {:.1}% before the first fault",
                    now * 100.0,
                    s(p.healed_us),
                    s(p.budget_us),
                    self.after.0,
                    self.after.1,
                    s(t),
                    outcome.as_str(),
                    base * 100.0
                ),
            ));
        }
        if self.after.1 > 0 && !judged {
            findings.warnings.push(format!(
                "converge: clients not judged: only {} client requests started before the first fault ({:.1} s), too few to compare with",
                self.before.1,
                s(p.first_fault_us)
            ));
        }
        let found_any = findings.violations.iter().any(|v| v.checker == "converge");
        if self.after.1 == 0 && !found_any {
            findings.warnings.push(format!(
                "converge: untested: no client request started between the faults' healing plus the budget ({:.1} s) and the end of the workload ({:.1} s)",
                s(settled),
                s(p.workload_end_us)
            ));
        }
    }
}
