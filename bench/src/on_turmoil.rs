//! The chain on turmoil (0.7), over TCP as a turmoil user would write it: each caller keeps
//! [`CONNECTIONS`] persistent connections to the next hop and multiplexes calls over them
//! (an 8-byte call id each way; a reader task per connection completes the waiting calls).
//!
//! Latency: turmoil draws a message's latency as `min + (max - min) * x` with `x` from an
//! exponential distribution (rate `λ`), truncated to whole milliseconds and capped at `max`; it
//! has no uniform distribution. With min 1 ms, max 10 ms and [`LATENCY_CURVE`] (λ = 1.39) the
//! mean is 5.5 ms, as for uniform 1-10 ms.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use real_tokio::io::{AsyncReadExt, AsyncWriteExt};
use real_tokio::sync::{mpsc, oneshot};
use real_tokio::task::spawn_local;
use turmoil::net::{TcpListener, TcpStream};

use crate::{Chain, ATTEMPTS, ATTEMPT_TIMEOUT, BACKOFF, SERVICE_TIME};

/// Connections each caller keeps to the next hop.
pub const CONNECTIONS: usize = 8;
/// The rate of turmoil's latency curve that gives a mean of 5.5 ms between 1 and 10 ms.
pub const LATENCY_CURVE: f64 = 1.39;
const PORT: u16 = 9000;

/// Calls to one host over persistent connections, round robin.
struct Pool {
    conns: Vec<Conn>,
    next: Cell<usize>,
    ids: Cell<u64>,
}

struct Conn {
    tx: mpsc::UnboundedSender<u64>,
    waiting: Rc<RefCell<BTreeMap<u64, oneshot::Sender<()>>>>,
}

impl Pool {
    async fn connect(host: &str) -> turmoil::Result<Pool> {
        let mut conns = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            let (mut rd, mut wr) = TcpStream::connect((host, PORT)).await?.into_split();
            let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
            let waiting: Rc<RefCell<BTreeMap<u64, oneshot::Sender<()>>>> = Rc::default();
            spawn_local(async move {
                while let Some(id) = rx.recv().await {
                    if wr.write_all(&id.to_le_bytes()).await.is_err() {
                        return;
                    }
                }
            });
            let answered = waiting.clone();
            spawn_local(async move {
                let mut buf = [0u8; 8];
                while rd.read_exact(&mut buf).await.is_ok() {
                    if let Some(tx) = answered.borrow_mut().remove(&u64::from_le_bytes(buf)) {
                        let _ = tx.send(());
                    }
                }
            });
            conns.push(Conn { tx, waiting });
        }
        Ok(Pool { conns, next: Cell::new(0), ids: Cell::new(0) })
    }

    async fn call_once(&self) -> bool {
        let i = self.next.get();
        self.next.set((i + 1) % self.conns.len());
        let id = self.ids.get();
        self.ids.set(id + 1);
        let conn = &self.conns[i];
        let (tx, rx) = oneshot::channel();
        conn.waiting.borrow_mut().insert(id, tx);
        if conn.tx.send(id).is_err() {
            return false;
        }
        let answered = rx.await.is_ok();
        conn.waiting.borrow_mut().remove(&id);
        answered
    }

    /// One call: bare, or with retry + timeout.
    async fn call(&self, patterns: bool) -> bool {
        if !patterns {
            return self.call_once().await;
        }
        let mut backoff = BACKOFF;
        for attempt in 1..=ATTEMPTS {
            if real_tokio::time::timeout(ATTEMPT_TIMEOUT, self.call_once()).await.unwrap_or(false) {
                return true;
            }
            if attempt < ATTEMPTS {
                real_tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        false
    }
}

/// A hop: answers each call after its service time and, if there is a next hop, a call to it.
async fn hop(next: Option<&'static str>, patterns: bool) -> turmoil::Result {
    let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
    let mut pool = None;
    loop {
        let (stream, _) = listener.accept().await?;
        if pool.is_none() {
            if let Some(host) = next {
                pool = Some(Rc::new(Pool::connect(host).await?));
            }
        }
        let pool = pool.clone();
        let (mut rd, mut wr) = stream.into_split();
        let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
        spawn_local(async move {
            while let Some(id) = rx.recv().await {
                if wr.write_all(&id.to_le_bytes()).await.is_err() {
                    return;
                }
            }
        });
        spawn_local(async move {
            let mut buf = [0u8; 8];
            while rd.read_exact(&mut buf).await.is_ok() {
                let (tx, pool) = (tx.clone(), pool.clone());
                spawn_local(async move {
                    real_tokio::time::sleep(SERVICE_TIME).await;
                    if let Some(pool) = pool {
                        pool.call(patterns).await;
                    }
                    let _ = tx.send(u64::from_le_bytes(buf));
                });
            }
        });
    }
}

/// Runs the chain; returns the end-to-end requests answered.
pub fn run(chain: &Chain) -> u64 {
    let arrivals = chain.arrivals();
    let patterns = chain.patterns;
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(chain.virtual_s + 60))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(10))
        .rng_seed(chain.seed)
        .build();
    sim.set_message_latency_curve(LATENCY_CURVE);
    sim.host("c", move || hop(None, patterns));
    sim.host("b", move || hop(Some("c"), patterns));
    sim.host("a", move || hop(Some("b"), patterns));
    let done = Rc::new(Cell::new(0u64));
    let counted = done.clone();
    sim.client("client", async move {
        let pool = Rc::new(Pool::connect("a").await?);
        let start = real_tokio::time::Instant::now();
        let mut calls = Vec::with_capacity(arrivals.len());
        for t in arrivals {
            real_tokio::time::sleep_until(start + t).await;
            let (pool, counted) = (pool.clone(), counted.clone());
            calls.push(spawn_local(async move {
                if pool.call(patterns).await {
                    counted.set(counted.get() + 1);
                }
            }));
        }
        for c in calls {
            let _ = c.await;
        }
        Ok(())
    });
    sim.run().expect("the turmoil chain failed");
    done.get()
}
