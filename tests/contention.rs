//! Brooker's model: writers racing on one key with optimistic concurrency back off after a
//! conflict; without jitter they stay in lockstep and collide again.

use faultline::scenarios;

use crate::support::{assert_passed, checked};

fn store_calls_and_mean(jitter: &str, seed: u64) -> (u64, f64) {
    let sets = ["workload.clients=30".to_owned(), format!("services.writer.conflict_backoff.jitter={jitter}")];
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let (run, _) = checked("occ-herd", &sets, seed);
    assert_passed(&run, &format!("occ-herd {jitter} seed {seed}"));
    let edge = |name: &str| run.output.edges.iter().find(|e| e.edge == name).cloned().expect("an edge");
    let client = edge("client->writer");
    assert_eq!((client.requests, client.success_rate), (30, 1.0), "{jitter} seed {seed}: every write lands");
    (edge("writer->store").requests, client.mean_ms)
}

#[test]
fn writers_that_back_off_without_jitter_collide_again_and_do_more_work() {
    for seed in 1..=3 {
        let (none, none_ms) = store_calls_and_mean("none", seed);
        let (full, full_ms) = store_calls_and_mean("full", seed);
        println!("seed {seed}: store calls {none} without jitter, {full} with full jitter; mean {none_ms:.0} ms, {full_ms:.0} ms");
        assert!(full * 2 < none, "seed {seed}: {full} store calls with full jitter, {none} without");
        assert!(full_ms * 5.0 < none_ms, "seed {seed}: mean {full_ms:.0} ms with full jitter, {none_ms:.0} ms without");
    }
}

#[test]
fn a_writer_s_conflict_settings_are_checked() {
    let cases = [
        ("services.writer.conflict_backoff.jitter=\"wild\"", "key `services.writer.conflict_backoff.jitter`: \"wild\" is not allowed (expected one of none, full, equal, decorrelated)"),
        ("services.writer.conflict_attempts=0", "key `services.writer.conflict_attempts`: 0 is not allowed (expected an integer from 1 to 100)"),
        ("services.writer.conflict_backoff.cap_ms=1", "key `services.writer.conflict_backoff.cap_ms`: 1 is not allowed (expected a duration >= base_ms)"),
    ];
    for (set, want) in cases {
        match scenarios::load("occ-herd", &[set.to_owned()], None) {
            Ok(_) => panic!("accepted {set}"),
            Err(e) => assert!(e.to_string().contains(want), "{set}: {e}"),
        }
    }
}
