//! The lanes under the time axis: what the patterns did, one lane each. A breaker's state per
//! node; a bulkhead's or an adaptive limit's occupancy per caller node (the most in use per bin
//! against the limit, from `levels.csv`); decisions per second (retries, timeouts, refusals,
//! fallbacks, ejections); crashes and restarts as marks.

use std::collections::BTreeMap;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::charts::{err, format_num, rows_chart, svg, FAMILY};
use super::read::EventRow;
use super::texts::Texts;
use crate::csv_sink::LevelCsvRow;

/// At most this many occupancy lanes (the fullest first); a run with many replicas and
/// bulkheads would otherwise bury the other lanes.
const MAX_LEVEL_LANES: usize = 8;

const GREEN: RGBColor = RGBColor(20, 140, 70);
const RED: RGBColor = RGBColor(200, 50, 40);
const AMBER: RGBColor = RGBColor(230, 160, 20);
const BLUE: RGBColor = RGBColor(90, 90, 180);

/// A lane of what the patterns did: a name and its marks.
struct Lane {
    name: String,
    marks: Vec<Mark>,
}

enum Mark {
    /// A span in a colour (a breaker's state).
    Span(f64, f64, RGBColor),
    /// A bar of height 0..1 in a colour (a rate, or a level, scaled to the lane's largest).
    Bar(f64, f64, f64, RGBColor),
    /// A level line at height 0..1 (a limit that moves).
    Line(f64, f64, f64),
    /// An instant, drawn as a glyph.
    At(f64, &'static str, RGBColor),
}

/// Lanes under the time axis. `None` when the run recorded nothing they draw.
pub fn lanes(
    events: &[EventRow],
    levels: &[LevelCsvRow],
    end_s: f64,
    bin_s: f64,
    t: &Texts,
) -> Result<Option<String>, String> {
    let mut lanes = breaker_lanes(events, end_s, t);
    lanes.extend(level_lanes(levels, bin_s, t));
    for (kinds, key) in RATE_LANES {
        lanes.extend(rate_lane(events, kinds, end_s, bin_s, t.t(key)));
    }
    lanes.extend(instants(events, t));
    if lanes.is_empty() {
        return Ok(None);
    }
    draw(&lanes, end_s, t).map(Some)
}

fn draw(lanes: &[Lane], end_s: f64, t: &Texts) -> Result<String, String> {
    let n = lanes.len();
    let height = 90 + 34 * n as u32;
    let label_width = lanes.iter().map(|l| l.name.chars().count() as u32 * 8 + 20).max().unwrap_or(100).min(380);
    svg(height, |root| {
        let names: Vec<String> = lanes.iter().map(|l| l.name.clone()).collect();
        let mut chart = rows_chart(&root, &names, (end_s.max(0.001), label_width), t.t("axis_time"))?;
        for (i, lane) in lanes.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            for m in &lane.marks {
                match *m {
                    Mark::Span(a, b, c) => {
                        let r = Rectangle::new([(a, y - 0.3), (b, y + 0.3)], c.filled());
                        chart.draw_series(std::iter::once(r)).map_err(err)?;
                    }
                    Mark::Bar(a, b, h, c) => {
                        let r = Rectangle::new([(a, y - 0.35), (b, y - 0.35 + 0.7 * h)], c.filled());
                        chart.draw_series(std::iter::once(r)).map_err(err)?;
                    }
                    Mark::Line(a, b, h) => {
                        let line = PathElement::new(vec![(a, y - 0.35 + 0.7 * h), (b, y - 0.35 + 0.7 * h)], BLACK);
                        chart.draw_series(std::iter::once(line)).map_err(err)?;
                    }
                    Mark::At(x, glyph, c) => {
                        let style = (FAMILY, 16).into_font().color(&c).pos(Pos::new(HPos::Center, VPos::Center));
                        chart.draw_series(std::iter::once(Text::new(glyph, (x, y), style))).map_err(err)?;
                    }
                }
            }
        }
        Ok(())
    })
}

/// A breaker's state per node, as coloured spans: closed, open, half-open.
fn breaker_lanes(events: &[EventRow], end_s: f64, t: &Texts) -> Vec<Lane> {
    let mut nodes: Vec<&str> =
        events.iter().filter(|e| e.kind.starts_with("breaker.")).map(|e| e.node.as_str()).collect();
    nodes.sort_unstable();
    nodes.dedup();
    let mut lanes = Vec::new();
    for node in nodes {
        let mut marks = Vec::new();
        let (mut since, mut color) = (0.0, GREEN);
        for e in events.iter().filter(|e| e.node == node && e.kind.starts_with("breaker.")) {
            let at = e.t_us as f64 / 1e6;
            marks.push(Mark::Span(since, at, color));
            color = match e.kind.as_str() {
                "breaker.open" | "breaker.forced_open" => RED,
                "breaker.half_open" => AMBER,
                _ => GREEN,
            };
            since = at;
        }
        marks.push(Mark::Span(since, end_s, color));
        lanes.push(Lane { name: t.f("lane_breaker", &[("node", node.to_owned())]), marks });
    }
    lanes
}

/// A bulkhead's or an adaptive limit's occupancy per caller node: per bin, the most in use as
/// a bar against the largest limit (red when it reached the limit then), and a limit that
/// moves as a line. The fullest [`MAX_LEVEL_LANES`], in the order of their names.
fn level_lanes(levels: &[LevelCsvRow], bin_s: f64, t: &Texts) -> Vec<Lane> {
    let mut groups: BTreeMap<(&str, &str, &str), Vec<&LevelCsvRow>> = BTreeMap::new();
    for l in levels {
        groups.entry((l.pattern.as_str(), l.edge.as_str(), l.node.as_str())).or_default().push(l);
    }
    let fullness = |rows: &[&LevelCsvRow]| rows.iter().filter(|r| r.max_in_use >= r.limit).count();
    let mut chosen: Vec<_> = groups.into_iter().collect();
    chosen.sort_by_key(|(_, rows)| std::cmp::Reverse(fullness(rows)));
    chosen.truncate(MAX_LEVEL_LANES);
    chosen.sort_by_key(|(key, _)| *key);
    chosen.into_iter().map(|((pattern, edge, node), rows)| level_lane(pattern, edge, node, &rows, bin_s, t)).collect()
}

fn level_lane(pattern: &str, edge: &str, node: &str, rows: &[&LevelCsvRow], bin_s: f64, t: &Texts) -> Lane {
    let top = rows.iter().map(|r| r.limit.max(r.max_in_use)).max().unwrap_or(1).max(1) as f64;
    let (lo, hi) = (rows.iter().map(|r| r.limit).min().unwrap_or(0), rows.iter().map(|r| r.limit).max().unwrap_or(0));
    let mut marks = Vec::new();
    for r in rows {
        let x = r.t_us as f64 / 1e6;
        let color = if r.max_in_use >= r.limit { RED } else { BLUE };
        marks.push(Mark::Bar(x, x + bin_s, f64::from(r.max_in_use) / top, color));
        if lo != hi {
            marks.push(Mark::Line(x, x + bin_s, f64::from(r.limit) / top));
        }
    }
    let limit = if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") };
    let callee = edge.split_once("->").map_or(edge, |(_, b)| b);
    let name = t.f(
        "lane_level",
        &[
            ("pattern", t.t(&format!("pattern_{pattern}"))),
            ("node", node.to_owned()),
            ("callee", callee.to_owned()),
            ("limit", limit),
        ],
    );
    Lane { name, marks }
}

/// Decisions drawn as a rate per time bin: the event kinds counted and the lane's label.
const RATE_LANES: [(&[&str], &str); 6] = [
    (&["retry.scheduled"], "lane_retries"),
    (&["timeout.fired"], "lane_timeouts"),
    (&["bulkhead.full", "bulkhead.wait_timeout"], "lane_bulkhead"),
    (&["rate_limiter.refused", "throttle.rejected", "adaptive.limited"], "lane_limiter"),
    (&["fallback.used"], "lane_fallback"),
    (&["balance.ejected"], "lane_ejections"),
];

/// A lane of bars: how many of `kinds` happened per time bin, scaled to the busiest bin (whose
/// rate per second the label gives). `None` when none happened.
fn rate_lane(events: &[EventRow], kinds: &[&str], end_s: f64, bin_s: f64, label: String) -> Option<Lane> {
    let times: Vec<f64> =
        events.iter().filter(|e| kinds.contains(&e.kind.as_str())).map(|e| e.t_us as f64 / 1e6).collect();
    if times.is_empty() {
        return None;
    }
    let bins = (end_s / bin_s).ceil().max(1.0) as usize;
    let mut counts = vec![0u64; bins + 1];
    for x in &times {
        counts[((x / bin_s) as usize).min(bins)] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let marks = counts
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .map(|(i, c)| Mark::Bar(i as f64 * bin_s, (i + 1) as f64 * bin_s, *c as f64 / top, BLUE))
        .collect();
    Some(Lane { name: format!("{label} (max {}/s)", format_num((top / bin_s).round())), marks })
}

/// Crashes and restarts, as marks on one lane.
fn instants(events: &[EventRow], t: &Texts) -> Option<Lane> {
    let marks: Vec<Mark> = events
        .iter()
        .filter_map(|e| match e.kind.as_str() {
            "node.crash" => Some(Mark::At(e.t_us as f64 / 1e6, "x", RED)),
            "node.restart" | "liveness.restart" => Some(Mark::At(e.t_us as f64 / 1e6, "|", RGBColor(30, 100, 200))),
            _ => None,
        })
        .collect();
    (!marks.is_empty()).then(|| Lane { name: t.t("lane_restarts"), marks })
}
