//! Hand-drawn SVG for the parts of a report that are not plots: the system's topology (services
//! in columns by their distance from the client, calls as arrows labelled with their patterns)
//! and the fault schedule as a timeline.

use faultline_sim::FaultWindow;

use super::charts::FAMILY;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `edges` as (caller, callee), `labels` one per edge, `replicas` per service.
pub fn svg(edges: &[(String, String)], labels: &[String], replicas: &[(String, u32)]) -> String {
    // Columns: breadth-first distance from the callers nobody calls (the client).
    let mut names: Vec<&str> = Vec::new();
    for (a, b) in edges {
        for n in [a.as_str(), b.as_str()] {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    let mut depth = vec![usize::MAX; names.len()];
    for (i, n) in names.iter().enumerate() {
        if !edges.iter().any(|(_, b)| b == n) {
            depth[i] = 0;
        }
    }
    for _ in 0..names.len() {
        for (a, b) in edges {
            let (ia, ib) = (names.iter().position(|n| n == a), names.iter().position(|n| n == b));
            if let (Some(ia), Some(ib)) = (ia, ib) {
                if depth[ia] != usize::MAX && depth[ib] > depth[ia] + 1 {
                    depth[ib] = depth[ia] + 1;
                }
            }
        }
    }
    let depth: Vec<usize> = depth.iter().map(|d| if *d == usize::MAX { 0 } else { *d }).collect();
    let columns = depth.iter().max().map_or(1, |d| d + 1);
    let (col_w, row_h, box_w, box_h) = (250.0, 90.0, 150.0, 44.0);
    let mut row_of = vec![0usize; names.len()];
    let mut per_col = vec![0usize; columns];
    for i in 0..names.len() {
        row_of[i] = per_col[depth[i]];
        per_col[depth[i]] += 1;
    }
    let rows = per_col.iter().copied().max().unwrap_or(1);
    let (width, height) = (columns as f64 * col_w + 20.0, rows as f64 * row_h + 30.0);
    let at = |i: usize| (20.0 + depth[i] as f64 * col_w, 20.0 + row_of[i] as f64 * row_h);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"{FAMILY}\">\n<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n"
    );
    for ((a, b), label) in edges.iter().zip(labels) {
        let (Some(ia), Some(ib)) = (names.iter().position(|n| n == a), names.iter().position(|n| n == b)) else {
            continue;
        };
        let ((xa, ya), (xb, yb)) = (at(ia), at(ib));
        let (x1, y1, x2, y2) = (xa + box_w, ya + box_h / 2.0, xb, yb + box_h / 2.0);
        out.push_str(&format!(
            "<line x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\" stroke=\"#555\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>\n<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#7a3b00\">{}</text>\n",
            (x1 + x2) / 2.0,
            (y1 + y2) / 2.0 - 6.0,
            esc(label)
        ));
    }
    for (i, n) in names.iter().enumerate() {
        let (x, y) = at(i);
        let count = replicas.iter().find(|(s, _)| s == n).map(|(_, r)| format!(" ×{r}")).unwrap_or_default();
        out.push_str(&format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"{box_w}\" height=\"{box_h}\" rx=\"6\" fill=\"#eef3fb\" stroke=\"#3a5a8c\"/>\n<text x=\"{}\" y=\"{}\" font-size=\"14\" text-anchor=\"middle\">{}{}</text>\n",
            x + box_w / 2.0,
            y + box_h / 2.0 + 5.0,
            esc(n),
            count
        ));
    }
    out.push_str("</svg>\n");
    out
}

/// The faults as bars on a time axis from 0 to `end_s`.
pub fn timeline(faults: &[FaultWindow], end_s: f64) -> String {
    let (width, left, lane) = (960.0, 230.0, 26.0);
    let height = 40.0 + lane * faults.len() as f64;
    let x = |t: f64| left + (width - left - 20.0) * (t / end_s.max(1e-9)).clamp(0.0, 1.0);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"{FAMILY}\">\n"
    );
    for (i, f) in faults.iter().enumerate() {
        let y = 10.0 + lane * i as f64;
        let (x0, x1) = (x(f.start_s), x(f.end_s).max(x(f.start_s) + 2.0));
        out.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{} {}</text>\n<rect x=\"{x0}\" y=\"{y}\" width=\"{}\" height=\"{}\" fill=\"#f07a5c\" fill-opacity=\"0.6\"/>\n",
            left - 8.0,
            y + 14.0,
            esc(&f.kind),
            esc(&f.target),
            x1 - x0,
            lane - 8.0
        ));
    }
    let axis_y = 10.0 + lane * faults.len() as f64 + 4.0;
    out.push_str(&format!(
        "<line x1=\"{left}\" y1=\"{axis_y}\" x2=\"{}\" y2=\"{axis_y}\" stroke=\"#333\"/>\n",
        width - 20.0
    ));
    for k in 0..=5 {
        let t = end_s * k as f64 / 5.0;
        out.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{} s</text>\n",
            x(t),
            axis_y + 16.0,
            super::charts::format_num((t * 10.0).round() / 10.0)
        ));
    }
    out.push_str("</svg>\n");
    out
}
