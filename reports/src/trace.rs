//! A run as a trace that Perfetto (ui.perfetto.dev) and Chrome's about:tracing open: the
//! Chrome trace event format (JSON), read from a run's `requests.csv` and `events.csv`.
//!
//! A track (thread) per service a call goes to, and one per node that recorded events; each
//! call an async slice (`b`/`e` with the call's id, so overlapping calls never have to nest);
//! faults, crashes and pattern decisions instant events on their node's track. And the story of
//! one request as a text tree: the client's call, the calls it caused, hop by hop.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use crate::csv_sink::{read_requests, RequestRow};

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
    events: Vec<(u64, String, String, String)>,
    end_us: u64,
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
        events.push((
            t,
            r.get(1).unwrap_or("").to_owned(),
            r.get(2).unwrap_or("").to_owned(),
            r.get(3).unwrap_or("").to_owned(),
        ));
    }
    let end_us = calls.iter().map(|c| c.end_us).chain(events.iter().map(|e| e.0)).max().unwrap_or(0);
    Ok(Run { calls, events, end_us })
}

impl Run {
    /// The calls selected, in start order; an error naming what does not exist.
    pub fn select(&self, select: Select) -> Result<Vec<&RequestRow>, String> {
        let mut out: Vec<&RequestRow> = match select {
            Select::Request(id) => {
                let root = self.calls.iter().find(|c| c.id == id && c.parent == 0).ok_or_else(|| {
                    format!("--request {id}: no client request with that id (ids are requests.csv's `id` where `parent` is 0)")
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
        }
        for (t, node, kind, detail) in self.events.iter().filter(|e| e.0 >= lo && e.0 <= hi) {
            let tid = track(&format!("node {node}"));
            out.push(json!({ "name": kind, "cat": "event", "ph": "i", "s": "t", "ts": t, "pid": 1, "tid": tid, "args": { "detail": detail } }));
        }
        for (i, name) in tracks.iter().enumerate() {
            out.push(json!({ "name": "thread_name", "ph": "M", "pid": 1, "tid": i + 1, "args": { "name": name } }));
        }
        out.push(
            json!({ "name": "process_name", "ph": "M", "pid": 1, "args": { "name": "faultline (virtual time)" } }),
        );
        json!({ "traceEvents": out, "displayTimeUnit": "ms" })
    }

    /// One request's calls as an indented tree: edge, outcome, start and latency.
    pub fn tree(&self, calls: &[&RequestRow]) -> String {
        let mut children: BTreeMap<u64, Vec<&RequestRow>> = BTreeMap::new();
        for c in calls {
            children.entry(c.parent).or_default().push(c);
        }
        let mut out = String::new();
        let mut stack: Vec<(&RequestRow, usize)> =
            children.get(&0).into_iter().flatten().rev().map(|c| (*c, 0)).collect();
        while let Some((c, depth)) = stack.pop() {
            out.push_str(&format!(
                "{}{} [{}] at {:.3} s, {:.1} ms, {} attempt(s), id {}\n",
                "  ".repeat(depth),
                c.edge,
                c.outcome,
                c.start_us as f64 / 1e6,
                c.latency_us as f64 / 1e3,
                c.attempts,
                c.id
            ));
            stack.extend(children.get(&c.id).into_iter().flatten().rev().map(|k| (*k, depth + 1)));
        }
        out
    }
}
