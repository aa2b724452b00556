//! Same seed + same config = same fingerprint and byte-identical files, whatever runs beside it.

use std::path::Path;

use faultline::reports::csv_sink::CsvSink;
use faultline::reports::summary::About;
use faultline::scenarios;
use faultline::sim::{self, madsim_config, NullSink};

const DEFAULT: &str = "shop-outage-resilient";

fn write_run(name: &str, seed: u64, dir: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let s = scenarios::load(name, &[], Some(seed)).unwrap();
    let run = scenarios::execute(&s, &Default::default(), Box::new(CsvSink::create(dir).unwrap())).unwrap();
    let about = About { description: &s.description, reproduce: "-", warnings: &[] };
    faultline::reports::summary::write_json(&run, about, &dir.join("summary.json")).unwrap();
    run.output.fingerprint
}

fn tmp(label: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("faultline-test-{}-{label}", std::process::id()))
}

#[test]
fn same_seed_gives_the_same_fingerprint_and_identical_files() {
    let (a, b) = (tmp("det-a"), tmp("det-b"));
    let fa = write_run(DEFAULT, 42, &a);
    let fb = write_run(DEFAULT, 42, &b);
    assert_eq!(fa, fb);
    for f in ["requests.csv", "events.csv", "summary.json"] {
        let (x, y) = (std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap());
        assert!(x.len() > 100, "{f} is nearly empty");
        assert!(x == y, "{f} differs between two runs of seed 42");
    }
    let _ = std::fs::remove_dir_all(a);
    let _ = std::fs::remove_dir_all(b);
}

#[test]
fn another_seed_gives_another_fingerprint() {
    let run = |seed| {
        let s = scenarios::load(DEFAULT, &[], Some(seed)).unwrap();
        sim::run_unchecked(s.spec, Box::new(NullSink)).unwrap().fingerprint
    };
    let prints: std::collections::BTreeSet<String> = (1..=4).map(run).collect();
    assert_eq!(prints.len(), 4, "four seeds gave only {} fingerprints", prints.len());
}

#[test]
fn runs_in_parallel_threads_match_a_run_alone() {
    // Like `--jobs N`: several seeds at once must not disturb each other.
    let spec = || scenarios::load("flaky-network", &[], Some(9)).unwrap().spec;
    let alone = sim::run_unchecked(spec(), Box::new(NullSink)).unwrap().fingerprint;
    let handles: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(move || sim::run_unchecked(spec(), Box::new(NullSink)).unwrap().fingerprint))
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), alone);
    }
}

async fn default_scenario_body() {
    let s = scenarios::load(DEFAULT, &[], Some(42)).unwrap();
    sim::simulate(s.spec, Box::new(NullSink), None).await.unwrap();
}

#[test]
fn madsim_check_determinism_passes_on_the_default_scenario() {
    // Runs the default scenario twice and panics at the first divergent random draw.
    madsim::runtime::Runtime::check_determinism(42, madsim_config(), default_scenario_body);
}

#[test]
fn changing_the_workload_does_not_reshuffle_service_randomness() {
    use faultline::sim::{Arrivals, NetworkSpec, ServiceSpec, SimSpec, Workload};
    // db's service time is random, everything else constant and never queued: the k-th db
    // call's latency is a fixed network cost plus db's k-th draw. Doubling the workload rate
    // changes the workload stream's draws and the number of calls, but db draws from its own
    // stream, so its first latencies must not change.
    let db_latencies = |rate_per_s: f64| {
        let mut net = NetworkSpec::default();
        net.default.latency = super::support::dist("const(3ms)");
        let spec = SimSpec::builder("streams")
            .seed(5)
            .duration(super::support::secs(20.0))
            .network(net)
            .service(ServiceSpec::new("api").service_time(super::support::dist("const(1ms)")).calls(["db"]))
            .service(ServiceSpec::new("db").service_time(super::support::dist("exp(5ms)")).capacity(1000, 0))
            .workload(Workload::new("api", Arrivals::Poisson { rate_per_s }))
            .build()
            .unwrap();
        let (_, rows) = super::support::run_rows(spec);
        let reqs = super::support::requests(&rows);
        let mut db: Vec<(u64, u64)> =
            reqs.iter().filter(|r| r.edge == "api->db").map(|r| (r.start_us, r.end_us - r.start_us)).collect();
        db.sort();
        (db.len(), db.iter().take(8).map(|x| x.1).collect::<Vec<_>>())
    };
    let (n1, slow) = db_latencies(1.0);
    let (n2, fast) = db_latencies(2.0);
    assert!(n2 > n1, "the workload knob had no effect ({n1} vs {n2} calls)");
    // Times are recorded in whole µs, so a latency may round differently by 1 µs.
    let same = slow.len() == fast.len() && slow.iter().zip(&fast).all(|(a, b)| a.abs_diff(*b) <= 1);
    assert!(same, "db's service times changed with the workload rate: {slow:?} vs {fast:?}");
    assert!(slow.windows(2).any(|w| w[0] != w[1]), "db latencies are not random: the test proves nothing");
}

#[test]
fn configurations_on_one_seed_see_the_same_arrivals() {
    // Common random numbers: comparing two configurations on a seed is fair only if the
    // workload is the same, to the microsecond, whatever the patterns do.
    let arrivals = |name: &str| {
        let s = scenarios::load(name, &[], Some(3)).unwrap();
        let (_, rows) = crate::support::run_rows(s.spec);
        let mut starts: Vec<u64> = crate::support::requests(&rows)
            .into_iter()
            .filter(|r| r.edge.starts_with("client->"))
            .map(|r| r.start_us)
            .collect();
        starts.sort_unstable();
        starts
    };
    let (resilient, breaker, bare) =
        (arrivals("shop-outage-resilient"), arrivals("shop-outage-breaker"), arrivals("shop-outage"));
    assert!(resilient.len() > 1000, "only {} arrivals", resilient.len());
    let differ = resilient.iter().zip(&breaker).filter(|(a, b)| a != b).count();
    assert_eq!(differ, 0, "{differ} of {} client arrivals differ between the variants at seed 3", resilient.len());
    assert_eq!(resilient, bare, "the variant without patterns saw other arrivals");
}
