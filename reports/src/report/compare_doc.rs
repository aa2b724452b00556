//! The report of a comparison (the demo's, or `faultline compare`'s) and of a sweep.

use std::collections::BTreeMap;

use super::charts::{register, FAMILY};
use super::doc::{Block, Doc};
use super::read::{CompareFiles, SweepFiles};
use super::texts::Texts;
use crate::compare_chart::{self, Band, BandPoint, ForestRow, OverTime, Words};

/// A metric's name in the report's language.
pub(super) fn metric_name(name: &str, t: &Texts) -> String {
    if let Some(n) = name.strip_prefix("recovery_s_") {
        return t.f("metric_recovery_s", &[("n", n.to_owned())]);
    }
    if let Some(edge) = name.strip_prefix("calls:") {
        return t.f("metric_calls_on", &[("edge", edge.to_owned())]);
    }
    if let Some(route) = name.strip_prefix("route:") {
        return t.f("metric_route", &[("route", route.to_owned())]);
    }
    for (prefix, key) in [("p99:", "metric_p99_on"), ("p50:", "metric_p50_on"), ("mean:", "metric_mean_on")] {
        if let Some(at) = name.strip_prefix(prefix) {
            return t.f(key, &[("edge", at.to_owned())]);
        }
    }
    if let Some(measure) = name.strip_prefix("measure:") {
        let known = format!("measure_{measure}");
        return match t.has(&known) {
            true => t.t(&known),
            false => measure.to_owned(),
        };
    }
    if let Some(edge) = name.strip_prefix("success:") {
        return t.f("metric_success_on", &[("edge", edge.to_owned())]);
    }
    if let Some(edge) = name.strip_prefix("attempts:") {
        return t.f("metric_attempts_on", &[("edge", edge.to_owned())]);
    }
    if let Some(check) = name.strip_prefix("check:") {
        return t.f("metric_check", &[("check", check.to_owned())]);
    }
    t.t(&format!("metric_{name}"))
}

/// A finding in the report's language.
pub(super) fn finding(f: &str, t: &Texts) -> String {
    match f {
        "better" => t.t("finding_better"),
        "worse" => t.t("finding_worse"),
        _ => t.t("finding_none"),
    }
}

fn quartiles(mut xs: Vec<f64>) -> (f64, f64, f64) {
    xs.sort_by(f64::total_cmp);
    let q = |p: f64| {
        let h = (xs.len() - 1) as f64 * p;
        let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
        xs[lo] + (h - lo as f64) * (xs[hi] - xs[lo])
    };
    (q(0.25), q(0.5), q(0.75))
}

fn band(name: &str, seeds: &[super::read::SeedRow], read: fn(&super::read::BinRow) -> Option<f64>) -> Band {
    let mut bins: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for b in seeds.iter().flat_map(|s| &s.series) {
        if let Some(v) = read(b) {
            bins.entry((b.t_s * 1000.0).round() as i64).or_default().push(v);
        }
    }
    let points = bins
        .into_iter()
        .map(|(t, xs)| {
            let (q25, q50, q75) = quartiles(xs);
            BandPoint { t_s: t as f64 / 1000.0, q25, q50, q75 }
        })
        .collect();
    Band { name: name.to_owned(), points }
}

/// The report of a comparison.
pub fn compare(c: &CompareFiles, t: &Texts, lang: &'static str) -> Result<Doc, String> {
    register();
    let s = &c.summary;
    let version = c.key["faultline_version"].as_str().unwrap_or("?").to_owned();
    let title = t.f(
        "title_compare",
        &[("base", s.base.clone()), ("variants", s.variants.join(", ")), ("seeds", s.seeds.clone())],
    );
    let subtitle = t.f("generated", &[("version", version.clone())]);
    let findings = findings(c, t);
    let seeds_n = c.variants.first().map_or(0, |v| v.1.len());
    let mut blocks = vec![
        Block::Heading(t.t("section_summary")),
        Block::Para(t.f(
            "summary_compare",
            &[("seeds", seeds_n.to_string()), ("base", s.base.clone()), ("findings", findings.join("; "))],
        )),
        Block::Heading(t.t("section_comparison")),
        Block::Para(t.t("comparison_intro")),
    ];
    blocks.push(table(c, t));
    blocks.push(Block::Heading(t.t("section_charts")));
    blocks.push(over_time(c, t, "over_time")?);
    let forest = forest_rows(c, t);
    blocks.push(Block::Chart {
        name: "differences".into(),
        title: t.t("chart_differences_title"),
        svg: compare_chart::forest_svg("", "%", &forest, FAMILY)?,
        caption: None,
    });
    blocks.push(Block::Heading(t.t("section_rerun")));
    blocks.push(Block::Para(t.t("rerun_intro")));
    blocks.push(Block::Code(rerun_compare(c)));
    blocks.push(Block::Para(t.f("version_line", &[("version", version), ("seeds", s.seeds.clone())])));
    Ok(Doc { lang, title, subtitle, blocks })
}

/// The chart of a comparison over virtual time: answered p99 and success per variant (median
/// across seeds, quartiles shaded), fault windows shaded; `name` names its file.
pub(super) fn over_time(c: &CompareFiles, t: &Texts, name: &str) -> Result<Block, String> {
    let p99: Vec<Band> = c.variants.iter().map(|(n, s)| band(n, s, |b| b.ok_p99_ms)).collect();
    let success: Vec<Band> = c.variants.iter().map(|(n, s)| band(n, s, |b| Some(100.0 * b.success))).collect();
    let end_s = success.iter().flat_map(|b| &b.points).map(|p| p.t_s).fold(1.0, f64::max);
    let (p99_axis, success_axis, time_axis) = (t.t("axis_answered_p99"), t.t("legend_ok"), t.t("axis_time"));
    let words = Words {
        font: FAMILY,
        p99_axis: &p99_axis,
        success_axis: &success_axis,
        time_axis: &time_axis,
        band_suffix: "",
    };
    let chart = OverTime { title: "", p99: &p99, success: &success, faults: &c.summary.faults, end_s };
    Ok(Block::Chart {
        name: name.into(),
        title: t.t("chart_over_time_title"),
        svg: compare_chart::over_time_svg(&chart, &words)?,
        caption: None,
    })
}

/// The forest plot's rows: each difference relative to the larger of the two means.
fn forest_rows(c: &CompareFiles, t: &Texts) -> Vec<ForestRow> {
    let s = &c.summary;
    s.differences
        .iter()
        .map(|d| {
            let scale = d.base_mean.abs().max(d.variant_mean.abs()).max(1e-12);
            let rel = |x: f64| 100.0 * x / scale;
            let better = match d.finding.as_str() {
                "better" => Some(true),
                "worse" => Some(false),
                _ => None,
            };
            ForestRow {
                label: format!("{}: {}", d.variant, metric_name(&d.metric.name, t)),
                diff: rel(d.mean_diff),
                lo: rel(d.ci_low),
                hi: rel(d.ci_high),
                better,
            }
        })
        .collect()
}

/// The command that makes this comparison again, from the keys of its variants (`compare.json`):
/// a variant from another scenario is named; one from the base with more overrides is a `--vary`.
/// One line per variant: on how many metrics it is better and worse.
fn findings(c: &CompareFiles, t: &Texts) -> Vec<String> {
    let s = &c.summary;
    s.variants
        .iter()
        .map(|v| {
            let of = |f: &str| s.differences.iter().filter(|d| &d.variant == v && d.finding == f).count().to_string();
            let total = s.differences.iter().filter(|d| &d.variant == v).count().to_string();
            t.f(
                "summary_compare_finding",
                &[("variant", v.clone()), ("better", of("better")), ("worse", of("worse")), ("total", total)],
            )
        })
        .collect()
}

/// The verdict table, worse findings marked.
fn table(c: &CompareFiles, t: &Texts) -> Block {
    let s = &c.summary;
    let header = [
        "comparison_header_variant",
        "comparison_header_metric",
        "comparison_header_base",
        "comparison_header_value",
        "comparison_header_diff",
        "comparison_header_ci",
        "comparison_header_p",
        "comparison_header_finding",
    ];
    let rows = s
        .differences
        .iter()
        .map(|d| {
            vec![
                d.variant.clone(),
                metric_name(&d.metric.name, t),
                format!("{:.4}", d.base_mean),
                format!("{:.4}", d.variant_mean),
                format!("{:+.4}", d.mean_diff),
                format!("[{:+.4}, {:+.4}]", d.ci_low, d.ci_high),
                if d.p_value < 1e-4 { "<0.0001".into() } else { format!("{:.4}", d.p_value) },
                finding(&d.finding, t),
            ]
        })
        .collect();
    let highlight = s.differences.iter().enumerate().filter(|(_, d)| d.finding == "worse").map(|(i, _)| i).collect();
    Block::Table { header: header.iter().map(|k| t.t(k)).collect(), rows, highlight }
}

fn rerun_compare(c: &CompareFiles) -> String {
    let keys: Vec<(String, serde_json::Value)> = serde_json::from_value(c.keys.clone()).unwrap_or_default();
    let Some((_, base)) = keys.first() else { return format!("faultline compare {}", c.summary.base) };
    let strings = |k: &serde_json::Value| -> Vec<String> {
        k["overrides"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect()
    };
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let (base_source, common) = (base["source"].as_str().unwrap_or("?").to_owned(), strings(base));
    let mut cmd = format!("faultline compare {base_source}");
    let mut varies = String::new();
    for (name, k) in &keys[1..] {
        let source = k["source"].as_str().unwrap_or("?");
        let extra: Vec<String> = strings(k).into_iter().filter(|o| !common.contains(o)).collect();
        if source == base_source && !extra.is_empty() {
            varies.push_str(&format!(" --vary {}", quote(&format!("{name} {}", extra.join(" ")))));
        } else {
            cmd.push_str(&format!(" {source}"));
        }
    }
    cmd.push_str(&varies);
    for o in &common {
        cmd.push_str(&format!(" --set {}", quote(o)));
    }
    cmd.push_str(&format!(" --seeds {}", c.summary.seeds));
    cmd
}

/// The report of a sweep.
pub fn sweep(w: &SweepFiles, t: &Texts, lang: &'static str) -> Result<Doc, String> {
    let s = &w.summary;
    let scenario = s["scenario"].as_str().unwrap_or("?").to_owned();
    let seeds = s["seeds"].as_str().unwrap_or("?").to_owned();
    let version = w.key["faultline_version"].as_str().unwrap_or("?").to_owned();
    let failing = s["failing"].as_array().cloned().unwrap_or_default();
    let passed = if failing.is_empty() {
        t.t("summary_sweep_passed")
    } else {
        t.f("summary_sweep_failed", &[("n", failing.len().to_string())])
    };
    let runs = s["runs"].as_u64().unwrap_or(0).to_string();
    let mut blocks = vec![
        Block::Heading(t.t("section_summary")),
        Block::Para(t.f("summary_sweep", &[("runs", runs), ("passed", passed)])),
    ];
    let header =
        ["sweep_header_metric", "sweep_header_mean", "sweep_header_ci", "sweep_header_median", "sweep_header_p90"];
    let num = |v: &serde_json::Value| v.as_f64().map_or("-".into(), |x| format!("{x:.4}"));
    let rows = s["metrics"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .map(|m| {
                    let name = metric_name(m["metric"].as_str().unwrap_or("?"), t);
                    vec![
                        name,
                        num(&m["mean"]),
                        format!("[{}, {}]", num(&m["ci_low"]), num(&m["ci_high"])),
                        num(&m["p50"]),
                        num(&m["p90"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    blocks.push(Block::Table { header: header.iter().map(|k| t.t(k)).collect(), rows, highlight: vec![] });
    blocks.push(Block::Heading(t.t("section_checks")));
    let checks: Vec<Vec<String>> = s["checks"]
        .as_object()
        .map(|o| o.iter().map(|(k, v)| vec![k.clone(), v.as_u64().unwrap_or(0).to_string()]).collect())
        .unwrap_or_default();
    let highlight = checks.iter().enumerate().filter(|(_, r)| r[1] != "0").map(|(i, _)| i).collect();
    blocks.push(Block::Table {
        header: vec![t.t("checks_header_check"), t.t("sweep_header_seeds")],
        rows: checks,
        highlight,
    });
    if !failing.is_empty() {
        blocks.push(Block::Para(t.t("sweep_failing")));
        let items = failing
            .iter()
            .take(10)
            .map(|f| {
                format!("{}: {}", f["first_violation"].as_str().unwrap_or(""), f["reproduce"].as_str().unwrap_or(""))
            })
            .collect();
        blocks.push(Block::List(items));
    }
    blocks.push(Block::Heading(t.t("section_rerun")));
    blocks.push(Block::Para(t.t("rerun_intro")));
    let mut cmd = format!("faultline sweep {} --seeds {seeds}", w.key["source"].as_str().unwrap_or(&scenario));
    for o in w.key["overrides"].as_array().into_iter().flatten() {
        cmd.push_str(&format!(" --set '{}'", o.as_str().unwrap_or("")));
    }
    blocks.push(Block::Code(cmd));
    blocks.push(Block::Para(t.f("version_line", &[("version", version.clone()), ("seeds", seeds.clone())])));
    let title = t.f("title_sweep", &[("scenario", scenario), ("seeds", seeds)]);
    Ok(Doc { lang, title, subtitle: t.f("generated", &[("version", version)]), blocks })
}
