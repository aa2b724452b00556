//! Reports from faultline records: CSV files, `summary.json`, charts, and the text summary the
//! CLI prints. This crate never runs a simulation: it reads what a run produced.
//!
//! Where to start: [`output::Staging`] writes a run's files into a hidden directory and moves
//! it into place only when everything is written (an interrupted run never leaves half a
//! report); [`csv_sink::CsvSink`] streams rows into it during the run; [`summary`] writes the
//! JSON and formats the table; [`chart`] draws latency over time with fault windows shaded.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod chart;
pub mod compare_chart;
pub mod csv_sink;
pub mod matrix_chart;
pub mod output;
pub mod report;
pub mod summary;
pub mod table;
pub mod trace;
