//! `[[faults]]`: one scheduled fault each, its keys chosen by `kind`.

use faultline_sim::{Dist, Fault, FaultKind, Target};
use serde::Deserialize;
use toml::Table;

use crate::read::de::{KeyError, Parts};
use crate::read::units::{Probability, Seconds};

/// The keys every fault has.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultFile {
    target: String,
    at_s: Seconds,
    duration_s: Option<Seconds>,
}

/// What a fault does (`kind`), with that kind's keys.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum KindFile {
    Outage {},
    ErrorBurst { rate: Probability },
    LatencySpike { add: Dist },
    Partition {},
    Crash {},
    Restart {},
    Pause {},
    PacketLoss { rate: Probability },
    ClockSkew { offset_ms: i64 },
    ClockDrift { rate: f64 },
    DiskFull {},
    FsyncFail {},
}

pub(super) fn read(i: usize, table: Table) -> Result<Fault, KeyError> {
    let key = format!("faults[{i}]");
    let mut parts = Parts::new::<FaultFile>(key.clone(), table);
    let kind = match parts.take_required::<KindFile>("kind")? {
        KindFile::Outage {} => FaultKind::Outage,
        KindFile::ErrorBurst { rate } => FaultKind::ErrorBurst { rate: rate.0 },
        KindFile::LatencySpike { add } => FaultKind::LatencySpike { add },
        KindFile::Partition {} => FaultKind::Partition,
        KindFile::Crash {} => FaultKind::Crash,
        KindFile::Restart {} => FaultKind::Restart,
        KindFile::Pause {} => FaultKind::Pause,
        KindFile::PacketLoss { rate } => FaultKind::PacketLoss { rate: rate.0 },
        KindFile::ClockSkew { offset_ms } => FaultKind::ClockSkew { offset_ms },
        KindFile::ClockDrift { rate } => FaultKind::ClockDrift { rate },
        KindFile::DiskFull {} => FaultKind::DiskFull,
        KindFile::FsyncFail {} => FaultKind::FsyncFail,
    };
    let f: FaultFile = parts.rest()?;
    let target = Target::parse(&f.target).map_err(|m| KeyError { key: format!("{key}.target"), message: m })?;
    Ok(Fault::new(kind, target, f.at_s.0, f.duration_s.map(|d| d.0)))
}
