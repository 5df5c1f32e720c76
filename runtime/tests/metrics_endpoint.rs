//! The metrics endpoints (`/metrics` in both formats, `/metrics/summary`, the configured path) on a real
//! axum router behind the HTTP layer, and the summary's quantiles against PromQL's.

// The generator's exact output (a test in the generator keeps it current).
#[path = "contract/example_metrics.rs"]
mod example_metrics;
#[path = "support/http_app.rs"]
mod http_app;

use std::io::Write as _;
use std::process::Command;
use std::sync::Arc;

use axum::body::Body;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{Request, StatusCode};
use example_metrics::{HttpRequestDurationLabels, Method, Metrics};
use http_app::{app, body_text, default_app, get_request, requests_total, sample, scrape, Hang};
use serde_json::Value;
use slogen_runtime::config::RuntimeConfig;
use slogen_runtime::endpoints::quantile;
use slogen_runtime::{OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE};
use tokio::sync::mpsc;
use tower::ServiceExt as _;

#[tokio::test]
async fn the_scrape_format_follows_the_accept_header() {
    let metrics = Arc::new(Metrics::new());
    let (app, _hang) = default_app(&metrics);
    // What Prometheus 2.x and 3.x send, then explicit preferences either way.
    let cases: [(Option<&str>, &str); 6] = [
        (None, PROMETHEUS_CONTENT_TYPE),
        (
            Some("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
            OPENMETRICS_CONTENT_TYPE,
        ),
        (
            Some("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"),
            OPENMETRICS_CONTENT_TYPE,
        ),
        (Some("text/plain;version=0.0.4"), PROMETHEUS_CONTENT_TYPE),
        (
            Some("text/plain;q=1, application/openmetrics-text;q=0.5"),
            PROMETHEUS_CONTENT_TYPE,
        ),
        (Some("application/openmetrics-text;q=0"), PROMETHEUS_CONTENT_TYPE),
    ];
    for (accept, content_type) in cases {
        let mut request = Request::get("/metrics");
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).expect("a valid request"))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK, "{accept:?}");
        assert_eq!(response.headers()[CONTENT_TYPE], content_type, "{accept:?}");
        let text = body_text(response).await;
        let openmetrics = content_type == OPENMETRICS_CONTENT_TYPE;
        assert_eq!(
            text.ends_with("# EOF\n"),
            openmetrics,
            "{accept:?}:\n{text}"
        );
        let counter_type = if openmetrics {
            "# TYPE http_requests counter"
        } else {
            "# TYPE http_requests_total counter"
        };
        assert!(text.contains(counter_type), "{accept:?}:\n{text}");
        // The scrape is itself an instrumented request, in flight while it renders.
        assert!(text.contains("\nhttp_requests_in_flight 1\n"), "{text}");
    }
    let text = scrape(&metrics).await;
    assert_eq!(
        sample(&text, &requests_total("GET", "/metrics", "2xx")),
        Some(6.0)
    );
}

#[tokio::test]
async fn the_summary_is_served_in_development_only() {
    let metrics = Arc::new(Metrics::new());
    // 20 observations ≤ 5 ms, 60 in (0.1, 0.25], 20 in (0.5, 1], split over both methods.
    let route = "/reports/{id}";
    for (method, value, times) in [
        (Method::Get, 0.004, 20),
        (Method::Get, 0.2, 40),
        (Method::Post, 0.2, 20),
        (Method::Post, 0.7, 20),
    ] {
        let histogram = metrics
            .http_request_duration
            .with(&HttpRequestDurationLabels { method, route });
        for _ in 0..times {
            histogram.observe(value);
        }
    }
    let request_summary = |app_env: &str| {
        let config = RuntimeConfig {
            app_env: app_env.to_owned(),
            ..RuntimeConfig::default()
        };
        let (sender, _) = mpsc::unbounded_channel();
        app(&metrics, &config, Hang(sender)).oneshot(get_request("/metrics/summary"))
    };

    for app_env in ["production", "staging"] {
        let response = request_summary(app_env).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{app_env}");
    }
    let response = request_summary("development").await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let summary: Value = serde_json::from_str(&body_text(response).await).expect("JSON");
    // Rank 50 is the 30th of 60 in (0.1, 0.25]; rank 95 the 15th and rank 99 the 19th of 20 in (0.5, 1].
    let percentiles = &summary["routes"][route];
    for (key, expected) in [("p50", 0.175), ("p95", 0.875), ("p99", 0.975)] {
        let actual = percentiles[key].as_f64().expect("a percentile");
        assert!((actual - expected).abs() < 1e-9, "{key}: {actual}");
    }
    // The two production requests were counted as unmatched 404s before this summary was taken.
    assert_eq!(summary["requests"], 2);
    assert_eq!(summary["errors"], 0);
}

#[tokio::test]
async fn the_metrics_route_follows_the_configuration() {
    let metrics = Arc::new(Metrics::new());
    let status = |config: RuntimeConfig, uri: &'static str| {
        let (sender, _) = mpsc::unbounded_channel();
        let app = app(&metrics, &config, Hang(sender));
        async move {
            app.oneshot(get_request(uri))
                .await
                .expect("infallible")
                .status()
        }
    };
    let disabled = RuntimeConfig {
        prometheus_enabled: false,
        ..RuntimeConfig::default()
    };
    assert_eq!(status(disabled, "/metrics").await, StatusCode::NOT_FOUND);
    let moved = RuntimeConfig::from_vars(|name| match name {
        "METRICS_ENDPOINT" => Some("/internal/prometheus".to_owned()),
        "APP_ENV" => Some("development".to_owned()),
        _ => None,
    })
    .expect("a valid configuration");
    assert_eq!(
        status(moved.clone(), "/internal/prometheus").await,
        StatusCode::OK
    );
    assert_eq!(
        status(moved.clone(), "/internal/prometheus/summary").await,
        StatusCode::OK
    );
    assert_eq!(
        status(moved.clone(), "/metrics").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status(moved, "/metrics/summary").await,
        StatusCode::NOT_FOUND
    );
}

/// [`quantile`] agrees with PromQL's `histogram_quantile`, evaluated by promtool.
#[test]
fn quantile_agrees_with_promql() {
    let histograms: [&[(f64, u64)]; 3] = [
        &[(0.1, 10), (0.5, 40), (1.0, 90), (f64::INFINITY, 100)],
        &[
            (0.005, 0),
            (0.01, 3),
            (0.025, 3),
            (0.05, 7),
            (f64::INFINITY, 9),
        ],
        &[(1.0, 1), (2.0, 1), (f64::INFINITY, 1)],
    ];
    let quantiles = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0];
    let mut series = String::new();
    let mut tests = String::new();
    for (index, buckets) in histograms.iter().enumerate() {
        for (bound, count) in buckets.iter() {
            let le = if bound.is_finite() {
                bound.to_string()
            } else {
                "+Inf".to_owned()
            };
            series += &format!(
                "      - series: 'latency_bucket{{histogram=\"{index}\",le=\"{le}\"}}'\n        values: '{count}'\n"
            );
        }
        for q in quantiles {
            let promql =
                format!("histogram_quantile({q}, latency_bucket{{histogram=\"{index}\"}})");
            // promtool cannot compare NaN, PromQL's answer where `quantile` has none: test `x != x` instead.
            let (expr, expected) = match quantile(buckets, q) {
                Some(value) => (promql, value),
                None => (format!("{promql} != bool {promql}"), 1.0),
            };
            tests += &format!(
                "      - expr: '{expr}'\n        eval_time: 0m\n        exp_samples:\n          - labels: '{{histogram=\"{index}\"}}'\n            value: {expected:?}\n"
            );
        }
    }
    let file_text = format!(
        "tests:\n  - interval: 1m\n    input_series:\n{series}    promql_expr_test:\n{tests}"
    );
    let mut file = tempfile::NamedTempFile::new().expect("create a temporary file");
    file.write_all(file_text.as_bytes())
        .expect("write the test file");
    let output = Command::new("promtool")
        .args(["test", "rules"])
        .arg(file.path())
        .output()
        .expect("run promtool");
    assert!(
        output.status.success(),
        "promtool disagrees:\n{}{}\n{file_text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
