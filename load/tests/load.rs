//! `slogen-load` against real servers on 127.0.0.1 (a small axum app, and the reference service on its own
//! PostgreSQL): request counts, SLO verdicts, exit codes, the loopback guard and coordinated-omission
//! correction.

#[path = "../../runtime/tests/support/services.rs"]
mod services;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use services::{Postgres, RedisServer};
use slogen::model::Sli;
use slogen_load::{self as load, Endpoint, LoadConfig, SloStatus, Verdict};
use slogen_reference_service::{app as reference_app, AppState, Settings};
use tokio::time::Instant;

/// The stalling route freezes every request for this long, starting with its `STALL_AT`th request.
const STALL: Duration = Duration::from_secs(1);
const STALL_AT: u64 = 50;

#[derive(Clone, Default)]
struct App {
    fast_requests: Arc<AtomicU64>,
    stall_requests: Arc<AtomicU64>,
    stall_until: Arc<Mutex<Option<Instant>>>,
}

async fn fast(State(app): State<App>) -> &'static str {
    app.fast_requests.fetch_add(1, Ordering::SeqCst);
    "ok"
}

async fn slow(UrlPath(ms): UrlPath<u64>) -> &'static str {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    "ok"
}

async fn fail() -> StatusCode {
    StatusCode::INTERNAL_SERVER_ERROR
}

/// Answers at once, except that from its `STALL_AT`th request on the whole route freezes for `STALL`, like a
/// server in a long GC pause: every request that arrives meanwhile waits until the stall ends.
async fn stall(State(app): State<App>) -> &'static str {
    let n = app.stall_requests.fetch_add(1, Ordering::SeqCst) + 1;
    let until = {
        let mut until = app.stall_until.lock().unwrap();
        if n == STALL_AT {
            *until = Some(Instant::now() + STALL);
        }
        *until
    };
    if let Some(until) = until {
        tokio::time::sleep_until(until).await;
    }
    "ok"
}

async fn serve() -> (SocketAddr, App) {
    let app = App::default();
    let router = Router::new()
        .route("/fast", get(fast))
        .route("/slow/{ms}", get(slow))
        .route("/fail", get(fail))
        .route("/stall", get(stall))
        .with_state(app.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (addr, app)
}

fn slos_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../slos")
}

/// Runs the binary off the async workers, so the server in this runtime keeps answering.
async fn cli(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_slogen-load"))
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn config(addr: SocketAddr, endpoints: &[&str], rate: u32, duration: Duration) -> LoadConfig {
    LoadConfig {
        base_url: format!("http://{addr}"),
        allow_hosts: Vec::new(),
        endpoints: endpoints.iter().map(|e| e.parse().unwrap()).collect(),
        rate,
        duration,
        warmup: Duration::ZERO,
        max_requests: None,
        timeout: Duration::from_secs(5),
        max_in_flight: 1000,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_endpoint_meets_the_slos_and_every_due_request_is_counted() {
    let (addr, app) = serve().await;
    let base = format!("http://{addr}");
    let out = cli(&[
        "--base-url",
        &base,
        "--slos",
        slos_dir().to_str().unwrap(),
        "--rate",
        "200",
        "--duration",
        "2s",
        "--endpoint",
        "GET:/fast",
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // 2 s at 200/s is exactly 400 due times; open loop sends every one of them.
    let row: Vec<&str> = stdout
        .lines()
        .find(|l| l.starts_with("GET /fast "))
        .unwrap_or_else(|| panic!("no row for GET /fast:\n{stdout}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        &row[2..6],
        ["400", "400", "0", "0"],
        "count, sent, dropped, errors:\n{stdout}"
    );
    assert_eq!(app.fast_requests.load(Ordering::SeqCst), 400);
    assert!(stdout.contains("verdict: met"), "{stdout}");
    for measured in ["api_availability", "api_latency"] {
        let line = stdout.lines().find(|l| l.starts_with(measured)).unwrap();
        assert!(line.contains(" met "), "{line}");
    }
    let db = stdout
        .lines()
        .find(|l| l.starts_with("db_latency"))
        .unwrap();
    assert!(db.contains("not measured here"), "{db}");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("] sent ") && l.contains("p99(last 1s)")),
        "no progress line:\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_counts_measured_requests_only_and_stops_at_max_requests() {
    let (addr, app) = serve().await;
    let base = format!("http://{addr}");
    let out = cli(&[
        "--base-url",
        &base,
        "--slos",
        slos_dir().to_str().unwrap(),
        "--rate",
        "100",
        "--duration",
        "10s",
        "--max-requests",
        "150",
        "--warmup",
        "1s",
        "--endpoint",
        "GET:/fast",
        "--json",
    ])
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    let overall = &report["overall"];
    for field in ["scheduled", "sent", "completed"] {
        assert_eq!(overall[field], 150, "{field}: {overall}");
    }
    assert_eq!(overall["errors"], 0);
    assert_eq!(overall["dropped"], 0);
    assert_eq!(overall["statuses"]["200"], 150);
    // The server also saw the warm-up's 100 requests, which the report leaves out.
    assert_eq!(app.fast_requests.load(Ordering::SeqCst), 250);
    let latency = &overall["latency_ms"];
    let (p50, p99, max) = (
        latency["p50"].as_f64().unwrap(),
        latency["p99"].as_f64().unwrap(),
        latency["max"].as_f64().unwrap(),
    );
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{latency}");
    assert_eq!(report["endpoints"][0]["endpoint"], "GET /fast");
    assert_eq!(report["over_limit"], "dropped");
    assert_eq!(report["verdict"], "met");
    let slos = report["slos"].as_array().unwrap();
    let service = load::load_service(&slos_dir(), None).unwrap();
    assert_eq!(slos.len(), service.slos.len());
    for slo in slos {
        let status = slo["status"].as_str().unwrap();
        match slo["name"].as_str().unwrap() {
            "api_availability" | "api_latency" => {
                assert_eq!(status, "met", "{slo}");
                assert_eq!(slo["total"], 150);
                assert_eq!(slo["bad"], 0);
            }
            _ => {
                assert_eq!(status, "not_measured", "{slo}");
                assert!(
                    slo["reason"].as_str().is_some_and(|r| !r.is_empty()),
                    "{slo}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_endpoint_misses_the_latency_slo_and_exits_1() {
    let (addr, _app) = serve().await;
    let service = load::load_service(&slos_dir(), None).unwrap();
    // Slower than the slowest HTTP latency threshold, so every latency SLO over HTTP must be missed.
    let slowest = service
        .slos
        .iter()
        .filter_map(|s| match &s.sli {
            Sli::Latency {
                histogram,
                threshold,
                ..
            } if histogram.metric.starts_with("http_") => Some(*threshold),
            _ => None,
        })
        .fold(0.0, f64::max);
    assert!(slowest > 0.0, "slos/ has no HTTP latency SLO");
    let ms = (slowest * 1000.0) as u64 + 100;
    let endpoint = format!("GET:/slow/{ms}");
    let base = format!("http://{addr}");
    let out = cli(&[
        "--base-url",
        &base,
        "--slos",
        slos_dir().to_str().unwrap(),
        "--rate",
        "20",
        "--duration",
        "1s",
        "--endpoint",
        &endpoint,
        "--json",
    ])
    .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["verdict"], "missed");
    assert_eq!(report["overall"]["completed"], 20);
    assert!(report["overall"]["latency_ms"]["p50"].as_f64().unwrap() >= ms as f64);
    let mut latency_slos = 0;
    for slo in report["slos"].as_array().unwrap() {
        if slo["status"] == "not_measured" {
            continue;
        }
        if slo["sli"] == "latency" {
            latency_slos += 1;
            assert_eq!(slo["status"], "missed", "{slo}");
            assert_eq!(
                (&slo["bad"], &slo["total"]),
                (&Value::from(20), &Value::from(20)),
                "{slo}"
            );
        } else {
            assert_eq!(slo["status"], "met", "slow is not failed: {slo}");
        }
    }
    assert!(latency_slos > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_outside_loopback_are_refused_before_anything_is_sent() {
    let slos = slos_dir();
    let slos = slos.to_str().unwrap();
    for (base, allow) in [
        ("http://192.0.2.10:8000", None),
        ("http://example.com", None),
        ("http://192.0.2.10:8000", Some("192.0.2.11")),
    ] {
        let mut args = vec![
            "--base-url",
            base,
            "--slos",
            slos,
            "--rate",
            "10",
            "--duration",
            "1s",
        ];
        if let Some(host) = allow {
            args.extend(["--allow-host", host]);
        }
        let out = cli(&args).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{base}: {stderr}");
        assert!(
            stderr.contains("refusing to send load") && stderr.contains("--allow-host"),
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
    }
    for bad in [
        ["--rate", "0"],
        ["--duration", "11m"],
        ["--timeout", "0s"],
        ["--endpoint", "GET/x"],
    ] {
        let mut args = vec![
            "--base-url",
            "http://127.0.0.1:9",
            "--slos",
            slos,
            "--rate",
            "10",
            "--duration",
            "1s",
        ];
        args.extend(bad);
        let out = cli(&args).await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{bad:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stall_shows_in_the_p99_because_sending_never_waits_for_answers() {
    let (addr, app) = serve().await;
    let half = STALL / 2;
    let result = load::run(
        &config(addr, &["GET:/stall"], 200, Duration::from_secs(2)),
        &[half],
        |_| {},
    )
    .await
    .unwrap();
    let stats = &result.endpoints[0];
    assert_eq!(stats.sent, 400);
    assert_eq!(stats.statuses.get(&200), Some(&400));
    assert_eq!(app.stall_requests.load(Ordering::SeqCst), 400);
    // A closed-loop client would have waited out the stall on one request and recorded one slow sample.
    // Open loop keeps sending: the ~200 requests due during the stall all wait for its end, the first half of
    // them longer than half the stall, so the p99 is nearly the whole stall.
    let p99 = Duration::from_micros(stats.latency.value_at_quantile(0.99));
    assert!(p99 >= STALL - Duration::from_millis(100), "p99 {p99:?}");
    let due_in_first_half = 200 * half.as_millis() as u64 / 1000;
    assert!(
        stats.slower_than[0] >= due_in_first_half * 8 / 10,
        "{} slower than {half:?}",
        stats.slower_than[0]
    );
}

/// Starts the test server on a thread and runtime of its own, so it keeps answering while the test's own
/// runtime is blocked.
fn serve_elsewhere() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let (addr, _app) = serve().await;
            tx.send(addr).unwrap();
            std::future::pending::<()>().await
        })
    });
    rx.recv().unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn a_client_stall_counts_against_the_requests_it_delayed() {
    let addr = serve_elsewhere();
    let block = Duration::from_secs(1);
    // Freeze the load generator's only thread 200 ms in: the requests due during the freeze go out late, and
    // measuring from their due time (not from when they were sent) shows the delay users would have seen.
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        std::thread::sleep(block);
    });
    let half = block / 2;
    let result = load::run(
        &config(addr, &["GET:/fast"], 200, Duration::from_secs(2)),
        &[half],
        |_| {},
    )
    .await
    .unwrap();
    let stats = &result.endpoints[0];
    assert_eq!(stats.statuses.get(&200), Some(&400));
    // The run knows the generator fell behind, by about the freeze.
    assert!(
        result.max_send_lag >= block - Duration::from_millis(100),
        "{:?}",
        result.max_send_lag
    );
    let p99 = Duration::from_micros(stats.latency.value_at_quantile(0.99));
    assert!(p99 >= block - Duration::from_millis(100), "p99 {p99:?}");
    let due_in_first_half = 200 * half.as_millis() as u64 / 1000;
    assert!(
        stats.slower_than[0] >= due_in_first_half * 8 / 10,
        "{} slower than {half:?}",
        stats.slower_than[0]
    );
}

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
