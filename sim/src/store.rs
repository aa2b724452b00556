//! A per-node durable store that survives crashes, minus what was not synced.
//!
//! Writes go to an unsynced buffer that the node itself reads through; `sync` moves them to
//! durable storage (an fsync). A crash drops the buffer: after a restart the node sees exactly
//! what it had synced. The data lives outside the node, in the run's world, so it outlives the
//! node's tasks.
//!
//! Disk faults (`disk_full`, `fsync_fail`) make every sync of pending writes fail, and the
//! writes are gone (never written, or dropped by the kernel after a failed fsync).
//! [`StoreHandle::try_sync`] says so; [`StoreHandle::sync`] ignores it, as code that does not
//! check fsync's result does: it goes on as if the writes were durable.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

/// Why a sync failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskError {
    /// No space left on the device.
    Full,
    /// The fsync itself failed (an I/O error).
    FsyncFailed,
}

impl fmt::Display for DiskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DiskError::Full => "no space left on device",
            DiskError::FsyncFailed => "fsync failed (input/output error)",
        })
    }
}

/// One node's storage.
#[derive(Debug, Default, Clone)]
pub(crate) struct StoreData {
    durable: BTreeMap<String, Vec<u8>>,
    unsynced: BTreeMap<String, Option<Vec<u8>>>,
    /// Disk faults in force (fault index, what a sync meets), latest last.
    disk: Vec<(usize, DiskError)>,
    /// Pending writes each disk fault made fail.
    failed: BTreeMap<usize, u64>,
}

impl StoreData {
    /// A crash: everything not synced is gone.
    pub(crate) fn crash(&mut self) -> usize {
        let lost = self.unsynced.len();
        self.unsynced.clear();
        lost
    }

    /// Disk fault `fault` starts (`Some`) or ends (`None`); at its end, the writes it failed.
    pub(crate) fn disk_fault(&mut self, fault: usize, error: Option<DiskError>) -> u64 {
        self.disk.retain(|(i, _)| *i != fault);
        match error {
            Some(e) => {
                self.disk.push((fault, e));
                0
            }
            None => self.failed.remove(&fault).unwrap_or(0),
        }
    }
}

/// A node's handle on its store.
#[derive(Clone)]
pub struct StoreHandle {
    pub(crate) data: Arc<Mutex<StoreData>>,
}

impl StoreHandle {
    fn with<T>(&self, f: impl FnOnce(&mut StoreData) -> T) -> T {
        f(&mut self.data.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Writes `value` under `key` (not durable until [`StoreHandle::sync`]).
    pub fn put(&self, key: &str, value: &[u8]) {
        self.with(|s| s.unsynced.insert(key.to_owned(), Some(value.to_vec())));
    }

    /// Deletes `key` (not durable until synced).
    pub fn delete(&self, key: &str) {
        self.with(|s| s.unsynced.insert(key.to_owned(), None));
    }

    /// Reads `key`, seeing this node's own unsynced writes.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.with(|s| match s.unsynced.get(key) {
            Some(v) => v.clone(),
            None => s.durable.get(key).cloned(),
        })
    }

    /// Makes every write so far durable, or, under a disk fault, fails and loses them.
    pub fn try_sync(&self) -> Result<(), DiskError> {
        self.with(|s| {
            if let Some(&(fault, error)) = s.disk.last().filter(|_| !s.unsynced.is_empty()) {
                *s.failed.entry(fault).or_insert(0) += s.unsynced.len() as u64;
                s.unsynced.clear();
                return Err(error);
            }
            for (k, v) in std::mem::take(&mut s.unsynced) {
                match v {
                    Some(v) => s.durable.insert(k, v),
                    None => s.durable.remove(&k),
                };
            }
            Ok(())
        })
    }

    /// [`StoreHandle::try_sync`], not looking at the result: under a disk fault the writes are
    /// lost while the caller goes on as if they were durable.
    pub fn sync(&self) {
        let _ = self.try_sync();
    }

    /// Keys starting with `prefix`, in order (synced or not), as this node sees them.
    pub fn keys_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.with(|s| {
            let mut keys: std::collections::BTreeSet<String> =
                s.durable.keys().filter(|k| k.starts_with(prefix)).cloned().collect();
            for (k, v) in &s.unsynced {
                if k.starts_with(prefix) {
                    if v.is_some() {
                        keys.insert(k.clone());
                    } else {
                        keys.remove(k);
                    }
                }
            }
            keys.into_iter().collect()
        })
    }

    /// Up to `limit` entries from key `from` on whose keys start with `prefix`, in key order
    /// (synced or not), as this node sees them: a range read, not a scan of the prefix.
    pub fn entries_from(&self, from: &str, prefix: &str, limit: usize) -> Vec<(String, Vec<u8>)> {
        use std::ops::Bound::{Included, Unbounded};
        debug_assert!(from.starts_with(prefix), "{from} is not under {prefix}");
        let range = (Included(from), Unbounded);
        self.with(|s| {
            let mut merged: BTreeMap<&str, Option<&Vec<u8>>> = BTreeMap::new();
            let in_range = |k: &&String| k.starts_with(prefix);
            // The first `limit` durable keys are enough only if no unsynced delete hides one.
            let hidden = s.unsynced.range::<str, _>(range).take_while(|(k, _)| in_range(k)).count();
            for (k, v) in
                s.durable.range::<str, _>(range).take_while(|(k, _)| in_range(k)).take(limit.saturating_add(hidden))
            {
                merged.insert(k, Some(v));
            }
            for (k, v) in s.unsynced.range::<str, _>(range).take_while(|(k, _)| in_range(k)) {
                merged.insert(k, v.as_ref());
            }
            merged.into_iter().filter_map(|(k, v)| Some((k.to_owned(), v?.clone()))).take(limit).collect()
        })
    }

    /// A number stored as text under `key` (0 when absent or not a number).
    pub fn get_u64(&self, key: &str) -> u64 {
        self.get(key).and_then(|v| String::from_utf8_lossy(&v).parse().ok()).unwrap_or(0)
    }

    /// Writes not yet synced.
    pub fn unsynced(&self) -> usize {
        self.with(|s| s.unsynced.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_read_merges_unsynced_writes_and_deletes_in_key_order() {
        let s = StoreHandle { data: Arc::default() };
        for k in ["a/1", "a/2", "a/3", "a/5", "b/1"] {
            s.put(k, k.as_bytes());
        }
        s.sync();
        s.delete("a/2");
        s.put("a/4", b"new");
        let keys = |from: &str, limit: usize| -> Vec<String> {
            s.entries_from(from, "a/", limit).into_iter().map(|(k, _)| k).collect()
        };
        assert_eq!(keys("a/", 10), ["a/1", "a/3", "a/4", "a/5"]);
        assert_eq!(keys("a/2", 2), ["a/3", "a/4"], "from a key on, a deleted one skipped");
        assert_eq!(keys("a/1", 1), ["a/1"]);
        assert!(keys("a/6", 10).is_empty(), "nothing past the prefix");
    }
}
