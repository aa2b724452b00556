//! The reductions a shrink tries: each is one edit of the scenario file as run (a TOML table),
//! named as the user would say it. They come biggest first, so that a few runs remove most of
//! what does not matter: the faults (all, half, one), the run's length, the load, then each
//! fault made weaker or earlier, fewer replicas, one pattern layer or link setting less.
//!
//! Editing the file, not the spec, keeps the result a scenario a person can read and edit, and
//! lets the loader's checks reject an edit that makes no sense (a layer's settings without the
//! layer): such a candidate is skipped, not run.

use toml::{Table, Value};

/// One edited document and what the edit was.
pub(super) struct Candidate {
    pub(super) what: String,
    pub(super) doc: Table,
}

/// Every single edit of `doc` that makes it smaller, biggest first.
pub(super) fn all(doc: &Table) -> Vec<Candidate> {
    let mut out = Vec::new();
    fewer_faults(doc, &mut out);
    shorter_run(doc, &mut out);
    lighter_workload(doc, &mut out);
    weaker_faults(doc, &mut out);
    fewer_replicas(doc, &mut out);
    fewer_layers(doc, &mut out);
    plainer_network(doc, &mut out);
    fewer_services(doc, &mut out);
    for c in &mut out {
        tidy(&mut c.doc);
    }
    out
}

/// Removes the tables an edit left empty (`[edges]`, `[network.links]`), which say nothing.
fn tidy(doc: &mut Table) {
    if let Some(Value::Table(n)) = doc.get_mut("network") {
        if n.get("links").and_then(Value::as_table).is_some_and(Table::is_empty) {
            n.remove("links");
        }
    }
    for key in ["edges", "network"] {
        if doc.get(key).and_then(Value::as_table).is_some_and(Table::is_empty) {
            doc.remove(key);
        }
    }
}

/// Removes each service with everything that names it: callers' `calls`, its edges, links
/// and faults. The loader refuses what still needs it (an application's participants, the
/// workload's target): such a candidate is skipped.
fn fewer_services(doc: &Table, out: &mut Vec<Candidate>) {
    let Some(services) = doc.get("services").and_then(Value::as_table) else { return };
    for name in services.keys() {
        let mut d = doc.clone();
        let names = |s: &str| s.split(['-', '>', '<']).any(|part| part.trim() == name);
        if let Some(Value::Table(svcs)) = d.get_mut("services") {
            svcs.remove(name);
            for (_, svc) in svcs.iter_mut() {
                if let Some(Value::Array(calls)) = svc.get_mut("calls") {
                    calls.retain(|c| c.as_str() != Some(name.as_str()));
                }
            }
        }
        if let Some(Value::Table(edges)) = d.get_mut("edges") {
            edges.retain(|e, _| !names(e));
        }
        if let Some(Value::Table(links)) = d.get_mut("network").and_then(|n| n.get_mut("links")) {
            links.retain(|l, _| !names(l));
        }
        let kept: Vec<Value> = faults(&d)
            .into_iter()
            .filter(|f| {
                !f.get("target").and_then(Value::as_str).is_some_and(|t| names(t) || t.starts_with(&format!("{name}-")))
            })
            .collect();
        let d = with_faults(&d, kept);
        out.push(Candidate { what: format!("removed service {name}"), doc: d });
    }
}

fn faults(doc: &Table) -> Vec<Value> {
    doc.get("faults").and_then(Value::as_array).cloned().unwrap_or_default()
}

fn with_faults(doc: &Table, faults: Vec<Value>) -> Table {
    let mut d = doc.clone();
    if faults.is_empty() {
        d.remove("faults");
    } else {
        d.insert("faults".to_owned(), Value::Array(faults));
    }
    d
}

fn describe_fault(f: &Value) -> String {
    let get = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
    format!("{} on {}", get("kind"), get("target"))
}

/// Removes every fault, then chunks of halving size (delta debugging's complements), then each.
fn fewer_faults(doc: &Table, out: &mut Vec<Candidate>) {
    let all = faults(doc);
    let n = all.len();
    if n == 0 {
        return;
    }
    let what = if n == 1 {
        format!("removed the fault ({})", describe_fault(&all[0]))
    } else {
        format!("removed all {n} faults")
    };
    out.push(Candidate { what, doc: with_faults(doc, Vec::new()) });
    let mut chunk = n / 2;
    while chunk > 1 {
        for start in (0..n).step_by(chunk) {
            let end = (start + chunk).min(n);
            let kept: Vec<Value> = all[..start].iter().chain(&all[end..]).cloned().collect();
            out.push(Candidate { what: format!("removed faults[{start}..{end}]"), doc: with_faults(doc, kept) });
        }
        chunk /= 2;
    }
    if n > 1 {
        for (i, f) in all.iter().enumerate() {
            let mut kept = all.clone();
            kept.remove(i);
            out.push(Candidate {
                what: format!("removed faults[{i}] ({})", describe_fault(f)),
                doc: with_faults(doc, kept),
            });
        }
    }
}

/// Smaller values of a number, to try in order: straight down to `floor` (one run when the
/// number does not matter), then half of it. Whole numbers stay integers in the file a person
/// reads; `whole` rounds halves up (clients).
fn smaller(v: &Value, floor: f64, whole: bool) -> Vec<Value> {
    let Some(x) = v.as_float().or_else(|| v.as_integer().map(|i| i as f64)) else { return Vec::new() };
    let value = |n: f64| {
        let n = if whole { n.ceil() } else { (n * 1000.0).round() / 1000.0 };
        if n.fract() == 0.0 && n.abs() < 1e15 {
            Value::Integer(n as i64)
        } else {
            Value::Float(n)
        }
    };
    let half = (x / 2.0).max(floor);
    let mut out = Vec::new();
    if floor < half {
        out.push(value(floor));
    }
    if half < x && value(half) != value(x) {
        out.push(value(half));
    }
    out
}

/// One edit per smaller value of the number at `key` in the table `at` (a path of keys from
/// the top, or from a fault).
fn shrink_number(base: &Table, path: &[&str], floor: f64, whole: bool, what: &str) -> Vec<(String, Table)> {
    let (key, parents) = path.split_last().expect("a key");
    let mut table = base;
    for p in parents {
        match table.get(*p).and_then(Value::as_table) {
            Some(t) => table = t,
            None => return Vec::new(),
        }
    }
    let Some(v) = table.get(*key) else { return Vec::new() };
    smaller(v, floor, whole)
        .into_iter()
        .map(|n| {
            let mut edited = base.clone();
            let mut t = &mut edited;
            for p in parents {
                t = t.get_mut(*p).and_then(Value::as_table_mut).expect("checked above");
            }
            t.insert((*key).to_owned(), n.clone());
            (format!("{what} {v} -> {n}"), edited)
        })
        .collect()
}

/// Shortens the run and its drain (the workload stops sooner; faults later than the new end
/// do nothing, and a later step removes them).
fn shorter_run(doc: &Table, out: &mut Vec<Candidate>) {
    let mut d = doc.clone();
    d.entry("drain_s").or_insert(Value::Integer(60));
    for (key, floor) in [("duration_s", 1.0), ("drain_s", 1.0), ("settle_s", 0.0)] {
        let base = if key == "drain_s" { &d } else { doc };
        for (what, doc) in shrink_number(base, &[key], floor, false, key) {
            out.push(Candidate { what, doc });
        }
    }
}

/// Lowers the workload's rates and closed-loop clients (at least 1).
fn lighter_workload(doc: &Table, out: &mut Vec<Candidate>) {
    for key in ["rate_per_s", "burst_rate_per_s", "from_rate_per_s", "to_rate_per_s", "clients"] {
        let what = format!("workload.{key}");
        for (what, doc) in shrink_number(doc, &["workload", key], 1.0, key == "clients", &what) {
            out.push(Candidate { what, doc });
        }
    }
}

/// Each fault shorter, earlier, or at a lower rate.
fn weaker_faults(doc: &Table, out: &mut Vec<Candidate>) {
    let all = faults(doc);
    for (i, f) in all.iter().enumerate() {
        let Some(t) = f.as_table() else { continue };
        for (key, floor) in [("duration_s", 0.1), ("at_s", 0.0), ("rate", 0.01)] {
            let what = format!("faults[{i}] ({}) {key}", describe_fault(f));
            for (what, edited) in shrink_number(t, &[key], floor, false, &what) {
                let mut faults = all.clone();
                faults[i] = Value::Table(edited);
                out.push(Candidate { what, doc: with_faults(doc, faults) });
            }
        }
    }
}

/// Halves each service's replicas (at least 1).
fn fewer_replicas(doc: &Table, out: &mut Vec<Candidate>) {
    let Some(services) = doc.get("services").and_then(Value::as_table) else { return };
    for (name, svc) in services {
        let Some(n) = svc.get("replicas").and_then(Value::as_integer) else { continue };
        if n <= 1 {
            continue;
        }
        let half = (n / 2).max(1);
        let mut d = doc.clone();
        if let Some(Value::Table(s)) = d.get_mut("services").and_then(|s| s.get_mut(name.as_str())) {
            s.insert("replicas".to_owned(), Value::Integer(half));
        }
        out.push(Candidate { what: format!("services.{name}.replicas {n} -> {half}"), doc: d });
    }
}

/// Drops each edge's whole stack, then each layer of each edge (with its settings); an edge
/// left with no layer is removed.
fn fewer_layers(doc: &Table, out: &mut Vec<Candidate>) {
    let Some(edges) = doc.get("edges").and_then(Value::as_table) else { return };
    let stacks: Vec<(&String, &Table, &Vec<Value>)> =
        edges.iter().filter_map(|(e, t)| Some((e, t.as_table()?, t.get("stack").and_then(Value::as_array)?))).collect();
    for (edge, _, stack) in &stacks {
        if stack.len() > 1 {
            out.push(Candidate {
                what: format!("edges.\"{edge}\": dropped every pattern"),
                doc: with_edge(doc, edge, None),
            });
        }
    }
    for (edge, table, stack) in stacks {
        for (i, layer) in stack.iter().enumerate() {
            let Some(name) = layer.as_str() else { continue };
            let mut t = table.clone();
            let mut s = stack.clone();
            s.remove(i);
            if !s.iter().any(|l| l.as_str() == Some(name)) {
                t.remove(name);
            }
            let left = (!s.is_empty()).then(|| {
                t.insert("stack".to_owned(), Value::Array(s));
                t
            });
            out.push(Candidate {
                what: format!("edges.\"{edge}\": dropped the {name} layer"),
                doc: with_edge(doc, edge, left),
            });
        }
    }
}

fn with_edge(doc: &Table, edge: &str, table: Option<Table>) -> Table {
    let mut d = doc.clone();
    if let Some(Value::Table(edges)) = d.get_mut("edges") {
        match table {
            Some(t) => {
                edges.insert(edge.to_owned(), Value::Table(t));
            }
            None => {
                edges.remove(edge);
            }
        }
    }
    d
}

/// Drops the network's loss, duplication and reordering, then each per-link setting (a lossy
/// or duplicating link made plain).
fn plainer_network(doc: &Table, out: &mut Vec<Candidate>) {
    let Some(network) = doc.get("network").and_then(Value::as_table) else { return };
    for key in ["loss", "duplicate", "reorder"] {
        if network.contains_key(key) {
            let mut d = doc.clone();
            if let Some(Value::Table(n)) = d.get_mut("network") {
                n.remove(key);
            }
            out.push(Candidate { what: format!("network.{key}: dropped"), doc: d });
        }
    }
    let Some(links) = doc.get("network").and_then(|n| n.get("links")).and_then(Value::as_table) else { return };
    for link in links.keys() {
        let mut d = doc.clone();
        if let Some(Value::Table(l)) = d.get_mut("network").and_then(|n| n.get_mut("links")) {
            l.remove(link);
        }
        out.push(Candidate { what: format!("network.links.\"{link}\": dropped"), doc: d });
    }
}
