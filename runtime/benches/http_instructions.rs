//! What `HttpMetricsLayer` adds to a request, in instructions: a figure that does not move with the load
//! other processes put on the machine, unlike the wall-clock times of `benches/http.rs`.
//!
//! The same in-process requests as `http.rs`'s `oneshot` group (the reference router with and without the
//! layer, `with_state(())` as `axum::serve` does, no tracing subscriber) are run under valgrind's callgrind,
//! each way twice with a different request count, so the difference divided by the extra requests is the
//! instructions of one request, without the program's start-up and shut-down. Instructions are not time
//! (a cache miss or an atomic costs more than an add) but they show where a change cuts or adds work,
//! repeatably; `callgrind_annotate` on the kept output files shows it per function.
//!
//! Run: `cargo bench -p slogen-runtime --bench http_instructions`. It prints, per way, the instructions
//! per request and what the layer adds, and leaves the callgrind files in a temporary directory it names
//! (with `-- --keep`). Without valgrind on PATH it says so and measures nothing. Under
//! `cargo test --benches` each way runs a few requests outside valgrind, to check it works.
//!
//! A single way runs with `http_instructions WAY COUNT`, which is what the bench starts under valgrind.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, LazyLock};

use axum::body::{Body, Bytes};
use axum::routing::get;
use axum::Router;
use http::{HeaderValue, Request};
use slogen_reference_service::metrics::Metrics;
use slogen_runtime::http::{HttpMetricsLayer, REQUEST_ID_HEADER};
use tower::layer::util::Identity;
use tower::ServiceExt;

/// The ways a request is served: the bare router; the router with a layer that does nothing (tower's
/// `Identity`), which is what axum's `Router::layer` itself costs per request (a clone of the boxed route
/// and a boxed future); the slogen layer with a `'static` recorder generating an ID, then keeping an
/// incoming one; the slogen layer holding its recorder by `Arc`.
const WAYS: [&str; 5] = [
    "floor",
    "identity_layer",
    "slogen",
    "slogen_incoming_id",
    "slogen_counted",
];

/// The request counts of the two runs of each way; their difference is what is divided.
const COUNTS: [u64; 2] = [2_000, 12_000];

fn router() -> Router {
    Router::new()
        .route("/v1/users/{id}", get(|| async { "user" }))
        .route("/health", get(|| async { "ok" }))
}

/// The ID `slogen_incoming_id` sends, shared as hyper shares a parsed header with its read buffer.
static INCOMING_ID: LazyLock<HeaderValue> = LazyLock::new(|| {
    HeaderValue::from_maybe_shared(Bytes::from_owner(*b"bench-request-0001")).expect("a valid ID")
});

/// Serves `count` requests the `way` way, in process, each through a fresh clone of the router.
fn serve(way: &str, count: u64) {
    let app = match way {
        "floor" => router().with_state(()),
        "identity_layer" => router().layer(Identity::new()).with_state(()),
        "slogen" | "slogen_incoming_id" => {
            let metrics: &'static Metrics = Box::leak(Box::new(Metrics::new()));
            router()
                .layer(HttpMetricsLayer::from_static(metrics))
                .with_state(())
        }
        "slogen_counted" => router()
            .layer(HttpMetricsLayer::new(Arc::new(Metrics::new())))
            .with_state(()),
        other => panic!("unknown way {other:?}: one of {WAYS:?}"),
    };
    let incoming_id = way == "slogen_incoming_id";
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        for _ in 0..count {
            let mut request = Request::get("/v1/users/42");
            if incoming_id {
                request = request.header(REQUEST_ID_HEADER, INCOMING_ID.clone());
            }
            let request = request.body(Body::empty()).expect("a valid request");
            let response = app.clone().oneshot(request).await.expect("infallible");
            assert!(response.status().is_success());
        }
    });
}

/// The instructions callgrind counted running this program for `way` and `count` requests.
fn instructions(dir: &Path, way: &str, count: u64) -> u64 {
    let out = dir.join(format!("callgrind.{way}.{count}"));
    let status = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg("--quiet")
        .arg(std::env::current_exe().expect("the bench's own path"))
        .args([way, &count.to_string()])
        .status()
        .expect("run valgrind");
    assert!(status.success(), "callgrind on {way} {count}: {status}");
    let text = std::fs::read_to_string(&out).expect("read the callgrind output");
    text.lines()
        .find_map(|line| line.strip_prefix("summary: "))
        .or_else(|| text.lines().find_map(|line| line.strip_prefix("totals: ")))
        .and_then(|total| total.split_whitespace().next()?.parse().ok())
        .expect("callgrind's total instruction count")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [way, count] = args.as_slice() {
        if !way.starts_with('-') {
            serve(way, count.parse().expect("a request count"));
            return;
        }
    }
    let flag = |name: &str| args.iter().any(|arg| arg == name);
    if !flag("--bench") || flag("--test") {
        for way in WAYS {
            serve(way, 3);
        }
        println!("http_instructions: each way served (test run, nothing measured)");
        return;
    }
    if Command::new("valgrind").arg("--version").output().is_err() {
        println!("http_instructions: valgrind is not on PATH (apt-get install valgrind); nothing measured");
        return;
    }
    let dir = tempfile::tempdir().expect("a scratch directory");
    let extra = COUNTS[1] - COUNTS[0];
    let mut floor = 0.0;
    for way in WAYS {
        let [low, high] = COUNTS.map(|count| instructions(dir.path(), way, count));
        let per_request = high.saturating_sub(low) as f64 / extra as f64;
        if way == "floor" {
            floor = per_request;
            println!("http_instructions {way}: {per_request:.0} instructions/request");
        } else {
            println!(
                "http_instructions {way}: {per_request:.0} instructions/request, added {:.0}",
                per_request - floor
            );
        }
    }
    if flag("--keep") {
        let kept = dir.keep();
        println!("callgrind files kept in {}", kept.display());
    }
}
