//! A selection matrix drawn beside the notes' stars: one panel per column checked
//! (performance, operations, cost), each pattern a pair of bars: the notes' stars (grey) and
//! what was measured (blue), scaled so the smallest measured value is half a star and the
//! largest five, with the value written beside it. Same font as the other charts.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::chart::SIZE;

/// One column of the matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Its title (`performance: rho 0.90, agrees`).
    pub title: String,
    /// Per pattern, top to bottom: (pattern, stars, measured value, the value as written).
    pub rows: Vec<(String, f64, f64, String)>,
}

const STARS: RGBColor = RGBColor(150, 150, 150);
const MEASURED: RGBColor = RGBColor(30, 100, 200);

/// The chart as an SVG document.
pub fn matrix_svg(title: &str, panels: &[Panel], font: &str) -> Result<String, String> {
    let mut out = String::new();
    let rows = panels.iter().map(|p| p.rows.len()).max().unwrap_or(1) as u32;
    let size = (SIZE.0, 140 + 56 * rows);
    draw(SVGBackend::with_string(&mut out, size).into_drawing_area(), title, panels, font)?;
    Ok(out)
}

/// `v` scaled into 0.5..=5 over `all` (all equal: 2.75).
fn scaled(v: f64, all: &[f64]) -> f64 {
    let (lo, hi) = all.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| (l.min(*x), h.max(*x)));
    if !v.is_finite() || hi - lo <= 0.0 {
        return 2.75;
    }
    0.5 + 4.5 * (v - lo) / (hi - lo)
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    panels: &[Panel],
    font: &str,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(e)?;
    let root = root.titled(title, (font, 20)).map_err(e)?;
    let areas = root.split_evenly((1, panels.len().max(1)));
    for (i, (area, panel)) in areas.iter().zip(panels).enumerate() {
        let n = panel.rows.len().max(1) as f64;
        let labels: Vec<String> = panel.rows.iter().map(|r| r.0.clone()).collect();
        let label_px =
            if i == 0 { labels.iter().map(|l| l.chars().count() as u32 * 7 + 16).max().unwrap_or(80) } else { 8 };
        let mut chart = ChartBuilder::on(area)
            .margin(10)
            .caption(&panel.title, (font, 15))
            .x_label_area_size(28)
            .y_label_area_size(label_px)
            .build_cartesian_2d(0f64..6.5, -0.5f64..n - 0.5)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_labels(6)
            .x_label_formatter(&|x| if x.fract() == 0.0 && *x <= 5.0 { format!("{x:.0}") } else { String::new() })
            .y_labels(panel.rows.len().max(1))
            .y_label_formatter(&|y| {
                let k = y.round();
                match (i, (y - k).abs() < 1e-6 && k >= 0.0) {
                    (0, true) => {
                        labels.get(panel.rows.len().saturating_sub(1 + k as usize)).cloned().unwrap_or_default()
                    }
                    _ => String::new(),
                }
            })
            .disable_y_mesh()
            .label_style((font, 12))
            .draw()
            .map_err(e)?;
        let measured: Vec<f64> = panel.rows.iter().map(|r| r.2).collect();
        for (j, (_, stars, value, text)) in panel.rows.iter().enumerate() {
            let y = n - 1.0 - j as f64;
            let bar =
                |from: f64, to: f64, x: f64, c: RGBColor| Rectangle::new([(0.0, y + from), (x, y + to)], c.filled());
            chart
                .draw_series([bar(0.02, 0.38, *stars, STARS), bar(-0.38, -0.02, scaled(*value, &measured), MEASURED)])
                .map_err(e)?;
            let at = (scaled(*value, &measured) + 0.1, y - 0.12);
            chart
                .draw_series(std::iter::once(Text::new(text.clone(), at, (font, 12).into_font().color(&MEASURED))))
                .map_err(e)?;
        }
    }
    root.present().map_err(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measured_values_scale_from_half_a_star_to_five() {
        let all = [-14.7, 0.0, 0.6, 6.8];
        assert!((scaled(-14.7, &all) - 0.5).abs() < 1e-12);
        assert!((scaled(6.8, &all) - 5.0).abs() < 1e-12);
        assert_eq!(scaled(1.0, &[1.0, 1.0]), 2.75);
        let panel = Panel { title: "cost".into(), rows: vec![("Saga".into(), 3.0, 0.6, "+0.6".into())] };
        crate::report::charts::register();
        let svg = matrix_svg("matrix", &[panel], crate::report::charts::FAMILY).unwrap();
        assert!(svg.contains("Saga") && svg.contains("+0.6"), "{svg}");
    }
}
