//! Sagas in a run report: how many completed and how many were compensated per time bin, and a
//! Gantt of a few sagas (started to finished, each step done, the failure, the compensation),
//! read from the `saga.record` events.

use std::collections::BTreeMap;

use plotters::prelude::*;

use super::charts::{self, format_num, AXIS_TITLE_PX, FAMILY};
use super::read::EventRow;
use super::texts::Texts;

/// One saga as its records tell it.
#[derive(Debug, Clone, Default)]
struct Saga {
    started_s: f64,
    finished_s: Option<f64>,
    compensated: bool,
    steps_done: Vec<f64>,
    failed_s: Option<f64>,
}

fn sagas(events: &[EventRow]) -> BTreeMap<u64, Saga> {
    let mut out: BTreeMap<u64, Saga> = BTreeMap::new();
    for e in events.iter().filter(|e| e.kind == "saga.record") {
        let field = |name: &str| e.detail.split_whitespace().find_map(|w| w.strip_prefix(name)).map(str::to_owned);
        let (Some(id), Some(record)) = (field("id=").and_then(|i| i.parse().ok()), field("record=")) else { continue };
        let t = e.t_us as f64 / 1e6;
        let saga = out.entry(id).or_default();
        match record.split(':').next().unwrap_or("") {
            "started" => saga.started_s = t,
            "step_done" => saga.steps_done.push(t),
            "step_failed" => saga.failed_s = Some(t),
            "compensated" => saga.compensated = true,
            "finished" => saga.finished_s = Some(t),
            _ => {}
        }
    }
    out
}

type Chart = Result<Option<(String, String)>, String>;

/// Completed and compensated sagas per time bin (by when they finished), stacked; then a Gantt
/// of the first few compensated sagas and as many completed ones. `None` without sagas.
pub fn charts(events: &[EventRow], end_s: f64, bin_s: f64, t: &Texts) -> Result<Vec<(String, String, String)>, String> {
    let all = sagas(events);
    if all.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    if let Some((name, svg)) = outcomes(&all, end_s, bin_s, t)? {
        out.push((name, t.t("chart_sagas_title"), svg));
    }
    if let Some((name, svg)) = gantt(&all, t)? {
        out.push((name, t.t("chart_gantt_title"), svg));
    }
    Ok(out)
}

fn outcomes(all: &BTreeMap<u64, Saga>, end_s: f64, bin_s: f64, t: &Texts) -> Chart {
    let bins = (end_s / bin_s).ceil().max(1.0) as usize + 1;
    let (mut done, mut undone) = (vec![0u64; bins], vec![0u64; bins]);
    for s in all.values() {
        let Some(f) = s.finished_s else { continue };
        let i = ((f / bin_s) as usize).min(bins - 1);
        if s.compensated {
            undone[i] += 1;
        } else {
            done[i] += 1;
        }
    }
    let top = done.iter().zip(&undone).map(|(a, b)| a + b).max().unwrap_or(0).max(1) as f64 * 1.15;
    let svg = charts::svg(300, |root| {
        let mut chart = ChartBuilder::on(&root)
            .margin(14)
            .caption(t.t("axis_sagas"), (FAMILY, AXIS_TITLE_PX))
            .x_label_area_size(42)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..end_s.max(0.001), 0f64..top)
            .map_err(charts::err)?;
        chart
            .configure_mesh()
            .x_desc(t.t("axis_time"))
            .x_label_formatter(&|v| format_num(*v))
            .y_label_formatter(&|v| format_num(*v))
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, AXIS_TITLE_PX))
            .draw()
            .map_err(charts::err)?;
        let layers =
            [("legend_completed", RGBColor(20, 140, 70), false), ("legend_compensated", RGBColor(230, 140, 0), true)];
        for (key, color, upper) in layers {
            let bars = (0..bins).filter(|&i| if upper { undone[i] > 0 } else { done[i] > 0 }).map(|i| {
                let (lo, hi) = if upper { (done[i], done[i] + undone[i]) } else { (0, done[i]) };
                let x = i as f64 * bin_s;
                Rectangle::new([(x, lo as f64), (x + bin_s, hi as f64)], color.mix(0.85).filled())
            });
            chart
                .draw_series(bars)
                .map_err(charts::err)?
                .label(t.t(key))
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], color.filled()));
        }
        charts::legend(&mut chart)
    })?;
    Ok(Some(("sagas".into(), svg)))
}

fn gantt(all: &BTreeMap<u64, Saga>, t: &Texts) -> Chart {
    let pick = |compensated: bool| {
        all.iter().filter(move |(_, s)| s.compensated == compensated && s.finished_s.is_some()).take(4)
    };
    let shown: Vec<(&u64, &Saga)> = pick(true).chain(pick(false)).collect();
    if shown.is_empty() {
        return Ok(None);
    }
    let x0 = shown.iter().map(|(_, s)| s.started_s).fold(f64::INFINITY, f64::min);
    let x1 = shown.iter().filter_map(|(_, s)| s.finished_s).fold(x0, f64::max);
    let ms = |x: f64| (x - x0) * 1e3;
    let n = shown.len();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, 80 + 34 * n as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let labels: Vec<String> = shown
            .iter()
            .map(|(id, s)| {
                format!("#{id} {}", if s.compensated { t.t("legend_compensated") } else { t.t("legend_completed") })
            })
            .collect();
        let x_desc = t.f("axis_since", &[("t", format_num((x0 * 1000.0).round() / 1000.0))]);
        let mut chart = charts::rows_chart(&root, &labels, (ms(x1).max(1.0) * 1.02, 200), x_desc)?;
        for (i, (_, s)) in shown.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let end = s.finished_s.unwrap_or(x1);
            let bar = if s.compensated { RGBColor(240, 190, 110) } else { RGBColor(150, 210, 160) };
            let e = |x: DrawingAreaErrorKind<_>| x.to_string();
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(ms(s.started_s), y - 0.25), (ms(end), y + 0.25)],
                    bar.filled(),
                )))
                .map_err(e)?;
            let ticks = s.steps_done.iter().map(|&x| Circle::new((ms(x), y), 4, RGBColor(20, 120, 60).filled()));
            chart.draw_series(ticks).map_err(|e| e.to_string())?;
            if let Some(f) = s.failed_s {
                let cross = Cross::new((ms(f), y), 6, RGBColor(200, 40, 30).stroke_width(2));
                chart.draw_series(std::iter::once(cross)).map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(Some(("saga_gantt".into(), svg)))
}
