//! Cache-aside: read from a cache; on a miss, load from the source and fill the cache.
//!
//! "500 ms -> 50 ms and DB load -90%" (course note 000, docs/sources.md) holds when most reads hit. The details decide
//! what happens when they do not:
//! - **TTL with jitter**: entries written together would expire together and send a wave of
//!   misses to the source; each entry's TTL is shortened by up to `ttl_jitter` at random.
//! - **Single-flight**: concurrent misses for one key make one load; the others wait for it.
//!   If the loading call is cancelled, the waiters are woken and one of them loads instead
//!   (a cancelled leader must not leave its followers hanging; known bug K11, docs/sources.md).
//! - **XFetch** (probabilistic early refresh, Vattani et al.): a hit refreshes early with a
//!   probability that grows as expiry nears and with the load's cost (`beta`, 1 by default),
//!   so a hot key is reloaded by one caller before it expires for everyone.
//! - **Stale-while-revalidate**: for `stale` after expiry, a read returns the stale value at
//!   once and refreshes it in the background.
//! - **Invalidation**: [`CacheAsideLayer::invalidate`] drops a key (after a write).
//!
//! The cache itself is a [`CacheStore`]: in the simulator, a cache service on the network
//! (its latency and faults apply; an unreachable cache is a miss).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand_core::RngCore;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::config::ConfigError;
use crate::event::EventSink;
use crate::retry::unit_f64;
use crate::service::{BoxFuture, BoxService, Classify, Policy, Service};

/// A request that names the data it reads.
pub trait Keyed {
    /// The cache key.
    fn cache_key(&self) -> u64;
}

/// One cached value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<V> {
    /// The value.
    pub value: V,
    /// When it stops being fresh (an instant, so every caller of a shared cache agrees).
    pub expires: Instant,
    /// How long the load that produced it took (XFetch's delta).
    pub cost: Duration,
}

/// Where entries live.
pub trait CacheStore<V>: Send + Sync {
    /// Reads a key (`None`: absent, or the cache could not be reached).
    fn get(&self, key: u64) -> BoxFuture<Option<Entry<V>>>;
    /// Writes a key.
    fn put(&self, key: u64, entry: Entry<V>) -> BoxFuture<()>;
    /// Drops a key.
    fn invalidate(&self, key: u64) -> BoxFuture<()>;
}

/// Cache-aside settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheConfig {
    /// Time to live. Default 60 s.
    pub ttl: Duration,
    /// Up to this share of the TTL is cut at random per entry. Default 0.1.
    pub ttl_jitter: f64,
    /// XFetch's beta (0: off). Default 1.
    pub xfetch_beta: f64,
    /// Serve stale values this long after expiry while refreshing. Default 0 (off).
    pub stale: Duration,
    /// Concurrent misses for one key share one load. Default true.
    pub single_flight: bool,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            ttl: Duration::from_secs(60),
            ttl_jitter: 0.1,
            xfetch_beta: 1.0,
            stale: Duration::ZERO,
            single_flight: true,
        }
    }
}

impl CacheConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(self) -> Result<Self, ConfigError> {
        if self.ttl.is_zero() {
            return Err(ConfigError::new("ttl_ms", 0, "a duration > 0"));
        }
        if !(0.0..1.0).contains(&self.ttl_jitter) {
            return Err(ConfigError::new("ttl_jitter", self.ttl_jitter, "a share from 0 to below 1"));
        }
        if !(0.0..=10.0).contains(&self.xfetch_beta) {
            return Err(ConfigError::new("xfetch_beta", self.xfetch_beta, "a number from 0 to 10"));
        }
        Ok(self)
    }
}

/// One load in progress, shared by the callers that missed the same key.
struct Flight<V, E> {
    done: Notify,
    result: Mutex<Option<Result<V, E>>>,
}

type Flights<V, E> = Arc<Mutex<BTreeMap<u64, Arc<Flight<V, E>>>>>;

/// Puts a cache in front of a service.
pub struct CacheAsideLayer<V, E> {
    store: Arc<dyn CacheStore<V>>,
    config: CacheConfig,
    rng: Arc<Mutex<Box<dyn RngCore + Send>>>,
    flights: Flights<V, E>,
    events: Arc<dyn EventSink>,
}

impl<V, E> Clone for CacheAsideLayer<V, E> {
    fn clone(&self) -> Self {
        CacheAsideLayer {
            store: self.store.clone(),
            config: self.config,
            rng: self.rng.clone(),
            flights: self.flights.clone(),
            events: self.events.clone(),
        }
    }
}

impl<V: Clone + Send + 'static, E: Classify + Clone> CacheAsideLayer<V, E> {
    /// A cache over `store` with a validated `config`, drawing jitter from `rng`.
    pub fn new(
        store: Arc<dyn CacheStore<V>>,
        config: CacheConfig,
        rng: Box<dyn RngCore + Send>,
        events: Arc<dyn EventSink>,
    ) -> Self {
        CacheAsideLayer {
            store,
            config,
            rng: Arc::new(Mutex::new(rng)),
            flights: Arc::new(Mutex::new(BTreeMap::new())),
            events,
        }
    }

    /// Drops `key` from the cache (call it after writing the source).
    pub fn invalidate(&self, key: u64) -> BoxFuture<()> {
        self.store.invalidate(key)
    }
}

/// Everything a load needs, cloneable into a background refresh.
struct Loader<Req, V, E> {
    inner: BoxService<Req, V, E>,
    store: Arc<dyn CacheStore<V>>,
    config: CacheConfig,
    rng: Arc<Mutex<Box<dyn RngCore + Send>>>,
    flights: Flights<V, E>,
}

impl<Req, V, E> Clone for Loader<Req, V, E> {
    fn clone(&self) -> Self {
        Loader {
            inner: self.inner.clone(),
            store: self.store.clone(),
            config: self.config,
            rng: self.rng.clone(),
            flights: self.flights.clone(),
        }
    }
}

/// Removes a flight and wakes its waiters if the leader is dropped before finishing.
struct Leading<V, E> {
    flights: Flights<V, E>,
    key: u64,
    flight: Arc<Flight<V, E>>,
}

impl<V, E> Drop for Leading<V, E> {
    fn drop(&mut self) {
        if let Ok(mut f) = self.flights.lock() {
            if f.get(&self.key).is_some_and(|x| Arc::ptr_eq(x, &self.flight)) {
                f.remove(&self.key);
            }
        }
        // Finished or not, waiters must wake: without a result (the leader was cancelled)
        // they load themselves.
        self.flight.done.notify_waiters();
    }
}

impl<Req, V, E> Loader<Req, V, E>
where
    Req: Keyed + Clone + Send + 'static,
    V: Clone + Send + 'static,
    E: Classify + Clone,
{
    /// Loads from the source and fills the cache.
    async fn load_and_fill(&self, req: Req) -> Result<V, E> {
        let key = req.cache_key();
        let start = Instant::now();
        let result = self.inner.call(req).await;
        if let Ok(value) = &result {
            let now = Instant::now();
            let cut = self.rng.lock().map(|mut r| unit_f64(&mut **r)).unwrap_or(0.0) * self.config.ttl_jitter;
            let entry = Entry {
                value: value.clone(),
                expires: now + self.config.ttl.mul_f64(1.0 - cut),
                cost: now.duration_since(start),
            };
            self.store.put(key, entry).await;
        }
        result
    }

    /// Loads, sharing the load with concurrent callers for the same key.
    async fn load(&self, req: Req) -> Result<V, E> {
        if !self.config.single_flight {
            return self.load_and_fill(req).await;
        }
        let key = req.cache_key();
        loop {
            let joined = self.flights.lock().ok().map(|mut f| match f.get(&key) {
                Some(existing) => (existing.clone(), false),
                None => {
                    let new = Arc::new(Flight { done: Notify::new(), result: Mutex::new(None) });
                    f.insert(key, new.clone());
                    (new, true)
                }
            });
            let Some((flight, leader)) = joined else { return self.load_and_fill(req).await };
            if leader {
                let _lead = Leading { flights: self.flights.clone(), key, flight: flight.clone() };
                let result = self.load_and_fill(req.clone()).await;
                if let Ok(mut r) = flight.result.lock() {
                    *r = Some(result.clone());
                }
                return result;
            }
            // A follower: register for the wake-up before looking, so none is missed.
            let notified = flight.done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(r) = flight.result.lock().ok().and_then(|r| r.clone()) {
                return r;
            }
            let still_flying =
                self.flights.lock().map(|f| f.get(&key).is_some_and(|x| Arc::ptr_eq(x, &flight))).unwrap_or(false);
            if still_flying {
                notified.await;
            }
            if let Some(r) = flight.result.lock().ok().and_then(|r| r.clone()) {
                return r;
            }
            // The leader was cancelled without a result: try again (maybe as the leader).
        }
    }
}

impl<Req, V, E> Policy<Req, V, E> for CacheAsideLayer<V, E>
where
    Req: Keyed + Clone + Send + 'static,
    V: Clone + Send + 'static,
    E: Classify + Clone,
{
    fn call(&self, inner: &BoxService<Req, V, E>, req: Req) -> BoxFuture<Result<V, E>> {
        let loader = Loader {
            inner: inner.clone(),
            store: self.store.clone(),
            config: self.config,
            rng: self.rng.clone(),
            flights: self.flights.clone(),
        };
        let events = self.events.clone();
        Box::pin(async move {
            let key = req.cache_key();
            let entry = loader.store.get(key).await;
            let now = Instant::now();
            match entry {
                Some(e) if now < e.expires => {
                    // XFetch: refresh early with probability rising toward expiry.
                    let beta = loader.config.xfetch_beta;
                    if beta > 0.0 {
                        let u = loader.rng.lock().map(|mut r| 1.0 - unit_f64(&mut **r)).unwrap_or(1.0);
                        let early = Duration::from_secs_f64((e.cost.as_secs_f64() * beta * -u.ln()).min(86_400.0));
                        if now + early >= e.expires {
                            events.report("cache", "early_refresh", || format!("key={key}"));
                            return loader.load(req).await;
                        }
                    }
                    Ok(e.value)
                }
                Some(e) if now < e.expires + loader.config.stale => {
                    events.report("cache", "stale_served", || format!("key={key}"));
                    let background = loader.clone();
                    tokio::spawn(async move {
                        let _ = background.load(req).await;
                    });
                    Ok(e.value)
                }
                _ => loader.load(req).await,
            }
        })
    }
}

/// A cache in this process's memory (for tests and single-process use).
#[derive(Default)]
pub struct MemoryStore<V> {
    entries: Mutex<BTreeMap<u64, Entry<V>>>,
}

impl<V: Clone + Send + 'static> CacheStore<V> for MemoryStore<V> {
    fn get(&self, key: u64) -> BoxFuture<Option<Entry<V>>> {
        let e = self.entries.lock().ok().and_then(|m| m.get(&key).cloned());
        Box::pin(async move { e })
    }
    fn put(&self, key: u64, entry: Entry<V>) -> BoxFuture<()> {
        if let Ok(mut m) = self.entries.lock() {
            m.insert(key, entry);
        }
        Box::pin(async {})
    }
    fn invalidate(&self, key: u64) -> BoxFuture<()> {
        if let Ok(mut m) = self.entries.lock() {
            m.remove(&key);
        }
        Box::pin(async {})
    }
}
