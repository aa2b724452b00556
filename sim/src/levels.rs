//! Levels the patterns hold (a bulkhead's permits taken, an adaptive limit's calls in flight),
//! kept as the most per time bin: a gauge changes on every call, so rows per change would
//! outnumber the calls. Written to `levels.csv` by sinks that write files; outside the
//! fingerprint (the calls and events already say what happened).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

/// The CSV header of `levels.csv`.
pub const LEVEL_HEADER: &str = "t_us,node,edge,pattern,max_in_use,limit";

/// One bin of one level: the most taken in it, and the limit then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelRow {
    /// The bin's start, µs.
    pub t_us: u64,
    /// The node holding the level (the caller).
    pub node: Arc<str>,
    /// The edge whose stack holds it, `caller->callee`.
    pub edge: Arc<str>,
    /// The pattern, e.g. `bulkhead`.
    pub pattern: &'static str,
    /// The most taken at once in the bin.
    pub max_in_use: u32,
    /// The limit when that most was reached.
    pub limit: u32,
}

impl LevelRow {
    /// Appends the CSV row (no newline).
    pub fn write_row(&self, out: &mut String) {
        let _ = write!(
            out,
            "{},{},{},{},{},{}",
            self.t_us, self.node, self.edge, self.pattern, self.max_in_use, self.limit
        );
    }
}

/// One level's history: the bins closed so far and the one open now.
#[derive(Debug, Default)]
struct Track {
    /// The open bin's index, its most and the limit then.
    bin: u64,
    max: u32,
    max_limit: u32,
    /// The level and limit now.
    now: u32,
    limit: u32,
    /// Closed bins with something taken: (bin, most, limit).
    closed: Vec<(u64, u32, u32)>,
}

impl Track {
    /// Moves to bin `bin`: closes the open one, and the bins in between, which held the level
    /// as it was.
    fn advance(&mut self, bin: u64) {
        if bin <= self.bin {
            return;
        }
        if self.max > 0 {
            self.closed.push((self.bin, self.max, self.max_limit));
        }
        if self.now > 0 {
            self.closed.extend((self.bin + 1..bin).map(|b| (b, self.now, self.limit)));
        }
        (self.bin, self.max, self.max_limit) = (bin, self.now, self.limit);
    }

    fn set(&mut self, bin: u64, in_use: u32, limit: u32) {
        self.advance(bin);
        (self.now, self.limit) = (in_use, limit);
        if in_use >= self.max {
            (self.max, self.max_limit) = (in_use, limit);
        }
    }
}

/// Every level of a run, by (node index, edge, pattern).
#[derive(Debug)]
pub(crate) struct Levels {
    bin_us: u64,
    tracks: BTreeMap<(u32, Arc<str>, &'static str), Track>,
}

impl Levels {
    pub(crate) fn new(bin_us: u64) -> Self {
        Levels { bin_us: bin_us.max(1), tracks: BTreeMap::new() }
    }

    /// `pattern` on `node`'s stack for `edge` holds `in_use` of `limit` from `t_us` on.
    pub(crate) fn set(&mut self, t_us: u64, (node, edge): (u32, &Arc<str>), pattern: &'static str, level: (u32, u32)) {
        let bin = t_us / self.bin_us;
        let key = (node, edge.clone(), pattern);
        self.tracks.entry(key).or_default().set(bin, level.0, level.1);
    }

    /// `node` crashed at `t_us`: its stacks, and what they held, are gone.
    pub(crate) fn crash(&mut self, t_us: u64, node: u32) {
        let bin = t_us / self.bin_us;
        for track in self.tracks.iter_mut().filter(|(k, _)| k.0 == node).map(|(_, t)| t) {
            let limit = track.limit;
            track.set(bin, 0, limit);
        }
    }

    /// Every bin with something taken that starts before `end_us`, by level then time.
    pub(crate) fn rows(&mut self, end_us: u64, names: &[String]) -> Vec<LevelRow> {
        let end = end_us.div_ceil(self.bin_us);
        let mut rows = Vec::new();
        for ((node, edge, pattern), track) in &mut self.tracks {
            track.advance(end);
            let node: Arc<str> = names.get(*node as usize).map_or("?", String::as_str).into();
            rows.extend(track.closed.iter().filter(|c| c.0 < end).map(|&(bin, max_in_use, limit)| LevelRow {
                t_us: bin * self.bin_us,
                node: node.clone(),
                edge: edge.clone(),
                pattern,
                max_in_use,
                limit,
            }));
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_most_per_bin_and_fills_the_bins_a_level_was_held() {
        let mut levels = Levels::new(100);
        let edge: Arc<str> = "a->b".into();
        levels.set(10, (0, &edge), "bulkhead", (1, 4));
        levels.set(20, (0, &edge), "bulkhead", (3, 4));
        levels.set(30, (0, &edge), "bulkhead", (2, 4));
        // Held at 2 through bins 1 and 2, back to 0 in bin 3.
        levels.set(350, (0, &edge), "bulkhead", (0, 4));
        levels.set(620, (0, &edge), "bulkhead", (1, 4));
        let rows = levels.rows(700, &["a-1".to_owned()]);
        let got: Vec<(u64, u32)> = rows.iter().map(|r| (r.t_us, r.max_in_use)).collect();
        assert_eq!(got, vec![(0, 3), (100, 2), (200, 2), (300, 2), (600, 1)]);
        assert!(rows.iter().all(|r| &*r.node == "a-1" && r.limit == 4));
    }

    #[test]
    fn a_crash_empties_the_node_s_levels() {
        let mut levels = Levels::new(100);
        let edge: Arc<str> = "a->b".into();
        levels.set(10, (0, &edge), "bulkhead", (5, 8));
        levels.crash(150, 0);
        let rows = levels.rows(400, &["a-1".to_owned()]);
        let got: Vec<(u64, u32)> = rows.iter().map(|r| (r.t_us, r.max_in_use)).collect();
        assert_eq!(got, vec![(0, 5), (100, 5)]);
    }
}
