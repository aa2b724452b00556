//! Fixtures shared by the tests: small systems built in Rust, and run helpers.

use std::time::Duration;

use faultline::scenarios::stack::{stack, BudgetSpec, LayerSpec, RetryOn};
use faultline::scenarios::RunOptions;
use faultline::sim::{
    self, Arrivals, Dist, Execution, Fault, FaultKind, Logged, OwnedEvent, RunOutput, ServiceSpec, SimBuilder, SimSpec,
    Target, Workload,
};
use faultline_patterns::retry::RetryConfig;
use faultline_patterns::timeout::TimeoutConfig;

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

pub fn dist(s: &str) -> Dist {
    Dist::parse(s).unwrap()
}

/// `client -> api -> db`, Poisson at `rate_per_s`, for `duration_s`.
pub fn api_db(seed: u64, rate_per_s: f64, duration_s: f64) -> SimBuilder {
    SimSpec::builder("api-db")
        .seed(seed)
        .duration(secs(duration_s))
        .drain(secs(40.0))
        .service(ServiceSpec::new("api").replicas(2).service_time(dist("exp(2ms)")).capacity(64, 1000).calls(["db"]))
        .service(ServiceSpec::new("db").replicas(2).service_time(dist("const(5ms)")).capacity(64, 1000))
        .workload(Workload::new("api", Arrivals::Poisson { rate_per_s }))
}

pub fn fault(kind: FaultKind, target: &str, at_s: f64, duration_s: Option<f64>) -> Fault {
    Fault::new(kind, Target::parse(target).unwrap(), secs(at_s), duration_s.map(secs))
}

pub fn timeout_ms(ms: u64) -> LayerSpec {
    LayerSpec::Timeout(TimeoutConfig::new(Duration::from_millis(ms)).unwrap())
}

pub fn retry(max_attempts: u32, on: RetryOn, budget: BudgetSpec) -> LayerSpec {
    let config = RetryConfig { max_attempts, ..RetryConfig::default() }.validate().unwrap();
    LayerSpec::Retry(config, on, budget)
}

pub fn with_stack(b: SimBuilder, from: &str, to: &str, layers: Vec<LayerSpec>) -> SimBuilder {
    b.edge(from, to, stack(layers))
}

/// Runs a spec (unchecked), keeping every row in memory.
pub fn run_rows(spec: SimSpec) -> (RunOutput, sim::record::Rows) {
    let sink = sim::MemorySink::default();
    let seed = spec.seed;
    let out = sim::run_unchecked(spec, Box::new(sink.clone())).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    (out, sink.rows())
}

/// Runs a catalog scenario with `sets` at `seed` through the pipeline (every checker that
/// applies), keeping every record.
pub fn checked(name: &str, sets: &[&str], seed: u64) -> (Execution, sim::record::Rows) {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let s = faultline::scenarios::load(name, &sets, Some(seed)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let sink = sim::MemorySink::default();
    let run = faultline::scenarios::execute(&s, &RunOptions::default(), Box::new(sink.clone()))
        .unwrap_or_else(|e| panic!("{name} seed {seed}: {e}"));
    (run, sink.rows())
}

/// Asserts that every check of `run` held, naming the first violation.
pub fn assert_passed(run: &Execution, what: &str) {
    assert!(run.verdict.passed(), "{what}: {}", run.verdict.first_violation().unwrap_or_default());
}

/// The events of a run, as observers saw them.
pub fn logged(rows: &sim::record::Rows) -> impl Iterator<Item = Logged<'_>> {
    rows.typed.iter().map(OwnedEvent::logged)
}

/// Runs a spec (unchecked), discarding rows.
pub fn run(spec: SimSpec) -> RunOutput {
    let seed = spec.seed;
    sim::run_unchecked(spec, Box::new(sim::NullSink)).unwrap_or_else(|e| panic!("seed {seed}: {e}"))
}

/// Parsed request rows: (id, parent, edge, start_us, end_us, outcome, attempts).
pub struct Req {
    pub edge: String,
    pub start_us: u64,
    pub end_us: u64,
    pub outcome: String,
}

pub fn requests(rows: &sim::record::Rows) -> Vec<Req> {
    rows.requests
        .iter()
        .map(|r| {
            let f: Vec<&str> = r.split(',').collect();
            Req {
                edge: f[2].to_owned(),
                start_us: f[3].parse().unwrap(),
                end_us: f[4].parse().unwrap(),
                outcome: f[6].to_owned(),
            }
        })
        .collect()
}

/// Fraction of `edge`'s requests starting in [from_s, to_s) whose outcome is `outcome`.
pub fn share(reqs: &[Req], edge: &str, from_s: f64, to_s: f64, outcome: &str) -> (f64, usize) {
    let window: Vec<&Req> = reqs
        .iter()
        .filter(|r| r.edge == edge && r.start_us as f64 >= from_s * 1e6 && (r.start_us as f64) < to_s * 1e6)
        .collect();
    let n = window.len();
    let hits = window.iter().filter(|r| r.outcome == outcome).count();
    (if n == 0 { 0.0 } else { hits as f64 / n as f64 }, n)
}

/// Runs the `faultline` binary in `cwd`.
pub fn faultline(args: &[&str], cwd: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the binary runs")
}

/// A fresh, empty temporary directory for one test.
pub fn tmp(label: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("faultline-cli-{}-{label}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// Stdout and stderr as text.
pub fn text(o: &std::process::Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}
