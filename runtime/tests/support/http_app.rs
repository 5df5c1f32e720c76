//! The application the HTTP layer and metrics endpoint tests share: a few routes recording into the
//! generator's example module (`contract/example_metrics.rs`, as `example_metrics`), the metrics endpoints,
//! and the layer applied last; and helpers to read what it exposes.
//!
//! Include it with `#[path = "support/http_app.rs"] mod http_app;`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::http::{Request, Response, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use slogen_runtime::config::RuntimeConfig;
use slogen_runtime::endpoints::{metrics_router, quantile, Summary};
use slogen_runtime::http::{current_request_id, HttpMetricsLayer, RequestId};
use slogen_runtime::record::HttpRecorder;
use tokio::sync::mpsc;
use tower::ServiceExt as _;

use crate::example_metrics::{
    HttpRequestDurationLabels, HttpRequestsLabels, Method, Metrics, Status,
};

/// Records what the layer reports into the example module, as a service's own recorder would.
pub struct Recorder(pub Arc<Metrics>);

impl HttpRecorder for Recorder {
    fn request_started(&self, _: &http::Method, _: &str) {
        self.0.http_requests_in_flight.inc();
    }

    fn request_finished(&self, method: &http::Method, route: &str, status: u16, elapsed: Duration) {
        self.0.http_requests_in_flight.dec();
        let method = match *method {
            http::Method::GET => Method::Get,
            http::Method::POST => Method::Post,
            ref other => panic!("the example module has no method {other}"),
        };
        let status = match status {
            200..=299 => Status::Status2xx,
            400..=499 => Status::Status4xx,
            500..=599 => Status::Status5xx,
            other => panic!("the example module has no class for status {other}"),
        };
        self.0
            .http_requests
            .with(&HttpRequestsLabels {
                method,
                route,
                status,
            })
            .inc();
        self.0
            .http_request_duration
            .with(&HttpRequestDurationLabels { method, route })
            .observe(elapsed.as_secs_f64());
    }
}

/// The development summary of the example module: request totals and latency percentiles per route.
pub struct ExampleSummary(pub Arc<Metrics>);

impl Summary for ExampleSummary {
    fn summary(&self) -> Value {
        let (mut requests, mut errors) = (0, 0);
        self.0.http_requests.for_each(|labels, counter| {
            requests += counter.get();
            if labels[2] == "5xx" {
                errors += counter.get();
            }
        });
        // Summed over methods, as `sum by (route, le)` would.
        let mut buckets: BTreeMap<String, Vec<(f64, u64)>> = BTreeMap::new();
        self.0.http_request_duration.for_each(|labels, histogram| {
            let total = buckets.entry(labels[1].to_owned()).or_default();
            let series = histogram.buckets();
            total.resize(series.len(), (0.0, 0));
            for (sum, (bound, count)) in total.iter_mut().zip(series) {
                *sum = (bound, sum.1 + count);
            }
        });
        let routes: serde_json::Map<String, Value> = buckets
            .into_iter()
            .map(|(route, buckets)| {
                let percentiles = json!({
                    "p50": quantile(&buckets, 0.5),
                    "p95": quantile(&buckets, 0.95),
                    "p99": quantile(&buckets, 0.99),
                });
                (route, percentiles)
            })
            .collect();
        json!({ "requests": requests, "errors": errors, "routes": routes })
    }
}

/// Lets a test wait until a handler is running, and keeps that handler from ever answering.
#[derive(Clone)]
pub struct Hang(pub mpsc::UnboundedSender<()>);

/// The application under test: a few routes, the metrics endpoints, and the layer applied last.
pub fn app(metrics: &Arc<Metrics>, config: &RuntimeConfig, hang: Hang) -> Router {
    let layer = HttpMetricsLayer::new(Arc::new(Recorder(Arc::clone(metrics))));
    app_with(metrics, config, hang, layer)
}

/// [`app`] with the layer given.
pub fn app_with(
    metrics: &Arc<Metrics>,
    config: &RuntimeConfig,
    hang: Hang,
    layer: HttpMetricsLayer,
) -> Router {
    Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .route(
            "/id",
            get(|id: RequestId| async move {
                let current = current_request_id().expect("inside a request");
                format!("{id} {current}")
            }),
        )
        .route(
            "/log",
            post(|| async {
                tracing::info!("handled");
                "logged"
            }),
        )
        .route(
            "/unavailable",
            get(|| async { StatusCode::SERVICE_UNAVAILABLE }),
        )
        .route(
            "/panic",
            get(|| async { panic!("the handler failed") as &'static str }),
        )
        .route(
            "/hang",
            get(move || async move {
                hang.0.send(()).expect("the test is waiting");
                std::future::pending::<()>().await;
            }),
        )
        .merge(metrics_router(
            Arc::clone(metrics),
            Some(Arc::new(ExampleSummary(Arc::clone(metrics)))),
            config,
        ))
        .layer(layer)
}

/// The application with the default configuration, and the receiver its `/hang` handler signals.
pub fn default_app(metrics: &Arc<Metrics>) -> (Router, mpsc::UnboundedReceiver<()>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (
        app(metrics, &RuntimeConfig::default(), Hang(sender)),
        receiver,
    )
}

/// [`default_app`] with the recorder given to [`HttpMetricsLayer::from_static`] (leaked, as a service's
/// metrics live as long as the process).
pub fn static_app(metrics: &Arc<Metrics>) -> (Router, mpsc::UnboundedReceiver<()>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let recorder: &'static Recorder = Box::leak(Box::new(Recorder(Arc::clone(metrics))));
    let layer = HttpMetricsLayer::from_static(recorder);
    let app = app_with(metrics, &RuntimeConfig::default(), Hang(sender), layer);
    (app, receiver)
}

/// How a test builds the application: [`default_app`] or [`static_app`].
pub type AppBuilder = fn(&Arc<Metrics>) -> (Router, mpsc::UnboundedReceiver<()>);

pub fn get_request(uri: &str) -> Request<Body> {
    Request::get(uri)
        .body(Body::empty())
        .expect("a valid request")
}

pub async fn body_text(response: Response<Body>) -> String {
    let bytes = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("read the body");
    String::from_utf8(bytes.to_vec()).expect("a UTF-8 body")
}

/// Scrapes `metrics` in the Prometheus text format through an uninstrumented metrics router, so the
/// scrape itself is neither in flight nor counted.
pub async fn scrape(metrics: &Arc<Metrics>) -> String {
    let router: Router = metrics_router(Arc::clone(metrics), None, &RuntimeConfig::default());
    let response = router
        .oneshot(get_request("/metrics"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    body_text(response).await
}

/// The value of the sample `series` (name and labels, exactly as exposed) in `text`, if present.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        Some(value.parse().expect("a numeric sample"))
    })
}

pub fn requests_total(method: &str, route: &str, status: &str) -> String {
    format!("http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}")
}

/// The number of sample lines in an exposition.
pub fn series_count(text: &str) -> usize {
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .count()
}
