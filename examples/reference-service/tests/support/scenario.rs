//! What the end-to-end alert tests share, whichever engine evaluates the rules: the spec they generate rules
//! from, the reference service on real PostgreSQL and Redis with its fault switch, steady API traffic, the
//! model's bounds on when the page fires and clears, polling, and the check that no process outlives a test.
//!
//! Include it with `#[path = "support/scenario.rs"] mod scenario;` next to `reference` and `services`.

// Each test binary compiles its own copy and uses only part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use promql_parser::parser::{Expr, VectorSelector};
use reqwest::{Method, StatusCode};
use serde_json::json;
use slogen::model::{BurnRateAlert, Exact, Service, Severity, Slo};
use tokio::task::{block_in_place, JoinHandle};

use crate::reference::{backend, Running};
use crate::services::{Postgres, RedisServer};

/// The scrape job, as the spec's selector names it.
pub const JOB: &str = "backend";

/// The SLO whose alerts the tests drive.
pub const SLO: &str = "api_availability";

/// The share of API requests the fault switch fails.
pub const INJECTED_ERROR_RATIO: f64 = 0.5;

/// The API routes the traffic uses, as the HTTP layer labels them.
pub const API_ROUTES: [&str; 2] = ["/users/{id}", "/jobs/{name}/run"];

/// The lowest share of API requests among all requests the service counts (the rest are the scrapes and
/// the test's fault switching); the traffic's pace keeps it near 40 / 41.
pub const MIN_API_SHARE: f64 = 0.8;

/// Pause between two requests of the traffic: 40 requests per second.
const REQUEST_PERIOD: Duration = Duration::from_millis(25);

/// Bounds of the traffic, in case the test stops waiting for it: at most this many requests…
const MAX_REQUESTS: u64 = 12_000;

/// …and at most this long.
const MAX_TRAFFIC: Duration = Duration::from_secs(300);

/// The failed requests [`Backend::start`] makes before any scrape, one per API route.
pub const PRE_SEEDED_ERRORS: f64 = 2.0;

/// What the observed times may exceed the model's by: a scrape (1s), two rule evaluations (the SLI
/// recording, then the alert; 1s each), `rate()` extrapolating over a window whose edge falls between
/// samples, a notification's group wait, and room for a machine busy compiling.
pub const SLACK: Duration = Duration::from_secs(20);

/// How long an engine may take to scrape the target and record the SLI for the first time.
pub const FIRST_DATA_TIMEOUT: Duration = Duration::from_secs(60);

/// How often the tests look.
pub const POLL: Duration = Duration::from_millis(250);

/// The spec of `tests/e2e/slos/`: the reference backend with windows of seconds and minutes.
pub fn e2e_spec() -> Service {
    backend(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/slos"))
}

pub fn slo<'s>(service: &'s Service, name: &str) -> &'s Slo {
    service
        .slos
        .iter()
        .find(|slo| slo.name == name)
        .unwrap_or_else(|| panic!("no SLO `{name}`"))
}

/// The SLO's one burn-rate pair of `severity`.
pub fn pair(slo: &Slo, severity: Severity) -> &BurnRateAlert {
    let pairs: Vec<&BurnRateAlert> = slo
        .burn_rate_alerts
        .iter()
        .filter(|alert| alert.severity == severity)
        .collect();
    let [pair] = pairs[..] else {
        panic!("the spec has one {severity:?} window, not {}", pairs.len())
    };
    pair
}

fn seconds(exact: Exact) -> Duration {
    Duration::from_secs_f64(exact.to_f64())
}

/// How long after the faults start `alert` may take to fire: at an error ratio r the long window crosses
/// the threshold 1 / r times later than in a full outage (the short one, a fraction of it, crosses first),
/// then the alert waits its `for`; plus [`SLACK`].
pub fn fire_bound(alert: &BurnRateAlert) -> Duration {
    let for_ = Duration::from_secs(alert.for_.seconds);
    let lowest_ratio = INJECTED_ERROR_RATIO * MIN_API_SHARE;
    (seconds(alert.time_to_fire_full_outage) - for_).div_f64(lowest_ratio) + for_ + SLACK
}

/// How long after the faults stop `alert` may take to clear: its short window drops under the threshold
/// within (1 - threshold / r) × short, at most the model's reset time (that of r = 1); plus [`SLACK`].
pub fn clear_bound(alert: &BurnRateAlert) -> Duration {
    seconds(alert.reset_time) + SLACK
}

impl Running {
    /// Sets the share of API requests the service fails.
    pub async fn set_faults(&self, error_ratio: f64) {
        let (status, _) = self
            .post("/admin/faults", json!({ "error_ratio": error_ratio }))
            .await;
        assert_eq!(status, StatusCode::OK, "set the fault switch");
    }
}

/// The reference service in development mode on real PostgreSQL and Redis, with a user to read.
pub struct Backend {
    pub running: Running,
    pub user: i64,
    // Dropped after the service, in this order.
    redis: RedisServer,
    postgres: Postgres,
}

impl Backend {
    /// Starts the stores and the service, and fails one request on each API route before any scrape: an
    /// error counter appears with its first error, and Prometheus' `rate()` never counts a series' first
    /// sample, so without these the SLI would have no error series to divide while healthy, and would miss
    /// the first error of each route.
    pub async fn start() -> Self {
        let postgres = block_in_place(Postgres::start);
        let redis = block_in_place(RedisServer::start);
        let running = Running::start(
            postgres.url(),
            redis.url(),
            &[("APP_ENV", "development".to_owned())],
        )
        .await;
        let user = running.create_user("alerta").await;
        running.set_faults(1.0).await;
        for n in [0, 2] {
            // One request per route: `request` alternates them.
            let (method, path) = request(n, user);
            assert_eq!(
                running.send(method, &path, None).await.0,
                StatusCode::INTERNAL_SERVER_ERROR
            );
        }
        running.set_faults(0.0).await;
        Backend {
            running,
            user,
            redis,
            postgres,
        }
    }

    /// Stops the stores (blocking: PostgreSQL shuts down cleanly).
    pub fn stop(self) {
        block_in_place(|| drop(self));
    }
}

/// The `n`-th request of the traffic: two reads of the user for each run of a job, so that failures, which
/// hit every second request at a ratio of 0.5, fall on both routes.
pub fn request(n: u64, user: i64) -> (Method, String) {
    match n % 3 {
        2 => (Method::POST, "/jobs/send_digest_emails/run".to_owned()),
        _ => (Method::GET, format!("/users/{user}")),
    }
}

/// What the traffic got back.
#[derive(Debug, Default)]
pub struct Sent {
    /// Answers by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer.
    pub failed: u64,
    /// Whether the test stopped it, rather than its bounds.
    pub stopped: bool,
}

impl Sent {
    /// The traffic ran until the test stopped it, every request was answered, with 200 or the injected 500.
    pub fn assert_complete(&self) {
        assert!(
            self.stopped,
            "the traffic ran out before the test ended: {self:?}"
        );
        assert_eq!(self.failed, 0, "{self:?}");
        assert_eq!(
            self.statuses.keys().copied().collect::<Vec<_>>(),
            [200, 500],
            "{self:?}"
        );
    }
}

/// A steady stream of API requests in the background.
pub struct Traffic {
    stop: Arc<AtomicBool>,
    task: JoinHandle<Sent>,
}

impl Traffic {
    pub fn start(backend: &Running, user: i64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let client = backend.client.clone();
        let base = backend.url("");
        let task = tokio::spawn({
            let stop = Arc::clone(&stop);
            async move {
                let deadline = Instant::now() + MAX_TRAFFIC;
                let mut pace = tokio::time::interval(REQUEST_PERIOD);
                pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut sent = Sent::default();
                for n in 0..MAX_REQUESTS {
                    pace.tick().await;
                    if stop.load(Ordering::SeqCst) {
                        sent.stopped = true;
                        break;
                    }
                    if Instant::now() > deadline {
                        break;
                    }
                    let (method, path) = request(n, user);
                    match client.request(method, format!("{base}{path}")).send().await {
                        Ok(response) => {
                            *sent.statuses.entry(response.status().as_u16()).or_default() += 1;
                        }
                        Err(_) => sent.failed += 1,
                    }
                }
                sent
            }
        });
        Traffic { stop, task }
    }

    pub async fn stop(self) -> Sent {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.expect("the traffic task ends")
    }
}

/// Polls `probe` every [`POLL`] until it gives a value, or `bound` has passed since `since`.
pub async fn poll<T>(
    since: Instant,
    bound: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> Option<(T, Duration)> {
    loop {
        if let Some(value) = probe() {
            return Some((value, since.elapsed()));
        }
        if since.elapsed() > bound {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A process as `/proc/<pid>/stat` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    parent: u32,
    /// Clock ticks after boot at which it started: a reused PID is a different process.
    started: u64,
    command: String,
}

fn read_process(pid: &str) -> Option<Process> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (command) state ppid …`; the command may contain spaces and parentheses.
    let (head, rest) = stat.rsplit_once(')')?;
    let (pid, command) = head.split_once(" (")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Process {
        pid: pid.trim().parse().ok()?,
        // Fields 4 (parent) and 22 (start time) of stat(5); `fields` starts at field 3.
        parent: fields.get(1)?.parse().ok()?,
        started: fields.get(19)?.parse().ok()?,
        command: command.to_owned(),
    })
}

/// Every process descending from this one.
pub fn descendants() -> Vec<Process> {
    let all: Vec<Process> = fs::read_dir("/proc")
        .expect("list /proc")
        .filter_map(Result::ok)
        .filter_map(|entry| read_process(entry.file_name().to_str()?))
        .collect();
    let mut found = Vec::new();
    let mut parents = vec![std::process::id()];
    while let Some(parent) = parents.pop() {
        for process in all.iter().filter(|process| process.parent == parent) {
            parents.push(process.pid);
            found.push(process.clone());
        }
    }
    found
}

/// The processes of `before` still running: the same PID and start time.
pub fn still_running(before: &[Process]) -> Vec<&Process> {
    before
        .iter()
        .filter(|process| {
            read_process(&process.pid.to_string()).is_some_and(|now| now.started == process.started)
        })
        .collect()
}

/// The vector selectors of `expr`, those inside range selectors included.
pub fn selectors(expr: &Expr, out: &mut Vec<VectorSelector>) {
    match expr {
        Expr::Aggregate(aggregate) => {
            selectors(&aggregate.expr, out);
            if let Some(param) = &aggregate.param {
                selectors(param, out);
            }
        }
        Expr::Binary(binary) => {
            selectors(&binary.lhs, out);
            selectors(&binary.rhs, out);
        }
        Expr::Unary(unary) => selectors(&unary.expr, out),
        Expr::Paren(paren) => selectors(&paren.expr, out),
        Expr::Subquery(subquery) => selectors(&subquery.expr, out),
        Expr::VectorSelector(selector) => out.push(selector.clone()),
        Expr::MatrixSelector(matrix) => out.push(matrix.vs.clone()),
        Expr::Call(call) => call.args.args.iter().for_each(|arg| selectors(arg, out)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}
