//! Charts of a comparison: the variants over virtual time (the median across seeds per time
//! bin, with the inter-quartile band shaded) for the client's p99 and success, fault windows
//! shaded; and a forest plot of the paired differences against the base with their 95% CIs.
//! Same font and size as the run charts ([`crate::chart`]).

use std::path::Path;

use faultline_sim::FaultWindow;
use plotters::coord::combinators::BindKeyPoints;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::report::charts::log_ticks;

use crate::chart::{register_font, time_panel, SHADE, SIZE};

/// One time bin across seeds: quartiles of a figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandPoint {
    /// Start of the bin, virtual s.
    pub t_s: f64,
    /// First quartile across seeds.
    pub q25: f64,
    /// Median across seeds.
    pub q50: f64,
    /// Third quartile across seeds.
    pub q75: f64,
}

/// One variant's figure over time.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// The variant.
    pub name: String,
    /// Its bins.
    pub points: Vec<BandPoint>,
}

/// What the over-time chart shows.
pub struct OverTime<'a> {
    /// Title.
    pub title: &'a str,
    /// Client p99 per variant, ms.
    pub p99: &'a [Band],
    /// Client success per variant, %.
    pub success: &'a [Band],
    /// Fault windows (the same for every variant).
    pub faults: &'a [FaultWindow],
    /// End of the time axis, s.
    pub end_s: f64,
}

/// One row of the forest plot.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestRow {
    /// `variant: metric`.
    pub label: String,
    /// Mean difference.
    pub diff: f64,
    /// CI ends.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
    /// Better (green), worse (red) or neither (grey).
    pub better: Option<bool>,
}

/// The words and font of the charts (the report draws them in its language).
#[derive(Debug, Clone, Copy)]
pub struct Words<'a> {
    /// Font family.
    pub font: &'a str,
    /// The p99 panel's axis.
    pub p99_axis: &'a str,
    /// The success panel's axis.
    pub success_axis: &'a str,
    /// The time axis.
    pub time_axis: &'a str,
    /// After each variant's name in the legend.
    pub band_suffix: &'a str,
}

/// English, in the run charts' font.
pub const ENGLISH: Words<'static> = Words {
    font: "sans-serif",
    p99_axis: "answered p99 (ms, log scale)",
    success_axis: "client success (%)",
    time_axis: "virtual time (s)",
    band_suffix: "(median, IQR shaded)",
};

/// The over-time chart as SVG text.
pub fn over_time_svg(chart: &OverTime<'_>, words: &Words<'_>) -> Result<String, String> {
    let mut out = String::new();
    draw_over_time(SVGBackend::with_string(&mut out, SIZE).into_drawing_area(), chart, words)?;
    Ok(out)
}

/// The forest plot as SVG text.
pub fn forest_svg(title: &str, x_desc: &str, rows: &[ForestRow], font: &str) -> Result<String, String> {
    let mut out = String::new();
    let size = (SIZE.0, (120 + 26 * rows.len() as u32).max(260));
    draw_forest(SVGBackend::with_string(&mut out, size).into_drawing_area(), title, x_desc, rows, font)?;
    Ok(out)
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(200, 60, 40),
    RGBColor(30, 100, 200),
    RGBColor(20, 140, 70),
    RGBColor(150, 60, 170),
    RGBColor(210, 140, 0),
    RGBColor(90, 90, 90),
];

/// Draws `over_time.png` and `over_time.svg` into `dir`.
pub fn write_over_time(dir: &Path, chart: &OverTime<'_>) -> Result<(), String> {
    register_font()?;
    let (png, svg) = (dir.join("over_time.png"), dir.join("over_time.svg"));
    draw_over_time(BitMapBackend::new(&png, SIZE).into_drawing_area(), chart, &ENGLISH)
        .map_err(|e| format!("{}: {e}", png.display()))?;
    draw_over_time(SVGBackend::new(&svg, SIZE).into_drawing_area(), chart, &ENGLISH)
        .map_err(|e| format!("{}: {e}", svg.display()))
}

fn draw_over_time<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    c: &OverTime<'_>,
    w: &Words<'_>,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(e)?;
    let root = root.titled(c.title, (w.font, 20)).map_err(e)?;
    let (upper, lower) = root.split_vertically(SIZE.1 * 55 / 100);
    let x_max = c.end_s.max(1.0);
    let y_max = c.p99.iter().flat_map(|b| &b.points).map(|p| p.q75).fold(1.0f64, f64::max) * 2.0;
    let y_min =
        c.p99.iter().flat_map(|b| &b.points).map(|p| p.q25).filter(|v| *v > 0.0).fold(y_max, f64::min).max(0.1) / 2.0;
    let mut top = ChartBuilder::on(&upper)
        .margin(12)
        .caption(w.p99_axis, (w.font, crate::report::charts::AXIS_TITLE_PX))
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, (y_min..y_max).log_scale().with_key_points(log_ticks(y_min, y_max)))
        .map_err(e)?;
    top.configure_mesh()
        .y_label_formatter(&|v| crate::report::charts::format_num(*v))
        .x_label_formatter(&|v| crate::report::charts::format_num(*v))
        .label_style((w.font, 13))
        .axis_desc_style((w.font, crate::report::charts::AXIS_TITLE_PX))
        .draw()
        .map_err(e)?;
    for f in c.faults {
        let band = [(f.start_s, y_min), (f.end_s.max(f.start_s + x_max / 400.0), y_max)];
        top.draw_series(std::iter::once(Rectangle::new(band, SHADE.filled()))).map_err(e)?;
    }
    for (i, b) in c.p99.iter().enumerate() {
        let label = format!("{} {}", b.name, w.band_suffix);
        let pen = (PALETTE[i % PALETTE.len()], width(i, c.p99.len()));
        draw_band(&mut top, &b.points, pen, y_min, Some(label))?;
    }
    top.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((w.font, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    let mut bottom = time_panel(&lower, w.success_axis, 105.0, c.faults, x_max, (w.font, w.time_axis))?;
    for (i, b) in c.success.iter().enumerate() {
        let pen = (PALETTE[i % PALETTE.len()], width(i, c.success.len()));
        draw_band(&mut bottom, &b.points, pen, 0.0, None)?;
    }
    root.present().map_err(e)
}

/// The line width of variant `i` of `n`: the first drawn widest, so that a later line on top
/// of it (variants that agree) leaves its edges showing.
fn width(i: usize, n: usize) -> u32 {
    2 + (n.saturating_sub(1 + i)).min(2) as u32
}

/// One band (its inter-quartile area and its median line, values below `floor` drawn at it),
/// a piece per run of consecutive bins: where no request was answered there is no latency to
/// draw, and the line breaks. The first piece carries the legend's `label`.
fn draw_band<DB, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    points: &[BandPoint],
    (color, width): (RGBColor, u32),
    floor: f64,
    label: Option<String>,
) -> Result<(), String>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let clamp = |v: f64| v.max(floor);
    let mut label = label;
    for run in crate::report::charts::runs_by(points, |p| p.t_s, None) {
        let area: Vec<(f64, f64)> =
            run.iter().map(|p| (p.t_s, clamp(p.q75))).chain(run.iter().rev().map(|p| (p.t_s, clamp(p.q25)))).collect();
        chart.draw_series(std::iter::once(Polygon::new(area, color.mix(0.15).filled()))).map_err(|e| e.to_string())?;
        let line = chart
            .draw_series(LineSeries::new(run.iter().map(|p| (p.t_s, clamp(p.q50))), color.stroke_width(width)))
            .map_err(|e| e.to_string())?;
        if let Some(l) = label.take() {
            line.label(l).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(width)));
        }
    }
    Ok(())
}

/// Draws `differences.png` and `differences.svg` into `dir`: one row per difference, its mean
/// as a dot and its 95% CI as a bar, a line at zero.
pub fn write_forest(dir: &Path, title: &str, x_desc: &str, rows: &[ForestRow]) -> Result<(), String> {
    register_font()?;
    let (png, svg) = (dir.join("differences.png"), dir.join("differences.svg"));
    let size = (SIZE.0, (120 + 26 * rows.len() as u32).max(260));
    draw_forest(BitMapBackend::new(&png, size).into_drawing_area(), title, x_desc, rows, "sans-serif")
        .map_err(|e| format!("{}: {e}", png.display()))?;
    draw_forest(SVGBackend::new(&svg, size).into_drawing_area(), title, x_desc, rows, "sans-serif")
        .map_err(|e| format!("{}: {e}", svg.display()))
}

fn draw_forest<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    rows: &[ForestRow],
    font: &str,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(e)?;
    let root = root.titled(title, (font, 20)).map_err(e)?;
    let reach = rows
        .iter()
        .flat_map(|r| [r.lo.abs(), r.hi.abs(), r.diff.abs()])
        .filter(|v| v.is_finite())
        .fold(1.0f64, f64::max)
        * 1.1;
    let n = rows.len().max(1) as f64;
    let labels: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
    let mut chart = ChartBuilder::on(&root)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(
            labels.iter().map(|l| l.chars().count() as u32 * 7 + 24).max().unwrap_or(100).min(SIZE.0 / 2),
        )
        .build_cartesian_2d(-reach..reach, -0.5f64..n - 0.5)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_labels(rows.len().max(1))
        .y_label_formatter(&|y| {
            let i = y.round();
            if (y - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(rows.len().saturating_sub(1 + i as usize)).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .disable_y_mesh()
        .label_style((font, 13))
        .axis_desc_style((font, crate::report::charts::AXIS_TITLE_PX))
        .draw()
        .map_err(e)?;
    chart.draw_series(LineSeries::new([(0.0, -0.5), (0.0, n - 0.5)], BLACK.stroke_width(1))).map_err(e)?;
    for (i, r) in rows.iter().enumerate() {
        let y = n - 1.0 - i as f64;
        let color = match r.better {
            Some(true) => RGBColor(20, 140, 70),
            Some(false) => RGBColor(200, 50, 40),
            None => RGBColor(120, 120, 120),
        };
        chart.draw_series(LineSeries::new([(r.lo, y), (r.hi, y)], color.stroke_width(3))).map_err(e)?;
        chart.draw_series(std::iter::once(Circle::new((r.diff, y), 5, color.filled()))).map_err(e)?;
    }
    root.present().map_err(e)
}
