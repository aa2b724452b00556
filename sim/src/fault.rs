//! Fault plans as data.
//!
//! A fault is `(at, duration, kind, target)`. Plans come from scenario files, from code, and
//! (later) are generated from the seed or shrunk: the simulator only executes them. Overlapping
//! faults of one kind on one node combine: rates take the largest, of two latency spikes the
//! one listed later wins, clock skews and drifts add up.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::dist::Dist;

/// What a fault does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FaultKind {
    /// The target is unreachable: every message to or from it is dropped (callers wait for
    /// their timeout). A black hole, not a crash.
    Outage,
    /// The target answers with an error at this rate (0..=1) on top of its own error rate.
    ErrorBurst {
        /// Probability that a request fails.
        rate: f64,
    },
    /// Every request to the target takes this much extra service time.
    LatencySpike {
        /// The extra time, drawn per request.
        add: Dist,
    },
    /// Messages between the two sides of the target link are dropped (one way for `a->b`,
    /// both ways for `a<->b`).
    Partition,
    /// The target's nodes are killed: tasks and volatile state are lost, unsynced writes to the
    /// durable store are lost, callers are refused. With a duration they restart at its end.
    Crash,
    /// The target's nodes are killed and restarted at once (a bounce).
    Restart,
    /// The target's nodes stop running (a GC pause or a frozen VM); messages wait for them.
    Pause,
    /// Messages to or from the target (or on the target link) are lost at this rate.
    PacketLoss {
        /// Probability that a message is dropped.
        rate: f64,
    },
    /// The target's wall clock runs this far ahead (negative: behind) of virtual time.
    ClockSkew {
        /// The offset in ms.
        offset_ms: i64,
    },
    /// The target's wall clock runs at `1 + rate` times virtual time from the fault's start
    /// (0.01: 1% fast; negative: slow): an offset that grows, unlike a skew's fixed one. When
    /// the fault ends the clock is right again (resynchronised).
    ClockDrift {
        /// Extra seconds per second.
        rate: f64,
    },
    /// The target's disk is full: every sync of pending writes fails, and the writes are gone
    /// (they never reached the disk). Code that checks the sync's result sees the failure; code
    /// that does not believes them durable.
    DiskFull,
    /// The target's fsyncs fail: every sync of pending writes fails and the kernel drops them
    /// (Linux's behaviour that PostgreSQL met in 2018, "fsyncgate"): a retried fsync succeeds
    /// with the writes lost.
    FsyncFail,
}

impl FaultKind {
    /// The name used in scenario files and the event log.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Outage => "outage",
            FaultKind::ErrorBurst { .. } => "error_burst",
            FaultKind::LatencySpike { .. } => "latency_spike",
            FaultKind::Partition => "partition",
            FaultKind::Crash => "crash",
            FaultKind::Restart => "restart",
            FaultKind::Pause => "pause",
            FaultKind::PacketLoss { .. } => "packet_loss",
            FaultKind::ClockSkew { .. } => "clock_skew",
            FaultKind::ClockDrift { .. } => "clock_drift",
            FaultKind::DiskFull => "disk_full",
            FaultKind::FsyncFail => "fsync_fail",
        }
    }

    /// Every kind name, for error messages.
    pub const NAMES: &'static str =
        "outage, error_burst, latency_spike, partition, crash, restart, pause, packet_loss, clock_skew, clock_drift, disk_full, fsync_fail";
}

/// What a fault hits: a service (all its replicas) or one node by name, or a link between two
/// of those.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// A service or node name.
    Node(String),
    /// Messages from `from` to `to` (and back, when `both`).
    Link {
        /// One side.
        from: String,
        /// The other side.
        to: String,
        /// Both directions.
        both: bool,
    },
}

impl Target {
    /// Parses `payment`, `payment-1`, `frontend->payment` (one way) or `frontend<->payment`.
    pub fn parse(s: &str) -> Result<Target, String> {
        let s = s.trim();
        let name_ok = |n: &str| !n.is_empty() && n.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-');
        let (parts, both) = if let Some((a, b)) = s.split_once("<->") {
            ((a, b), true)
        } else if let Some((a, b)) = s.split_once("->") {
            ((a, b), false)
        } else if name_ok(s) {
            return Ok(Target::Node(s.to_owned()));
        } else {
            return Err(format!("\"{s}\" is not a target (expected a service or node name, `a->b` or `a<->b`)"));
        };
        let (a, b) = (parts.0.trim(), parts.1.trim());
        if !name_ok(a) || !name_ok(b) || a == b {
            return Err(format!("\"{s}\" is not a link (expected `a->b` or `a<->b` with two different names)"));
        }
        Ok(Target::Link { from: a.to_owned(), to: b.to_owned(), both })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Node(n) => f.write_str(n),
            Target::Link { from, to, both: true } => write!(f, "{from}<->{to}"),
            Target::Link { from, to, both: false } => write!(f, "{from}->{to}"),
        }
    }
}

/// One scheduled fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// When it starts, from the beginning of the run.
    pub at: Duration,
    /// How long it lasts; `None` for an instantaneous fault (a restart, a crash for good).
    pub duration: Option<Duration>,
    /// What it does.
    pub kind: FaultKind,
    /// What it hits.
    pub target: Target,
}

impl Fault {
    /// A fault of `kind` on `target` from `at` for `duration`.
    pub fn new(kind: FaultKind, target: Target, at: Duration, duration: Option<Duration>) -> Self {
        Fault { at, duration, kind, target }
    }

    /// When it ends, if it does.
    pub fn end(&self) -> Option<Duration> {
        self.duration.map(|d| self.at + d)
    }
}

/// A fault plan: faults in the order given (the order breaks ties between faults at the same time).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultPlan(pub Vec<Fault>);

/// What one scheduled fault did in a run: a fault that affected nothing tested nothing (it hit
/// an idle node, started after the traffic, or was outweighed by another fault).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultEffect {
    /// Its index in the plan (`faults[i]`).
    pub id: usize,
    /// Kind name.
    pub kind: String,
    /// Target as written.
    pub target: String,
    /// Messages it dropped (outage, partition, packet loss).
    pub messages_dropped: u64,
    /// Calls it failed (error burst).
    pub calls_failed: u64,
    /// Calls it slowed (latency spike).
    pub calls_delayed: u64,
    /// Nodes it killed or froze that were running (crash, restart, pause).
    pub nodes_hit: u64,
    /// Reads of a wall clock it skewed (clock skew).
    pub clock_reads: u64,
    /// Pending writes whose sync it failed, lost (disk full, fsync failure).
    #[serde(default)]
    pub writes_failed: u64,
}

impl FaultEffect {
    /// Everything it did, counted together.
    pub fn affected(&self) -> u64 {
        self.messages_dropped
            + self.calls_failed
            + self.calls_delayed
            + self.nodes_hit
            + self.clock_reads
            + self.writes_failed
    }

    /// `faults[2] (latency_spike on inventory)`.
    pub fn name(&self) -> String {
        format!("faults[{}] ({} on {})", self.id, self.kind, self.target)
    }
}

/// A fault window for charts and summaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// Kind name.
    pub kind: String,
    /// Target as written.
    pub target: String,
    /// Start, seconds.
    pub start_s: f64,
    /// End, seconds (the run's end for a fault without duration).
    pub end_s: f64,
}
