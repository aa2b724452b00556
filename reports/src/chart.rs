//! Latency over time (p50 and p99 per time bin) of the entry edge and, below it, the share of
//! requests that succeeded, with fault windows shaded, as PNG and SVG; and a one-line chart of
//! any measure over time (a read model's lag). The success panel is
//! there because latency alone misleads: when a service sheds everything, latency drops.
//!
//! PNG text is drawn with DejaVu Sans shipped in this repository (`reports/assets`), so charts
//! render on machines without system fonts. DejaVu has no Hangul: chart labels stay Latin.

use std::path::Path;
use std::sync::Once;

use faultline_sim::{EdgeSummary, FaultWindow, RunOutput};
use plotters::coord::combinators::BindKeyPoints;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::report::charts::log_ticks;

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
pub(crate) const SIZE: (u32, u32) = (1000, 640);

pub(crate) fn register_font() -> Result<(), String> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            if plotters::style::register_font("sans-serif", style, FONT).is_err() {
                result = Err("the bundled DejaVu Sans font could not be loaded".to_owned());
            }
        }
    });
    result
}

/// Draws `latency.png` and `latency.svg` into `dir` for the run's entry edge.
pub fn write_latency_chart(out: &RunOutput, dir: &Path) -> Result<(), String> {
    register_font()?;
    let Some(edge) = out.edges.first() else { return Ok(()) };
    let title = format!("{} (seed {}): {}", out.scenario, out.seed, edge.edge);
    let png = dir.join("latency.png");
    let svg = dir.join("latency.svg");
    draw(BitMapBackend::new(&png, SIZE).into_drawing_area(), &title, edge, &out.faults, out.end_s)
        .map_err(|e| format!("{}: {e}", png.display()))?;
    draw(SVGBackend::new(&svg, SIZE).into_drawing_area(), &title, edge, &out.faults, out.end_s)
        .map_err(|e| format!("{}: {e}", svg.display()))
}

/// Draws `<stem>.png` and `<stem>.svg` into `dir`: one line over virtual time (`points`:
/// `(t_s, value)`), fault windows shaded. For measures derived from a run's events, such as a
/// read model's lag.
pub fn write_series_chart(
    dir: &Path,
    stem: &str,
    title: &str,
    y_desc: &str,
    points: &[(f64, f64)],
    faults: &[FaultWindow],
    end_s: f64,
) -> Result<(), String> {
    register_font()?;
    let png = dir.join(format!("{stem}.png"));
    let svg = dir.join(format!("{stem}.svg"));
    let size = (SIZE.0, SIZE.1 / 2 + 60);
    draw_series(BitMapBackend::new(&png, size).into_drawing_area(), title, y_desc, points, faults, end_s)
        .map_err(|e| format!("{}: {e}", png.display()))?;
    draw_series(SVGBackend::new(&svg, size).into_drawing_area(), title, y_desc, points, faults, end_s)
        .map_err(|e| format!("{}: {e}", svg.display()))
}

fn draw_series<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    y_desc: &str,
    points: &[(f64, f64)],
    faults: &[FaultWindow],
    end_s: f64,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(e)?;
    let root = root.titled(title, ("sans-serif", 20)).map_err(e)?;
    let y_max = points.iter().map(|p| p.1).fold(1.0f64, f64::max) * 1.1;
    let mut chart = time_panel(&root, y_desc, y_max, faults, end_s.max(1.0), ("sans-serif", "virtual time (s)"))?;
    let purple = RGBColor(110, 40, 160);
    chart
        .draw_series(LineSeries::new(points.iter().copied(), purple.stroke_width(2)))
        .map_err(e)?
        .label(y_desc)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], purple.stroke_width(2)));
    // The fault windows are shaded by the panel; name them and give the shade a legend entry.
    for (i, f) in faults.iter().enumerate() {
        let style = ("sans-serif", 12).into_font().color(&RGBColor(150, 40, 30));
        let label = format!("{} {}", f.kind, f.target);
        chart.draw_series(std::iter::once(Text::new(label, (f.start_s, y_max * 0.97), style))).map_err(e)?;
        if i == 0 {
            let none: [(f64, f64); 0] = [];
            chart
                .draw_series(LineSeries::new(none, SHADE))
                .map_err(e)?
                .label("fault window")
                .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], SHADE.filled()));
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    edge: &EdgeSummary,
    faults: &[FaultWindow],
    end_s: f64,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(e)?;
    let root = root.titled(title, ("sans-serif", 20)).map_err(e)?;
    let (upper, lower) = root.split_vertically(SIZE.1 * 62 / 100);
    let x_max = end_s.max(1.0);
    latency_panel(&upper, edge, faults, x_max)?;
    success_panel(&lower, edge, faults, x_max)?;
    root.present().map_err(e)
}

/// The run charts' font and time axis.
const EN_AXIS: (&str, &str) = ("sans-serif", "virtual time (s), requests binned by their start");

/// Reads one latency of a time bin (none when no request of that kind started in it).
type LatencyOf = fn(&faultline_sim::stats::SeriesPoint) -> Option<f64>;

pub(crate) const SHADE: RGBAColor = RGBAColor(240, 80, 60, 0.15);

fn latency_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    edge: &EdgeSummary,
    faults: &[FaultWindow],
    x_max: f64,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let points = &edge.series;
    let y_max = points.iter().map(|p| p.p99_ms).fold(1.0f64, f64::max) * 2.0;
    let lows = points.iter().flat_map(|p| [p.ok_p50_ms, p.failed_p99_ms]).flatten();
    let y_min = lows.filter(|v| *v > 0.0).fold(y_max, f64::min).max(0.01) / 2.0;
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .caption("latency (ms, log scale)", ("sans-serif", crate::report::charts::AXIS_TITLE_PX))
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, (y_min..y_max).log_scale().with_key_points(log_ticks(y_min, y_max)))
        .map_err(e)?;
    chart
        .configure_mesh()
        .y_label_formatter(&|v| crate::report::charts::format_num(*v))
        .x_label_formatter(&|v| crate::report::charts::format_num(*v))
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", crate::report::charts::AXIS_TITLE_PX))
        .draw()
        .map_err(e)?;
    for (i, f) in faults.iter().enumerate() {
        let series = chart
            .draw_series(std::iter::once(Rectangle::new(
                [(f.start_s, y_min), (f.end_s.max(f.start_s + x_max / 400.0), y_max)],
                SHADE.filled(),
            )))
            .map_err(e)?;
        if i == 0 {
            series.label("fault window").legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], SHADE.filled()));
        }
        let label = format!("{} {}", f.kind, f.target);
        let style = ("sans-serif", 12).into_font().color(&RGBColor(150, 40, 30));
        chart.draw_series(std::iter::once(Text::new(label, (f.start_s, y_max / 1.25), style))).map_err(e)?;
    }
    // Answered and failed apart: a failure that comes fast must not read as lower latency.
    let lines: [(&str, RGBColor, LatencyOf); 3] = [
        ("answered p50", BLUE, |p| p.ok_p50_ms),
        ("answered p99", RGBColor(20, 130, 60), |p| p.ok_p99_ms),
        ("failed p99", RED, |p| p.failed_p99_ms),
    ];
    for (name, color, read) in lines {
        let pts: Vec<(f64, f64)> = points.iter().filter_map(|p| read(p).map(|v| (p.t_s, v.max(y_min)))).collect();
        chart.draw_series(LineSeries::new(pts.iter().copied(), color.mix(0.5).stroke_width(1))).map_err(e)?;
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 2, color.filled())))
            .map_err(e)?
            .label(name)
            .legend(move |(x, y)| Circle::new((x + 9, y), 4, color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(e)
}

fn success_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    edge: &EdgeSummary,
    faults: &[FaultWindow],
    x_max: f64,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let mut chart = time_panel(area, "answered (%)", 105.0, faults, x_max, EN_AXIS)?;
    let share = |p: &faultline_sim::stats::SeriesPoint, n: u64| 100.0 * n as f64 / p.requests as f64;
    let answered = edge.series.iter().filter(|p| p.requests > 0).map(|p| (p.t_s, share(p, p.ok)));
    let green = RGBColor(20, 130, 60);
    chart
        .draw_series(LineSeries::new(answered, green.stroke_width(2)))
        .map_err(e)?
        .label("answered")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], green.stroke_width(2)));
    // A fallback or a partial answer counts as answered; how many were shows apart.
    if edge.series.iter().any(|p| p.degraded > 0) {
        let orange = RGBColor(230, 150, 0);
        let degraded = edge.series.iter().filter(|p| p.requests > 0).map(|p| (p.t_s, share(p, p.degraded)));
        chart
            .draw_series(LineSeries::new(degraded, orange.stroke_width(2)))
            .map_err(e)?
            .label("of which degraded (fallback, partial)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], orange.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .label_font(("sans-serif", 13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(e)?;
    }
    Ok(())
}

/// A linear panel over virtual time, `0..x_max` by `0..y_max`, with its axes and the fault
/// windows shaded, ready for a line.
pub(crate) fn time_panel<'a, DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    y_desc: &str,
    y_max: f64,
    faults: &[FaultWindow],
    x_max: f64,
    (font, x_desc): (&str, &str),
) -> Result<
    ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>,
    String,
>
where
    DB::ErrorType: 'static,
{
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .caption(y_desc, (font, crate::report::charts::AXIS_TITLE_PX))
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .x_label_formatter(&|v| crate::report::charts::format_num(*v))
        .y_label_formatter(&|v| crate::report::charts::format_num(*v))
        .label_style((font, 13))
        .axis_desc_style((font, crate::report::charts::AXIS_TITLE_PX))
        .draw()
        .map_err(e)?;
    for f in faults {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(f.start_s, 0.0), (f.end_s.max(f.start_s + x_max / 400.0), y_max)],
                SHADE.filled(),
            )))
            .map_err(e)?;
    }
    Ok(chart)
}
