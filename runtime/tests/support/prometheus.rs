//! A real `prometheus` for tests: one scrape job on a loopback target, optional rule files, a temporary
//! data directory, a free loopback port; killed and reaped when the handle is dropped, panics included.
//!
//! It scrapes and evaluates every second, so a test sees a change within seconds. The HTTP API is spoken over
//! a plain `std` socket (HTTP/1.0, so the answer is neither chunked nor kept alive); calls block, so async
//! tests wrap them in `tokio::task::block_in_place`.
//!
//! Include it with `#[path = "support/prometheus.rs"] mod prometheus_server;` (not `prometheus`, the
//! name of a dev-dependency).

// Each test binary compiles its own copy and uses only part of it.
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tempfile::TempDir;

/// How long Prometheus may take to answer `/-/ready` before the test fails.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one API call may take; Prometheus answers local queries in milliseconds.
const API_TIMEOUT: Duration = Duration::from_secs(10);

/// The real `prometheus` binary, killed on drop.
pub struct Prometheus {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `target`'s `/metrics` as job `job` every second, evaluating `rules`
    /// (copied into its directory) every second, and waits until it is ready.
    pub fn start(job: &str, target: SocketAddr, rules: &[&Path]) -> Self {
        Self::start_alerting(job, target, rules, None)
    }

    /// [`Prometheus::start`], sending its alerts to the Alertmanager at `alertmanager` when given.
    pub fn start_alerting(
        job: &str,
        target: SocketAddr,
        rules: &[&Path],
        alertmanager: Option<SocketAddr>,
    ) -> Self {
        let dir = tempfile::tempdir().expect("create Prometheus' directory");
        let mut rule_files = Vec::new();
        for (n, rules) in rules.iter().enumerate() {
            let copy = dir.path().join(format!("rules-{n}.yml"));
            fs::copy(rules, &copy)
                .unwrap_or_else(|error| panic!("copy {}: {error}", rules.display()));
            rule_files.push(copy);
        }
        let config = dir.path().join("prometheus.yml");
        fs::write(&config, config_text(job, target, &rule_files, alertmanager))
            .expect("write prometheus.yml");
        let log_path = dir.path().join("prometheus.log");
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("find a free port")
                .port();
            let mut child = launch(&config, dir.path(), port);
            match wait_ready(&mut child, port) {
                Ok(()) => return Prometheus { child, port, dir },
                Err(reason) => {
                    // Already exited is fine: it is gone either way.
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = fs::read_to_string(&log_path).unwrap_or_default();
                    // Another process may take the port between the probe and the bind: try another.
                    if !log.contains("address already in use") {
                        panic!("prometheus did not start: {reason}\n{log}");
                    }
                }
            }
        }
        panic!("prometheus found no free port in 5 attempts");
    }

    /// The process ID, so a test can check that the process is gone after drop.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// GETs `path` from the HTTP API; `None` while Prometheus is not answering or answers an error.
    pub fn api(&self, path: &str) -> Option<Value> {
        let (status, body) = http_get(self.port, path)?;
        (status == 200).then(|| serde_json::from_str(&body).ok())?
    }

    /// The result vector of an instant query evaluated now.
    pub fn query(&self, query: &str) -> Option<Vec<Value>> {
        let value = self.api(&format!("/api/v1/query?query={}", percent_encode(query)))?;
        value["data"]["result"].as_array().cloned()
    }

    /// The result matrix of a range query from `start` to `end` every `step`.
    pub fn query_range(
        &self,
        query: &str,
        start: SystemTime,
        end: SystemTime,
        step: Duration,
    ) -> Option<Vec<Value>> {
        let value = self.api(&format!(
            "/api/v1/query_range?query={}&start={}&end={}&step={}",
            percent_encode(query),
            unix_seconds(start),
            unix_seconds(end),
            step.as_secs_f64()
        ))?;
        value["data"]["result"].as_array().cloned()
    }

    /// The series matching the selector `selector` that have a sample since `since`.
    pub fn series(&self, selector: &str, since: SystemTime) -> Option<Vec<Value>> {
        let value = self.api(&format!(
            "/api/v1/series?match%5B%5D={}&start={}",
            percent_encode(selector),
            unix_seconds(since)
        ))?;
        value["data"].as_array().cloned()
    }

    /// Prometheus' log so far, for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        // Already exited is fine: it is gone either way.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `/-/ready` until it answers 200, the process exits, or [`STARTUP_TIMEOUT`] passes.
fn wait_ready(child: &mut Child, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        // Checked after the probe, so an answer from another server that won the port is not taken for
        // this one's.
        let ready = http_get(port, "/-/ready").is_some_and(|(status, _)| status == 200);
        match child.try_wait() {
            Ok(Some(status)) => return Err(format!("exited with {status}")),
            Ok(None) => {}
            Err(error) => return Err(format!("cannot poll the process: {error}")),
        }
        if ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("not ready after {STARTUP_TIMEOUT:?}"));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// GETs `path` (its query string already encoded) from the server on `port`: the status and the body,
/// `None` when the exchange failed.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(API_TIMEOUT)).ok()?;
    // HTTP/1.0: the response is not chunked and ends when the connection closes.
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// `prometheus.yml`: one job scraping `target` every second, rules evaluated every second, alerts sent to
/// `alertmanager` if any.
fn config_text(
    job: &str,
    target: SocketAddr,
    rule_files: &[PathBuf],
    alertmanager: Option<SocketAddr>,
) -> String {
    let mut text =
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
            .to_owned();
    if !rule_files.is_empty() {
        text.push_str("rule_files:\n");
        for file in rule_files {
            text.push_str(&format!("  - '{}'\n", file.display()));
        }
    }
    if let Some(alertmanager) = alertmanager {
        text.push_str(&format!(
            "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{alertmanager}']\n"
        ));
    }
    text.push_str(&format!(
        "scrape_configs:\n  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
    ));
    text
}

/// Spawns `prometheus` with its output in `dir/prometheus.log`.
fn launch(config: &Path, dir: &Path, port: u16) -> Child {
    let log = File::create(dir.join("prometheus.log")).expect("create the log");
    Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("share the log"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|error| match error.kind() {
            io::ErrorKind::NotFound => panic!(
                "prometheus is not on PATH: install Debian's `prometheus` package \
                 (apt-get install prometheus), which provides /usr/bin/prometheus"
            ),
            _ => panic!("cannot start prometheus: {error}"),
        })
}

/// Seconds since the epoch with millisecond precision, as the API takes times.
fn unix_seconds(time: SystemTime) -> String {
    let since = time
        .duration_since(UNIX_EPOCH)
        .expect("a time after the epoch");
    format!("{}.{:03}", since.as_secs(), since.subsec_millis())
}

/// Percent-encodes everything but unreserved characters, for a query string.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
