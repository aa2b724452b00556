//! A run as a trace that Perfetto (ui.perfetto.dev) and Chrome's about:tracing open: the
//! Chrome trace event format (JSON), read from a run's `requests.csv`, `attempts.csv` and
//! `events.csv`.
//!
//! A track (thread) per service a call goes to, one per replica an attempt went to, and one per
//! node that recorded events; each call and each attempt an async slice (`b`/`e` with its own
//! id, so overlapping slices never have to nest); faults, crashes and pattern decisions instant
//! events on their node's track, a decision about a call with that call's id. And the story of
//! one request as a text tree: the client's call, the calls it caused, hop by hop, each with
//! its attempts (which replica, how it ended) and the decisions taken about it.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use crate::csv_sink::{read_attempts, read_requests, AttemptRow, RequestRow};

/// What to put in a trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Select {
    /// One request and every call it caused.
    Request(u64),
    /// Calls that overlap `[from_s, to_s]`, and events in it.
    Window(f64, f64),
}

/// A run's calls and events, read back.
pub struct Run {
    calls: Vec<RequestRow>,
    attempts: BTreeMap<u64, Vec<AttemptRow>>,
    events: Vec<EventRow>,
    end_us: u64,
}

/// One row of `events.csv`, with the call it concerns (its `request=` prefix), if any.
struct EventRow {
    t_us: u64,
    node: String,
    kind: String,
    detail: String,
    request: Option<u64>,
}

/// Reads `dir` (a run's output).
pub fn read(dir: &Path) -> Result<Run, String> {
    let calls = read_requests(&dir.join("requests.csv"))?;
    let path = dir.join("events.csv");
    let mut reader = csv::Reader::from_path(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut events = Vec::new();
    for row in reader.records() {
        let r = row.map_err(|e| format!("{}: {e}", path.display()))?;
        let t: u64 =
            r.get(0).and_then(|t| t.parse().ok()).ok_or_else(|| format!("{}: a row without a time", path.display()))?;
        let detail = r.get(3).unwrap_or("").to_owned();
        let request = detail.strip_prefix("request=").and_then(|d| d.split(' ').next()).and_then(|n| n.parse().ok());
        let (node, kind) = (r.get(1).unwrap_or("").to_owned(), r.get(2).unwrap_or("").to_owned());
        events.push(EventRow { t_us: t, node, kind, detail, request });
    }
    let mut attempts: BTreeMap<u64, Vec<AttemptRow>> = BTreeMap::new();
    for a in read_attempts(&dir.join("attempts.csv"))? {
        attempts.entry(a.call).or_default().push(a);
    }
    let end_us = calls.iter().map(|c| c.end_us).chain(events.iter().map(|e| e.t_us)).max().unwrap_or(0);
    Ok(Run { calls, attempts, events, end_us })
}

impl Run {
    /// The calls selected, in start order; an error naming what does not exist.
    pub fn select(&self, select: Select) -> Result<Vec<&RequestRow>, String> {
        let mut out: Vec<&RequestRow> = match select {
            Select::Request(id) => {
                let client = |c: &&RequestRow| c.parent == 0 && c.edge.starts_with("client->");
                let root = self.calls.iter().filter(client).find(|c| c.id == id).ok_or_else(|| {
                    format!("--request {id}: no client request with that id (ids are requests.csv's `id` on a `client->` edge, where `parent` is 0)")
                })?;
                let mut children: BTreeMap<u64, Vec<&RequestRow>> = BTreeMap::new();
                for c in &self.calls {
                    children.entry(c.parent).or_default().push(c);
                }
                let mut out = vec![root];
                let mut i = 0;
                while i < out.len() {
                    out.extend(children.get(&out[i].id).into_iter().flatten());
                    i += 1;
                }
                out
            }
            Select::Window(a, b) => {
                let end_s = self.end_us as f64 / 1e6;
                if !(a < b && a >= 0.0 && a <= end_s) {
                    return Err(format!(
                        "--window {a}..{b}: write A..B in seconds with A < B, within the run (0..{end_s:.1})"
                    ));
                }
                let (a, b) = ((a * 1e6) as u64, (b * 1e6) as u64);
                self.calls.iter().filter(|c| c.start_us <= b && c.end_us >= a).collect()
            }
        };
        out.sort_by_key(|c| (c.start_us, c.id));
        Ok(out)
    }

    /// The trace JSON of `calls` and of the events in their time span.
    pub fn trace(&self, calls: &[&RequestRow]) -> Value {
        let lo = calls.iter().map(|c| c.start_us).min().unwrap_or(0);
        let hi = calls.iter().map(|c| c.end_us).max().unwrap_or(0);
        let mut tracks: Vec<String> = Vec::new();
        let mut track = |name: &str| -> usize {
            match tracks.iter().position(|t| t == name) {
                Some(i) => i + 1,
                None => {
                    tracks.push(name.to_owned());
                    tracks.len()
                }
            }
        };
        let mut out = Vec::new();
        for c in calls {
            let callee = c.edge.split_once("->").map_or(c.edge.as_str(), |(_, b)| b);
            let tid = track(callee);
            let args = json!({ "id": c.id, "parent": c.parent, "outcome": c.outcome, "attempts": c.attempts });
            let name = format!("{} ({})", c.edge, c.outcome);
            out.push(json!({ "name": name, "cat": "call", "ph": "b", "id": c.id, "ts": c.start_us, "pid": 1, "tid": tid, "args": args }));
            out.push(
                json!({ "name": name, "cat": "call", "ph": "e", "id": c.id, "ts": c.end_us, "pid": 1, "tid": tid }),
            );
            for a in self.attempts.get(&c.id).into_iter().flatten() {
                let tid = track(&a.replica);
                let (id, name) =
                    (format!("{}.{}", a.call, a.attempt), format!("attempt {} ({})", a.attempt, a.outcome));
                let args = json!({ "call": a.call, "attempt": a.attempt, "outcome": a.outcome });
                out.push(json!({ "name": name, "cat": "attempt", "ph": "b", "id": id, "ts": a.start_us, "pid": 1, "tid": tid, "args": args }));
                out.push(json!({ "name": name, "cat": "attempt", "ph": "e", "id": id, "ts": a.end_us, "pid": 1, "tid": tid }));
            }
        }
        for e in self.events.iter().filter(|e| e.t_us >= lo && e.t_us <= hi) {
            let tid = track(&format!("node {}", e.node));
            let args = match e.request {
                Some(r) => json!({ "detail": e.detail, "call": r }),
                None => json!({ "detail": e.detail }),
            };
            out.push(json!({ "name": e.kind, "cat": "event", "ph": "i", "s": "t", "ts": e.t_us, "pid": 1, "tid": tid, "args": args }));
        }
        for (i, name) in tracks.iter().enumerate() {
            out.push(json!({ "name": "thread_name", "ph": "M", "pid": 1, "tid": i + 1, "args": { "name": name } }));
        }
        out.push(
            json!({ "name": "process_name", "ph": "M", "pid": 1, "args": { "name": "faultline (virtual time)" } }),
        );
        json!({ "traceEvents": out, "displayTimeUnit": "ms" })
    }

    /// One request's calls as an indented tree: edge, outcome, start, latency and replica;
    /// under each call its attempts and the decisions taken about it.
    pub fn tree(&self, calls: &[&RequestRow]) -> String {
        let mut children: BTreeMap<u64, Vec<&RequestRow>> = BTreeMap::new();
        for c in calls {
            children.entry(c.parent).or_default().push(c);
        }
        let mut decisions: BTreeMap<u64, Vec<&EventRow>> = BTreeMap::new();
        for e in &self.events {
            if let Some(r) = e.request {
                decisions.entry(r).or_default().push(e);
            }
        }
        let mut out = String::new();
        let mut stack: Vec<(&RequestRow, usize)> =
            children.get(&0).into_iter().flatten().rev().map(|c| (*c, 0)).collect();
        while let Some((c, depth)) = stack.pop() {
            let indent = "  ".repeat(depth);
            let on = if c.replica.is_empty() { String::new() } else { format!(" on {}", c.replica) };
            out.push_str(&format!(
                "{indent}{} [{}] at {:.3} s, {:.1} ms, {} attempt(s){on}, id {}\n",
                c.edge,
                c.outcome,
                c.start_us as f64 / 1e6,
                c.latency_us as f64 / 1e3,
                c.attempts,
                c.id
            ));
            let attempts = self.attempts.get(&c.id).map_or(&[][..], Vec::as_slice);
            if attempts.len() > 1 {
                for a in attempts {
                    let ms = a.latency_us as f64 / 1e3;
                    out.push_str(&format!(
                        "{indent}  - attempt {} to {}: {} after {ms:.1} ms\n",
                        a.attempt, a.replica, a.outcome
                    ));
                }
            }
            for e in decisions.get(&c.id).into_iter().flatten() {
                let detail = e.detail.split_once(' ').map_or("", |(_, d)| d);
                let t = e.t_us as f64 / 1e6;
                out.push_str(&format!("{indent}  * {t:.3} s {}: {} {detail}\n", e.node, e.kind));
            }
            stack.extend(children.get(&c.id).into_iter().flatten().rev().map(|k| (*k, depth + 1)));
        }
        out
    }
}
