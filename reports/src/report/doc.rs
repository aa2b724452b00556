//! A report as a list of blocks, in one language, that both renderers (HTML and Markdown)
//! walk: the content is decided once, so the two files say the same.

/// One piece of a report.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A section heading.
    Heading(String),
    /// A paragraph.
    Para(String),
    /// A bulleted list.
    List(Vec<String>),
    /// A table: header and rows; `highlight` rows (by index) are marked (a violation).
    Table {
        /// Column titles.
        header: Vec<String>,
        /// Cells.
        rows: Vec<Vec<String>>,
        /// Rows to mark.
        highlight: Vec<usize>,
    },
    /// A chart: SVG text, a short name for its file beside the Markdown, a title and a caption.
    Chart {
        /// File stem, e.g. `latency`.
        name: String,
        /// Title.
        title: String,
        /// The SVG document.
        svg: String,
        /// What to read in it.
        caption: Option<String>,
    },
    /// A command to copy.
    Code(String),
    /// Links to other pages: (text, relative address).
    Links(Vec<(String, String)>),
}

/// A whole report.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// `en` or `ko`.
    pub lang: &'static str,
    /// The title.
    pub title: String,
    /// A line under the title (version, how it was made).
    pub subtitle: String,
    /// The body.
    pub blocks: Vec<Block>,
}
