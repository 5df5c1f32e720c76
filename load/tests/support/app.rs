//! The small axum app the `slogen-load` tests drive, and the helpers that run the binary and build configs.
//!
//! Include it with `#[path = "support/app.rs"] mod app;`.

#![allow(dead_code)]

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
use slogen_load::LoadConfig;
use tokio::time::Instant;

/// The stalling route freezes every request for this long, starting with its `STALL_AT`th request.
pub const STALL: Duration = Duration::from_secs(1);
pub const STALL_AT: u64 = 50;

#[derive(Clone, Default)]
pub struct App {
    pub fast_requests: Arc<AtomicU64>,
    pub stall_requests: Arc<AtomicU64>,
    pub stall_until: Arc<Mutex<Option<Instant>>>,
}

pub async fn fast(State(app): State<App>) -> &'static str {
    app.fast_requests.fetch_add(1, Ordering::SeqCst);
    "ok"
}

pub async fn slow(UrlPath(ms): UrlPath<u64>) -> &'static str {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    "ok"
}

pub async fn fail() -> StatusCode {
    StatusCode::INTERNAL_SERVER_ERROR
}

/// Answers at once, except that from its `STALL_AT`th request on the whole route freezes for `STALL`, like a
/// server in a long GC pause: every request that arrives meanwhile waits until the stall ends.
pub async fn stall(State(app): State<App>) -> &'static str {
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

pub async fn serve() -> (SocketAddr, App) {
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

pub fn slos_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../slos")
}

/// Runs the binary off the async workers, so the server in this runtime keeps answering.
pub async fn cli(args: &[&str]) -> Output {
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

/// Runs the binary against the server at `addr` with the reference `slos/`, then `args`.
pub async fn cli_against(addr: SocketAddr, args: &[&str]) -> Output {
    let base = format!("http://{addr}");
    let slos = slos_dir();
    let mut all = vec!["--base-url", &base, "--slos", slos.to_str().unwrap()];
    all.extend_from_slice(args);
    cli(&all).await
}

pub fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

pub fn config(addr: SocketAddr, endpoints: &[&str], rate: u32, duration: Duration) -> LoadConfig {
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
