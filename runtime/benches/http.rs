//! What `HttpMetricsLayer` adds to a request: the same small axum router with and without the layer,
//! driven in process (no sockets), recording into the reference backend's generated metrics.
//!
//! `floor` is the bare router; `slogen` is the router with the layer, for a request without an
//! `X-Request-ID` (the layer generates one); `slogen_incoming_id` sends a valid ID the layer keeps. One
//! group builds a service per request with `oneshot`, as a server does per connection; the other reuses a
//! cloned service with `ready` + `call`. No tracing subscriber is installed, so the layer's span is
//! disabled, as it is in a service that does not log at `info`.
//!
//! Run: `cargo bench -p slogen-runtime --bench http`, then `python3 scripts/bench-summary.py`; the
//! `added ns` column is the layer's cost per request and `floor/impl` the throughput ratio.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use criterion::Criterion;
use http::Request;
use slogen_runtime::http::{HttpMetricsLayer, REQUEST_ID_HEADER};
use slogen_runtime::reference::metrics::{HttpRequestsLabels, Method, Metrics, Status};
use tower::{Service, ServiceExt};

/// The route every benchmarked request matches.
const ROUTE: &str = "/v1/users/{id}";

fn router() -> Router {
    Router::new()
        .route(ROUTE, get(|| async { "user" }))
        .route("/health", get(|| async { "ok" }))
}

fn instrumented(metrics: &Arc<Metrics>) -> Router {
    router().layer(HttpMetricsLayer::new(Arc::clone(metrics)))
}

fn request(incoming_id: bool) -> Request<Body> {
    let builder = Request::get("/v1/users/42");
    let builder = if incoming_id {
        builder.header(REQUEST_ID_HEADER, "bench-request-0001")
    } else {
        builder
    };
    builder.body(Body::empty()).expect("a valid request")
}

fn served(metrics: &Metrics) -> u64 {
    metrics
        .http_requests
        .with(&HttpRequestsLabels {
            method: Method::Get,
            route: ROUTE,
            status: Status::Status2xx,
        })
        .get()
}

/// Runs `iters` requests through a fresh clone of `app` each (`oneshot`), timing the whole loop.
fn oneshot(
    runtime: &tokio::runtime::Runtime,
    app: &Router,
    incoming_id: bool,
    iters: u64,
) -> Duration {
    runtime.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            let response = app
                .clone()
                .oneshot(request(incoming_id))
                .await
                .expect("infallible");
            assert!(response.status().is_success());
        }
        start.elapsed()
    })
}

/// Runs `iters` requests through one cloned service, waiting for readiness before each call.
fn ready_call(
    runtime: &tokio::runtime::Runtime,
    app: &Router,
    incoming_id: bool,
    iters: u64,
) -> Duration {
    runtime.block_on(async {
        let mut service = app.clone();
        let start = Instant::now();
        for _ in 0..iters {
            let ready = ServiceExt::<Request<Body>>::ready(&mut service)
                .await
                .expect("infallible");
            let response = ready.call(request(incoming_id)).await.expect("infallible");
            assert!(response.status().is_success());
        }
        start.elapsed()
    })
}

type Driver = fn(&tokio::runtime::Runtime, &Router, bool, u64) -> Duration;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let metrics = Arc::new(Metrics::new());
    let bare = router();
    let layered = instrumented(&metrics);

    // The layer must really record, or the comparison would measure nothing.
    oneshot(&runtime, &layered, false, 1);
    ready_call(&runtime, &layered, true, 1);
    assert_eq!(
        served(&metrics),
        2,
        "each instrumented request is counted once"
    );
    assert_eq!(metrics.http_requests_in_flight.get(), 0);

    let mut c = Criterion::default().configure_from_args();
    let drivers: [(&str, Driver); 2] = [
        ("http_request_oneshot", oneshot),
        ("http_request_ready_call", ready_call),
    ];
    for (name, drive) in drivers {
        let mut group = c.benchmark_group(name);
        group.bench_function("floor", |b| {
            b.iter_custom(|iters| drive(&runtime, &bare, false, iters))
        });
        group.bench_function("slogen", |b| {
            b.iter_custom(|iters| drive(&runtime, &layered, false, iters))
        });
        group.bench_function("slogen_incoming_id", |b| {
            b.iter_custom(|iters| drive(&runtime, &layered, true, iters))
        });
        group.finish();
    }
    c.final_summary();
}
