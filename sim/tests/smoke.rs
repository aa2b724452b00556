use std::time::Duration;
use faultline_sim::*;

#[test]
fn smoke() {
    let spec = SimSpec::builder("smoke")
        .seed(3)
        .duration(Duration::from_secs(20))
        .service(ServiceSpec::new("api").replicas(2).calls(["db"]))
        .service(ServiceSpec::new("db").service_time(Dist::parse("const(3ms)").unwrap()))
        .workload(Workload { target: "api".into(), arrivals: Arrivals::Poisson { rate_per_s: 50.0 } })
        .fault(Fault::new(FaultKind::Outage, Target::parse("db").unwrap(), Duration::from_secs(5), Some(Duration::from_secs(3))))
        .fault(Fault::new(FaultKind::Crash, Target::parse("api-1").unwrap(), Duration::from_secs(10), Some(Duration::from_secs(2))))
        .build()
        .unwrap();
    let sink = MemorySink::default();
    let t = std::time::Instant::now();
    let out = run(spec, Box::new(sink.clone())).unwrap();
    println!("{:#?}", out.edges.iter().map(|e| (&e.edge, e.requests, &e.outcomes, e.p50_ms, e.p99_ms)).collect::<Vec<_>>());
    println!("{} {} {:?} fp={} wall={:?}", out.requests, out.events, out.services, out.fingerprint, t.elapsed());
    let rows = sink.rows();
    for e in rows.events.iter().take(20) { println!("{e}"); }
}
