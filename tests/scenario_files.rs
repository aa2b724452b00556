//! Scenario files are read strictly: every mistake names the file, the key, the bad value and
//! what is allowed; `--set` reaches every key.

use faultline::scenarios::{self, catalog, ScenarioError};

const BASE: &str = r#"
duration_s = 10
[services.api]
calls = ["db"]
[services.db]
service_time = "exp(5ms)"
[workload]
target = "api"
kind = "poisson"
rate_per_s = 10
"#;

fn load_err(text: &str, sets: &[&str]) -> String {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    match scenarios::from_str(text, "test.toml", &sets) {
        Ok(_) => panic!("accepted: {text} with {sets:?}"),
        Err(e) => e.to_string(),
    }
}

fn contains_all(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message lacks {p:?}: {msg}");
    }
}

#[test]
fn every_catalog_scenario_loads() {
    for name in catalog::names() {
        let s = scenarios::load(&name, &[], None).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!s.description.is_empty(), "{name} has no description");
    }
}

#[test]
fn the_base_fixture_is_valid() {
    scenarios::from_str(BASE, "test.toml", &[]).unwrap();
}

#[test]
fn unknown_keys_name_the_file_the_key_and_the_allowed_keys() {
    let m = load_err(&BASE.replace("calls = [\"db\"]", "calls = [\"db\"]\neror_rate = 0.1"), &[]);
    contains_all(&m, &["test.toml", "services.api", "eror_rate", "error_rate", "concurrency"]);
    let m = load_err(&format!("colour = 1\n{BASE}"), &[]);
    contains_all(&m, &["test.toml", "colour", "duration_s"]);
    let m = load_err(BASE, &["workload.rate=5"]);
    contains_all(&m, &["workload", "`rate`", "rate_per_s"]);
}

#[test]
fn bad_values_name_the_value_and_what_is_allowed() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["services.db.error_rate=1.5"], &["services.db.error_rate", "1.5", "probability"]),
        (&["services.db.replicas=0"], &["services.db.replicas", "0", "1 to 64"]),
        (&["services.db.replicas=\"two\""], &["services.db.replicas", "two"]),
        (&["services.db.service_time=normal(5ms)"], &["services.db.service_time", "normal(5ms)", "exp(20ms)"]),
        (&["services.api.calls=[\"payments\"]"], &["services.api.calls", "payments", "api, db"]),
        (&["services.db.calls=[\"api\"]"], &["cycle", "api->db->api"]),
        (&["workload.kind=\"steady\""], &["workload.kind", "steady", "poisson"]),
        (&["workload.target=\"web\""], &["workload.target", "web"]),
        (&["workload.kind=closed"], &["workload.rate_per_s", "closed", "clients"]),
        (&["duration_s=-3"], &["duration_s", "-3"]),
        (&["faults[0]={kind=\"outage\",target=\"db\",at_s=1}"], &["faults[0].duration_s", "missing"]),
        (
            &["workload.routes={\"/a\"=1}", "workload.route_steps=[{at_s=5,routes={\"/b\"=1}}]"],
            &["workload.route_steps[0].routes", "\"/b\" is not a route", "/a"],
        ),
        (
            &[
                "workload.routes={\"/a\"=1,\"/b\"=0}",
                "workload.route_steps=[{at_s=5,routes={\"/a\"=1}},{at_s=3,routes={\"/b\"=1}}]",
            ],
            &["workload.route_steps[1].at_s", "3", "after the step before"],
        ),
        (
            &["workload.routes={\"/a\"=1}", "workload.route_steps=[{at_s=5,routes={\"/a\"=0}}]"],
            &["workload.route_steps[0].routes", "all 0"],
        ),
        (&["workload.routes={\"/a\"=0}"], &["workload.routes", "all 0", "at least one share > 0"]),
        (&["workload.routes={\"products\"=1}"], &["workload.routes.products", "a path starting with /"]),
        (&["workload.route_steps=[{at_s=5,routes={\"/a\"=1}}]"], &["workload.route_steps[0]", "set `routes` first"]),
    ];
    for (sets, parts) in cases {
        let m = load_err(BASE, sets);
        contains_all(&m, &["test.toml"]);
        contains_all(&m, parts);
    }
}

#[test]
fn faults_are_checked_per_kind() {
    let with_fault = |f: &str| format!("{BASE}\n[[faults]]\n{f}\n");
    contains_all(
        &load_err(&with_fault("kind = \"melt\"\ntarget = \"db\"\nat_s = 1\nduration_s = 1"), &[]),
        &["faults[0].kind", "melt", "outage, error_burst"],
    );
    contains_all(
        &load_err(&with_fault("kind = \"outage\"\ntarget = \"db\"\nat_s = 1\nduration_s = 1\nrate = 0.5"), &[]),
        &["faults[0].rate", "outage", "at_s"],
    );
    contains_all(
        &load_err(&with_fault("kind = \"outage\"\ntarget = \"db\"\nat_s = 1"), &[]),
        &["faults[0].duration_s", "missing"],
    );
    contains_all(
        &load_err(&with_fault("kind = \"outage\"\ntarget = \"dbx\"\nat_s = 1\nduration_s = 1"), &[]),
        &["faults[0].target", "dbx", "db-0"],
    );
    contains_all(
        &load_err(&with_fault("kind = \"crash\"\ntarget = \"api->db\"\nat_s = 1"), &[]),
        &["faults[0].target", "api->db"],
    );
    contains_all(
        &load_err(&with_fault("kind = \"partition\"\ntarget = \"db\"\nat_s = 1\nduration_s = 2"), &[]),
        &["faults[0].target", "link"],
    );
    contains_all(
        &load_err(&with_fault("kind = \"error_burst\"\ntarget = \"db\"\nat_s = 1\nduration_s = 2\nrate = 3"), &[]),
        &["faults[0].rate", "3"],
    );
    // A valid one of each kind loads.
    for f in [
        "kind = \"partition\"\ntarget = \"api<->db\"\nat_s = 1\nduration_s = 2",
        "kind = \"crash\"\ntarget = \"db-0\"\nat_s = 1",
        "kind = \"restart\"\ntarget = \"db\"\nat_s = 1",
        "kind = \"latency_spike\"\ntarget = \"db\"\nat_s = 1\nduration_s = 2\nadd = \"const(50ms)\"",
        "kind = \"clock_skew\"\ntarget = \"api-0\"\nat_s = 1\nduration_s = 2\noffset_ms = -500",
        "kind = \"packet_loss\"\ntarget = \"api->db\"\nat_s = 1\nduration_s = 2\nrate = 0.2",
        "kind = \"pause\"\ntarget = \"db\"\nat_s = 1\nduration_s = 2",
    ] {
        scenarios::from_str(&with_fault(f), "test.toml", &[]).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
}

#[test]
fn edges_and_their_layers_are_checked() {
    let with_edge = |e: &str| format!("{BASE}\n[edges.\"api->db\"]\n{e}\n");
    contains_all(&load_err(&with_edge("stack = [\"bulkhead2\"]"), &[]), &["stack[0]", "bulkhead2", "retry, timeout, breaker, bulkhead, fallback, rate_limiter, throttle, adaptive, hedge, chaos, balance, cache, deadline"]);
    contains_all(
        &load_err(&with_edge("stack = [\"bulkhead\"]\nbulkhead = { max_concurrent = 0 }"), &[]),
        &["bulkhead.max_concurrent", "0"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"hedge\"]\nhedge = { delay_ms = 5, percentile = 90 }"), &[]),
        &["hedge.percentile", "not both"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"hedge\"]\nhedge = { percentile = 100 }"), &[]),
        &["hedge.percentile", "100"],
    );
    contains_all(&load_err(&with_edge("stack = [\"throttle\"]\nthrottle = { k = 0.5 }"), &[]), &["throttle.k", "0.5"]);
    contains_all(
        &load_err(&with_edge("stack = [\"adaptive\"]\nadaptive = { min = 5, max = 2 }"), &[]),
        &["adaptive.max", "2", "min (5)"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"adaptive\"]\nadaptive = { algorithm = \"vegas\" }"), &[]),
        &["adaptive.algorithm", "vegas", "gradient2"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"adaptive\"]\nadaptive = { tolerance = 2 }"), &[]),
        &["adaptive.tolerance", "aimd"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"rate_limiter\"]\nrate_limiter = { rate_per_s = 0 }"), &[]),
        &["rate_limiter.rate_per_s", "0"],
    );
    contains_all(
        &load_err(
            &with_edge("stack = [\"rate_limiter\"]\nrate_limiter = { algorithm = \"sliding_window\", burst = 3 }"),
            &[],
        ),
        &["rate_limiter.burst", "sliding_window", "window_ms"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"chaos\"]\nchaos = { error_rate = 1.5 }"), &[]),
        &["chaos.error_rate", "1.5"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"balance\"]\nbalance = { strategy = \"fastest\" }"), &[]),
        &["balance.strategy", "fastest", "p2c_peak_ewma"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"balance\"]\nbalance = { eject_after = 0 }"), &[]),
        &["balance.eject_after", "0"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"cache\"]\ncache = { service = \"redis\" }"), &[]),
        &["cache.service", "redis", "api, db"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"cache\"]\ncache = { service = \"db\", ttl_jitter = 1.5 }"), &[]),
        &["cache.ttl_jitter", "1.5"],
    );
    contains_all(&load_err(BASE, &["workload.key_skew=1.2"]), &["workload.key_skew", "keys"]);
    contains_all(
        &load_err(&with_edge("stack = [\"fallback\"]\nfallback = { on = [\"never\"] }"), &[]),
        &["fallback.on[0]", "never", "shed"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"breaker\"]\nbreaker = { failure_rate = 0 }"), &[]),
        &["breaker.failure_rate", "0", "percentage"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"breaker\"]\nbreaker = { window = \"time\", window_size = 5 }"), &[]),
        &["breaker.window_size", "time", "window_s"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"breaker\"]\nbreaker = { ignore = [\"ok\"] }"), &[]),
        &["breaker.ignore[0]", "ok", "timeout"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"breaker\"]\nbreaker = { half_open_permits = 0 }"), &[]),
        &["half_open_permits", "0"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"retry\"]\nretry = { max_attempts = 0 }"), &[]),
        &["retry.max_attempts", "0", "1 to 100"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"retry\"]\nretry = { jitter = \"lots\" }"), &[]),
        &["retry.jitter", "lots", "decorrelated"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"retry\"]\nretry = { retry_on = [\"oops\"] }"), &[]),
        &["retry.retry_on[0]", "oops", "dependency_error"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"retry\"]\nretry = { budget = \"ratio\", budget_tokens = 5 }"), &[]),
        &["retry.budget_tokens", "ratio", "budget_ratio"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"retry\"]\nretry = { budget = \"ratio\", budget_ratio = 2 }"), &[]),
        &["retry.budget_ratio", "2"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"retry\"]\nretry = { budget_ratio = 0.2 }"), &[]),
        &["budget_ratio", "none"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"retry\"]\nretry = { backoff = \"cubic\" }"), &[]),
        &["retry.backoff", "cubic", "linear"],
    );
    let ok = with_edge("stack = [\"retry\", \"breaker\", \"timeout\"]\nretry = { backoff = \"linear\", base_ms = 20, jitter = \"decorrelated\", budget = \"token_bucket\", retry_on = [\"timeout\"] }\nbreaker = { window = \"time\", window_s = 5, ignore = [\"rejected\"] }\ntimeout = { timeout_ms = 50 }");
    let s = scenarios::from_str(&ok, "test.toml", &[]).unwrap();
    assert_eq!(s.spec.stack("api", "db").describe(), "retry(3, token bucket 500) > breaker(50%/100) > timeout(50ms)");
    contains_all(
        &load_err(&with_edge("stack = [\"retry\"]\ntimeout = { timeout_ms = 5 }"), &[]),
        &["timeout", "not in `stack`"],
    );
    contains_all(
        &load_err(&with_edge("stack = [\"timeout\"]\ntimeout = { timeout_ms = 0 }"), &[]),
        &["timeout.timeout_ms", "0"],
    );
    let bad_edge = format!("{BASE}\n[edges.\"db->api\"]\nstack = []\n");
    contains_all(&load_err(&bad_edge, &[]), &["edges", "db->api", "client->api", "api->db"]);
}

#[test]
fn set_reaches_nested_knobs() {
    let text = format!("{BASE}\n[edges.\"api->db\"]\nstack = [\"retry\", \"timeout\"]\n");
    let sets = [
        "edges.api->db.retry.max_attempts=5",
        "edges.\"api->db\".timeout.timeout_ms=75",
        "services.db.replicas=3",
        "network.links.\"api->db\".loss=0.25",
        "seed=99",
    ]
    .map(String::from);
    let s = scenarios::from_str(&text, "test.toml", &sets).unwrap();
    assert_eq!(s.spec.seed, 99);
    assert_eq!(s.spec.services.iter().find(|x| x.name == "db").unwrap().replicas, 3);
    assert_eq!(s.spec.stack("api", "db").describe(), "retry(5) > timeout(75ms)");
    assert_eq!(s.spec.network.links[&("api".to_owned(), "db".to_owned())].loss, 0.25);
    assert!(s.reproduce_args().contains("--set"), "{}", s.reproduce_args());
}

#[test]
fn syntax_errors_and_missing_files_are_user_errors() {
    assert!(matches!(scenarios::from_str("duration_s = = 3", "x.toml", &[]), Err(ScenarioError::Syntax { .. })));
    assert!(matches!(scenarios::load("no-such-scenario", &[], None), Err(ScenarioError::NotFound { .. })));
    assert!(matches!(scenarios::load("/no/such/file.toml", &[], None), Err(ScenarioError::Io { .. })));
    let m = scenarios::load("no-such-scenario", &[], None).unwrap_err().to_string();
    contains_all(&m, &["no-such-scenario", "shop-outage", "faultline list"]);
}

#[test]
fn messages_are_one_line_and_names_cannot_escape_the_output_directory() {
    for sets in [&["seed=-1"][..], &["services.db.service_time=exp(1e308s)"], &["duration_s=1e300"], &["workload=3"]] {
        let m = load_err(BASE, sets);
        assert!(!m.contains('\n'), "{sets:?} gave a multi-line message: {m}");
    }
    assert!(load_err(BASE, &["duration_s=1e300"]).contains("1e300"));
    let m = scenarios::from_str("duration_s = = 3", "x.toml", &[]).unwrap_err().to_string();
    assert!(!m.contains('\n') && m.contains("x.toml") && m.contains("line 1"), "{m}");
    contains_all(&load_err(BASE, &["name=\"../../etc\""]), &["`name`", "../../etc"]);
}

#[test]
fn app_settings_belong_to_their_app() {
    contains_all(&load_err(BASE, &["services.db.partitions=8"]), &["services.db.partitions", "app \"none\""]);
    contains_all(
        &load_err(BASE, &["services.db.app=\"consumer\"", "services.db.partitions=8"]),
        &["services.db.partitions", "consumer", "dedup"],
    );
    contains_all(
        &load_err(BASE, &["services.db.app=\"queue\"", "services.db.dedup=false"]),
        &["services.db.app", "queue", "event_store"],
    );
    contains_all(&load_err(BASE, &["services.db.app=\"broker\""]), &["services.db.calls", "consumer"]);
    contains_all(&load_err(BASE, &["services.db.stock=5"]), &["services.db.stock", "order_saga"]);
    contains_all(
        &faultline::scenarios::load("order-saga", &["services.orders.semantic_lock=true".to_owned()], None)
            .unwrap_err()
            .to_string(),
        &["semantic_lock", "stock"],
    );
    let tailing = ["services.db.app=\"outbox\"", "services.db.relay=\"log_tailing\""];
    contains_all(
        &load_err(BASE, &[tailing[0], tailing[1], "services.db.relay_parallel=true"]),
        &["services.db.relay_parallel", "log_tailing"],
    );
    contains_all(
        &load_err(BASE, &[tailing[0], "services.db.relay=\"cdc\""]),
        &["services.db.relay", "cdc", "polling or log_tailing"],
    );
}
