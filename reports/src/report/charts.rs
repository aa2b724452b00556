//! The charts of a run report, drawn as SVG text in the report's language with a font that has
//! Hangul (NanumSquare, SIL Open Font License, `reports/assets`): latency of the answered and
//! of the failed apart, every call by outcome, requests per second by outcome (the lanes of what
//! the patterns did are in `lanes`).

use std::sync::Once;

/// Axis and panel titles' size, px. The CLI's charts give the y axis's title as a panel
/// caption, not rotated text: plotters places rotated glyphs unevenly ("client" read as
/// "dient"), least at this size.
pub(crate) const AXIS_TITLE_PX: u32 = 15;

use faultline_sim::stats::SeriesPoint;
use faultline_sim::FaultWindow;
use plotters::coord::combinators::BindKeyPoints;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::texts::Texts;

/// The font family the report's charts and pages use.
pub const FAMILY: &str = "NanumSquare";
/// The font itself (embedded in the HTML, so that the page needs no installed font).
pub const FONT: &[u8] = include_bytes!("../../assets/NanumSquareR.ttf");

const W: u32 = 960;
const SHADE: RGBAColor = RGBAColor(240, 80, 60, 0.15);

/// Makes the family known to plotters (for measuring text).
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            let _ = plotters::style::register_font(FAMILY, style, FONT);
        }
    });
}

pub(super) type Res = Result<(), String>;
/// Reads one figure from a bin.
type Read<T> = fn(&SeriesPoint) -> T;
/// A stacked layer's bottom and top, in requests.
type Span = (u64, u64);

pub(super) fn svg(height: u32, draw: impl FnOnce(DrawingArea<SVGBackend<'_>, Shift>) -> Res) -> Result<String, String> {
    register();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (W, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        draw(root)?;
    }
    Ok(out)
}

pub(super) fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn shade_faults<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    faults: &[FaultWindow],
    (y0, y1): (f64, f64),
    label: &str,
) -> Res
where
    DB::ErrorType: 'static,
{
    for (i, f) in faults.iter().enumerate() {
        let s = chart
            .draw_series(std::iter::once(Rectangle::new(
                [(f.start_s, y0), (f.end_s.max(f.start_s + 0.05), y1)],
                SHADE.filled(),
            )))
            .map_err(err)?;
        if i == 0 {
            let label = label.to_owned();
            s.label(label).legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], SHADE.filled()));
        }
        let text = format!("{} {}", f.kind, f.target);
        let style = (FAMILY, 12).into_font().color(&RGBColor(150, 40, 30));
        chart.draw_series(std::iter::once(Text::new(text, (f.start_s, y1), style))).map_err(err)?;
    }
    Ok(())
}

/// A latency-over-time chart (log scale, 1-2-5 ticks) with its axes and fault windows drawn.
type LatencyChart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<
        plotters::coord::types::RangedCoordf64,
        plotters::coord::combinators::WithKeyPoints<plotters::coord::combinators::LogCoord<f64>>,
    >,
>;

fn latency_axes<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    end_s: f64,
    (y_min, y_max): (f64, f64),
    faults: &[FaultWindow],
    t: &Texts,
) -> Result<LatencyChart<'a, 'b>, String> {
    let mut chart = ChartBuilder::on(root)
        .margin(14)
        .caption(t.t("axis_latency"), (FAMILY, AXIS_TITLE_PX))
        .x_label_area_size(42)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..end_s.max(0.001), (y_min..y_max).log_scale().with_key_points(log_ticks(y_min, y_max)))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(t.t("axis_time"))
        .y_label_formatter(&|v| format_ms(*v))
        .x_label_formatter(&|v| format_num(*v))
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, AXIS_TITLE_PX))
        .draw()
        .map_err(err)?;
    shade_faults(&mut chart, faults, (y_min, y_max), &t.t("legend_fault"))?;
    Ok(chart)
}

/// `items` cut where a time bin is missing: a line drawn over a gap would claim values for bins
/// that had none. `step` is the bins' width (the smallest gap between two items, when not
/// known).
pub(crate) fn runs_by<T>(items: &[T], t: impl Fn(&T) -> f64, step: Option<f64>) -> Vec<&[T]> {
    let step = step.unwrap_or_else(|| {
        items.windows(2).map(|w| t(&w[1]) - t(&w[0])).filter(|d| *d > 0.0).fold(f64::INFINITY, f64::min)
    });
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..items.len() {
        if t(&items[i]) - t(&items[i - 1]) > step * 1.5 {
            out.push(&items[start..i]);
            start = i;
        }
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

/// Latency over time: p50 and p99 of the answered, p99 of the failed, apart (log scale).
pub fn latency(points: &[SeriesPoint], faults: &[FaultWindow], end_s: f64, t: &Texts) -> Result<String, String> {
    let values: Vec<f64> = points.iter().flat_map(|p| [p.ok_p50_ms, p.ok_p99_ms, p.failed_p99_ms]).flatten().collect();
    let y_max = values.iter().copied().fold(1.0f64, f64::max) * 3.0;
    let y_min = values.iter().copied().filter(|v| *v > 0.0).fold(y_max, f64::min).max(0.01) / 2.0;
    let step = points.windows(2).map(|w| w[1].t_s - w[0].t_s).filter(|d| *d > 0.0).fold(f64::INFINITY, f64::min);
    svg(420, |root| {
        let mut chart = latency_axes(&root, end_s, (y_min, y_max), faults, t)?;
        let lines: [(&str, RGBColor, Read<Option<f64>>); 3] = [
            ("legend_ok_p50", RGBColor(30, 100, 200), |p| p.ok_p50_ms),
            ("legend_ok_p99", RGBColor(20, 140, 70), |p| p.ok_p99_ms),
            ("legend_failed_p99", RGBColor(200, 50, 40), |p| p.failed_p99_ms),
        ];
        for (key, color, read) in lines {
            let pts: Vec<(f64, f64)> = points.iter().filter_map(|p| read(p).map(|v| (p.t_s, v.max(y_min)))).collect();
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 2, color.filled())))
                .map_err(err)?
                .label(t.t(key))
                .legend(move |(x, y)| Circle::new((x + 9, y), 4, color.filled()));
            for run in runs_by(&pts, |p| p.0, Some(step)) {
                chart.draw_series(LineSeries::new(run.to_vec(), color.mix(0.6).stroke_width(1))).map_err(err)?;
            }
        }
        legend(&mut chart)
    })
}

pub(super) fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
) -> Res
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FAMILY, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

/// Every client call (a deterministic sample of at most 6,000) as a dot at its start and
/// latency, coloured by its outcome: the shape of a storm that percentiles smooth away.
pub fn scatter(calls: &[(u64, u64, String)], faults: &[FaultWindow], end_s: f64, t: &Texts) -> Result<String, String> {
    let step = calls.len().div_ceil(6000).max(1);
    let ms = |us: u64| (us as f64 / 1e3).max(0.01);
    let y_max = calls.iter().map(|c| ms(c.1)).fold(1.0f64, f64::max) * 2.0;
    let y_min = calls.iter().map(|c| ms(c.1)).fold(y_max, f64::min) / 2.0;
    let groups: [(&str, RGBColor, &[&str]); 4] = [
        ("legend_ok", RGBColor(20, 140, 70), &["ok"]),
        ("legend_degraded", RGBColor(230, 150, 0), &["partial", "fallback"]),
        ("legend_timeout", RGBColor(130, 60, 170), &["timeout", "unfinished"]),
        ("legend_failed", RGBColor(200, 50, 40), &[]),
    ];
    svg(400, |root| {
        let mut chart = latency_axes(&root, end_s, (y_min, y_max), faults, t)?;
        for (i, (key, color, outcomes)) in groups.iter().enumerate() {
            let known: Vec<&str> = groups[..3].iter().flat_map(|g| g.2.iter().copied()).collect();
            let mine = |o: &str| if i == 3 { !known.contains(&o) } else { outcomes.contains(&o) };
            let dots = calls
                .iter()
                .step_by(step)
                .filter(|c| mine(&c.2))
                .map(|c| Circle::new((c.0 as f64 / 1e6, ms(c.1)), 1, color.mix(0.6).filled()));
            let color = *color;
            chart
                .draw_series(dots)
                .map_err(err)?
                .label(t.t(key))
                .legend(move |(x, y)| Circle::new((x + 9, y), 4, color.filled()));
        }
        legend(&mut chart)
    })
}

/// Requests per second by outcome, stacked: answered in full, degraded, failed.
pub fn outcomes(
    points: &[SeriesPoint],
    bin_s: f64,
    faults: &[FaultWindow],
    end_s: f64,
    t: &Texts,
) -> Result<String, String> {
    let rate = |n: u64| n as f64 / bin_s.max(1e-9);
    let y_max = points.iter().map(|p| rate(p.requests)).fold(1.0f64, f64::max) * 1.15;
    svg(340, |root| {
        let mut chart = ChartBuilder::on(&root)
            .margin(14)
            .caption(t.t("axis_rate"), (FAMILY, AXIS_TITLE_PX))
            .x_label_area_size(42)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..end_s.max(0.001), 0f64..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(t.t("axis_time"))
            .x_label_formatter(&|v| format_num(*v))
            .y_label_formatter(&|v| format_num(*v))
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, AXIS_TITLE_PX))
            .draw()
            .map_err(err)?;
        shade_faults(&mut chart, faults, (0.0, y_max), &t.t("legend_fault"))?;
        // Stacked from the bottom: full answers, then degraded, then failed.
        let layers: [(&str, RGBColor, Read<Span>); 3] = [
            ("legend_ok", RGBColor(20, 140, 70), |p| (0, p.ok - p.degraded)),
            ("legend_degraded", RGBColor(230, 160, 20), |p| (p.ok - p.degraded, p.ok)),
            ("legend_failed", RGBColor(200, 50, 40), |p| (p.ok, p.requests)),
        ];
        for (key, color, span) in layers {
            let bars = points.iter().filter(|p| span(p).1 > span(p).0).map(|p| {
                let (lo, hi) = span(p);
                Rectangle::new([(p.t_s, rate(lo)), (p.t_s + bin_s, rate(hi))], color.mix(0.8).filled())
            });
            chart
                .draw_series(bars)
                .map_err(err)?
                .label(t.t(key))
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], color.filled()));
        }
        legend(&mut chart)
    })
}

/// A chart of rows (lanes, a Gantt): x from 0 to `x_end`, one row per name, the first on top.
pub(super) type RowChart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Builds a chart of rows named `names` (the first on top, at y = len - 1), with its mesh: the
/// names as y labels, `x_desc` under the x axis.
pub(super) fn rows_chart<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    names: &[String],
    (x_end, label_width): (f64, u32),
    x_desc: String,
) -> Result<RowChart<'a, 'b>, String> {
    let n = names.len();
    let mut chart = ChartBuilder::on(root)
        .margin(14)
        .x_label_area_size(42)
        .y_label_area_size(label_width)
        .build_cartesian_2d(0f64..x_end, -0.5f64..n as f64 - 0.5)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .x_label_formatter(&|v| format_num(*v))
        .y_labels(n)
        .y_label_formatter(&|y| {
            let i = y.round();
            if (y - i).abs() < 1e-6 && i >= 0.0 {
                names.get(n.saturating_sub(1 + i as usize)).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .disable_y_mesh()
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, AXIS_TITLE_PX))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// 1, 2 and 5 times the powers of ten between `lo` and `hi`: the ticks of a log axis (plotters
/// labels only the decades, which leaves a p50 of 30 ms unlabelled).
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut decade = 10f64.powf(lo.max(1e-6).log10().floor());
    while decade <= hi {
        for m in [1.0, 2.0, 5.0] {
            let v = m * decade;
            if v >= lo && v <= hi {
                ticks.push(v);
            }
        }
        decade *= 10.0;
    }
    ticks
}

/// `1,500` for thousands, `0.25` for fractions: tick labels without a stray `.0`.
pub fn format_num(v: f64) -> String {
    if v.fract().abs() < 1e-9 {
        format!("{}", v as i64)
    } else if v.abs() < 10.0 {
        format!("{v:.2}").trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        format!("{v:.1}")
    }
}

fn format_ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{}s", format_num(v / 1000.0))
    } else {
        format_num(v)
    }
}
