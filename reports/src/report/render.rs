//! A [`Doc`] as one self-contained HTML file (inline CSS and SVG, the font embedded; no script
//! and nothing fetched, so it opens from a USB stick) and as Markdown (charts as SVG files
//! beside it).

use super::charts::{FAMILY, FONT};
use super::doc::{Block, Doc};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The `@font-face` rule that embeds the report's font.
pub fn font_face_css() -> String {
    format!(
        "@font-face {{ font-family: \"{FAMILY}\"; src: url(data:font/ttf;base64,{}) format(\"truetype\"); }}",
        base64(FONT)
    )
}

const CSS: &str = "body { font-family: \"NanumSquare\", sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em; color: #1d1d1f; line-height: 1.55; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.sub { color: #666; font-size: 0.9em; } table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
td, th { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; } th { background: #f3f3f3; }
tr.bad td { background: #fde8e6; } figure { margin: 1.2em 0; } figcaption { color: #444; font-size: 0.9em; }
figure svg { max-width: 100%; height: auto; border: 1px solid #eee; } pre { background: #f6f6f6; padding: 0.7em; overflow-x: auto; }";

/// The HTML page.
pub fn html(doc: &Doc) -> String {
    let mut out = String::with_capacity(1 << 20);
    out.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n{}\n{CSS}\n</style>\n</head>\n<body>\n",
        doc.lang,
        esc(&doc.title),
        font_face_css()
    ));
    out.push_str(&format!("<h1>{}</h1>\n<p class=\"sub\">{}</p>\n", esc(&doc.title), esc(&doc.subtitle)));
    for b in &doc.blocks {
        match b {
            Block::Heading(h) => out.push_str(&format!("<h2>{}</h2>\n", esc(h))),
            Block::Para(p) => out.push_str(&format!("<p>{}</p>\n", esc(p))),
            Block::List(items) => {
                out.push_str("<ul>\n");
                for i in items {
                    out.push_str(&format!("<li>{}</li>\n", esc(i)));
                }
                out.push_str("</ul>\n");
            }
            Block::Table { header, rows, highlight } => {
                out.push_str("<table>\n<tr>");
                for h in header {
                    out.push_str(&format!("<th>{}</th>", esc(h)));
                }
                out.push_str("</tr>\n");
                for (i, row) in rows.iter().enumerate() {
                    out.push_str(if highlight.contains(&i) { "<tr class=\"bad\">" } else { "<tr>" });
                    for c in row {
                        out.push_str(&format!("<td>{}</td>", esc(c)));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</table>\n");
            }
            Block::Chart { name, title, svg, caption } => {
                let body = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
                out.push_str(&format!("<figure id=\"chart-{}\">\n<h3>{}</h3>\n{body}\n", esc(name), esc(title)));
                if let Some(c) = caption {
                    out.push_str(&format!("<figcaption>{}</figcaption>\n", esc(c)));
                }
                out.push_str("</figure>\n");
            }
            Block::Code(c) => out.push_str(&format!("<pre><code>{}</code></pre>\n", esc(c))),
            Block::Links(links) => {
                out.push_str("<ul>\n");
                for (text, href) in links {
                    out.push_str(&format!("<li><a href=\"{}\">{}</a></li>\n", esc(href), esc(text)));
                }
                out.push_str("</ul>\n");
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The Markdown text; charts are referenced as `<prefix><name>.svg` (written beside it).
pub fn markdown(doc: &Doc, chart_prefix: &str) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out = format!("# {}\n\n{}\n\n", doc.title, doc.subtitle);
    for b in &doc.blocks {
        match b {
            Block::Heading(h) => out.push_str(&format!("## {h}\n\n")),
            Block::Para(p) => out.push_str(&format!("{p}\n\n")),
            Block::List(items) => {
                for i in items {
                    out.push_str(&format!("- {i}\n"));
                }
                out.push('\n');
            }
            Block::Table { header, rows, .. } => {
                out.push_str(&format!("| {} |\n", header.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | ")));
                out.push_str(&format!("|{}\n", "---|".repeat(header.len())));
                for row in rows {
                    out.push_str(&format!("| {} |\n", row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")));
                }
                out.push('\n');
            }
            Block::Chart { name, title, caption, .. } => {
                out.push_str(&format!("### {title}\n\n![{title}]({chart_prefix}{name}.svg)\n\n"));
                if let Some(c) = caption {
                    out.push_str(&format!("{c}\n\n"));
                }
            }
            Block::Code(c) => out.push_str(&format!("```sh\n{c}\n```\n\n")),
            Block::Links(links) => {
                for (text, href) in links {
                    out.push_str(&format!("- [{text}]({})\n", href.replace(".html", ".md")));
                }
                out.push('\n');
            }
        }
    }
    out
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(raw.as_bytes()), enc);
        }
    }
}
