//! `slogen-load`'s SLO verdicts against real servers on 127.0.0.1: requests dropped at the in-flight limit,
//! SLO matchers over several driven endpoints, and the reference service on its own PostgreSQL and Redis
//! counting what the client measured.

#[path = "support/app.rs"]
mod app;
#[path = "../../runtime/tests/support/services.rs"]
mod services;
use app::*;

use std::sync::Arc;
use std::time::Duration;

use services::{Postgres, RedisServer};
use slogen_load::{self as load, Endpoint, SloStatus, Verdict};
use slogen_reference_service::{app as reference_app, AppState, Settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_max_in_flight_are_dropped_and_count_against_the_slos() {
    let (addr, _app) = serve().await;
    let mut config = config(addr, &["GET:/slow/300"], 100, Duration::from_secs(1));
    config.max_in_flight = 5;
    let report = load::check(&config, &slos_dir(), None, |_| {})
        .await
        .unwrap();
    let e = &report.endpoints[0];
    assert_eq!(e.scheduled, 100);
    assert_eq!(e.sent + e.dropped, 100);
    // Five requests take the slots for at least 300 ms; the ~25 due meanwhile cannot be sent.
    assert!(e.dropped >= 25, "dropped {}", e.dropped);
    assert_eq!(e.completed, e.sent);
    let availability = report
        .slos
        .iter()
        .find(|s| s.name == "api_availability")
        .unwrap();
    assert_eq!(availability.status, SloStatus::Missed);
    assert_eq!(availability.bad, Some(e.dropped));
    assert_eq!(report.verdict, Verdict::Missed);
    assert_eq!(report.exit_code(), 1);
}

const SHOP: &str = r#"
version = 1

[tiers.test]
objective = 99.0
description = "Test tier."

[service]
name = "shop"
tier = "test"
team = "test"
runbook_base_url = "https://runbooks.example.com/shop"
selector = { job = "shop" }

[labels.method]
help = "Method."
values = ["GET", "POST", "OTHER"]

[labels.route]
help = "Route template."
max_values = 10

[labels.status]
help = "Status class."
values = ["2xx", "4xx", "5xx"]

[labels.region]
help = "Region serving the request."
values = ["eu", "us"]

[labels.db_operation]
help = "Statement kind."
values = ["select", "other"]

[metrics.http_requests]
type = "counter"
help = "Requests."
labels = ["method", "route", "status", "region"]

[metrics.http_request_duration]
type = "histogram"
help = "Request time."
unit = "seconds"
labels = ["method", "route"]
buckets = [0.1, 0.25, 1]

[metrics.db_query_duration]
type = "histogram"
help = "Statement time."
unit = "seconds"
labels = ["db_operation"]
buckets = [0.1, 1]

[slos.fast_latency]
description = "The fast route is fast."
[slos.fast_latency.latency]
metric = "http_request_duration"
threshold = 0.25
match = { route = ["/fast"] }

[slos.slow_latency]
description = "The slow route is fast too."
[slos.slow_latency.latency]
metric = "http_request_duration"
threshold = 0.25
match = { route = ["/slow/{ms}"] }

[slos.post_latency]
description = "Writes are fast."
[slos.post_latency.latency]
metric = "http_request_duration"
threshold = 0.25
match = { method = ["POST"] }

[slos.fail_share]
description = "At most half of the fail and fast routes' requests fail."
objective = 50.0
[slos.fail_share.ratio]
errors = { metric = "http_requests", match = { route = ["/fail"], status = ["5xx"] } }
total = { metric = "http_requests", match = { route = ["/fail", "/fast"] } }
[slos.fail_share.alerting]
page = false
ticket = false

[slos.availability]
description = "Requests succeed."
[slos.availability.ratio]
errors = { metric = "http_requests", match = { status = ["5xx"] } }
total = { metric = "http_requests" }

[slos.eu_availability]
description = "Requests served in the EU succeed."
[slos.eu_availability.ratio]
errors = { metric = "http_requests", match = { region = ["eu"], status = ["5xx"] } }
total = { metric = "http_requests", match = { region = ["eu"] } }

[slos.db_latency]
description = "Statements are fast."
[slos.db_latency.latency]
metric = "db_query_duration"
threshold = 0.1
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slo_matchers_pick_the_driven_endpoints_they_cover() {
    let (addr, _app) = serve().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shop.toml"), SHOP).unwrap();
    // 30 requests round-robin over three endpoints: exactly 10 each.
    let config = config(
        addr,
        &["GET:/fast", "GET:/slow/400", "GET:/fail"],
        30,
        Duration::from_secs(1),
    );
    let report = load::check(&config, dir.path(), Some("shop"), |_| {})
        .await
        .unwrap();
    assert_eq!(report.service, "shop");
    let counts: Vec<u64> = report.endpoints.iter().map(|e| e.scheduled).collect();
    assert_eq!(counts, [10, 10, 10]);
    let verdicts: Vec<_> = report
        .slos
        .iter()
        .map(|s| (s.name.as_str(), s.status, s.bad, s.total))
        .collect();
    assert_eq!(
        verdicts,
        [
            // 10 of 30 answered 500: over a 1% budget.
            ("availability", SloStatus::Missed, Some(10), Some(30)),
            ("db_latency", SloStatus::NotMeasured, None, None),
            ("eu_availability", SloStatus::NotMeasured, None, None),
            // 10 of the 20 fail-or-fast requests failed: exactly the 50% allowed, which is still met.
            ("fail_share", SloStatus::Met, Some(10), Some(20)),
            ("fast_latency", SloStatus::Met, Some(0), Some(10)),
            ("post_latency", SloStatus::NotMeasured, None, None),
            ("slow_latency", SloStatus::Missed, Some(10), Some(10)),
        ]
    );
    let reason = |name: &str| {
        report
            .slos
            .iter()
            .find(|s| s.name == name)
            .unwrap()
            .reason
            .clone()
            .unwrap()
    };
    assert!(reason("db_latency").contains("not an HTTP server metric"));
    assert!(reason("eu_availability").contains("`region`"));
    assert!(reason("post_latency").contains("no driven endpoint"));
    let endpoints = &report
        .slos
        .iter()
        .find(|s| s.name == "fail_share")
        .unwrap()
        .endpoints;
    assert_eq!(endpoints, &["GET /fast", "GET /fail"]);
    assert_eq!(report.exit_code(), 1);
    let table = report.to_table();
    assert!(table.contains("GET /fail: 10 answered 500"), "{table}");
    assert!(
        table.contains("verdict: missed (2 of 4 measured SLOs missed)"),
        "{table}"
    );
    let endpoint: Endpoint = "GET:/slow/400".parse().unwrap();
    assert_eq!(report.endpoints[1].endpoint, endpoint.to_string());
}

/// The value of the one sample of `name` carrying every label of `labels`, from a text exposition.
fn sample(exposition: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let matching: Vec<f64> = exposition
        .lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .filter(|line| {
            labels
                .iter()
                .all(|(k, v)| line.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|line| line.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(matching.len(), 1, "{name} {labels:?} in:\n{exposition}");
    matching[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_service_counts_what_the_client_measured() {
    let postgres = Postgres::start();
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let vars = [
        ("APP_ENV", "development".to_string()),
        ("DATABASE_URL", postgres.url().to_string()),
        ("REDIS_URL", redis.url().to_string()),
        (
            "SLOW_QUERY_LOG_FILE",
            dir.path().join("slow.log").display().to_string(),
        ),
    ];
    let settings = Settings::from_vars(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let state = Arc::new(AppState::connect(&settings).await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, reference_app(state)).await });

    // `/slow` (a development route) holds a PostgreSQL statement for 600 ms, past the 0.5 s latency
    // threshold; one a second.
    let config = config(
        addr,
        &["GET:/health", "GET:/slow?ms=600"],
        2,
        Duration::from_secs(4),
    );
    let report = load::check(&config, &slos_dir(), None, |_| {})
        .await
        .unwrap();
    let counts: Vec<(u64, u64)> = report
        .endpoints
        .iter()
        .map(|e| (e.completed, e.errors))
        .collect();
    assert_eq!(counts, [(4, 0), (4, 0)], "{}", report.to_table());
    let latency = report
        .slos
        .iter()
        .find(|s| s.name == "api_latency")
        .unwrap();
    assert_eq!(
        (latency.status, latency.bad, latency.total),
        (SloStatus::Missed, Some(4), Some(8))
    );
    let availability = report
        .slos
        .iter()
        .find(|s| s.name == "api_availability")
        .unwrap();
    assert_eq!(
        (availability.status, availability.bad),
        (SloStatus::Met, Some(0))
    );
    assert_eq!(report.verdict, Verdict::Missed);

    // The service's own metrics, which the SLO rules read, saw the same requests and the same slowness.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let exposition = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for route in ["/health", "/slow"] {
        let labels = [("method", "GET"), ("route", route), ("status", "2xx")];
        assert_eq!(
            sample(&exposition, "http_requests_total", &labels),
            4.0,
            "{route}"
        );
    }
    let slow = [("method", "GET"), ("route", "/slow")];
    assert_eq!(
        sample(&exposition, "http_request_duration_seconds_count", &slow),
        4.0
    );
    let within = [("method", "GET"), ("route", "/slow"), ("le", "0.5")];
    assert_eq!(
        sample(&exposition, "http_request_duration_seconds_bucket", &within),
        0.0
    );
}
