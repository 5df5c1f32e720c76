//! Real Redis and PostgreSQL servers for tests, each on a free loopback port in its own temporary
//! directory, stopped and removed when the handle is dropped.
//!
//! `REDIS_URL` / `DATABASE_URL`, when set, point the tests at an existing server instead; tests then share
//! it, so they name their keys and tables with [`unique_name`]. A missing binary is a test failure with
//! an install hint, never a skip: a test that silently does not run proves nothing.
//!
//! Include it with `#[path = "support/services.rs"] mod services;`.

// Each test binary compiles its own copy and uses only part of it.
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a server may take to start answering before the test fails.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// How long PostgreSQL may take to shut down cleanly before it is killed.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(15);

/// A name no other test (in this process or another) uses: `{prefix}_{pid}_{n}`, lower case, valid as
/// a Redis key and as an unquoted SQL identifier.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{}_{n}", std::process::id())
}

/// A port nothing listens on right now. Another process may take it before the server binds it; the
/// servers below retry with a new port when that happens.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("bind a free loopback port")
        .port()
}

/// Blocks until `ready()` or `child` exits or [`STARTUP_TIMEOUT`] passes; `Err` carries the reason.
fn wait_until(child: &mut Child, mut ready: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        // Checked after `ready()`, so an answer from another server that won the port is not taken for
        // this one's.
        let ready = ready();
        if let Some(status) = child.try_wait().expect("poll the server process") {
            return Err(format!("exited with {status}"));
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

fn read_log(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|error| format!("(no log: {error})"))
}

/// A Redis server for one test.
#[derive(Debug)]
pub struct RedisServer {
    url: String,
    /// `None` when the server is `REDIS_URL`'s, which the tests do not control.
    own: Option<OwnRedis>,
}

#[derive(Debug)]
struct OwnRedis {
    port: u16,
    dir: TempDir,
    process: Option<Child>,
}

impl RedisServer {
    /// `REDIS_URL`'s server when the variable is set, else a fresh one.
    pub fn start() -> Self {
        match std::env::var("REDIS_URL") {
            Ok(url) if !url.is_empty() => Self { url, own: None },
            _ => Self::start_own(),
        }
    }

    /// Always a fresh server, whatever `REDIS_URL` says: for tests that stop and restart it.
    pub fn start_own() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory for redis");
        for _ in 0..5 {
            let port = free_port();
            match launch_redis(port, dir.path()) {
                Ok(process) => {
                    return Self {
                        url: format!("redis://127.0.0.1:{port}/"),
                        own: Some(OwnRedis {
                            port,
                            dir,
                            process: Some(process),
                        }),
                    };
                }
                Err(log) if log.contains("Address already in use") => continue,
                Err(log) => panic!("redis-server did not start:\n{log}"),
            }
        }
        panic!("redis-server found no free port in 5 attempts");
    }

    /// The `redis://` URL to connect to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Kills the server, as a crash would; [`restart`](Self::restart) brings it back on the same port.
    pub fn stop(&mut self) {
        self.own_mut("stop").kill();
    }

    /// Starts the server again on the same port, empty (nothing is persisted).
    pub fn restart(&mut self) {
        let own = self.own_mut("restart");
        own.kill();
        match launch_redis(own.port, own.dir.path()) {
            Ok(process) => own.process = Some(process),
            Err(log) => panic!("redis-server did not restart on port {}:\n{log}", own.port),
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open but nothing answers, as with a hung host.
    pub fn pause(&mut self) {
        self.own_mut("pause").signal("-STOP");
    }

    /// Lets a [paused](Self::pause) server run again.
    pub fn resume(&mut self) {
        self.own_mut("resume").signal("-CONT");
    }

    fn own_mut(&mut self, action: &str) -> &mut OwnRedis {
        self.own.as_mut().unwrap_or_else(|| {
            panic!(
                "cannot {action} the REDIS_URL server: use RedisServer::start_own() in this test"
            )
        })
    }
}

impl OwnRedis {
    fn signal(&self, signal: &str) {
        let process = self.process.as_ref().expect("redis-server is running");
        let status = Command::new("kill")
            .args([signal, &process.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} redis-server: {status}");
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.process.take() {
            // Already exited is fine: it is gone either way.
            let _ = child.kill();
            child.wait().expect("reap redis-server");
        }
    }
}

/// Starts `redis-server` on `port` in `dir` and waits for its `PONG`; `Err` holds the reason and the
/// server's log.
fn launch_redis(port: u16, dir: &Path) -> Result<Child, String> {
    let log_path = dir.join("redis.log");
    let log = File::create(&log_path).expect("create the redis log");
    let spawned = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("share the redis log"))
        .stderr(log)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
            "redis-server is not on PATH: install Debian's `redis-server` package \
             (apt-get install redis-server)"
        ),
        Err(error) => panic!("cannot run redis-server: {error}"),
    };
    match wait_until(&mut child, || redis_answers_ping(port)) {
        Ok(()) => Ok(child),
        Err(reason) => {
            // Already exited is fine: it is gone either way.
            let _ = child.kill();
            let _ = child.wait();
            Err(format!("{reason}\n{}", read_log(&log_path)))
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether a Redis on `port` answers `PING`, spoken in RESP by hand so the check needs no client.
fn redis_answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return false;
    };
    let timeout = Some(Duration::from_secs(1));
    let mut reply = [0u8; 7];
    stream.set_read_timeout(timeout).is_ok()
        && stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

/// A PostgreSQL server with an empty database for one test.
#[derive(Debug)]
pub struct Postgres {
    url: String,
    /// `None` when the server is `DATABASE_URL`'s.
    own: Option<OwnPostgres>,
}

#[derive(Debug)]
struct OwnPostgres {
    /// `None` while [stopped](Postgres::stop).
    process: Option<Child>,
    port: u16,
    cluster: Cluster,
    /// Removed after `Drop` has stopped the server.
    dir: TempDir,
}

/// What it takes to start the postmaster of a cluster `initdb` made.
#[derive(Debug)]
struct Cluster {
    bin: PathBuf,
    /// Who runs the server; `None` runs it as us.
    user: Option<User>,
    dir: PathBuf,
    data: PathBuf,
    sockets: PathBuf,
    log: PathBuf,
}

impl Cluster {
    /// `program` of the cluster's PostgreSQL version, run as the cluster's user in its directory.
    fn command(&self, program: &str) -> Command {
        let mut command = match &self.user {
            Some(user) => {
                let mut command = Command::new("setpriv");
                command
                    .arg(format!("--reuid={}", user.uid))
                    .arg(format!("--regid={}", user.gid))
                    .args(["--clear-groups", "--"])
                    .arg(self.bin.join(program));
                command
            }
            None => Command::new(self.bin.join(program)),
        };
        command.current_dir(&self.dir).stdin(Stdio::null());
        command
    }

    /// Starts the postmaster on `port` and waits until it accepts connections; `Err` holds the reason and
    /// the server's log (appended to across restarts).
    fn launch(&self, port: u16) -> Result<Child, String> {
        let port_text = port.to_string();
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the postgres log");
        let mut process = self
            .command("postgres")
            .arg("-D")
            .arg(&self.data)
            .args(["-p", &port_text, "-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.sockets.display()
            ))
            .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
            .stdout(log.try_clone().expect("share the postgres log"))
            .stderr(log)
            .spawn()
            .expect("start postgres");
        let ready = wait_until(&mut process, || {
            Command::new(self.bin.join("pg_isready"))
                .args(["--host", "127.0.0.1", "--port", &port_text, "--quiet"])
                .status()
                .is_ok_and(|status| status.success())
        });
        match ready {
            Ok(()) => Ok(process),
            Err(reason) => {
                shut_down(&mut process);
                Err(format!("{reason}\n{}", read_log(&self.log)))
            }
        }
    }
}

/// The database the harness creates in its own server.
const DATABASE: &str = "slogen_test";

/// The superuser `initdb` creates, which `trust` authentication lets in without a password.
const SUPERUSER: &str = "postgres";

impl Postgres {
    /// `DATABASE_URL`'s server when the variable is set, else a fresh cluster with a `slogen_test`
    /// database. As root, the cluster runs as an unprivileged user, since PostgreSQL refuses root.
    pub fn start() -> Self {
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => Self { url, own: None },
            _ => Self::start_own(),
        }
    }

    /// Always a fresh cluster, whatever `DATABASE_URL` says: for tests that stop and restart it.
    pub fn start_own() -> Self {
        let bin = postgres_bin_dir();
        let user = unprivileged_user();
        let dir = tempfile::tempdir().expect("create a temporary directory for postgres");
        let cluster = Cluster {
            bin,
            user,
            dir: dir.path().to_path_buf(),
            data: dir.path().join("data"),
            sockets: dir.path().join("run"),
            log: dir.path().join("postgres.log"),
        };
        fs::create_dir(&cluster.sockets).expect("create the socket directory");
        if let Some(user) = &cluster.user {
            for path in [&cluster.dir, &cluster.sockets] {
                std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
                    .expect("give the postgres directories to the unprivileged user");
            }
        }

        let initdb = cluster
            .command("initdb")
            .args([
                "--auth=trust",
                "--no-locale",
                "--encoding=UTF8",
                "--no-sync",
            ])
            .args(["--username", SUPERUSER, "--pgdata"])
            .arg(&cluster.data)
            .output()
            .expect("run initdb (setpriv comes with util-linux)");
        assert!(
            initdb.status.success(),
            "initdb failed:\n{}{}",
            String::from_utf8_lossy(&initdb.stdout),
            String::from_utf8_lossy(&initdb.stderr)
        );

        for _ in 0..5 {
            let port = free_port();
            // A fresh log per attempt, so a port clash is not read from an earlier attempt's log.
            File::create(&cluster.log).expect("create the postgres log");
            let process = match cluster.launch(port) {
                Ok(process) => process,
                Err(log) if log.contains("Address already in use") => continue,
                Err(log) => panic!("postgres did not start: {log}"),
            };
            // From here a panic drops the server, which shuts it down.
            let server = OwnPostgres {
                process: Some(process),
                port,
                cluster,
                dir,
            };
            let created = Command::new(server.cluster.bin.join("createdb"))
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--username", SUPERUSER, DATABASE])
                .output()
                .expect("run createdb");
            assert!(
                created.status.success(),
                "createdb failed: {}",
                String::from_utf8_lossy(&created.stderr)
            );
            return Self {
                url: format!("postgres://{SUPERUSER}@127.0.0.1:{port}/{DATABASE}"),
                own: Some(server),
            };
        }
        panic!("postgres found no free port in 5 attempts");
    }

    /// The `postgres://` URL of the test database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the server as `pg_ctl stop -m fast` does (SIGINT to the postmaster: open sessions are ended,
    /// new connections refused) and waits until it has exited; [`restart`](Self::restart) brings it back.
    pub fn stop(&mut self) {
        let own = self.own_mut("stop");
        if let Some(mut process) = own.process.take() {
            shut_down(&mut process);
        }
    }

    /// Starts the stopped server again on the same port and data directory, and waits until it accepts
    /// connections; the data written before the stop is still there.
    pub fn restart(&mut self) {
        let own = self.own_mut("restart");
        assert!(own.process.is_none(), "restart a stopped server");
        match own.cluster.launch(own.port) {
            Ok(process) => own.process = Some(process),
            Err(log) => panic!("postgres did not restart on port {}: {log}", own.port),
        }
    }

    fn own_mut(&mut self, action: &str) -> &mut OwnPostgres {
        self.own.as_mut().unwrap_or_else(|| {
            panic!(
                "cannot {action} the DATABASE_URL server: use Postgres::start_own() in this test"
            )
        })
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            shut_down(&mut process);
        }
    }
}

/// Stops a postmaster: fast shutdown (SIGINT: abort transactions, disconnect clients), then SIGKILL if
/// it hangs.
fn shut_down(process: &mut Child) {
    if process.try_wait().ok().flatten().is_some() {
        return;
    }
    // `kill` is in every base system; if signalling fails, the SIGKILL below still ends the server.
    let _ = Command::new("kill")
        .args(["-INT", &process.id().to_string()])
        .status();
    let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
    while Instant::now() < deadline {
        if process.try_wait().ok().flatten().is_some() {
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    // Already exited is fine: it is gone either way.
    let _ = process.kill();
    let _ = process.wait();
}

/// The directory holding `initdb`, `postgres`, `pg_isready` and `createdb` of one PostgreSQL version:
/// where PATH's `initdb` really lives, else the newest `/usr/lib/postgresql/*/bin`.
fn postgres_bin_dir() -> PathBuf {
    let has_all = |dir: &Path| {
        ["initdb", "postgres", "pg_isready", "createdb"]
            .iter()
            .all(|program| dir.join(program).is_file())
    };
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|path| {
        std::env::split_paths(&path)
            .filter_map(|dir| fs::canonicalize(dir.join("initdb")).ok())
            .filter_map(|initdb| initdb.parent().map(Path::to_path_buf))
            .collect::<Vec<_>>()
    });
    let mut versioned: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versioned.sort();
    on_path
        .chain(versioned.into_iter().rev().map(|(_, dir)| dir))
        .find(|dir| has_all(dir))
        .unwrap_or_else(|| {
            panic!(
                "PostgreSQL's server binaries (initdb, postgres, pg_isready, createdb) are neither on PATH \
                 nor in /usr/lib/postgresql/*/bin: install Debian's `postgresql` package \
                 (apt-get install postgresql)"
            )
        })
}

/// The user PostgreSQL runs as.
#[derive(Clone, Copy, Debug)]
struct User {
    uid: u32,
    gid: u32,
}

/// `None` when we are not root (the server then runs as us); as root, `nobody`, or a system user the
/// harness creates when `nobody` does not exist.
fn unprivileged_user() -> Option<User> {
    let me = fs::metadata("/proc/self").expect("stat /proc/self").uid();
    if me != 0 {
        return None;
    }
    if let Some(user) = lookup_user("nobody") {
        return Some(user);
    }
    let name = "slogen-test";
    if lookup_user(name).is_none() {
        let status = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ])
            .status()
            .expect("run useradd (from Debian's `passwd` package)");
        assert!(status.success(), "useradd {name} failed: {status}");
    }
    Some(lookup_user(name).expect("the user useradd just created"))
}

fn lookup_user(name: &str) -> Option<User> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            [user, _, uid, gid, ..] if *user == name => Some(User {
                uid: uid.parse().ok()?,
                gid: gid.parse().ok()?,
            }),
            _ => None,
        }
    })
}
