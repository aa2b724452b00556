//! The saga a run's order saga follows (`app = "order_saga"` and `app = "saga_choreography"`):
//! a definition the scenario gives (`[saga]`), or the built-in order saga. Its steps name the
//! participant services, the action each performs and the compensation that undoes it; the
//! orchestrator, the choreography's members, the participants and the S1-S3 checkers all read
//! the same definition.

use std::collections::BTreeSet;
use std::sync::Mutex;

use faultline_patterns::choreography::MAX_STEPS;
use faultline_patterns::saga::SagaDefinition;

use super::{AppSpec, SimSpec, SpecError};

/// The operation a semantic lock's holder is sent when its saga completes.
pub const CONFIRM: &str = "confirm";

/// `s` for as long as the process lives, kept once however often it is asked for: the names
/// of a scenario's saga become the `&'static str` operations calls carry. It grows only with
/// distinct names (a sweep over seeds adds none).
pub fn intern(s: &str) -> &'static str {
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(known) = names.get(s) {
        return known;
    }
    let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

impl SimSpec {
    /// The run's saga; with a semantic lock, its first step's participant (which holds the
    /// lock from its action until the saga ends) is sent `confirm` when a saga completes.
    pub fn saga(&self, semantic_lock: bool) -> SagaDefinition {
        let mut def = self.saga.clone();
        if semantic_lock {
            def.on_complete = def.steps.first().map(|s| vec![(s.service, CONFIRM)]).unwrap_or_default();
        }
        def
    }

    /// The services the saga's steps run on, in step order.
    pub fn saga_participants(&self) -> Vec<&'static str> {
        self.saga.steps.iter().map(|s| s.service).collect()
    }
}

/// Checks the saga's definition: 1 to [`MAX_STEPS`] steps (the choreography's message ids hold
/// that many), each on a distinct service that can run a step (a participant, or a member of
/// the choreography other than its initiator; never the orchestrator), with operations that
/// are all different (a participant tells an action from a compensation by its name) and none
/// named `confirm`; with a semantic lock, only the first step's service keeps stock (the lock
/// is lifted there, by `confirm`; a lock at a later step would never be).
pub(super) fn validate(spec: &SimSpec) -> Result<(), SpecError> {
    let steps = &spec.saga.steps;
    if !(1..=MAX_STEPS).contains(&steps.len()) {
        return Err(SpecError::new(
            "saga.steps",
            format!("{} steps", steps.len()),
            format!("1 to {MAX_STEPS} steps (a choreographed saga's message ids hold {MAX_STEPS})"),
        ));
    }
    let can_run = |s: &&super::ServiceSpec| {
        matches!(s.app, Some(AppSpec::SagaParticipant(_)) | Some(AppSpec::SagaChoreography { .. }))
    };
    let runners: Vec<&str> = spec.services.iter().filter(can_run).map(|s| s.name.as_str()).collect();
    let mut services = BTreeSet::new();
    let mut ops: BTreeSet<&str> = BTreeSet::new();
    for (i, s) in steps.iter().enumerate() {
        let key = |k: &str| format!("saga.steps[{i}].{k}");
        if !spec.service(s.service).is_some_and(|x| can_run(&x)) {
            return Err(SpecError::new(
                key("service"),
                format!("\"{}\"", s.service),
                format!(
                    "a saga participant: one of {} (a service the orchestrator calls, or a choreography member)",
                    runners.join(", ")
                ),
            ));
        }
        if !services.insert(s.service) {
            return Err(SpecError::new(key("service"), format!("\"{}\"", s.service), "a service no other step runs"));
        }
        for (k, op) in [("action", s.action), ("compensation", s.compensation)] {
            let why = if op.is_empty() {
                "a name (letters, digits, _)"
            } else if op == CONFIRM {
                "a name other than \"confirm\" (a semantic lock's release on completion)"
            } else if !ops.insert(op) {
                "a name no other action or compensation of the saga has"
            } else {
                continue;
            };
            return Err(SpecError::new(key(k), format!("\"{op}\""), why));
        }
    }
    if spec.semantic_lock() {
        let later = steps
            .iter()
            .skip(1)
            .find(|s| spec.service(s.service).and_then(|x| x.participant()).is_some_and(|p| p.stock.is_some()));
        if let Some(s) = later {
            return Err(SpecError::new(
                format!("services.{}.stock", s.service),
                "set",
                format!("no stock on a later step's service under a semantic lock (only the first step's, {}, is released by confirm)", steps[0].service),
            ));
        }
    }
    Ok(())
}
