//! A server process for tests (Prometheus, Alertmanager, VictoriaMetrics, vmalert): on a free loopback port,
//! with its own temporary directory and log, killed and reaped when its handle is dropped (a failing test
//! included), so no test leaves one behind. Its HTTP API is spoken over a plain `std` socket (HTTP/1.0, so
//! the answer is neither chunked nor kept alive); calls block, so async tests wrap them in
//! `tokio::task::block_in_place`.
//!
//! Include it with `#[path = "support/server.rs"] mod server;` (the reference service's tests with
//! `"../../../runtime/tests/support/server.rs"`); `prometheus.rs` and the reference service's `servers.rs`
//! build on it.

// Each test binary compiles its own copy and uses only part of it.
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a server may take to answer its readiness check before the test fails.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one HTTP call may take; the servers answer local queries in milliseconds.
const API_TIMEOUT: Duration = Duration::from_secs(10);

/// A server process, killed and reaped on drop.
pub struct Server {
    name: &'static str,
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Server {
    /// Runs `program` with `args(port, dir)` on a free port until `GET ready` answers 200; another free port
    /// when the one probed was taken meanwhile.
    pub fn start(
        name: &'static str,
        program: &str,
        package: &str,
        args: impl Fn(u16, &Path) -> Vec<String>,
        ready: &str,
    ) -> Server {
        let dir = tempfile::tempdir().expect("create a server directory");
        let log_path = dir.path().join(format!("{name}.log"));
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("find a free port")
                .port();
            let log = File::create(&log_path).expect("create the log");
            let mut child = Command::new(program)
                .args(args(port, dir.path()))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("share the log"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|error| match error.kind() {
                    ErrorKind::NotFound => panic!(
                        "{program} is not on PATH: install Debian's `{package}` package \
                         (apt-get install {package})"
                    ),
                    _ => panic!("cannot start {program}: {error}"),
                });
            match wait_ready(&mut child, port, ready) {
                Ok(()) => {
                    return Server {
                        name,
                        child,
                        port,
                        dir,
                    }
                }
                Err(reason) => {
                    // Already exited is fine: it is gone either way.
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = fs::read_to_string(&log_path).unwrap_or_default();
                    if !log.contains("address already in use") {
                        panic!("{name} did not start: {reason}\n{log}");
                    }
                }
            }
        }
        panic!("{name} found no free port in 5 attempts");
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address())
    }

    /// The process ID, so a test can check the process is gone after drop.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// GETs `path` (its query already encoded, see [`percent_encode`]) as JSON; `None` while the server
    /// is not answering or answers an error. Blocking: async tests wrap it in `block_in_place`.
    pub fn get_json(&self, path: &str) -> Option<serde_json::Value> {
        let (status, body) = http_get(self.port, path)?;
        (status == 200).then(|| serde_json::from_str(&body).ok())?
    }

    /// Its log so far, for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join(format!("{}.log", self.name))).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Already exited is fine: it is gone either way.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `GET path` until it answers 200, the process exits, or [`STARTUP_TIMEOUT`] passes.
fn wait_ready(child: &mut Child, port: u16, path: &str) -> Result<(), String> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        // Checked after the probe, so an answer from another server that won the port is not taken for
        // this one's.
        let ready = http_get(port, path).is_some_and(|(status, _)| status == 200);
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

/// GETs `path` over HTTP/1.0 (no chunking, the answer ends when the connection closes): status and body.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(API_TIMEOUT)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
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
