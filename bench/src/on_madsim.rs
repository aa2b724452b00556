//! The chain written directly on madsim: RPC endpoints and handlers, nothing else. madsim's own
//! network gives the latency (uniform 1-10 ms per message, its default).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use madsim::net::rpc::Request;
use madsim::net::Endpoint;
use madsim::runtime::{Handle, Runtime};

use crate::{Chain, ATTEMPTS, ATTEMPT_TIMEOUT, BACKOFF, SERVICE_TIME};

#[derive(serde::Serialize, serde::Deserialize)]
struct Hop;

impl Request for Hop {
    type Response = ();
    const ID: u64 = 1;
}

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 9, 0, i], 1))
}

/// One call to the next hop: bare, or with retry + timeout.
async fn call(ep: &Endpoint, to: SocketAddr, patterns: bool) -> bool {
    if !patterns {
        return ep.call(to, Hop).await.is_ok();
    }
    let mut backoff = BACKOFF;
    for attempt in 1..=ATTEMPTS {
        if ep.call_timeout(to, Hop, ATTEMPT_TIMEOUT).await.is_ok() {
            return true;
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    false
}

/// Runs the chain on a fresh thread (one runtime per run); returns the end-to-end requests
/// answered.
pub fn run(chain: &Chain) -> u64 {
    let chain = *chain;
    let arrivals = chain.arrivals();
    // lint: allow(determinism) one OS thread per simulated run, as faultline runs them
    std::thread::spawn(move || {
        let mut cfg = madsim::Config::default();
        cfg.net.send_latency = Duration::from_millis(1)..Duration::from_millis(10);
        Runtime::with_seed_and_config(chain.seed, cfg).block_on(simulate(chain, arrivals))
    })
    .join()
    .expect("the madsim chain panicked")
}

async fn simulate(chain: Chain, arrivals: Vec<Duration>) -> u64 {
    let h = Handle::current();
    let mut nodes = Vec::new();
    for i in 1..=3u8 {
        let node = h.create_node().name(format!("hop{i}")).ip(addr(i).ip()).build();
        node.spawn(async move {
            let ep = Arc::new(Endpoint::bind(addr(i)).await.expect("bind"));
            let out = ep.clone();
            ep.add_rpc_handler(move |_: Hop| {
                let out = out.clone();
                async move {
                    tokio::time::sleep(SERVICE_TIME).await;
                    if i < 3 {
                        call(&out, addr(i + 1), chain.patterns).await;
                    }
                }
            });
            std::future::pending::<()>().await;
        });
        nodes.push(node);
    }
    let done = Arc::new(AtomicU64::new(0));
    let client = h.create_node().name("client").ip(addr(10).ip()).build();
    let d = done.clone();
    client.spawn(async move {
        let ep = Arc::new(Endpoint::bind(addr(10)).await.expect("bind"));
        let start = tokio::time::Instant::now();
        for t in arrivals {
            tokio::time::sleep_until(start + t).await;
            let (ep, d) = (ep.clone(), d.clone());
            tokio::spawn(async move {
                if call(&ep, addr(1), chain.patterns).await {
                    d.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    tokio::time::sleep(Duration::from_secs(chain.virtual_s + 5)).await;
    for n in nodes.iter().chain(std::iter::once(&client)) {
        h.kill(n.id());
    }
    done.load(Ordering::Relaxed)
}
