//! Real monitoring servers for the end-to-end tests: Alertmanager, single-node VictoriaMetrics and vmalert,
//! each on a free loopback port with its own temporary directory and log, killed and reaped when its handle
//! is dropped (a failing test included), so no test leaves one behind.
//!
//! Include it with `#[path = "support/servers.rs"] mod servers;`.

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
    fn start(
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
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
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

/// A real Alertmanager (Debian's `prometheus-alertmanager`) with `config` as its `alertmanager.yml`, its own
/// data directory, and clustering off (`--cluster.listen-address=` empty), so it neither gossips nor waits
/// for peers before it notifies.
pub fn alertmanager(config: &str) -> Server {
    Server::start(
        "alertmanager",
        "prometheus-alertmanager",
        "prometheus-alertmanager",
        |port, dir| {
            let file = dir.join("alertmanager.yml");
            fs::write(&file, config).expect("write alertmanager.yml");
            vec![
                format!("--config.file={}", file.display()),
                format!("--storage.path={}", dir.join("data").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
                "--cluster.listen-address=".to_owned(),
            ]
        },
        "/-/ready",
    )
}

/// A real single-node VictoriaMetrics (Debian's `victoria-metrics`) scraping `target`'s `/metrics` as job
/// `job` every second. Queries see a sample as soon as it is stored (`-search.latencyOffset=0s`; the
/// default 30 s hides the newest samples, which would delay every alert by as much).
pub fn victoria_metrics(job: &str, target: SocketAddr) -> Server {
    let scrape = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: {job}\n    \
         static_configs:\n      - targets: ['{target}']\n"
    );
    Server::start(
        "victoria-metrics",
        "victoria-metrics",
        "victoria-metrics",
        |port, dir| {
            let file = dir.join("scrape.yml");
            fs::write(&file, &scrape).expect("write the scrape config");
            vec![
                format!("-storageDataPath={}", dir.join("data").display()),
                format!("-httpListenAddr=127.0.0.1:{port}"),
                format!("-promscrape.config={}", file.display()),
                "-search.latencyOffset=0s".to_owned(),
                "-retentionPeriod=1d".to_owned(),
            ]
        },
        "/health",
    )
}

/// A real vmalert evaluating `rules` every second against `datasource` (VictoriaMetrics), writing recorded
/// series back to it (flushed every 500 ms, so the alerts that read them see them within about a second)
/// and sending alerts to the Alertmanager `notifier`.
pub fn vmalert(rules: &Path, datasource: &Server, notifier: &Server) -> Server {
    let rules = rules.to_owned();
    let (datasource, notifier) = (datasource.url(""), notifier.url(""));
    Server::start(
        "vmalert",
        "vmalert",
        "victoria-metrics",
        |port, _| {
            vec![
                format!("-rule={}", rules.display()),
                format!("-datasource.url={datasource}"),
                format!("-remoteWrite.url={datasource}"),
                "-remoteWrite.flushInterval=500ms".to_owned(),
                format!("-notifier.url={notifier}"),
                "-evaluationInterval=1s".to_owned(),
                format!("-httpListenAddr=127.0.0.1:{port}"),
            ]
        },
        "/health",
    )
}
