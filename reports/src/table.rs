//! Plain files for experiments: a CSV table from rows of cells, a JSON document from any
//! serialisable value, JSON lines read back, and files written whole (into a temporary name,
//! then renamed) so that an interrupted process never leaves half a file under the real name.

use std::io::{self, Write};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Writes `header` and `rows` as CSV (quoted where a cell needs it), whole.
pub fn write_csv(path: &Path, header: &[String], rows: impl IntoIterator<Item = Vec<String>>) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(io::Error::other)?;
    for row in rows {
        w.write_record(&row).map_err(io::Error::other)?;
    }
    let bytes = w.into_inner().map_err(|e| io::Error::other(e.to_string()))?;
    write_whole(path, &bytes)
}

/// Writes `value` as pretty JSON with a final newline, whole.
pub fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    text.push('\n');
    write_whole(path, text.as_bytes())
}

/// Writes one JSON document per line, whole.
pub fn write_json_lines<T: Serialize>(path: &Path, values: &[T]) -> io::Result<()> {
    let mut bytes = Vec::new();
    for v in values {
        serde_json::to_writer(&mut bytes, v).map_err(io::Error::other)?;
        bytes.push(b'\n');
    }
    write_whole(path, &bytes)
}

/// Reads a JSON document.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads one JSON document per line.
pub fn read_json_lines<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("{} line {}: {e}", path.display(), i + 1)))
        .collect()
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
pub fn write_whole(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    drop(f);
    std::fs::rename(&tmp, path)
}
