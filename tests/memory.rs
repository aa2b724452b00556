//! A long run keeps flat memory: madsim's task list is pruned (docs/madsim.md) and no
//! pending call, in-flight entry or record accumulates.

use std::sync::{Arc, Mutex};

use faultline::scenarios::{self, RunOptions};
use faultline::sim::{self, NullSink, SimHandle};

#[test]
fn one_virtual_hour_keeps_the_task_count_flat() {
    let samples = Arc::new(Mutex::new(Vec::new()));
    let s = samples.clone();
    // chain3 with a lossy link (lost calls leave pending entries until their timeout).
    let sets = [
        "duration_s=3600".to_owned(),
        "workload.rate_per_s=50".to_owned(),
        "network.loss=0.01".to_owned(),
        "network.call_timeout_ms=2000".to_owned(),
    ];
    let scenario = scenarios::load("chain3", &sets, Some(1)).unwrap();
    let probe: sim::Probe = std::sync::Arc::new(move |h: SimHandle| {
        let s = s.clone();
        Box::pin(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                s.lock().unwrap().push((h.num_tasks(), h.inflight_requests()));
            }
        })
    });
    let run = scenarios::execute(&scenario, &RunOptions::default().with_probe(probe), Box::new(NullSink)).unwrap();
    assert!(run.verdict.passed(), "{:?}", run.verdict);
    assert!(run.output.requests > 400_000, "{} requests", run.output.requests);
    let samples = samples.lock().unwrap();
    assert!(samples.len() >= 59);
    let early = samples[..10].iter().map(|s| s.0).max().unwrap();
    let late = samples[samples.len() - 10..].iter().map(|s| s.0).max().unwrap();
    println!("tasks: early max {early}, late max {late}; in flight late {:?}", samples.last());
    assert!(late <= early + early / 2, "madsim tasks grew from {early} to {late}: a leak");
    assert!(samples.iter().all(|s| s.1 < 500), "in-flight requests piled up: {:?}", samples.iter().map(|s| s.1).max());
}
