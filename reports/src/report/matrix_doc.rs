//! A selection matrix on an experiment's page: the notes' stars beside what was measured (a
//! table and a chart) and whether each column's stars rank the patterns as the measurement
//! does.

use super::charts::FAMILY;
use super::claims::{MatrixFile, MatrixRow, RankRow};
use super::doc::Block;
use super::texts::Texts;
use crate::matrix_chart::{self, Panel};

/// A rank check in the report's language.
pub(super) fn rank_sentence(r: &RankRow, t: &Texts) -> String {
    let rho = r.rho.map_or("-".to_owned(), |x| format!("{x:.2}"));
    t.f(
        "matrix_rank",
        &[
            ("column", t.t(&format!("matrix_col_{}", r.column))),
            ("measure", t.t(&format!("matrix_measure_{}", r.column))),
            ("rho", rho),
            ("at_least", format!("{}", r.at_least)),
        ],
    )
}

/// `x` with its sign, never "-0.0".
fn signed(x: f64, digits: usize) -> String {
    let scale = 10f64.powi(digits as i32);
    let rounded = (x * scale).round() / scale;
    format!("{:+.digits$}", if rounded == 0.0 { 0.0 } else { rounded })
}

fn table(m: &MatrixFile, t: &Texts, lang: &str) -> Block {
    let keys = [
        "matrix_pattern",
        "matrix_situation",
        "matrix_complexity",
        "matrix_performance",
        "matrix_operations",
        "matrix_cost",
        "matrix_added_ms",
        "matrix_added_nodes",
        "matrix_added_calls",
        "matrix_storm_success",
        "matrix_storm_p99",
        "matrix_storm_violations",
    ];
    let stars = |n: u8| "★".repeat(usize::from(n));
    let rows = m
        .rows
        .iter()
        .map(|r| {
            let d = &r.row;
            let (pattern, situation) =
                if lang == "ko" { (&d.pattern_ko, &d.situation_ko) } else { (&d.pattern, &d.situation_en) };
            let [s0, s1] = r.storm_success;
            let [p0, p1] = r.storm_p99_ms;
            let [v0, v1] = r.storm_violations;
            vec![
                pattern.clone(),
                situation.clone(),
                stars(d.stars.complexity),
                stars(d.stars.performance),
                stars(d.stars.operations),
                stars(d.stars.cost),
                signed(r.added_ms, 1),
                signed(r.added_nodes, 1),
                signed(r.added_calls, 2),
                format!("{:.2}% → {:.2}%", 100.0 * s0, 100.0 * s1),
                format!("{p0:.0} → {p1:.0}"),
                format!("{v0:.1} → {v1:.1}"),
            ]
        })
        .collect();
    Block::Table { header: keys.iter().map(|k| t.t(k)).collect(), rows, highlight: Vec::new() }
}

fn chart(m: &MatrixFile, t: &Texts, lang: &str) -> Result<Block, String> {
    let pattern = |r: &MatrixRow| if lang == "ko" { r.row.pattern_ko.clone() } else { r.row.pattern.clone() };
    let panels: Vec<Panel> = m
        .ranks
        .iter()
        .map(|k| {
            let rows = m
                .rows
                .iter()
                .map(|r| {
                    let s = r.row.stars;
                    let (stars, value, text) = match k.column.as_str() {
                        "performance" => (s.performance, r.added_ms.abs(), format!("{} ms", signed(r.added_ms, 1))),
                        "operations" => (s.operations, r.added_nodes, signed(r.added_nodes, 1)),
                        _ => (s.cost, r.added_calls, signed(r.added_calls, 2)),
                    };
                    (pattern(r), f64::from(stars), value, text)
                })
                .collect();
            let rho = k.rho.map_or("-".to_owned(), |x| format!("{x:.2}"));
            let title = t.f("matrix_panel", &[("column", t.t(&format!("matrix_col_{}", k.column))), ("rho", rho)]);
            Panel { title, rows }
        })
        .collect();
    Ok(Block::Chart {
        name: "matrix".into(),
        title: t.t("matrix_chart_title"),
        svg: matrix_chart::matrix_svg("", &panels, FAMILY)?,
        caption: Some(t.t("matrix_chart_caption")),
    })
}

/// The matrix's section: table, chart, and each column's agreement.
pub(super) fn blocks(m: &MatrixFile, t: &Texts, lang: &str) -> Result<Vec<Block>, String> {
    let ranks = m
        .ranks
        .iter()
        .map(|r| {
            format!("{}: {}", t.t(if r.holds { "matrix_agrees" } else { "matrix_disagrees" }), rank_sentence(r, t))
        })
        .collect();
    Ok(vec![
        Block::Heading(t.t("section_matrix")),
        Block::Para(t.t("matrix_intro")),
        table(m, t, lang),
        chart(m, t, lang)?,
        Block::List(ranks),
    ])
}
