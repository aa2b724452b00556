//! A cache service on the simulated network, as a [`CacheStore`] for cache-aside layers.
//!
//! The entries live in the run's world, one map per cache service; every get, put and
//! invalidate is also a call to one of the cache service's replicas (chosen by key), so the
//! cache's latency, capacity and faults apply. A cache that cannot be reached is a miss (get)
//! or a lost write (put), as with a real remote cache.

use std::collections::BTreeMap;
use std::sync::Arc;

use faultline_patterns::cache::{CacheStore, Entry};
use faultline_patterns::BoxFuture;

use crate::call::Served;
use crate::net::Transport;

/// Entries of every cache service, by service name then key.
pub(crate) type CacheData = BTreeMap<String, BTreeMap<u64, Entry<Served>>>;

/// One node's client of one cache service.
pub(crate) struct SimCache {
    transport: Arc<Transport>,
    service: String,
    replicas: Vec<u32>,
}

impl SimCache {
    pub(crate) fn new(transport: Arc<Transport>, service: &str) -> Option<SimCache> {
        let replicas = transport.world.replicas_of(service);
        (!replicas.is_empty()).then(|| SimCache { transport, service: service.to_owned(), replicas })
    }

    /// A round trip to the replica that owns `key`.
    async fn reach(transport: &Arc<Transport>, replicas: &[u32], key: u64) -> bool {
        let dst = replicas[(key % replicas.len() as u64) as usize];
        transport.call(dst, 0, crate::call::Meta { key, ..Default::default() }).await.is_ok()
    }
}

impl CacheStore<Served> for SimCache {
    fn get(&self, key: u64) -> BoxFuture<Option<Entry<Served>>> {
        let (transport, replicas, service) = (self.transport.clone(), self.replicas.clone(), self.service.clone());
        Box::pin(async move {
            if !Self::reach(&transport, &replicas, key).await {
                return None;
            }
            transport.world.caches().get(&service).and_then(|m| m.get(&key).cloned())
        })
    }

    fn put(&self, key: u64, entry: Entry<Served>) -> BoxFuture<()> {
        let (transport, replicas, service) = (self.transport.clone(), self.replicas.clone(), self.service.clone());
        Box::pin(async move {
            if Self::reach(&transport, &replicas, key).await {
                transport.world.caches().entry(service).or_default().insert(key, entry);
            }
        })
    }

    fn invalidate(&self, key: u64) -> BoxFuture<()> {
        let (transport, replicas, service) = (self.transport.clone(), self.replicas.clone(), self.service.clone());
        Box::pin(async move {
            if Self::reach(&transport, &replicas, key).await {
                if let Some(m) = transport.world.caches().get_mut(&service) {
                    m.remove(&key);
                }
            }
        })
    }
}
