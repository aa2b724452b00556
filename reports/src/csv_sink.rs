//! Streams a run's rows into `requests.csv`, `attempts.csv` and `events.csv` as the run goes,
//! writes `levels.csv` at its end, and reads them back.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use faultline_sim::levels::{LevelRow, LEVEL_HEADER};
use faultline_sim::record::{AttemptRecord, RequestRecord, ATTEMPT_HEADER, EVENT_HEADER, REQUEST_HEADER};
use faultline_sim::{Logged, RecordSink};

/// Writes rows to four CSV files.
pub struct CsvSink {
    requests: BufWriter<File>,
    attempts: BufWriter<File>,
    events: BufWriter<File>,
    levels: BufWriter<File>,
    /// The request row being written (reused).
    row: String,
    error: Option<io::Error>,
}

impl CsvSink {
    /// Creates `requests.csv`, `attempts.csv`, `events.csv` and `levels.csv` in `dir`, with
    /// headers.
    pub fn create(dir: &Path) -> io::Result<CsvSink> {
        let open = |name: &str, header: &str| -> io::Result<BufWriter<File>> {
            let mut w = BufWriter::with_capacity(1 << 16, File::create(dir.join(name))?);
            writeln!(w, "{header}")?;
            Ok(w)
        };
        let requests = open("requests.csv", REQUEST_HEADER)?;
        let attempts = open("attempts.csv", ATTEMPT_HEADER)?;
        let events = open("events.csv", EVENT_HEADER)?;
        let levels = open("levels.csv", LEVEL_HEADER)?;
        Ok(CsvSink { requests, attempts, events, levels, row: String::with_capacity(128), error: None })
    }

    fn keep(&mut self, r: io::Result<()>) {
        if let (Err(e), None) = (r, &self.error) {
            self.error = Some(e);
        }
    }
}

impl RecordSink for CsvSink {
    fn request(&mut self, record: &RequestRecord) {
        self.row.clear();
        record.write_row(&mut self.row);
        self.row.push('\n');
        let r = self.requests.write_all(self.row.as_bytes());
        self.keep(r);
    }
    fn event(&mut self, _event: &Logged<'_>, row: &str) {
        let r = writeln!(self.events, "{row}");
        self.keep(r);
    }
    fn wants_attempts(&self) -> bool {
        true
    }
    fn attempt(&mut self, attempt: &AttemptRecord) {
        self.row.clear();
        attempt.write_row(&mut self.row);
        self.row.push('\n');
        let r = self.attempts.write_all(self.row.as_bytes());
        self.keep(r);
    }
    fn levels(&mut self, rows: &[LevelRow]) {
        for level in rows {
            self.row.clear();
            level.write_row(&mut self.row);
            self.row.push('\n');
            let r = self.levels.write_all(self.row.as_bytes());
            self.keep(r);
        }
    }
    fn finish(&mut self) -> Result<(), String> {
        let r = self.requests.flush().and_then(|_| self.attempts.flush()).and_then(|_| self.events.flush());
        self.keep(r);
        let r = self.levels.flush();
        self.keep(r);
        match self.error.take() {
            Some(e) => Err(e.to_string()),
            None => Ok(()),
        }
    }
}

/// One row of `requests.csv`, as read back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct RequestRow {
    /// Record id.
    pub id: u64,
    /// Parent request (0 for a workload request).
    pub parent: u64,
    /// `caller->callee`.
    pub edge: String,
    /// Start, µs.
    pub start_us: u64,
    /// End, µs.
    pub end_us: u64,
    /// `end_us - start_us`.
    pub latency_us: u64,
    /// Outcome name.
    pub outcome: String,
    /// Attempts.
    pub attempts: u32,
    /// The node whose answer the call got (empty: none; absent in files from before it).
    #[serde(default)]
    pub replica: String,
}

/// One row of `attempts.csv`, as read back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct AttemptRow {
    /// The call (`requests.csv`'s `id`).
    pub call: u64,
    /// 1 for the first.
    pub attempt: u32,
    /// The node it went to.
    pub replica: String,
    /// Sent, µs.
    pub start_us: u64,
    /// Answered (or failed), µs.
    pub end_us: u64,
    /// `end_us - start_us`.
    pub latency_us: u64,
    /// Outcome name.
    pub outcome: String,
}

/// Reads `attempts.csv` (empty when the run wrote none: outputs from before it).
pub fn read_attempts(path: &Path) -> Result<Vec<AttemptRow>, String> {
    read_if_there(path)
}

/// Reads a file written after the first outputs: empty when it is not there.
fn read_if_there<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, String> {
    if !path.is_file() {
        return Ok(Vec::new());
    }
    read_rows(path)
}

fn read_rows<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, String> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    reader.deserialize().map(|r| r.map_err(|e| format!("{}: {e}", path.display()))).collect()
}

/// One row of `levels.csv`, as read back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct LevelCsvRow {
    /// The bin's start, µs.
    pub t_us: u64,
    /// The node holding the level.
    pub node: String,
    /// `caller->callee`.
    pub edge: String,
    /// The pattern.
    pub pattern: String,
    /// The most taken at once in the bin.
    pub max_in_use: u32,
    /// The limit then.
    pub limit: u32,
}

/// Reads `levels.csv` (empty when the run wrote none: outputs from before it).
pub fn read_levels(path: &Path) -> Result<Vec<LevelCsvRow>, String> {
    read_if_there(path)
}

/// Reads `requests.csv`.
pub fn read_requests(path: &Path) -> Result<Vec<RequestRow>, String> {
    read_rows(path)
}
