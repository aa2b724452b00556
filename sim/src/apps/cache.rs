//! Cache services on the simulated network, as [`CacheStore`]s for cache-aside layers.
//!
//! The entries belong to the cache service (one map per service, shared by its replicas and
//! kept across their restarts, as a remote cache's memory would be if it survived); every get,
//! put and invalidate is also a call to one of the cache service's replicas (chosen by key), so
//! the cache's latency, capacity and faults apply. A cache that cannot be reached is a miss
//! (get) or a lost write (put), as with a real remote cache.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use faultline_patterns::cache::{CacheStore, Entry};
use faultline_patterns::BoxFuture;

use crate::call::{Meta, Served};
use crate::kernel::net::Transport;

/// The entries of every cache service, by service name then key.
#[derive(Default)]
pub(crate) struct Caches(Mutex<BTreeMap<String, BTreeMap<u64, Entry<Served>>>>);

impl Caches {
    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<String, BTreeMap<u64, Entry<Served>>>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// One node's client of one cache service.
pub(crate) struct SimCache {
    transport: Arc<Transport>,
    service: String,
    replicas: Vec<u32>,
    caches: Arc<Caches>,
}

impl SimCache {
    /// A client of `service` from `transport`'s node (`None`: no such service).
    pub(crate) fn new(transport: Arc<Transport>, service: &str, caches: Arc<Caches>) -> Option<SimCache> {
        let replicas = transport.world.replicas_of(service);
        (!replicas.is_empty()).then(|| SimCache { transport, service: service.to_owned(), replicas, caches })
    }

    /// A round trip to the replica that owns `key`.
    async fn reach(transport: &Arc<Transport>, replicas: &[u32], key: u64) -> bool {
        let dst = replicas[(key % replicas.len() as u64) as usize];
        transport.call(dst, 0, Meta { key, ..Default::default() }).await.is_ok()
    }

    fn parts(&self) -> (Arc<Transport>, Vec<u32>, String, Arc<Caches>) {
        (self.transport.clone(), self.replicas.clone(), self.service.clone(), self.caches.clone())
    }
}

impl CacheStore<Served> for SimCache {
    fn get(&self, key: u64) -> BoxFuture<Option<Entry<Served>>> {
        let (transport, replicas, service, caches) = self.parts();
        Box::pin(async move {
            if !Self::reach(&transport, &replicas, key).await {
                return None;
            }
            caches.with(|c| c.get(&service).and_then(|m| m.get(&key).cloned()))
        })
    }

    fn put(&self, key: u64, entry: Entry<Served>) -> BoxFuture<()> {
        let (transport, replicas, service, caches) = self.parts();
        Box::pin(async move {
            if Self::reach(&transport, &replicas, key).await {
                caches.with(|c| c.entry(service).or_default().insert(key, entry));
            }
        })
    }

    fn invalidate(&self, key: u64) -> BoxFuture<()> {
        let (transport, replicas, service, caches) = self.parts();
        Box::pin(async move {
            if Self::reach(&transport, &replicas, key).await {
                caches.with(|c| c.get_mut(&service).map(|m| m.remove(&key)));
            }
        })
    }
}
