//! What `HttpMetricsLayer` adds to a request: the same small axum router with and without the layer,
//! recording into the reference backend's generated metrics, driven two ways.
//!
//! - **In process** (no sockets): `floor` is the bare router; `slogen` is the router with the layer given
//!   the metrics as a `'static` recorder (`HttpMetricsLayer::from_static`, as a service whose metrics live
//!   as long as the process does), for a request without an `X-Request-ID` (the layer generates one);
//!   `slogen_incoming_id` sends a valid ID the layer keeps; `slogen_counted` is the layer holding the
//!   metrics by `Arc` (`HttpMetricsLayer::new`); `floor_identity_layer` is a layer doing nothing (tower's
//!   `Identity`), which is what axum's `Router::layer` costs whatever the layer; `axum_prometheus` is the
//!   peer layer of that crate (count, latency and pending requests through the `metrics` crate, no request
//!   ID). One group builds a service per request with `oneshot`, as a server does per connection;
//!   the other reuses a cloned service with `ready` + `call`. Both routers get `with_state(())` first, as
//!   `axum::serve` does: without it axum turns every handler into a route again on each request, and applies
//!   the layer to it each time, which no server pays.
//! - **Loopback**: each router served by `axum::serve` on `127.0.0.1:0`, driven by [`CONNECTIONS`] client
//!   tasks, each sending requests back-to-back on one persistent HTTP/1.1 keep-alive connection (a minimal
//!   raw client, so the client costs as little as possible next to the server). A benchmark iteration is
//!   one request, so criterion's time per iteration is the inverse of the throughput.
//!
//! No tracing subscriber is installed, so the layer creates no span: a service logging at `info` pays for
//! its span on top, which is the subscriber's cost rather than the layer's.
//!
//! After criterion, the bench prints four summary lines from its own alternating rounds (each round runs the
//! floor and the layer back to back, so a burst of load from elsewhere hits both; at most 11 rounds or 10 s
//! per way with `--quick`, 31 rounds or 30 s without): the floor's and the layer's time per request in
//! process (with the `'static` recorder, for the layer doing nothing, with the `Arc` recorder), and their
//! throughputs over loopback, each with the median added nanoseconds per request and the
//! median throughput ratio with its quartiles. Under `cargo test --benches` everything runs once, briefly,
//! to check it works; the numbers are then meaningless.
//!
//! Run: `cargo bench -p slogen-runtime --bench http` (add `-- --quick` for a shorter run), then
//! `python3 scripts/bench-summary.py --filter http_request`; the `added ns` column is the layer's cost per
//! request and `floor/impl` the throughput ratio.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::routing::get;
use axum::Router;
use criterion::Criterion;
use http::{HeaderValue, Request};
use slogen_reference_service::metrics::{HttpRequestsLabels, Method, Metrics, Status};
use slogen_runtime::http::{HttpMetricsLayer, REQUEST_ID_HEADER};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::oneshot as channel;
use tokio::task::JoinHandle;
use tower::layer::util::Identity;
use tower::{Service, ServiceExt};

/// The route every benchmarked request matches.
const ROUTE: &str = "/v1/users/{id}";

/// The request every loopback client sends, for [`ROUTE`].
const LOOPBACK_REQUEST: &[u8] = b"GET /v1/users/42 HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n";

/// Client connections, each with one request in flight: enough to keep both cores of a small machine busy
/// with server work.
const CONNECTIONS: usize = 4;

fn router() -> Router {
    Router::new()
        .route(ROUTE, get(|| async { "user" }))
        .route("/health", get(|| async { "ok" }))
}

fn bare() -> Router {
    router().with_state(())
}

/// The router with the layer as a service whose metrics live as long as the process uses it
/// ([`HttpMetricsLayer::from_static`], the metrics leaked once).
fn instrumented(metrics: &Arc<Metrics>) -> Router {
    let recorder: &'static Arc<Metrics> = Box::leak(Box::new(Arc::clone(metrics)));
    router()
        .layer(HttpMetricsLayer::from_static(recorder))
        .with_state(())
}

/// The router with a layer that does nothing (tower's `Identity`): what axum's `Router::layer` itself
/// costs per request, whatever the layer (a clone of the boxed route and a boxed future).
fn identity_layered() -> Router {
    router().layer(Identity::new()).with_state(())
}

/// The router with the peer layer, axum-prometheus: request count, latency and pending requests by method,
/// matched path and status, recorded through the `metrics` crate into its Prometheus recorder (installed
/// globally, once per process). It sets no request ID.
fn peer_axum_prometheus() -> Router {
    let (layer, _handle) = axum_prometheus::PrometheusMetricLayer::pair();
    router().layer(layer).with_state(())
}

/// The router with the layer holding its recorder by `Arc` ([`HttpMetricsLayer::new`]).
fn instrumented_counted(metrics: &Arc<Metrics>) -> Router {
    router()
        .layer(HttpMetricsLayer::new(Arc::clone(metrics)))
        .with_state(())
}

/// The ID `slogen_incoming_id` sends, shared the way hyper shares a parsed header with its read buffer:
/// putting it in a request costs a reference count, not a copy.
static INCOMING_ID: LazyLock<HeaderValue> = LazyLock::new(|| {
    HeaderValue::from_maybe_shared(Bytes::from_owner(*b"bench-request-0001")).expect("a valid ID")
});

fn request(incoming_id: bool) -> Request<Body> {
    let builder = Request::get("/v1/users/42");
    let builder = if incoming_id {
        builder.header(REQUEST_ID_HEADER, INCOMING_ID.clone())
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
fn oneshot(runtime: &Runtime, app: &Router, incoming_id: bool, iters: u64) -> Duration {
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
fn ready_call(runtime: &Runtime, app: &Router, incoming_id: bool, iters: u64) -> Duration {
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

type Driver = fn(&Runtime, &Router, bool, u64) -> Duration;

/// One keep-alive HTTP/1.1 client connection.
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    async fn open(address: SocketAddr) -> Self {
        let stream = TcpStream::connect(address).await.expect("connect");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        Connection {
            stream,
            buffer: Vec::with_capacity(1024),
        }
    }

    /// Sends [`LOOPBACK_REQUEST`] and reads the whole response; returns its status and head.
    async fn request(&mut self) -> (u16, &[u8]) {
        self.stream
            .write_all(LOOPBACK_REQUEST)
            .await
            .expect("send a request");
        self.buffer.clear();
        let mut length = None;
        loop {
            if let Some((head, body)) = length {
                if self.buffer.len() >= head + body {
                    assert_eq!(self.buffer.len(), head + body, "one response per request");
                    break;
                }
            }
            let mut chunk = [0; 1024];
            let read = self.stream.read(&mut chunk).await.expect("read a response");
            assert!(read > 0, "the server closed the connection");
            self.buffer.extend_from_slice(&chunk[..read]);
            if length.is_none() {
                length = response_length(&self.buffer);
            }
        }
        let head = &self.buffer[..length.expect("a complete response").0];
        let status = std::str::from_utf8(&head[9..12])
            .expect("an ASCII status")
            .parse()
            .expect("a numeric status");
        (status, head)
    }

    /// Sends `count` requests back-to-back, each answered 200.
    async fn run(mut self, count: u64) -> Self {
        for _ in 0..count {
            let (status, _) = self.request().await;
            assert_eq!(status, 200);
        }
        self
    }
}

/// The length of a response's head (through the blank line) and of its body, once the head has arrived.
fn response_length(buffer: &[u8]) -> Option<(usize, usize)> {
    let head = buffer.windows(4).position(|window| window == b"\r\n\r\n")? + 4;
    let body = std::str::from_utf8(&buffer[..head])
        .expect("an ASCII head")
        .split("\r\n")
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().expect("a numeric content-length"))
        })
        .expect("a content-length");
    Some((head, body))
}

/// A router served on a loopback port, with its client connections.
struct Server {
    connections: Vec<Connection>,
    requests: u64,
    shutdown: channel::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Serves `app` and opens the client connections, checking each gets an answer (with an
    /// `X-Request-ID` when `instrumented`).
    fn start(runtime: &Runtime, app: Router, instrumented: bool) -> Self {
        runtime.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let address = listener.local_addr().expect("a local address");
            let (shutdown, stop) = channel::channel::<()>();
            let task = tokio::spawn(async move {
                axum::serve(listener, app.into_make_service())
                    .with_graceful_shutdown(async move {
                        // Dropping the sender stops the server as well.
                        let _ = stop.await;
                    })
                    .await
            });
            let mut connections = Vec::with_capacity(CONNECTIONS);
            for _ in 0..CONNECTIONS {
                let mut connection = Connection::open(address).await;
                let (status, head) = connection.request().await;
                assert_eq!(status, 200);
                let head = String::from_utf8_lossy(head).to_ascii_lowercase();
                assert_eq!(head.contains("\r\nx-request-id: "), instrumented, "{head}");
                connections.push(connection);
            }
            Server {
                connections,
                requests: CONNECTIONS as u64,
                shutdown,
                task,
            }
        })
    }

    /// Sends `count` requests spread over the connections, all at once; the time until the last answer.
    fn drive(&mut self, runtime: &Runtime, count: u64) -> Duration {
        let connections = self.connections.len() as u64;
        self.requests += count;
        runtime.block_on(async {
            let start = Instant::now();
            let tasks: Vec<_> = self
                .connections
                .drain(..)
                .enumerate()
                .map(|(index, connection)| {
                    let share =
                        count / connections + u64::from((index as u64) < count % connections);
                    tokio::spawn(connection.run(share))
                })
                .collect();
            for task in tasks {
                self.connections
                    .push(task.await.expect("the client task finished"));
            }
            start.elapsed()
        })
    }

    /// Closes the connections and waits for the server to stop; returns how many requests it answered.
    fn stop(self, runtime: &Runtime) -> u64 {
        drop(self.connections);
        let _ = self.shutdown.send(());
        runtime
            .block_on(self.task)
            .expect("the server task finished")
            .expect("the server ran");
        self.requests
    }
}

/// How long the summary phase runs and how much each round does.
struct Budget {
    rounds: usize,
    time: Duration,
    in_process: u64,
    loopback: u64,
}

/// The floor and the layer measured in alternating rounds: each round runs both back to back (in turn
/// first), so a burst of load from elsewhere hits both sides of a pair alike, and every figure is a median
/// over the rounds.
struct Comparison {
    rounds: usize,
    floor_ns: f64,
    slogen_ns: f64,
    /// The layer's cost per request: the median of each round's difference.
    added_ns: f64,
    /// Floor time over layer time, i.e. the layer's throughput relative to the floor: the median and the
    /// quartiles of each round's ratio.
    ratio: [f64; 3],
}

/// The median and the quartiles of `values`.
fn quartiles(mut values: Vec<f64>) -> [f64; 3] {
    values.sort_by(f64::total_cmp);
    let at = |quarter: usize| values[(values.len() - 1) * quarter / 4];
    [at(2), at(1), at(3)]
}

/// Runs rounds of `count` requests through the floor (`run(false, ..)`) and the layer (`run(true, ..)`)
/// until the budget's rounds or time run out, whichever comes first.
fn alternate(
    budget: &Budget,
    count: u64,
    mut run: impl FnMut(bool, u64) -> Duration,
) -> Comparison {
    let mut rounds: Vec<(f64, f64)> = Vec::new();
    let start = Instant::now();
    while rounds.len() < budget.rounds && (rounds.is_empty() || start.elapsed() < budget.time) {
        let mut per_request = |layer| run(layer, count).as_nanos() as f64 / count as f64;
        rounds.push(if rounds.len().is_multiple_of(2) {
            let floor = per_request(false);
            (floor, per_request(true))
        } else {
            let slogen = per_request(true);
            (per_request(false), slogen)
        });
    }
    let median = |value: fn(&(f64, f64)) -> f64| quartiles(rounds.iter().map(value).collect())[0];
    Comparison {
        rounds: rounds.len(),
        floor_ns: median(|round| round.0),
        slogen_ns: median(|round| round.1),
        added_ns: median(|round| round.1 - round.0),
        ratio: quartiles(rounds.iter().map(|round| round.0 / round.1).collect()),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().any(|arg| arg == name);
    let measuring = flag("--bench") && !flag("--test");
    let budget = if !measuring {
        Budget {
            rounds: 1,
            time: Duration::ZERO,
            in_process: 100,
            loopback: 100,
        }
    } else if flag("--quick") {
        Budget {
            rounds: 11,
            time: Duration::from_secs(10),
            in_process: 50_000,
            loopback: 10_000,
        }
    } else {
        Budget {
            rounds: 31,
            time: Duration::from_secs(30),
            in_process: 100_000,
            loopback: 20_000,
        }
    };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let network = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let metrics = Arc::new(Metrics::new());
    let floor = bare();
    let layered = instrumented(&metrics);
    let counted = instrumented_counted(&metrics);
    let identity = identity_layered();
    // axum-prometheus spawns its recorder's upkeep task (every few seconds) when it is created.
    let axum_prometheus = {
        let _runtime = network.enter();
        peer_axum_prometheus()
    };

    // The layer must really record, or the comparison would measure nothing.
    oneshot(&runtime, &layered, false, 1);
    ready_call(&runtime, &layered, true, 1);
    oneshot(&runtime, &counted, false, 1);
    assert_eq!(
        served(&metrics),
        3,
        "each instrumented request is counted once"
    );
    assert_eq!(metrics.http_requests_in_flight.get(), 0);

    let loopback_metrics = Arc::new(Metrics::new());
    let mut floor_server = Server::start(&network, bare(), false);
    let mut slogen_server = Server::start(&network, instrumented(&loopback_metrics), true);

    let mut c = Criterion::default().configure_from_args();
    let drivers: [(&str, Driver); 2] = [
        ("http_request_oneshot", oneshot),
        ("http_request_ready_call", ready_call),
    ];
    for (name, drive) in drivers {
        let mut group = c.benchmark_group(name);
        group.bench_function("floor", |b| {
            b.iter_custom(|iters| drive(&runtime, &floor, false, iters))
        });
        group.bench_function("floor_identity_layer", |b| {
            b.iter_custom(|iters| drive(&runtime, &identity, false, iters))
        });
        group.bench_function("slogen", |b| {
            b.iter_custom(|iters| drive(&runtime, &layered, false, iters))
        });
        group.bench_function("slogen_incoming_id", |b| {
            b.iter_custom(|iters| drive(&runtime, &layered, true, iters))
        });
        group.bench_function("slogen_counted", |b| {
            b.iter_custom(|iters| drive(&runtime, &counted, false, iters))
        });
        group.bench_function("axum_prometheus", |b| {
            b.iter_custom(|iters| drive(&runtime, &axum_prometheus, false, iters))
        });
        group.finish();
    }
    let mut group = c.benchmark_group("http_request_loopback");
    group.bench_function("floor", |b| {
        b.iter_custom(|iters| floor_server.drive(&network, iters))
    });
    group.bench_function("slogen", |b| {
        b.iter_custom(|iters| slogen_server.drive(&network, iters))
    });
    group.finish();
    c.final_summary();

    // Under `--list` or `--profile-time` criterion measured nothing, and neither does the summary.
    if flag("--list") || flag("--profile-time") {
        return;
    }
    let in_process = alternate(&budget, budget.in_process, |layer, count| {
        oneshot(
            &runtime,
            if layer { &layered } else { &floor },
            false,
            count,
        )
    });
    let in_process_identity = alternate(&budget, budget.in_process, |layer, count| {
        oneshot(
            &runtime,
            if layer { &identity } else { &floor },
            false,
            count,
        )
    });
    let in_process_counted = alternate(&budget, budget.in_process, |layer, count| {
        oneshot(
            &runtime,
            if layer { &counted } else { &floor },
            false,
            count,
        )
    });
    let loopback = alternate(&budget, budget.loopback, |layer, count| {
        let server = if layer {
            &mut slogen_server
        } else {
            &mut floor_server
        };
        server.drive(&network, count)
    });
    floor_server.stop(&network);
    let sent = slogen_server.stop(&network);
    assert_eq!(
        served(&loopback_metrics),
        sent,
        "every loopback request through the layer is counted once"
    );
    assert_eq!(loopback_metrics.http_requests_in_flight.get(), 0);

    let note = if measuring {
        ""
    } else {
        " (test run, not a measurement)"
    };
    let [ratio, low, high] = in_process.ratio;
    println!(
        "summary in-process (oneshot, generated ID, {} rounds): floor {:.0} ns/request, slogen {:.0} \
         ns/request, added {:.0} ns/request, throughput ratio {ratio:.3} (quartiles {low:.3}-{high:.3})\
         {note}",
        in_process.rounds, in_process.floor_ns, in_process.slogen_ns, in_process.added_ns,
    );
    println!(
        "summary in-process, a layer doing nothing (tower's Identity; {} rounds): floor {:.0} ns/request, \
         identity layer {:.0} ns/request, added {:.0} ns/request{note}",
        in_process_identity.rounds,
        in_process_identity.floor_ns,
        in_process_identity.slogen_ns,
        in_process_identity.added_ns,
    );
    let [ratio, low, high] = in_process_counted.ratio;
    println!(
        "summary in-process with an Arc recorder (HttpMetricsLayer::new; oneshot, generated ID, {} rounds): \
         floor {:.0} ns/request, slogen {:.0} ns/request, added {:.0} ns/request, throughput ratio {ratio:.3} \
         (quartiles {low:.3}-{high:.3}){note}",
        in_process_counted.rounds,
        in_process_counted.floor_ns,
        in_process_counted.slogen_ns,
        in_process_counted.added_ns,
    );
    let [ratio, low, high] = loopback.ratio;
    println!(
        "summary loopback ({CONNECTIONS} keep-alive HTTP/1.1 connections, {} rounds): floor {:.0} \
         requests/s, slogen {:.0} requests/s, added {:.0} ns/request, throughput ratio {ratio:.3} (quartiles \
         {low:.3}-{high:.3}){note}",
        loopback.rounds,
        1e9 / loopback.floor_ns,
        1e9 / loopback.slogen_ns,
        loopback.added_ns,
    );
}
