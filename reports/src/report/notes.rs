//! "What to notice": for each pattern that acted in a run, one note for students that uses the
//! run's own figures (counted from `events.csv` and the client edge).

use std::collections::BTreeMap;

use super::read::RunFiles;
use super::texts::Texts;

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// The notes, in the order of the path a request takes through the patterns.
pub fn notes(run: &RunFiles, t: &Texts) -> Vec<String> {
    let (count, breaker_nodes) = counts(run);
    let n = |k: &str| count.get(k).copied().unwrap_or(0);
    let o = &run.summary.output;
    let outcome = |name: &str| o.edges.iter().map(|e| e.outcomes.get(name).copied().unwrap_or(0)).sum::<u64>();
    let client = o.edges.first();
    let calls: u64 = o.edges.iter().map(|e| e.requests).sum();
    let amplification = client.map_or(0.0, |c| calls as f64 / c.requests.max(1) as f64);
    let p = |key: &str| t.t(&format!("pattern_{key}"));
    let mut notes = Vec::new();
    if n("breaker.open") > 0 {
        notes.push(t.f(
            "note_breaker",
            &[
                ("pattern", p("breaker")),
                ("opens", n("breaker.open").to_string()),
                ("nodes", breaker_nodes.join(", ")),
                ("shed", outcome("shed").to_string()),
                ("closes", n("breaker.closed").to_string()),
            ],
        ));
    }
    if n("retry.scheduled") > 0 {
        let exhausted = n("retry.gave_up") + n("retry.budget_exhausted");
        notes.push(t.f(
            "note_retry",
            &[
                ("pattern", p("retry")),
                ("scheduled", n("retry.scheduled").to_string()),
                ("exhausted", exhausted.to_string()),
                ("amplification", format!("{amplification:.2}")),
            ],
        ));
    }
    if n("timeout.fired") > 0 {
        notes.push(t.f("note_timeout", &[("pattern", p("timeout")), ("fired", n("timeout.fired").to_string())]));
    }
    let bulkhead = n("bulkhead.full") + n("bulkhead.wait_timeout");
    if bulkhead > 0 {
        notes.push(t.f("note_bulkhead", &[("pattern", p("bulkhead")), ("rejected", bulkhead.to_string())]));
    }
    if n("fallback.used") > 0 {
        let degraded = client.map_or(0.0, |c| c.degraded_rate);
        notes.push(t.f(
            "note_fallback",
            &[("pattern", p("fallback")), ("served", n("fallback.used").to_string()), ("degraded", pct(degraded))],
        ));
    }
    if n("rate_limiter.refused") > 0 {
        notes.push(
            t.f("note_rate", &[("pattern", p("rate_limiter")), ("rejected", n("rate_limiter.refused").to_string())]),
        );
    }
    if n("hedge.sent") > 0 {
        let args =
            [("pattern", p("hedge")), ("sent", n("hedge.sent").to_string()), ("won", n("hedge.won").to_string())];
        notes.push(t.f("note_hedge", &args));
    }
    if n("balance.ejected") > 0 {
        notes.push(t.f("note_balance", &[("pattern", p("balance")), ("ejected", n("balance.ejected").to_string())]));
    }
    if n("node.crash") > 0 || n("node.restart") > 0 {
        let restarts = n("node.restart") + n("liveness.restart");
        notes.push(t.f("note_crash", &[("crashes", n("node.crash").to_string()), ("restarts", restarts.to_string())]));
    }
    notes.extend(saga_note(run, t));
    notes.extend(other_notes(&count, t));
    notes
}

/// How the sagas ended, if the run had any.
fn saga_note(run: &RunFiles, t: &Texts) -> Option<String> {
    let records = |r: &str| run.events.iter().filter(|e| e.kind == "saga.record" && e.detail.contains(r)).count();
    let finished = records("record=finished");
    if finished == 0 {
        return None;
    }
    let compensated = records("record=compensated");
    let args = [
        ("pattern", t.t("pattern_saga")),
        ("completed", finished.saturating_sub(compensated).to_string()),
        ("compensated", compensated.to_string()),
    ];
    Some(t.f("note_saga", &args))
}

/// Events per kind, and the nodes whose breaker opened.
fn counts(run: &RunFiles) -> (BTreeMap<&str, u64>, Vec<&str>) {
    let mut count: BTreeMap<&str, u64> = BTreeMap::new();
    let mut breaker_nodes: Vec<&str> = Vec::new();
    for e in &run.events {
        *count.entry(e.kind.as_str()).or_insert(0) += 1;
        if e.kind == "breaker.open" && !breaker_nodes.contains(&e.node.as_str()) {
            breaker_nodes.push(&e.node);
        }
    }
    (count, breaker_nodes)
}

/// A generic note for patterns without a note of their own (their decisions, counted).
fn other_notes(count: &BTreeMap<&str, u64>, t: &Texts) -> Vec<String> {
    let p = |key: &str| t.t(&format!("pattern_{key}"));
    let mut notes = Vec::new();
    let handled = [
        "breaker.",
        "retry.",
        "timeout.",
        "bulkhead.",
        "fallback.",
        "rate_limiter.",
        "hedge.",
        "balance.",
        "node.",
        "liveness.",
    ];
    let mut others: BTreeMap<&str, Vec<(&str, u64)>> = BTreeMap::new();
    for (kind, c) in count {
        if let Some((pattern, what)) = kind.split_once('.') {
            let known = ["adaptive", "throttle", "cache", "chaos", "deadline", "health", "discovery"];
            if known.contains(&pattern) && !handled.iter().any(|h| kind.starts_with(h)) {
                others.entry(pattern).or_default().push((what, *c));
            }
        }
    }
    for (pattern, kinds) in others {
        let name = match pattern {
            "discovery" | "health" => p("health"),
            other => p(other),
        };
        let total: u64 = kinds.iter().map(|k| k.1).sum();
        let list = kinds.iter().map(|(k, c)| format!("{k} {c}")).collect::<Vec<_>>().join(", ");
        notes.push(t.f("note_generic", &[("pattern", name), ("count", total.to_string()), ("kinds", list)]));
    }
    notes
}
