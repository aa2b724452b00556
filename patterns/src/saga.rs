//! Orchestrated saga: a business transaction across services as a sequence of local steps, each
//! with a compensation that undoes it; on a failure the completed steps are compensated in
//! reverse order.
//!
//! The orchestrator's state is the saga log, a durable record of what it decided and learned:
//! `Started`, `StepDone(i)`, `StepFailed(i)`, `CompensationDone(i)`, `Finished(outcome)`. The
//! next action is a pure function of the log ([`next_action`]), so an orchestrator that crashed
//! at any point resumes by reading its log and asking again: it re-issues at most the one
//! action it had not yet recorded, which participants must therefore apply idempotently.
//! Compensations are retried until they succeed (a compensation may not fail for good).
//!
//! After a failure every attempted step is compensated, the failed one included: a refused,
//! timed-out, delayed or duplicated action can still take effect after the saga saw it fail (a
//! faultline run found exactly that: a duplicated charge applied after its first copy failed,
//! never refunded). Participants therefore treat a compensation for an action they never
//! applied as a no-op that leaves a tombstone, and refuse the action if it arrives later.

use std::time::Duration;

use crate::service::BoxFuture;

/// One step: an action and the compensation that undoes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Shown in logs, e.g. `reserve_inventory`.
    pub name: &'static str,
    /// The participant service that performs it.
    pub service: &'static str,
    /// The operation sent to do it.
    pub action: &'static str,
    /// The operation sent to undo it.
    pub compensation: &'static str,
}

/// A saga's steps, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SagaDefinition {
    /// Name, e.g. `order`.
    pub name: &'static str,
    /// The steps.
    pub steps: Vec<Step>,
    /// Operations `(service, op)` sent, each retried until it succeeds, once every step is
    /// done and before the saga is recorded completed: e.g. confirming a reservation, which
    /// lifts a semantic lock.
    pub on_complete: Vec<(&'static str, &'static str)>,
}

impl SagaDefinition {
    /// The order saga of the course notes: reserve at `inventory`, charge at `payment`, ship
    /// at `shipping`; compensations release, refund, cancel the shipment.
    pub fn order() -> Self {
        let step = |name, service, action, compensation| Step { name, service, action, compensation };
        SagaDefinition {
            name: "order",
            steps: vec![
                step("reserve_inventory", "inventory", "reserve", "release"),
                step("charge_payment", "payment", "charge", "refund"),
                step("create_shipment", "shipping", "ship", "cancel_shipment"),
            ],
            on_complete: Vec::new(),
        }
    }

    /// The step `service` performs, if any.
    pub fn step_of(&self, service: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.service == service)
    }
}

/// How a saga ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SagaOutcome {
    /// Every step done.
    Completed,
    /// A step failed and every completed step was compensated.
    Compensated,
}

/// One durable record of the saga log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogRecord {
    /// The saga began.
    Started,
    /// Step `i` succeeded.
    StepDone(usize),
    /// Step `i` was refused. It is compensated all the same: a delayed or duplicated copy of
    /// its action may still take effect, and the compensation's tombstone refuses it.
    StepFailed(usize),
    /// Step `i`'s outcome is unknown (it timed out: the participant may have done it). It is
    /// compensated like a done step; compensations must tolerate actions that never happened.
    StepUnknown(usize),
    /// Step `i`'s compensation succeeded.
    CompensationDone(usize),
    /// The saga ended.
    Finished(SagaOutcome),
}

impl LogRecord {
    /// A compact text form for durable storage and event logs.
    pub fn encode(&self) -> String {
        match self {
            LogRecord::Started => "started".into(),
            LogRecord::StepDone(i) => format!("step_done:{i}"),
            LogRecord::StepFailed(i) => format!("step_failed:{i}"),
            LogRecord::StepUnknown(i) => format!("step_unknown:{i}"),
            LogRecord::CompensationDone(i) => format!("compensated:{i}"),
            LogRecord::Finished(SagaOutcome::Completed) => "finished:completed".into(),
            LogRecord::Finished(SagaOutcome::Compensated) => "finished:compensated".into(),
        }
    }

    /// Parses [`LogRecord::encode`]'s form.
    pub fn decode(s: &str) -> Option<LogRecord> {
        let (kind, arg) = s.split_once(':').unwrap_or((s, ""));
        let n = || arg.parse::<usize>().ok();
        Some(match kind {
            "started" => LogRecord::Started,
            "step_done" => LogRecord::StepDone(n()?),
            "step_failed" => LogRecord::StepFailed(n()?),
            "step_unknown" => LogRecord::StepUnknown(n()?),
            "compensated" => LogRecord::CompensationDone(n()?),
            "finished" if arg == "completed" => LogRecord::Finished(SagaOutcome::Completed),
            "finished" if arg == "compensated" => LogRecord::Finished(SagaOutcome::Compensated),
            _ => return None,
        })
    }
}

/// What the orchestrator should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Perform step `i`'s action.
    Do(usize),
    /// Perform step `i`'s compensation.
    Undo(usize),
    /// Record the end.
    Finish(SagaOutcome),
    /// Nothing: the saga has ended.
    Done,
}

/// The next action, from the log alone.
pub fn next_action(def: &SagaDefinition, log: &[LogRecord]) -> Action {
    if log.iter().any(|r| matches!(r, LogRecord::Finished(_))) {
        return Action::Done;
    }
    let done: Vec<usize> =
        log.iter().filter_map(|r| if let LogRecord::StepDone(i) = r { Some(*i) } else { None }).collect();
    let failed = log.iter().any(|r| matches!(r, LogRecord::StepFailed(_) | LogRecord::StepUnknown(_)));
    if !failed {
        let next = done.iter().max().map_or(0, |m| m + 1);
        return if next < def.steps.len() { Action::Do(next) } else { Action::Finish(SagaOutcome::Completed) };
    }
    let undone: Vec<usize> =
        log.iter().filter_map(|r| if let LogRecord::CompensationDone(i) = r { Some(*i) } else { None }).collect();
    // Compensate every step that was attempted (done, failed or unknown), in reverse order:
    // a failed step's action may still arrive late, and its compensation must stop it.
    let mut to_undo: Vec<usize> = log
        .iter()
        .filter_map(|r| {
            if let LogRecord::StepDone(i) | LogRecord::StepUnknown(i) | LogRecord::StepFailed(i) = r {
                Some(*i)
            } else {
                None
            }
        })
        .collect();
    to_undo.sort_unstable();
    match to_undo.iter().rev().find(|i| !undone.contains(i)) {
        Some(i) => Action::Undo(*i),
        None => Action::Finish(SagaOutcome::Compensated),
    }
}

/// The durable saga log port.
pub trait SagaLog: Send + Sync {
    /// Appends a record for saga `id`, durably (synced before it returns).
    fn append(&self, id: u64, record: LogRecord) -> BoxFuture<()>;
    /// The records of saga `id`, in order.
    fn read(&self, id: u64) -> BoxFuture<Vec<LogRecord>>;
    /// Sagas that started and have not finished (to resume after a restart).
    fn unfinished(&self) -> BoxFuture<Vec<u64>>;
}

/// What a participant call established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepResult {
    /// It was applied.
    Done,
    /// It was refused: it was not applied.
    Failed,
    /// No answer (a timeout): it may or may not have been applied.
    Unknown,
    /// Not now: another saga holds what it needs (a semantic lock). Nothing was applied; the
    /// saga asks again later.
    Busy,
}

/// Sends an operation for saga `id` to a participant service.
pub trait Participants: Send + Sync {
    /// Performs `op` at `service` for saga `id`.
    fn perform(&self, service: &'static str, op: &'static str, id: u64) -> BoxFuture<StepResult>;
}

/// Runs (or resumes) saga `id` to its end: reads the log, performs the next action, records
/// the result durably, and repeats. A failed action is recorded as the step's failure (after
/// the participant's own retries, if its stack has them); a busy participant (a semantic lock
/// held by another saga), a failed compensation and a failed `on_complete` operation are tried
/// again every `compensation_retry` until they succeed.
pub async fn run_saga(
    def: &SagaDefinition,
    log: &dyn SagaLog,
    participants: &dyn Participants,
    id: u64,
    compensation_retry: Duration,
) -> SagaOutcome {
    let mut records = log.read(id).await;
    if records.is_empty() {
        log.append(id, LogRecord::Started).await;
        records.push(LogRecord::Started);
    }
    loop {
        let record = match next_action(def, &records) {
            Action::Done => {
                return records
                    .iter()
                    .find_map(|r| if let LogRecord::Finished(o) = r { Some(*o) } else { None })
                    .unwrap_or(SagaOutcome::Compensated);
            }
            Action::Finish(outcome) => {
                if outcome == SagaOutcome::Completed {
                    // Idempotent, so a resumed saga may send them again.
                    for &(service, op) in &def.on_complete {
                        while participants.perform(service, op, id).await != StepResult::Done {
                            tokio::time::sleep(compensation_retry).await;
                        }
                    }
                }
                LogRecord::Finished(outcome)
            }
            Action::Do(i) => {
                let step = &def.steps[i];
                match participants.perform(step.service, step.action, id).await {
                    StepResult::Done => LogRecord::StepDone(i),
                    StepResult::Failed => LogRecord::StepFailed(i),
                    StepResult::Unknown => LogRecord::StepUnknown(i),
                    StepResult::Busy => {
                        tokio::time::sleep(compensation_retry).await;
                        continue;
                    }
                }
            }
            Action::Undo(i) => {
                let step = &def.steps[i];
                match participants.perform(step.service, step.compensation, id).await {
                    StepResult::Done => LogRecord::CompensationDone(i),
                    StepResult::Failed | StepResult::Unknown | StepResult::Busy => {
                        tokio::time::sleep(compensation_retry).await;
                        continue;
                    }
                }
            }
        };
        log.append(id, record).await;
        records.push(record);
    }
}

/// A three-step saga for the tests; `locked`: inventory confirms on completion, as under a
/// semantic lock.
#[cfg(test)]
pub(crate) fn example(locked: bool) -> SagaDefinition {
    let on_complete = if locked { vec![("inventory", "confirm")] } else { Vec::new() };
    SagaDefinition { on_complete, ..SagaDefinition::order() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn order() -> SagaDefinition {
        example(false)
    }

    #[test]
    fn happy_path_and_compensation_order() {
        let def = order();
        use LogRecord::*;
        assert_eq!(next_action(&def, &[Started]), Action::Do(0));
        assert_eq!(
            next_action(&def, &[Started, StepDone(0), StepDone(1), StepDone(2)]),
            Action::Finish(SagaOutcome::Completed)
        );
        let failed = [Started, StepDone(0), StepDone(1), StepFailed(2)];
        assert_eq!(
            next_action(&def, &failed),
            Action::Undo(2),
            "reverse order, the failed step first (it may still take effect)"
        );
        let mut more = failed.to_vec();
        more.push(CompensationDone(2));
        assert_eq!(next_action(&def, &more), Action::Undo(1));
        more.push(CompensationDone(1));
        assert_eq!(next_action(&def, &more), Action::Undo(0));
        more.push(CompensationDone(0));
        assert_eq!(next_action(&def, &more), Action::Finish(SagaOutcome::Compensated));
    }

    fn record() -> impl Strategy<Value = LogRecord> {
        prop_oneof![
            Just(LogRecord::Started),
            (0usize..3).prop_map(LogRecord::StepDone),
            (0usize..3).prop_map(LogRecord::StepFailed),
            (0usize..3).prop_map(LogRecord::StepUnknown),
            (0usize..3).prop_map(LogRecord::CompensationDone),
        ]
    }

    proptest! {
        #[test]
        fn records_round_trip(r in record()) {
            prop_assert_eq!(LogRecord::decode(&r.encode()), Some(r));
        }

        // Driving the log with next_action from any prefix of a run (a resumed orchestrator)
        // ends the same way and never compensates a step that was not done (S2, S4 in the pure).
        #[test]
        fn resuming_from_any_prefix_reaches_the_same_end(fail_at in proptest::option::of(0usize..3), unknown in any::<bool>(), cut in 0usize..12) {
            let def = order();
            let run = |mut log: Vec<LogRecord>| {
                let mut undone = Vec::new();
                for _ in 0..20 {
                    let r = match next_action(&def, &log) {
                        Action::Done => break,
                        Action::Finish(o) => LogRecord::Finished(o),
                        Action::Do(i) if Some(i) == fail_at && unknown => LogRecord::StepUnknown(i),
                        Action::Do(i) if Some(i) == fail_at => LogRecord::StepFailed(i),
                        Action::Do(i) => LogRecord::StepDone(i),
                        Action::Undo(i) => { undone.push(i); LogRecord::CompensationDone(i) }
                    };
                    log.push(r);
                }
                (log, undone)
            };
            let (full, undone) = run(vec![LogRecord::Started]);
            let resumed = run(full[..cut.min(full.len())].to_vec()).0;
            prop_assert_eq!(full.last(), resumed.last());
            let attempted: Vec<usize> = full
                .iter()
                .filter_map(|r| if let LogRecord::StepDone(i) | LogRecord::StepUnknown(i) | LogRecord::StepFailed(i) = r { Some(*i) } else { None })
                .collect();
            let mut expected = if fail_at.is_some() { attempted.clone() } else { Vec::new() };
            expected.reverse();
            prop_assert_eq!(undone, expected, "compensations: exactly the attempted steps, in reverse, and only after a failure");
        }
    }
}
