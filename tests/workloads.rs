//! Workload shapes: open loops send on schedule, closed loops obey the response-time law.

use faultline::sim::{Arrivals, Workload};

use crate::support::*;

#[test]
fn closed_loop_obeys_the_interactive_response_time_law() {
    // N users, think time Z, response time R: throughput X = N / (R + Z).
    let (clients, think_s) = (20u32, 0.1);
    let spec = api_db(12, 1.0, 120.0)
        .workload(Workload::new("api", Arrivals::Closed { clients, think: dist("exp(100ms)") }))
        .build()
        .unwrap();
    let out = run(spec);
    let e = out.edge("client->api").unwrap();
    let x = e.requests as f64 / 120.0;
    let law = f64::from(clients) / (e.mean_ms / 1e3 + think_s);
    assert!((x - law).abs() / law < 0.03, "throughput {x:.1}/s, law {law:.1}/s");
}

#[test]
fn open_loop_shapes_send_their_rates() {
    let count = |arrivals: Arrivals| {
        run(api_db(13, 1.0, 100.0).workload(Workload::new("api", arrivals)).build().unwrap())
            .edge("client->api")
            .unwrap()
            .requests as f64
    };
    assert!((count(Arrivals::Constant { rate_per_s: 20.0 }) - 1999.0).abs() <= 1.0);
    let poisson = count(Arrivals::Poisson { rate_per_s: 50.0 });
    assert!((poisson - 5000.0).abs() < 300.0, "{poisson}");
    let ramp = count(Arrivals::Ramp { from_rate_per_s: 0.0, to_rate_per_s: 100.0 });
    assert!((ramp - 5000.0).abs() < 300.0, "{ramp}");
}

#[test]
fn open_loops_send_more_than_one_request_per_millisecond() {
    // madsim makes every sleep last at least 1 ms. The driver slept once per arrival, so above
    // 1,000 per second it fell behind and sent the rest late, at 1,000 per second (a burst of
    // 3 s at 3,000/s lasted 9 s). Every second must now carry its own share.
    let (_, rows) = run_rows(api_db(14, 5000.0, 4.0).build().unwrap());
    let reqs = requests(&rows);
    for second in 0..4u64 {
        let sent = reqs.iter().filter(|r| r.edge == "client->api" && r.start_us / 1_000_000 == second).count() as f64;
        assert!((sent - 5000.0).abs() < 300.0, "{sent} requests started in second {second} at 5,000/s");
    }
}
