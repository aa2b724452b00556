//! Teaching reports: both languages complete, self-contained, and drawn by a real browser
//! (headless Chromium, the Debian package `chromium`; `.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::support::{faultline, text, tmp};

/// Renders `page` in headless Chromium into `png`; returns what the browser logged.
fn chromium(page: &Path, png: &Path, size: (u32, u32)) -> String {
    let o = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr", "--v=0"])
        // Any attempt to reach the network fails (and a report must not make one).
        .arg("--host-resolver-rules=MAP * ~NOTFOUND")
        .arg(format!("--window-size={},{}", size.0, size.1))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("headless Chromium runs (Debian package `chromium`; .ci/run installs it)");
    assert!(png.is_file(), "no screenshot of {}: {}", page.display(), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn run_and_report(dir: &Path) -> (PathBuf, PathBuf) {
    let o = faultline(&["run", "shop-outage-breaker", "--set", "duration_s=70", "--out", "r"], dir);
    assert!(o.status.success(), "{:?}", text(&o));
    for lang in ["en", "ko"] {
        let o = faultline(&["report", "r", "--lang", lang], dir);
        assert!(o.status.success(), "{:?}", text(&o));
    }
    (dir.join("r/report.en.html"), dir.join("r/report.ko.html"))
}

#[test]
fn a_run_report_is_complete_in_both_languages_and_self_contained() {
    let dir = tmp("report");
    let (en, ko) = run_and_report(&dir);
    for (path, words) in [
        (&en, ["Invariant scorecard", "What to notice", "Circuit Breaker", "Fault schedule"]),
        (&ko, ["불변식 점검표", "눈여겨볼 점", "서킷 브레이커", "장애 일정"]),
    ] {
        let html = std::fs::read_to_string(path).unwrap();
        for w in words {
            assert!(html.contains(w), "{}: no {w:?}", path.display());
        }
        assert!(!html.contains('⟦'), "{}: a text is missing from the catalogue", path.display());
        assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("<img"), "{}", path.display());
        let fetches = html.matches("http").count() - html.matches("http://www.w3.org/2000/svg").count();
        assert_eq!(fetches, 0, "{}: a URL other than the SVG namespace", path.display());
        assert!(html.contains("@font-face") && html.contains("data:font/ttf;base64,"), "the font is embedded");
        assert!(html.matches("<svg").count() >= 6, "topology, faults, latency, scatter, outcomes, lanes");
        // The breaker's lesson, with this run's own figure.
        let opens = std::fs::read_to_string(dir.join("r/events.csv")).unwrap().matches(",breaker.open,").count();
        assert!(opens > 0 && html.contains(&opens.to_string()), "the note counts {opens} openings");
    }
    // The scenario's description in each report's language, from its file.
    let scenario = std::fs::read_to_string(dir.join("r/scenario.toml")).unwrap();
    let value = |key: &str| {
        let line = scenario.lines().find(|l| l.starts_with(&format!("{key} = \""))).expect(key);
        line.split_once(" = ").unwrap().1.trim_matches('"').to_owned()
    };
    for (path, key, other) in [(&en, "description", "description_ko"), (&ko, "description_ko", "description")] {
        let html = std::fs::read_to_string(path).unwrap();
        let (mine, theirs) = (value(key), value(other));
        assert!(html.contains(&html_escape(&mine)) && !html.contains(&html_escape(&theirs)), "{}", path.display());
    }
    let md = std::fs::read_to_string(dir.join("r/report.ko.md")).unwrap();
    for h in ["# shop-outage-breaker, 시드 42", "## 요약", "## 불변식 점검표", "## 차트", "## 다시 실행하기"]
    {
        assert!(md.contains(h), "report.ko.md: no {h:?}");
    }
    for link in md.split("](").skip(1).map(|s| s.split(')').next().unwrap()) {
        assert!(dir.join("r").join(link).is_file(), "report.ko.md links {link}, which is not there");
    }
    // The output is still faultline's: the same run may replace it.
    let o = faultline(&["run", "shop-outage-breaker", "--set", "duration_s=70", "--out", "r"], &dir);
    assert!(o.status.success(), "{:?}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[test]
fn a_report_draws_a_bulkhead_s_occupancy_and_it_fills_only_while_its_dependency_is_slow() {
    let dir = tmp("report-levels");
    // pricing slows down from 30 s to 60 s; web calls it through a bulkhead of 8 per replica.
    let o = faultline(&["run", "product-page-fallback", "--out", "r"], &dir);
    assert!(o.status.success(), "{:?}", text(&o));
    let levels = faultline::reports::csv_sink::read_levels(&dir.join("r/levels.csv")).unwrap();
    let mut nodes: Vec<&str> = levels.iter().map(|l| l.node.as_str()).collect();
    nodes.dedup();
    assert_eq!(nodes, ["web-0", "web-1"], "one level per caller replica");
    assert!(levels.iter().all(|l| l.pattern == "bulkhead" && l.edge == "web->pricing" && l.limit == 8));
    assert!(levels.iter().all(|l| l.max_in_use <= l.limit), "a bulkhead never holds more than its limit");
    let full: Vec<f64> = levels.iter().filter(|l| l.max_in_use == l.limit).map(|l| l.t_us as f64 / 1e6).collect();
    assert!(full.len() >= 20, "the bulkhead was full through the slowdown: {full:?}");
    assert!(full.iter().all(|t| (29.0..61.0).contains(t)), "full only while pricing was slow: {full:?}");
    let o = faultline(&["report", "r"], &dir);
    assert!(o.status.success(), "{:?}", text(&o));
    let html = std::fs::read_to_string(dir.join("r/report.en.html")).unwrap();
    for lane in ["Bulkhead on web-0 to pricing (limit 8)", "Bulkhead on web-1 to pricing (limit 8)", "Occupancy lanes"]
    {
        assert!(html.contains(lane), "no {lane:?} in the report");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_browser_draws_the_report_and_its_korean_with_real_glyphs() {
    let dir = tmp("report-browser");
    let (en, ko) = run_and_report(&dir);
    let blank = dir.join("blank.html");
    std::fs::write(&blank, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let blank_png = dir.join("blank.png");
    chromium(&blank, &blank_png, (1000, 3000));
    for page in [&en, &ko] {
        let png = page.with_extension("png");
        let log = chromium(page, &png, (1000, 3000));
        assert!(!log.contains("CONSOLE"), "{}: the browser logged {log}", page.display());
        assert_ne!(std::fs::read(&png).unwrap(), std::fs::read(&blank_png).unwrap(), "{} drew nothing", page.display());
    }
    // Hangul in the embedded font: two different strings must draw differently. Missing glyphs
    // draw the same empty boxes whatever the syllables.
    let probe = |name: &str, words: &str| {
        let page = dir.join(format!("{name}.html"));
        let css = faultline::reports::report::render::font_face_css();
        let html = format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>{css} body {{ font-family: \"NanumSquare\", \"no-such-font\"; font-size: 48px; }}</style></head><body>{words}</body></html>"
        );
        std::fs::write(&page, html).unwrap();
        let png = dir.join(format!("{name}.png"));
        chromium(&page, &png, (800, 200));
        std::fs::read(png).unwrap()
    };
    let (a, b) = (probe("a", "가나다라마바사"), probe("b", "아자차카타파하"));
    assert_ne!(a, b, "Korean syllables draw as identical boxes: the font has no Hangul");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_directory_that_is_not_an_output_is_refused_with_one_line() {
    let dir = tmp("report-bad");
    std::fs::create_dir_all(dir.join("mine")).unwrap();
    std::fs::write(dir.join("mine/notes.md"), "mine").unwrap();
    for (args, says) in [
        (vec!["report", "mine"], "holds no faultline output"),
        (vec!["report", "nowhere"], "not a directory"),
        (vec!["report", "mine", "--lang", "fr"], "en (English) or ko (Korean)"),
    ] {
        let o = faultline(&args, &dir);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says) && err.trim().lines().count() == 1, "{args:?}: {err}");
    }
    // A damaged output: its summary cut short.
    assert!(faultline(&["run", "chain3", "--set", "duration_s=2", "--out", "cut"], &dir).status.success());
    std::fs::write(dir.join("cut/summary.json"), "{\"faultline_version\": ").unwrap();
    let o = faultline(&["report", "cut"], &dir);
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    assert!(text(&o).1.contains("summary.json"), "{:?}", text(&o));
    assert_eq!(std::fs::read_to_string(dir.join("mine/notes.md")).unwrap(), "mine");
    let _ = std::fs::remove_dir_all(&dir);
}
