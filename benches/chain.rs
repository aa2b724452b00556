//! Simulated requests per wall second through a three-hop chain (client -> a -> b -> c),
//! faultline against raw madsim RPC over the same hops, measured in the same run.
//!
//! Both sides: Poisson arrivals at 500/s for 600 virtual seconds (~300k end-to-end requests,
//! ~900k RPCs), 1 ms of service time per hop, one-way latency uniform in 1..10 ms. Raw madsim
//! gets that latency from its own network config; faultline from its link model (with madsim's
//! set to zero). The rate stays under 1,000/s because a madsim RPC handler receives at most one
//! message per virtual millisecond. Each round runs the three sides back to back on the same
//! seed; each round gives its own ratios (so that a slow minute of a shared machine slows both
//! sides of a ratio alike), and the median ratio over `ROUNDS` is reported, with its range.
//! Run with `cargo bench --bench chain`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline::scenarios;
use faultline::sim::{self, rng, NullSink};
use madsim::net::rpc::Request;
use madsim::net::Endpoint;
use madsim::runtime::{Handle, Runtime};

const RATE_PER_S: f64 = 500.0;
const VIRTUAL_S: u64 = 600;
const ROUNDS: usize = 5;

#[derive(serde::Serialize, serde::Deserialize)]
struct Hop;

impl Request for Hop {
    type Response = ();
    const ID: u64 = 1;
}

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 9, 0, i], 1))
}

/// The same chain written directly on madsim: endpoints and RPC handlers, nothing else.
fn raw_madsim(seed: u64) -> u64 {
    // lint: allow(determinism) one OS thread per simulated run
    std::thread::spawn(move || {
        let mut cfg = madsim::Config::default();
        cfg.net.send_latency = Duration::from_millis(1)..Duration::from_millis(10);
        Runtime::with_seed_and_config(seed, cfg).block_on(async move {
            let h = Handle::current();
            let mut nodes = Vec::new();
            for i in 1..=3u8 {
                let node = h.create_node().name(format!("hop{i}")).ip(addr(i).ip()).build();
                node.spawn(async move {
                    let ep = Arc::new(Endpoint::bind(addr(i)).await.unwrap());
                    let out = ep.clone();
                    ep.add_rpc_handler(move |_: Hop| {
                        let out = out.clone();
                        async move {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                            if i < 3 {
                                out.call(addr(i + 1), Hop).await.unwrap();
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
                let ep = Arc::new(Endpoint::bind(addr(10)).await.unwrap());
                let mut r = rng::stream(seed, "bench-arrivals");
                let start = tokio::time::Instant::now();
                let mut t = 0.0;
                loop {
                    t += -r.unit_open0().ln() / RATE_PER_S;
                    if t >= VIRTUAL_S as f64 {
                        break;
                    }
                    tokio::time::sleep_until(start + Duration::from_secs_f64(t)).await;
                    let (ep, d) = (ep.clone(), d.clone());
                    tokio::spawn(async move {
                        ep.call(addr(1), Hop).await.unwrap();
                        d.fetch_add(1, Ordering::Relaxed);
                    });
                }
            });
            tokio::time::sleep(Duration::from_secs(VIRTUAL_S + 5)).await;
            for n in nodes.iter().chain(std::iter::once(&client)) {
                h.kill(n.id());
            }
            done.load(Ordering::Relaxed)
        })
    })
    .join()
    .unwrap()
}

fn faultline_chain(seed: u64, sets: &[&str]) -> u64 {
    let mut all: Vec<String> = vec![format!("duration_s={VIRTUAL_S}"), format!("workload.rate_per_s={RATE_PER_S}")];
    all.extend(sets.iter().map(|s| s.to_string()));
    let spec = scenarios::load("chain3", &all, Some(seed)).unwrap().spec;
    let out = sim::run_unchecked(spec, Box::new(NullSink)).unwrap();
    out.edge("client->a").map(|e| e.outcomes.get("ok").copied().unwrap_or(0)).unwrap_or(0)
}

fn timed(f: impl FnOnce() -> u64) -> (u64, f64) {
    let t = Instant::now();
    let n = f();
    (n, t.elapsed().as_secs_f64())
}

fn median(xs: &[f64]) -> f64 {
    let mut xs = xs.to_vec();
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let patterns = [
        "edges.a->b.stack=[\"retry\",\"timeout\"]",
        "edges.b->c.stack=[\"retry\",\"timeout\"]",
        "edges.client->a.stack=[\"retry\",\"timeout\"]",
    ];
    let (mut raw, mut bare, mut stacked) = (Vec::new(), Vec::new(), Vec::new());
    let (mut bare_ratio, mut stacked_ratio) = (Vec::new(), Vec::new());
    let mut counts = (0, 0, 0);
    for round in 0..ROUNDS {
        let seed = 100 + round as u64;
        let (n, s) = timed(|| raw_madsim(seed));
        let r = n as f64 / s;
        counts.0 = n;
        let (n, s) = timed(|| faultline_chain(seed, &[]));
        let b = n as f64 / s;
        counts.1 = n;
        let (n, s) = timed(|| faultline_chain(seed, &patterns));
        let p = n as f64 / s;
        counts.2 = n;
        println!(
            "  round {round}: raw {r:.0}/s, bare {b:.0}/s ({:.2}x), retry+timeout {p:.0}/s ({:.2}x)",
            r / b,
            r / p
        );
        raw.push(r);
        bare.push(b);
        stacked.push(p);
        bare_ratio.push(r / b);
        stacked_ratio.push(r / p);
    }
    println!("chain3: client -> a -> b -> c, Poisson {RATE_PER_S}/s for {VIRTUAL_S} virtual s, 1 ms per hop, latency U(1, 10) ms");
    println!(
        "  raw madsim RPC                  {:>9.0} requests/wall s  ({} requests per run)",
        median(&raw),
        counts.0
    );
    println!(
        "  faultline, bare edges           {:>9.0} requests/wall s  ({} requests per run)",
        median(&bare),
        counts.1
    );
    println!(
        "  faultline, retry+timeout x3     {:>9.0} requests/wall s  ({} requests per run)",
        median(&stacked),
        counts.2
    );
    println!("overhead (raw / faultline bare): {} (target <= 1.4x)", spread(&bare_ratio));
    println!("overhead (raw / faultline with patterns): {} (target <= 1.75x)", spread(&stacked_ratio));
}

/// The median of per-round ratios, with their range.
fn spread(xs: &[f64]) -> String {
    let (lo, hi) = xs.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    format!("{:.2}x median of {} rounds ({lo:.2}-{hi:.2})", median(xs), xs.len())
}
