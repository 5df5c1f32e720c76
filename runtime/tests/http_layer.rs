//! The HTTP layer and the metrics endpoints, on a real axum router recording into the generator's example
//! module, checked by scraping `/metrics`.

// The generator's exact output (a test in the generator keeps it current).
#[path = "contract/example_metrics.rs"]
mod example_metrics;
mod support;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::Write as _;
use std::panic::AssertUnwindSafe;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderValue, Request, Response, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use example_metrics::{HttpRequestDurationLabels, HttpRequestsLabels, Method, Metrics, Status};
use serde_json::{json, Value};
use slogen_runtime::config::RuntimeConfig;
use slogen_runtime::endpoints::{metrics_router, quantile, Summary};
use slogen_runtime::http::{current_request_id, HttpMetricsLayer, RequestId, REQUEST_ID_HEADER};
use slogen_runtime::record::HttpRecorder;
use slogen_runtime::{OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::{mpsc, Notify};
use tower::{Layer as _, Service as _, ServiceExt as _};
use tracing_subscriber::fmt::format::FmtSpan;

/// Records what the layer reports into the example module, as a service's own recorder would.
struct Recorder(Arc<Metrics>);

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
struct ExampleSummary(Arc<Metrics>);

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
struct Hang(mpsc::UnboundedSender<()>);

/// The application under test: a few routes, the metrics endpoints, and the layer applied last.
fn app(metrics: &Arc<Metrics>, config: &RuntimeConfig, hang: Hang) -> Router {
    let layer = HttpMetricsLayer::new(Arc::new(Recorder(Arc::clone(metrics))));
    app_with(metrics, config, hang, layer)
}

/// [`app`] with the layer given.
fn app_with(
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
fn default_app(metrics: &Arc<Metrics>) -> (Router, mpsc::UnboundedReceiver<()>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (
        app(metrics, &RuntimeConfig::default(), Hang(sender)),
        receiver,
    )
}

/// [`default_app`] with the recorder given to [`HttpMetricsLayer::from_static`] (leaked, as a service's
/// metrics live as long as the process).
fn static_app(metrics: &Arc<Metrics>) -> (Router, mpsc::UnboundedReceiver<()>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let recorder: &'static Recorder = Box::leak(Box::new(Recorder(Arc::clone(metrics))));
    let layer = HttpMetricsLayer::from_static(recorder);
    let app = app_with(metrics, &RuntimeConfig::default(), Hang(sender), layer);
    (app, receiver)
}

fn get_request(uri: &str) -> Request<Body> {
    Request::get(uri)
        .body(Body::empty())
        .expect("a valid request")
}

async fn body_text(response: Response<Body>) -> String {
    let bytes = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("read the body");
    String::from_utf8(bytes.to_vec()).expect("a UTF-8 body")
}

/// Scrapes `metrics` in the Prometheus text format through an uninstrumented metrics router, so the
/// scrape itself is neither in flight nor counted.
async fn scrape(metrics: &Arc<Metrics>) -> String {
    let router: Router = metrics_router(Arc::clone(metrics), None, &RuntimeConfig::default());
    let response = router
        .oneshot(get_request("/metrics"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    body_text(response).await
}

/// The value of the sample `series` (name and labels, exactly as exposed) in `text`, if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        Some(value.parse().expect("a numeric sample"))
    })
}

fn requests_total(method: &str, route: &str, status: &str) -> String {
    format!("http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}")
}

/// The number of sample lines in an exposition.
fn series_count(text: &str) -> usize {
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .count()
}

/// A tracing subscriber writing plain text into a buffer, with span creation logged so span fields are
/// visible even for requests that log nothing.
fn capture_tracing() -> (tracing::subscriber::DefaultGuard, Arc<Mutex<Vec<u8>>>) {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let writer = Arc::clone(&buffer);
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_span_events(FmtSpan::NEW)
        .with_writer(move || BufferWriter(Arc::clone(&writer)))
        .finish();
    (tracing::subscriber::set_default(subscriber), buffer)
}

struct BufferWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for BufferWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("not poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn captured(buffer: &Mutex<Vec<u8>>) -> String {
    String::from_utf8(buffer.lock().expect("not poisoned").clone()).expect("UTF-8 logs")
}

#[tokio::test]
async fn a_valid_incoming_request_id_is_kept_everywhere() {
    let (_guard, logs) = capture_tracing();
    let metrics = Arc::new(Metrics::new());
    let (app, _hang) = default_app(&metrics);
    // The longest acceptable ID, using every allowed punctuation character.
    let id = format!("Req-1.2_3:{}", "x".repeat(RequestId::MAX_LEN - 10));
    assert_eq!(id.len(), RequestId::MAX_LEN);

    let response = app
        .clone()
        .oneshot(
            Request::get("/id")
                .header(REQUEST_ID_HEADER, &id)
                .body(Body::empty())
                .expect("a valid request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.headers()[REQUEST_ID_HEADER], id.as_str());
    // The handler read it both as an extractor and with `current_request_id`.
    assert_eq!(body_text(response).await, format!("{id} {id}"));

    let response = app
        .oneshot(
            Request::post("/log")
                .header(REQUEST_ID_HEADER, "trace-42")
                .body(Body::empty())
                .expect("a valid request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.headers()[REQUEST_ID_HEADER], "trace-42");
    let logs = captured(&logs);
    let event = logs
        .lines()
        .find(|line| line.ends_with("handled"))
        .expect("the handler's event was logged");
    assert!(
        event.contains("request{request_id=trace-42 method=POST route=/log}"),
        "the event is not inside the request span: {event}"
    );
    assert!(
        logs.contains(&format!("request_id={id} method=GET route=/id")),
        "{logs}"
    );
    assert_eq!(current_request_id(), None, "no request outside the layer");
}

#[tokio::test]
async fn an_invalid_incoming_request_id_is_replaced_and_never_repeated() {
    let (_guard, logs) = capture_tracing();
    let metrics = Arc::new(Metrics::new());
    let (app, _hang) = default_app(&metrics);
    let too_long = "a".repeat(RequestId::MAX_LEN + 1);
    for bad in [
        too_long.as_str(),
        "id with spaces",
        "../../etc/passwd",
        "id;drop",
        "<script>",
        "",
    ] {
        let response = app
            .clone()
            .oneshot(
                Request::get("/id")
                    .header(REQUEST_ID_HEADER, bad)
                    .body(Body::empty())
                    .expect("a valid request"),
            )
            .await
            .expect("infallible");
        let echoed = response.headers()[REQUEST_ID_HEADER]
            .to_str()
            .expect("ASCII")
            .to_owned();
        let generated = uuid::Uuid::parse_str(&echoed).expect("a generated UUID");
        assert_eq!(generated.get_version_num(), 4);
        assert_eq!(echoed, generated.hyphenated().to_string());
        let headers = format!("{:?}", response.headers());
        let body = body_text(response).await;
        assert_eq!(body, format!("{echoed} {echoed}"));
        if !bad.is_empty() {
            assert!(
                !headers.contains(bad) && !body.contains(bad),
                "{bad:?} echoed"
            );
            assert!(!captured(&logs).contains(bad), "{bad:?} logged");
        }
        assert!(captured(&logs).contains(&format!("request_id={echoed} ")));
    }
}

#[tokio::test]
async fn the_request_id_extractor_outside_the_layer_is_a_500_naming_the_layer() {
    let app: Router =
        Router::new().route("/id", get(|id: RequestId| async move { id.to_string() }));
    let response = app
        .oneshot(
            Request::get("/id")
                .body(Body::empty())
                .expect("a valid request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body_text(response).await,
        "no request ID: the route is not wrapped by HttpMetricsLayer"
    );
}

#[test]
fn request_ids_are_parsed_strictly() {
    let parse =
        |text: &str| RequestId::parse(&HeaderValue::from_str(text).expect("a header value"));
    assert_eq!(
        parse("a-Z_0.9:x").map(|id| id.to_string()),
        Some("a-Z_0.9:x".to_owned())
    );
    for bad in ["", "a b", "a/b", "a+b", "é", "a\tb"] {
        let value = HeaderValue::from_bytes(bad.as_bytes()).expect("a header value");
        assert_eq!(RequestId::parse(&value), None, "{bad:?}");
    }
    assert!(parse(&"7".repeat(RequestId::MAX_LEN)).is_some());
    assert!(parse(&"7".repeat(RequestId::MAX_LEN + 1)).is_none());
    assert_ne!(RequestId::generate(), RequestId::generate());
}

#[tokio::test]
async fn routes_are_labelled_by_template_and_unknown_paths_stay_bounded() {
    for build in [default_app as AppBuilder, static_app] {
        routes_are_labelled_by_template_and_unknown_paths_stay_bounded_in(build).await;
    }
}

type AppBuilder = fn(&Arc<Metrics>) -> (Router, mpsc::UnboundedReceiver<()>);

async fn routes_are_labelled_by_template_and_unknown_paths_stay_bounded_in(build: AppBuilder) {
    let metrics = Arc::new(Metrics::new());
    let (app, _hang) = build(&metrics);
    for id in 0..3 {
        let response = app
            .clone()
            .oneshot(get_request(&format!("/users/{id}")))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = app
        .clone()
        .oneshot(get_request("/no/such/path"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let text = scrape(&metrics).await;
    assert_eq!(
        sample(&text, &requests_total("GET", "/users/{id}", "2xx")),
        Some(3.0)
    );
    assert_eq!(
        sample(&text, &requests_total("GET", "unmatched", "4xx")),
        Some(1.0)
    );
    assert!(!text.contains("/users/0") && !text.contains("/no/such/path"));
    let series_before = series_count(&text);

    for n in 0..10_000 {
        let response = app
            .clone()
            .oneshot(get_request(&format!("/scan/{n}")))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    let text = scrape(&metrics).await;
    assert_eq!(
        sample(&text, &requests_total("GET", "unmatched", "4xx")),
        Some(10_001.0)
    );
    assert_eq!(
        sample(
            &text,
            "http_request_duration_seconds_count{method=\"GET\",route=\"unmatched\"}"
        ),
        Some(10_001.0)
    );
    assert_eq!(series_count(&text), series_before);
    assert!(!text.contains("/scan/"));
    assert_eq!(sample(&text, "http_requests_in_flight"), Some(0.0));
    support::assert_promtool_accepts(&text, &[]);
}

#[tokio::test]
async fn one_layered_handler_mounted_at_two_routes_is_labelled_by_each() {
    let metrics = Arc::new(Metrics::new());
    // The layer wraps the handler once (`with_state` turns it into a service there and then), and both
    // routes share that wrapped service.
    let handler = get(|| async { "shared" })
        .layer(HttpMetricsLayer::new(Arc::new(Recorder(Arc::clone(
            &metrics,
        )))))
        .with_state(());
    let app: Router = Router::new()
        .route("/a/{id}", handler.clone())
        .route("/b/{id}", handler);
    for (path, times) in [("/a/1", 2), ("/b/1", 3), ("/a/2", 1)] {
        for _ in 0..times {
            let response = app
                .clone()
                .oneshot(get_request(path))
                .await
                .expect("infallible");
            assert_eq!(response.status(), StatusCode::OK);
        }
    }
    let text = scrape(&metrics).await;
    assert_eq!(
        sample(&text, &requests_total("GET", "/a/{id}", "2xx")),
        Some(3.0)
    );
    assert_eq!(
        sample(&text, &requests_total("GET", "/b/{id}", "2xx")),
        Some(3.0)
    );
}

#[tokio::test]
async fn failures_are_counted_and_in_flight_returns_to_zero() {
    for build in [default_app as AppBuilder, static_app] {
        failures_are_counted_and_in_flight_returns_to_zero_in(build).await;
    }
}

async fn failures_are_counted_and_in_flight_returns_to_zero_in(build: AppBuilder) {
    let metrics = Arc::new(Metrics::new());
    let (app, mut hang) = build(&metrics);

    let response = app
        .clone()
        .oneshot(get_request("/unavailable"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);

    // The panic propagates (tokio reports it as the task's failure) and is still counted.
    let panicked = tokio::spawn(app.clone().oneshot(get_request("/panic"))).await;
    assert!(panicked.expect_err("the handler panicked").is_panic());

    // A request abandoned while its handler runs: dropping its future is what hyper does when the client
    // disconnects.
    let abandoned = app.clone().oneshot(get_request("/hang"));
    tokio::select! {
        _ = abandoned => panic!("the /hang handler never answers"),
        entered = hang.recv() => entered.expect("the handler started"),
    }

    let text = scrape(&metrics).await;
    assert_eq!(
        sample(&text, &requests_total("GET", "/unavailable", "5xx")),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &requests_total("GET", "/panic", "5xx")),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &requests_total("GET", "/hang", "4xx")),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "http_request_duration_seconds_count{method=\"GET\",route=\"/panic\"}"
        ),
        Some(1.0)
    );
    assert_eq!(sample(&text, "http_requests_in_flight"), Some(0.0));
}

/// A tower service that panics in `call`, before returning a future (axum's routes never do: they call
/// their service when first polled), is counted as 500 too.
#[test]
fn a_service_panicking_before_returning_a_future_is_counted() {
    let metrics = Arc::new(Metrics::new());
    let mut service =
        HttpMetricsLayer::new(Arc::new(Recorder(Arc::clone(&metrics)))).layer(tower::service_fn(
            |_: Request<Body>| -> std::future::Ready<Result<Response<Body>, Infallible>> {
                panic!("the service failed before returning a future")
            },
        ));
    let called = std::panic::catch_unwind(AssertUnwindSafe(|| service.call(get_request("/x"))));
    assert!(called.is_err());
    let labels = HttpRequestsLabels {
        method: Method::Get,
        route: "unmatched",
        status: Status::Status5xx,
    };
    assert_eq!(metrics.http_requests.with(&labels).get(), 1);
    assert_eq!(metrics.http_requests_in_flight.get(), 0);
}

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

/// Sends one raw HTTP/1.1 request and returns the whole response (the server closes the connection).
async fn raw_request(address: std::net::SocketAddr, head: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream
        .write_all(format!("{head}Host: test\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .expect("send the request");
    let mut response = Vec::new();
    // A panicking handler makes hyper drop the connection without an answer: that reads as empty or reset.
    let _ = stream.read_to_end(&mut response).await;
    String::from_utf8(response).expect("a UTF-8 response")
}

#[tokio::test]
async fn over_a_real_tcp_connection() {
    let metrics = Arc::new(Metrics::new());
    let (app, mut hang) = default_app(&metrics);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free loopback port");
    let address = listener.local_addr().expect("the bound address");
    let stop = Arc::new(Notify::new());
    let stopped = Arc::clone(&stop);
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stopped.notified().await })
            .await
    });

    let response = raw_request(address, "GET /users/7 HTTP/1.1\r\nX-Request-ID: tcp-1\r\n").await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("\r\nx-request-id: tcp-1\r\n"),
        "{response}"
    );
    let response = raw_request(address, "GET /unavailable HTTP/1.1\r\n").await;
    assert!(response.starts_with("HTTP/1.1 503 "), "{response}");
    let response = raw_request(address, "GET /panic HTTP/1.1\r\n").await;
    assert_eq!(response, "", "no answer from a panicked handler");

    // A client that goes away while its request is being handled.
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream
        .write_all(b"GET /hang HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .expect("send the request");
    hang.recv().await.expect("the handler started");
    drop(stream);
    let closed = requests_total("GET", "/hang", "4xx");
    let text = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let text = scrape(&metrics).await;
            if sample(&text, &closed).is_some() {
                break text;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("hyper drops the request of a closed connection");

    assert_eq!(sample(&text, &closed), Some(1.0));
    for (route, status) in [
        ("/users/{id}", "2xx"),
        ("/unavailable", "5xx"),
        ("/panic", "5xx"),
    ] {
        assert_eq!(
            sample(&text, &requests_total("GET", route, status)),
            Some(1.0),
            "{route}\n{text}"
        );
    }
    assert_eq!(sample(&text, "http_requests_in_flight"), Some(0.0));

    let response = raw_request(
        address,
        "GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text\r\n",
    )
    .await;
    assert!(
        response.contains(&format!("content-type: {OPENMETRICS_CONTENT_TYPE}\r\n")),
        "{response}"
    );
    assert!(response.ends_with("# EOF\n"), "{response}");
    stop.notify_one();
    server
        .await
        .expect("the server task")
        .expect("the server shut down cleanly");
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
