//! `cargo bench -p faultline-bench`: end-to-end requests per wall second through `chain3` on
//! faultline, on raw madsim RPC and on turmoil, bare and with retry + timeout on every edge.
//!
//! Poisson arrivals at 500/s for 600 virtual seconds (~300k end-to-end requests, ~900k calls),
//! the same arrival times on every side. Each round runs every side once, back to back, on one
//! seed, and gives its own ratios (a slow minute of a shared machine slows both sides of a ratio
//! alike); the medians over the rounds are printed with their ranges. `ROUNDS` and
//! `VIRTUAL_S` in the environment change the defaults (5 rounds, 600 s).

use std::time::Instant;

use faultline_bench::{on_faultline, on_madsim, on_turmoil, Chain};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Requests answered per wall second, and the requests answered.
fn timed(run: impl FnOnce() -> u64) -> (f64, u64) {
    let started = Instant::now();
    let answered = run();
    (answered as f64 / started.elapsed().as_secs_f64(), answered)
}

fn median(xs: &[f64]) -> f64 {
    let mut xs = xs.to_vec();
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn spread(xs: &[f64]) -> String {
    let (lo, hi) = xs.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    format!("{:.2}x (rounds {lo:.2}-{hi:.2})", median(xs))
}

/// One variant's figures over the rounds: per-side throughput, and per-round ratios.
#[derive(Default)]
struct Figures {
    faultline: Vec<f64>,
    madsim: Vec<f64>,
    turmoil: Vec<f64>,
    vs_turmoil: Vec<f64>,
    vs_madsim: Vec<f64>,
    answered: [u64; 3],
}

/// One side's run: requests answered per wall second, and how many.
type Timed = (f64, u64);

fn record(f: &mut Figures, fl: Timed, m: Timed, t: Timed) {
    f.faultline.push(fl.0);
    f.madsim.push(m.0);
    f.turmoil.push(t.0);
    f.vs_turmoil.push(fl.0 / t.0);
    f.vs_madsim.push(fl.0 / m.0);
    f.answered = [fl.1, m.1, t.1];
}

/// One round: every side, bare then with patterns, in an order that puts the two faultline
/// runs next to each other and each peer's run near faultline's of the same variant.
fn round(bare: &Chain, patterns: &Chain, figures: (&mut Figures, &mut Figures)) {
    let m_bare = timed(|| on_madsim::run(bare));
    let t_bare = timed(|| on_turmoil::run(bare));
    let f_bare = timed(|| on_faultline::run(bare));
    let f_patterns = timed(|| on_faultline::run(patterns));
    let t_patterns = timed(|| on_turmoil::run(patterns));
    let m_patterns = timed(|| on_madsim::run(patterns));
    record(figures.0, f_bare, m_bare, t_bare);
    record(figures.1, f_patterns, m_patterns, t_patterns);
}

fn report(name: &str, f: &Figures) {
    println!("{name}:");
    println!("  faultline     {:>8.0} requests/wall s  ({} answered)", median(&f.faultline), f.answered[0]);
    println!("  raw madsim    {:>8.0} requests/wall s  ({} answered)", median(&f.madsim), f.answered[1]);
    println!("  turmoil       {:>8.0} requests/wall s  ({} answered)", median(&f.turmoil), f.answered[2]);
    println!("  ratio faultline/turmoil: {}", spread(&f.vs_turmoil));
    println!("  ratio faultline/raw-madsim: {}", spread(&f.vs_madsim));
}

fn main() {
    let rounds = env_or("ROUNDS", 5);
    let virtual_s = env_or("VIRTUAL_S", 600);
    let (mut bare, mut patterns) = (Figures::default(), Figures::default());
    for r in 0..rounds {
        let chain = Chain { seed: 100 + r, rate_per_s: 500.0, virtual_s, patterns: false };
        round(&chain, &Chain { patterns: true, ..chain }, (&mut bare, &mut patterns));
        eprintln!("round {r} done");
    }
    println!("chain3: client -> a -> b -> c, Poisson 500/s for {virtual_s} virtual s, 1 ms per hop, latency ~1-10 ms; {rounds} rounds");
    report("bare", &bare);
    report("retry + timeout on every edge", &patterns);
    let own: Vec<f64> = bare.faultline.iter().zip(&patterns.faultline).map(|(b, p)| b / p).collect();
    println!("faultline bare / with retry + timeout: {}", spread(&own));
}
