//! Teaching reports: one self-contained HTML file and the same content as Markdown, in English
//! or Korean, made from an output directory (a run's, a sweep's or a comparison's). Reports
//! read outputs only; they never run a simulation.
//!
//! The words are in `reports/i18n/<lang>.toml` ([`texts`]); the content is decided once as a
//! [`doc::Doc`] and rendered twice ([`render`]).

pub mod charts;
pub mod claims;
mod claims_doc;
mod compare_doc;
pub mod doc;
mod lanes;
mod matrix_doc;
mod notes;
pub mod read;
pub mod render;
mod run_doc;
mod sagas;
pub mod texts;
mod topology;

use std::path::{Path, PathBuf};

use crate::output::MANIFEST;
use crate::table::write_whole;
pub use read::NotAnOutput;
pub use texts::Lang;

/// Why a report could not be made.
#[derive(Debug)]
pub enum ReportError {
    /// The directory is not a faultline output, or its files are damaged: the user's input.
    NotAnOutput(NotAnOutput),
    /// Drawing or writing failed.
    Io(String),
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportError::NotAnOutput(e) => write!(f, "{e}"),
            ReportError::Io(e) => f.write_str(e),
        }
    }
}

/// Builds the report of `dir` in `lang`.
pub fn build(dir: &Path, lang: Lang) -> Result<doc::Doc, ReportError> {
    let t = texts::Texts::of(lang);
    let output = read::read(dir).map_err(ReportError::NotAnOutput)?;
    let code = lang.code();
    match output {
        read::Output::Run(r) => run_doc::build(&r, &t, code),
        read::Output::Compare(c) => compare_doc::compare(&c, &t, code),
        read::Output::Sweep(s) => compare_doc::sweep(&s, &t, code),
        read::Output::Experiment(e) => claims_doc::experiment(&e, &t, code),
        read::Output::Course(c) => Ok(claims_doc::course(&c, &t, code)),
    }
    .map_err(ReportError::Io)
}

/// Writes `report.<lang>.html`, `report.<lang>.md` and the Markdown's charts
/// (`report.<lang>.<chart>.svg`) into `dir`, each whole, and lists them in its manifest.
/// Returns the HTML file's path.
pub fn write(dir: &Path, lang: Lang) -> Result<PathBuf, ReportError> {
    let doc = build(dir, lang)?;
    let prefix = format!("report.{}.", lang.code());
    fn io(p: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
        move |e| ReportError::Io(format!("{}: {e}", p.display()))
    }
    let mut written = Vec::new();
    for b in &doc.blocks {
        if let doc::Block::Chart { name, svg, .. } = b {
            let path = dir.join(format!("{prefix}{name}.svg"));
            write_whole(&path, svg.as_bytes()).map_err(io(&path))?;
            written.push(path);
        }
    }
    let md = dir.join(format!("report.{}.md", lang.code()));
    write_whole(&md, render::markdown(&doc, &prefix).as_bytes()).map_err(io(&md))?;
    let html = dir.join(format!("report.{}.html", lang.code()));
    write_whole(&html, render::html(&doc).as_bytes()).map_err(io(&html))?;
    written.extend([md, html.clone()]);
    list_in_manifest(dir, &written).map_err(io(dir))?;
    Ok(html)
}

/// Adds `files` to `dir`'s manifest (if it has one), so that the output stays faultline's.
fn list_in_manifest(dir: &Path, files: &[PathBuf]) -> std::io::Result<()> {
    let path = dir.join(MANIFEST);
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
    let mut names: Vec<String> = text.lines().map(str::to_owned).collect();
    for f in files {
        if let Some(n) = f.file_name().and_then(|n| n.to_str()) {
            if !names.iter().any(|x| x == n) {
                names.push(n.to_owned());
            }
        }
    }
    names.sort();
    write_whole(&path, names.iter().map(|n| format!("{n}\n")).collect::<String>().as_bytes())
}
