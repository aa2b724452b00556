//! The report of one run: summary, the system (a topology diagram and the patterns per call),
//! the fault schedule, the invariant scorecard, charts, notes and the rerun command.

use faultline_sim::series_bin;
use faultline_sim::verdict::Status;

use super::charts::{self, format_num};
use super::doc::{Block, Doc};
use super::notes::notes;
use super::read::RunFiles;
use super::texts::Texts;
use super::topology;

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// The stack of patterns on `edge` as written in `scenario.toml` (outermost first).
fn stack(run: &RunFiles, edge: &str) -> Vec<String> {
    let edges = run.scenario.as_ref().and_then(|s| s.get("edges")).and_then(|e| e.as_table());
    let stack = edges.and_then(|e| e.get(edge)).and_then(|e| e.get("stack")).and_then(|s| s.as_array());
    stack.map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

/// The pattern names of a stack in the report's language.
pub fn stack_words(stack: &[String], t: &Texts) -> String {
    if stack.is_empty() {
        return t.t("system_edge_bare");
    }
    stack
        .iter()
        .map(|p| t.t(&format!("pattern_{p}")).replace("⟦pattern_", "").replace('⟧', ""))
        .collect::<Vec<_>>()
        .join(" > ")
}

/// Builds the report.
pub fn build(run: &RunFiles, t: &Texts, lang: &'static str) -> Result<Doc, String> {
    let s = &run.summary;
    let o = &s.output;
    let title = t.f("title_run", &[("scenario", o.scenario.clone()), ("seed", o.seed.to_string())]);
    let subtitle = t.f("generated", &[("version", s.faultline_version.clone())]);
    let mut blocks = vec![Block::Heading(t.t("section_summary"))];
    let translated = run.scenario.as_ref().and_then(|doc| doc.get(&format!("description_{lang}"))?.as_str());
    let description = translated.unwrap_or(&s.description);
    if !description.is_empty() {
        blocks.push(Block::Para(description.to_owned()));
    }
    blocks.push(Block::Para(summary_line(run, t)));
    blocks.push(Block::Heading(t.t("section_system")));
    blocks.push(Block::Para(t.t("system_intro")));
    let edges: Vec<(String, String)> =
        o.edges.iter().filter_map(|e| e.edge.split_once("->").map(|(a, b)| (a.to_owned(), b.to_owned()))).collect();
    let labels: Vec<String> = o.edges.iter().map(|e| stack_words(&stack(run, &e.edge), t)).collect();
    let replicas: Vec<(String, u32)> = o.services.iter().map(|s| (s.service.clone(), s.replicas)).collect();
    blocks.push(Block::Chart {
        name: "topology".into(),
        title: t.t("system_topology"),
        svg: topology::svg(&edges, &labels, &replicas),
        caption: None,
    });
    let rows = o.edges.iter().zip(&labels).map(|(e, l)| vec![e.edge.clone(), l.clone()]).collect();
    blocks.push(Block::Table {
        header: vec![t.t("system_header_call"), t.t("system_header_patterns")],
        rows,
        highlight: vec![],
    });
    blocks.extend(faults(run, t));
    blocks.extend(scorecard(run, t));
    blocks.push(Block::Heading(t.t("section_charts")));
    blocks.extend(chart_blocks(run, t)?);
    blocks.push(Block::Heading(t.t("section_notes")));
    let n = notes(run, t);
    blocks.push(if n.is_empty() { Block::Para(t.t("notes_none")) } else { Block::List(n) });
    blocks.push(Block::Heading(t.t("section_rerun")));
    blocks.push(Block::Para(t.t("rerun_intro")));
    blocks.push(Block::Code(s.reproduce.clone()));
    blocks.push(Block::Para(
        t.f("version_line", &[("version", s.faultline_version.clone()), ("seeds", o.seed.to_string())]),
    ));
    Ok(Doc { lang, title, subtitle, blocks })
}

/// The run's charts: the client's latency, its calls, its outcomes per second, the lanes of
/// what the patterns did, the sagas.
fn chart_blocks(run: &RunFiles, t: &Texts) -> Result<Vec<Block>, String> {
    let o = &run.summary.output;
    let bin_s = series_bin(std::time::Duration::from_secs_f64(o.duration_s)).as_secs_f64();
    let mut blocks = Vec::new();
    if let Some(client) = o.edges.first() {
        let end = o.end_s;
        blocks.push(Block::Chart {
            name: "latency".into(),
            title: t.t("chart_latency_title"),
            svg: charts::latency(&client.series, &o.faults, end, t)?,
            caption: Some(t.t("chart_latency_caption")),
        });
        blocks.push(Block::Chart {
            name: "scatter".into(),
            title: t.t("chart_scatter_title"),
            svg: charts::scatter(&run.client_calls, &o.faults, end, t)?,
            caption: None,
        });
        blocks.push(Block::Chart {
            name: "outcomes".into(),
            title: t.t("chart_outcomes_title"),
            svg: charts::outcomes(&client.series, bin_s, &o.faults, end, t)?,
            caption: None,
        });
    }
    if let Some(svg) = super::lanes::lanes(&run.events, &run.levels, o.end_s, bin_s, t)? {
        let caption = (!run.levels.is_empty()).then(|| t.t("chart_lanes_caption"));
        blocks.push(Block::Chart { name: "lanes".into(), title: t.t("chart_lanes_title"), svg, caption });
    }
    for (name, title, svg) in super::sagas::charts(&run.events, o.end_s, bin_s, t)? {
        blocks.push(Block::Chart { name, title, svg, caption: None });
    }
    Ok(blocks)
}

fn summary_line(run: &RunFiles, t: &Texts) -> String {
    let s = &run.summary;
    let o = &s.output;
    let violated: Vec<&str> =
        s.verdict.checks.iter().filter(|c| c.status == Status::Violated).map(|c| c.checker.as_str()).collect();
    let checks_line = if s.verdict.checks.is_empty() {
        t.t("summary_checks_none")
    } else if violated.is_empty() {
        t.f("summary_checks_all_held", &[("n", s.verdict.checks.len().to_string())])
    } else {
        t.f("summary_checks_violated", &[("n", violated.len().to_string()), ("names", violated.join(", "))])
    };
    let c = o.edges.first();
    t.f(
        "summary_run",
        &[
            ("requests", c.map_or(0, |c| c.requests).to_string()),
            ("duration", format_num(o.duration_s)),
            ("success", pct(c.map_or(0.0, |c| c.success_rate))),
            ("degraded", pct(c.map_or(0.0, |c| c.degraded_rate))),
            ("p50", format!("{:.1}", c.map_or(0.0, |c| c.p50_ms))),
            ("p99", format!("{:.1}", c.map_or(0.0, |c| c.p99_ms))),
            ("faults", o.faults.len().to_string()),
            ("checks_line", checks_line),
        ],
    )
}

fn faults(run: &RunFiles, t: &Texts) -> Vec<Block> {
    let o = &run.summary.output;
    let mut blocks = vec![Block::Heading(t.t("section_faults"))];
    if o.faults.is_empty() {
        blocks.push(Block::Para(t.t("faults_none")));
        return blocks;
    }
    blocks.push(Block::Chart {
        name: "faults".into(),
        title: t.t("section_faults"),
        svg: topology::timeline(&o.faults, o.end_s),
        caption: None,
    });
    let header = ["faults_header_at", "faults_header_until", "faults_header_kind", "faults_header_target"];
    let rows = o
        .faults
        .iter()
        .map(|f| vec![format_num(f.start_s), format_num(f.end_s), f.kind.clone(), f.target.clone()])
        .collect();
    blocks.push(Block::Table { header: header.iter().map(|k| t.t(k)).collect(), rows, highlight: vec![] });
    blocks
}

fn scorecard(run: &RunFiles, t: &Texts) -> Vec<Block> {
    let v = &run.summary.verdict;
    let mut blocks = vec![Block::Heading(t.t("section_checks"))];
    if v.checks.is_empty() {
        blocks.push(Block::Para(t.t("summary_checks_none")));
        return blocks;
    }
    let mut highlight = Vec::new();
    let rows = v
        .checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let result = if c.status == Status::Held {
                t.t("checks_held")
            } else {
                highlight.push(i);
                let first = c.evidence.first().map(|e| e.describe()).unwrap_or_default();
                t.f("checks_violated", &[("n", c.violations.to_string()), ("first", first)])
            };
            let key = format!("invariant_{}", c.checker);
            let invariant = if t.has(&key) { t.t(&key) } else { c.invariant.clone() };
            vec![c.checker.clone(), invariant, result]
        })
        .collect();
    let header = ["checks_header_check", "checks_header_invariant", "checks_header_result"];
    blocks.push(Block::Table { header: header.iter().map(|k| t.t(k)).collect(), rows, highlight });
    blocks
}
