//! The HTTP layer on a real axum router recording into the generator's example module: request IDs,
//! route labels, failures, and a real TCP connection, checked by scraping `/metrics`.

// The generator's exact output (a test in the generator keeps it current).
#[path = "contract/example_metrics.rs"]
mod example_metrics;
#[path = "support/http_app.rs"]
mod http_app;
mod support;

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use axum::routing::get;
use axum::Router;
use example_metrics::{HttpRequestsLabels, Method, Metrics, Status};
use http_app::{
    body_text, default_app, get_request, requests_total, sample, scrape, series_count, static_app,
    AppBuilder, Recorder,
};
use slogen_runtime::http::{current_request_id, HttpMetricsLayer, RequestId, REQUEST_ID_HEADER};
use slogen_runtime::OPENMETRICS_CONTENT_TYPE;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::Notify;
use tower::{Layer as _, Service as _, ServiceExt as _};
use tracing_subscriber::fmt::format::FmtSpan;

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
