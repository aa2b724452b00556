//! The report of an experiment (a claim of the course notes tested in several cases) and the
//! course's contents page (every claim with its verdict, linked to its experiment's report).

use super::charts::{register, FAMILY};
use super::claims::{CaseRow, ExpectDef, ExperimentFile};
use super::compare_doc::{finding, metric_name, over_time};
use super::doc::{Block, Doc};
use super::matrix_doc;
use super::read::{CourseFiles, ExperimentFiles};
use super::texts::Texts;
use crate::compare_chart::{self, ForestRow};

fn num(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.4}")
    }
}

/// A measured figure, or a dash when it was not measured.
fn opt(x: Option<f64>) -> String {
    x.map_or("-".to_owned(), num)
}

/// A condition in the report's language.
fn when(c: &CaseRow, lang: &str) -> String {
    if lang == "ko" {
        c.case.when_ko.clone()
    } else {
        c.case.when_en.clone()
    }
}

/// The verdict in one line, in the report's language.
pub(super) fn verdict_line(e: &ExperimentFile, t: &Texts, lang: &str) -> String {
    // As the verdict counts them: the cases expecting something (or broken), the rank checks.
    let list = |hold: bool| {
        let cases = e.cases.iter().filter(|c| !c.expects.is_empty() || !c.holds);
        let cases = cases.filter(|c| c.holds == hold).map(|c| when(c, lang));
        let ranks = e.matrix.iter().flat_map(|m| &m.ranks).filter(|r| r.holds == hold);
        cases.chain(ranks.map(|r| matrix_doc::rank_sentence(r, t))).collect::<Vec<_>>()
    };
    match e.verdict.as_str() {
        "holds" => t.f("verdict_holds", &[("when", list(true).join("; "))]),
        "holds_only_when" => {
            t.f("verdict_holds_only_when", &[("when", list(true).join("; ")), ("not", list(false).join("; "))])
        }
        _ => t.f("verdict_does_not_hold", &[("not", list(false).join("; "))]),
    }
}

/// What an expectation wanted, in words.
fn wanted(x: &ExpectDef, t: &Texts) -> String {
    let mut parts = Vec::new();
    if let Some(f) = &x.finding {
        let f = if f == "same" { "no_detectable_difference" } else { f.as_str() };
        parts.push(finding(f, t));
    }
    let mut push = |key: &str, v: Option<f64>| {
        if let Some(v) = v {
            parts.push(t.f(key, &[("v", num(v))]));
        }
    };
    push("want_at_most", x.at_most);
    push("want_at_least", x.at_least);
    push("want_ratio_at_most", x.ratio_at_most);
    push("want_ratio_at_least", x.ratio_at_least);
    parts.join(", ")
}

fn case_table(c: &CaseRow, t: &Texts) -> Block {
    let header = [
        "expect_metric",
        "expect_base",
        "expect_variant",
        "expect_ratio",
        "expect_ci",
        "expect_p",
        "expect_finding",
        "expect_wanted",
        "expect_holds",
    ];
    let mut header: Vec<String> = header.iter().map(|k| t.t(k)).collect();
    header[1] = format!("{} ({})", header[1], c.case.labels[0]);
    header[2] = format!("{} ({})", header[2], c.case.labels[1]);
    let rows = c
        .expects
        .iter()
        .map(|x| {
            vec![
                metric_name(&x.expect.metric, t),
                opt(x.base_mean),
                opt(x.variant_mean),
                x.ratio.map_or("-".to_owned(), |r| format!("×{r:.3}")),
                format!("[{}, {}]", opt(x.ci_low), opt(x.ci_high)),
                match x.p_value {
                    Some(p) if p < 1e-4 => "<0.0001".into(),
                    Some(p) => format!("{p:.4}"),
                    None => "-".into(),
                },
                finding(&x.finding, t),
                wanted(&x.expect, t),
                t.t(if x.holds { "yes" } else { "no" }),
            ]
        })
        .collect();
    let highlight = c.expects.iter().enumerate().filter(|(_, x)| !x.holds).map(|(i, _)| i).collect();
    Block::Table { header, rows, highlight }
}

/// Every case's expectations as one forest plot: the paired difference as a share of the
/// larger mean, with its CI; green where the case holds, red where it does not.
fn claim_chart(e: &ExperimentFile, t: &Texts) -> Result<Block, String> {
    let rows: Vec<ForestRow> = e
        .cases
        .iter()
        .flat_map(|c| c.expects.iter().map(move |x| (c, x)))
        .filter_map(|(c, x)| {
            let (b, v, lo, hi) = (x.base_mean?, x.variant_mean?, x.ci_low?, x.ci_high?);
            let scale = b.abs().max(v.abs()).max(1e-12);
            let rel = |d: f64| 100.0 * d / scale;
            Some(ForestRow {
                label: format!("{}: {}", c.case.name, metric_name(&x.expect.metric, t)),
                diff: rel(v - b),
                lo: rel(lo),
                hi: rel(hi),
                better: Some(x.holds),
            })
        })
        .collect();
    Ok(Block::Chart {
        name: "claim".into(),
        title: t.t("chart_claim_title"),
        svg: compare_chart::forest_svg("", "%", &rows, FAMILY)?,
        caption: Some(t.t("chart_claim_caption")),
    })
}

/// The report of an experiment.
pub fn experiment(files: &ExperimentFiles, t: &Texts, lang: &'static str) -> Result<Doc, String> {
    register();
    let e = &files.result;
    let d = &e.experiment;
    let pattern = if lang == "ko" { &d.pattern_ko } else { &d.pattern };
    let title = t.f("title_experiment", &[("pattern", pattern.clone()), ("name", d.name.clone())]);
    let mut blocks = vec![
        Block::Heading(t.t("section_claim")),
        Block::Para(t.f("claim_quote", &[("source", d.source.clone()), ("quote", d.quote.clone())])),
    ];
    if lang != "ko" {
        blocks.push(Block::Para(t.f("claim_translation", &[("claim", d.claim_en.clone())])));
    }
    blocks.push(Block::Heading(t.t("section_verdict")));
    blocks.push(Block::Para(verdict_line(e, t, lang)));
    blocks.push(Block::Para(t.f("verdict_rule", &[("seeds", e.seeds.clone())])));
    if e.cases.iter().any(|c| !c.expects.is_empty()) {
        blocks.push(claim_chart(e, t)?);
    }
    if let Some(m) = &e.matrix {
        blocks.extend(matrix_doc::blocks(m, t, lang)?);
    }
    for (c, compare) in e.cases.iter().zip(&files.cases) {
        blocks.push(Block::Heading(t.f("section_case", &[("when", when(c, lang))])));
        if c.expects.is_empty() {
            let labels = [("base", c.case.labels[0].clone()), ("variant", c.case.labels[1].clone())];
            blocks.push(Block::Para(t.f("matrix_case_measures", &labels)));
        } else {
            let verdict = t.t(if c.holds { "case_holds" } else { "case_does_not_hold" });
            blocks.push(Block::Para(t.f(
                "case_intro",
                &[("base", c.case.labels[0].clone()), ("variant", c.case.labels[1].clone()), ("verdict", verdict)],
            )));
            blocks.push(case_table(c, t));
        }
        for (label, seeds) in c.failed_checks.iter().filter(|(_, s)| !s.is_empty()) {
            blocks.push(Block::Para(
                t.f("case_checks_violated", &[("label", label.clone()), ("seeds", format!("{seeds:?}"))]),
            ));
        }
        blocks.push(over_time(compare, t, &format!("over_time_{}", c.case.name))?);
    }
    blocks.push(Block::Heading(t.t("section_rerun")));
    blocks.push(Block::Code(format!("faultline experiment {} --seeds {}", d.name, e.seeds)));
    let subtitle = t.f("generated", &[("version", files.version.clone())]);
    Ok(Doc { lang, title, subtitle, blocks })
}

/// The course's contents page.
pub fn course(c: &CourseFiles, t: &Texts, lang: &'static str) -> Doc {
    let header = ["course_pattern", "course_claim", "course_verdict", "course_seeds"];
    let rows = c
        .experiments
        .iter()
        .map(|e| {
            let d = &e.experiment;
            let pattern = if lang == "ko" { d.pattern_ko.clone() } else { d.pattern.clone() };
            vec![pattern, d.quote.clone(), verdict_line(e, t, lang), e.seeds.clone()]
        })
        .collect();
    let broken: Vec<usize> =
        c.course.experiments.iter().enumerate().filter(|(_, e)| !e.checks_passed).map(|(i, _)| i).collect();
    let links = c
        .experiments
        .iter()
        .map(|e| {
            let d = &e.experiment;
            let pattern = if lang == "ko" { &d.pattern_ko } else { &d.pattern };
            (format!("{pattern}: {}", d.name), format!("{}/report.{lang}.html", d.name))
        })
        .collect();
    let blocks = vec![
        Block::Para(t.t("course_intro")),
        Block::Table { header: header.iter().map(|k| t.t(k)).collect(), rows, highlight: broken },
        Block::Heading(t.t("course_sections")),
        Block::Links(links),
        Block::Heading(t.t("section_rerun")),
        Block::Code(match &c.course.seeds {
            Some(s) => format!("faultline course --lang {lang} --seeds {s}"),
            None => format!("faultline course --lang {lang}"),
        }),
    ];
    let subtitle = t.f("generated", &[("version", c.course.faultline_version.clone())]);
    Doc { lang, title: t.t("title_course"), subtitle, blocks }
}
