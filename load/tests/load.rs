//! `slogen-load` against a small axum app on 127.0.0.1: request counts, SLO verdicts, JSON output, exit codes,
//! the loopback guard and coordinated-omission correction.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use slogen::model::Sli;
use slogen_load as load;

#[path = "support/app.rs"]
mod app;
use app::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_endpoint_meets_the_slos_and_every_due_request_is_counted() {
    let (addr, app) = serve().await;
    let out = cli_against(
        addr,
        &[
            "--rate",
            "200",
            "--duration",
            "2s",
            "--endpoint",
            "GET:/fast",
        ],
    )
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
    let out = cli_against(
        addr,
        &[
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
        ],
    )
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
    let out = cli_against(
        addr,
        &[
            "--rate",
            "20",
            "--duration",
            "1s",
            "--endpoint",
            &endpoint,
            "--json",
        ],
    )
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
