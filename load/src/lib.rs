//! Open-loop load generation checked against the service's SLOs: the engine behind `slogen-load`.
//!
//! # Why open loop
//!
//! A closed-loop tool sends the next request when the previous one returns, so while the server stalls it
//! stops sending and records one slow request instead of the hundreds users would have sent meanwhile
//! ("coordinated omission"). Here requests are due at fixed times, `start + i / rate`, whatever the server
//! does; each one's latency is measured from the time it was *due*, not from when it actually went out, so a
//! stall shows up in every request that should have been sent during it (as in wrk2 and k6's
//! constant-arrival-rate executor). Requests run concurrently, at most `max_in_flight` at once: a request due
//! while that many are outstanding is **dropped** (never sent) and counted, never silently delayed.
//!
//! # What is checked
//!
//! The SLOs are read through the generator's own model ([`slogen::load::spec_dir`], [`slogen::model::lower()`]),
//! so the tool judges exactly the SLOs the rules alert on. An SLO is measured here when its SLI reads an HTTP
//! server metric (one with a `route` or `method` label) and matches only on `method`, `route` and `status`,
//! which a client can see; its matchers pick which of the driven endpoints count. Everything else (database,
//! cache, jobs) is reported as not measured here.
//!
//! - Latency SLI: a request is bad when its response was not complete within the threshold of its due time.
//! - Ratio SLI: a request is bad when it matches the `errors` selector, whose `status` matcher is compared with
//!   the response's status class (`5xx`) or code (`503`).
//!
//! A request that got no response (timeout, connection error) or was dropped is bad for both: the user got no
//! answer in time, and a gateway in front of the service would have answered it with a 5xx.
//!
//! # Bounds
//!
//! Runs are capped in time, rate and concurrency (see [`LoadConfig::check`]), and only loopback hosts are
//! targets unless a host is named explicitly. Redirects are not followed and proxies are ignored, so no
//! request leaves for a host that was not checked.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use reqwest::{Method, Url};
use serde::Serialize;
use slogen::model::{Exact, LabelMatch, Metric, Selector, Service, Sli, Slo};
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

/// Longest measured phase a run may have.
const MAX_DURATION: Duration = Duration::from_secs(600);
/// Longest warm-up a run may have.
const MAX_WARMUP: Duration = Duration::from_secs(60);
/// Highest arrival rate, in requests per second; beyond it the generator, not the server, is measured.
const MAX_RATE: u32 = 10_000;
/// Most requests in flight at once.
const MAX_IN_FLIGHT: usize = 10_000;
/// Longest per-request timeout.
const MAX_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest latency the histograms keep exactly: longer ones are recorded as this (no request can take longer
/// than warm-up, run and timeout together).
const HISTOGRAM_MAX_MICROS: u64 = 3_600_000_000;
/// Send lag, in milliseconds, above which the table warns that the generator fell behind.
const LAG_WORTH_NOTING_MS: f64 = 10.0;
/// Labels of an HTTP server metric that a client can tell for each request.
const CLIENT_LABELS: [&str; 3] = ["method", "route", "status"];

/// A problem with the command line or the inputs: nothing was sent, or the run could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage<T>(message: impl Into<String>) -> Result<T, UsageError> {
    Err(UsageError(message.into()))
}

/// One request to drive, written `METHOD:/path` on the command line so the path may contain anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// HTTP method.
    pub method: Method,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl FromStr for Endpoint {
    type Err = UsageError;

    fn from_str(text: &str) -> Result<Endpoint, UsageError> {
        let Some((method, path)) = text.split_once(':') else {
            return usage(format!(
                "endpoint `{text}` is not METHOD:/path, e.g. GET:/users/1"
            ));
        };
        let method = method.to_ascii_uppercase();
        let Ok(method) = Method::from_bytes(method.as_bytes()) else {
            return usage(format!(
                "endpoint `{text}`: `{method}` is not an HTTP method"
            ));
        };
        if !path.starts_with('/') {
            return usage(format!("endpoint `{text}`: the path must start with `/`"));
        }
        Ok(Endpoint {
            method,
            path: path.to_string(),
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// Parses a duration written `500ms`, `30s` or `5m`: whole numbers and one unit, like the rest of the specs.
pub fn parse_duration(text: &str) -> Result<Duration, UsageError> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let Ok(n) = digits.parse::<u64>() else {
        return usage(format!(
            "`{text}` is not a duration such as 500ms, 30s or 5m"
        ));
    };
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        _ => usage(format!(
            "`{text}` is not a duration such as 500ms, 30s or 5m"
        )),
    }
}

/// Checks that `base_url` is plain HTTP to a loopback host (127.0.0.0/8, `localhost`, `::1`) or to a host
/// named in `allow_hosts`, so a typo cannot aim the load at someone else's server.
pub fn check_target(base_url: &str, allow_hosts: &[String]) -> Result<Url, UsageError> {
    let url = match Url::parse(base_url) {
        Ok(url) => url,
        Err(e) => return usage(format!("--base-url `{base_url}` is not a URL: {e}")),
    };
    if url.scheme() != "http" {
        return usage(format!(
            "--base-url `{base_url}`: only http:// is supported (the load client has no TLS)"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return usage(format!(
            "--base-url `{base_url}`: put queries in --endpoint paths, not in the base URL"
        ));
    }
    let Some(shown) = url.host_str() else {
        return usage(format!("--base-url `{base_url}` has no host"));
    };
    let bare = shown.trim_start_matches('[').trim_end_matches(']');
    let loopback = match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    };
    let allowed = allow_hosts.iter().any(|h| {
        let h = h.trim_start_matches('[').trim_end_matches(']');
        h.eq_ignore_ascii_case(bare)
            || (h
                .parse::<IpAddr>()
                .ok()
                .is_some_and(|a| Some(a) == bare.parse().ok()))
    });
    if !loopback && !allowed {
        return usage(format!(
            "refusing to send load to `{shown}`: only loopback hosts (127.0.0.0/8, localhost, ::1) are \
             targets unless `--allow-host {bare}` names the host explicitly"
        ));
    }
    Ok(url)
}

/// What to send, where, how fast and for how long.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Base URL; endpoint paths are appended to it.
    pub base_url: String,
    /// Non-loopback hosts the user explicitly allowed.
    pub allow_hosts: Vec<String>,
    /// Endpoints, driven round-robin in this order.
    pub endpoints: Vec<Endpoint>,
    /// Arrival rate in requests per second.
    pub rate: u32,
    /// Length of the measured phase.
    pub duration: Duration,
    /// Requests sent at the same rate before measuring, to fill connection pools and caches.
    pub warmup: Duration,
    /// Stop after this many measured requests, even if the duration is not over.
    pub max_requests: Option<u64>,
    /// Per-request timeout, from sending to the last byte of the response.
    pub timeout: Duration,
    /// Requests outstanding at once; a request due beyond this is dropped.
    pub max_in_flight: usize,
}

impl LoadConfig {
    /// Checks every bound and the target, before anything is sent; returns the base URL.
    pub fn check(&self) -> Result<Url, UsageError> {
        let url = check_target(&self.base_url, &self.allow_hosts)?;
        if self.endpoints.is_empty() {
            return usage("no --endpoint to drive");
        }
        if self.rate == 0 || self.rate > MAX_RATE {
            return usage(format!(
                "--rate {} is out of range: 1 to {MAX_RATE} requests per second",
                self.rate
            ));
        }
        if self.duration.is_zero() || self.duration > MAX_DURATION {
            return usage(format!(
                "--duration {:?} is out of range: more than 0 and at most {}s",
                self.duration,
                MAX_DURATION.as_secs()
            ));
        }
        if self.warmup > MAX_WARMUP {
            return usage(format!(
                "--warmup {:?} is too long: at most {}s",
                self.warmup,
                MAX_WARMUP.as_secs()
            ));
        }
        if self.max_requests == Some(0) {
            return usage("--max-requests must be at least 1");
        }
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return usage(format!(
                "--timeout {:?} is out of range: more than 0 and at most {}s",
                self.timeout,
                MAX_TIMEOUT.as_secs()
            ));
        }
        if self.max_in_flight == 0 || self.max_in_flight > MAX_IN_FLIGHT {
            return usage(format!(
                "--max-in-flight {} is out of range: 1 to {MAX_IN_FLIGHT}",
                self.max_in_flight
            ));
        }
        Ok(url)
    }
}

/// Why a sent request got no response.
#[derive(Debug, Clone, Copy)]
enum Failure {
    Timeout,
    Connect,
    Other,
}

/// What the scheduler and the request tasks tell the collector.
enum Event {
    Sent {
        measured: bool,
        /// How late the request went out: the generator's own delay, not the server's.
        lag: Duration,
    },
    Dropped {
        endpoint: usize,
        measured: bool,
    },
    Done {
        endpoint: usize,
        measured: bool,
        latency: Duration,
        result: Result<u16, Failure>,
    },
}

/// A once-a-second snapshot for the progress line.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Time since the first request was due.
    pub elapsed: Duration,
    /// Still in the warm-up phase, whose requests are not measured.
    pub warmup: bool,
    /// Requests sent so far, warm-up included.
    pub sent: u64,
    /// Requests that got a response or failed.
    pub completed: u64,
    /// Completed requests that failed or answered 5xx.
    pub errors: u64,
    /// Requests dropped because `max_in_flight` were outstanding.
    pub dropped: u64,
    /// 99th percentile latency of the requests completed in the last second, if any.
    pub p99_last_second: Option<Duration>,
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{:>4}s{}] sent {} completed {} errors {} dropped {} p99(last 1s) {}",
            self.elapsed.as_secs(),
            if self.warmup { " warmup" } else { "" },
            self.sent,
            self.completed,
            self.errors,
            self.dropped,
            self.p99_last_second
                .map(|d| format_ms(d.as_micros() as u64))
                .unwrap_or_else(|| "-".to_string()),
        )
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HISTOGRAM_MAX_MICROS, 3)
        .expect("static histogram bounds are valid")
}

/// Measured-phase counts of one endpoint.
#[derive(Debug, Clone)]
pub struct EndpointStats {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Requests that were due: sent plus dropped.
    pub scheduled: u64,
    /// Requests sent.
    pub sent: u64,
    /// Requests not sent because `max_in_flight` were outstanding.
    pub dropped: u64,
    /// Responses by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that timed out.
    pub timeouts: u64,
    /// Requests that could not connect.
    pub connect_errors: u64,
    /// Requests that failed otherwise (reset connection, bad response).
    pub other_errors: u64,
    /// Latency from due time to the response's last byte or the failure, in microseconds.
    pub latency: Histogram<u64>,
    /// Responses slower than each of the thresholds given to [`run`], in the same order.
    pub slower_than: Vec<u64>,
}

impl EndpointStats {
    fn new(endpoint: Endpoint, thresholds: usize) -> EndpointStats {
        EndpointStats {
            endpoint,
            scheduled: 0,
            sent: 0,
            dropped: 0,
            statuses: BTreeMap::new(),
            timeouts: 0,
            connect_errors: 0,
            other_errors: 0,
            latency: new_histogram(),
            slower_than: vec![0; thresholds],
        }
    }

    /// Requests that got no response at all: failed or dropped.
    fn unanswered(&self) -> u64 {
        self.timeouts + self.connect_errors + self.other_errors + self.dropped
    }

    /// Requests that got a response or failed.
    fn completed(&self) -> u64 {
        self.statuses.values().sum::<u64>()
            + self.timeouts
            + self.connect_errors
            + self.other_errors
    }

    /// Failed requests plus 5xx responses (dropped ones are counted apart).
    fn errors(&self) -> u64 {
        self.timeouts
            + self.connect_errors
            + self.other_errors
            + self.statuses.range(500..600).map(|(_, n)| n).sum::<u64>()
    }

    fn add(&mut self, other: &EndpointStats) {
        self.scheduled += other.scheduled;
        self.sent += other.sent;
        self.dropped += other.dropped;
        for (code, n) in &other.statuses {
            *self.statuses.entry(*code).or_default() += n;
        }
        self.timeouts += other.timeouts;
        self.connect_errors += other.connect_errors;
        self.other_errors += other.other_errors;
        self.latency
            .add(&other.latency)
            .expect("histograms share their bounds");
        for (mine, theirs) in self.slower_than.iter_mut().zip(&other.slower_than) {
            *mine += theirs;
        }
    }
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Per endpoint, in the order driven.
    pub endpoints: Vec<EndpointStats>,
    /// The latest any measured request went out after its due time. Large values mean the generator (this
    /// machine) could not keep up; those requests still count from their due time.
    pub max_send_lag: Duration,
}

/// Sends the load described by `config` and measures it. `thresholds` are the latencies to count slower
/// responses against (the latency SLOs' thresholds); `progress` is called about once a second.
pub async fn run(
    config: &LoadConfig,
    thresholds: &[Duration],
    mut progress: impl FnMut(&Progress),
) -> Result<RunResult, UsageError> {
    let base = config.check()?;
    let mut targets = Vec::new();
    for endpoint in &config.endpoints {
        let joined = format!("{}{}", base.as_str().trim_end_matches('/'), endpoint.path);
        match Url::parse(&joined) {
            Ok(url) => targets.push((endpoint.method.clone(), url)),
            Err(e) => return usage(format!("endpoint `{endpoint}` gives no URL: {e}")),
        }
    }
    let client = match reqwest::Client::builder()
        .timeout(config.timeout)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .build()
    {
        Ok(client) => client,
        Err(e) => return usage(format!("cannot build the HTTP client: {e}")),
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let start = Instant::now();
    let scheduler = tokio::spawn(schedule(
        Schedule {
            client,
            targets: Arc::new(targets),
            rate: config.rate,
            warmup: config.warmup,
            duration: config.duration,
            max_requests: config.max_requests,
            limit: Arc::new(Semaphore::new(config.max_in_flight)),
            start,
        },
        tx,
    ));

    let mut stats: Vec<EndpointStats> = config
        .endpoints
        .iter()
        .map(|e| EndpointStats::new(e.clone(), thresholds.len()))
        .collect();
    let mut live = Progress {
        elapsed: Duration::ZERO,
        warmup: !config.warmup.is_zero(),
        sent: 0,
        completed: 0,
        errors: 0,
        dropped: 0,
        p99_last_second: None,
    };
    let mut window = new_histogram();
    let mut max_lag = Duration::ZERO;
    let mut tick = tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            event = rx.recv() => match event {
                Some(event) => apply(event, &mut stats, thresholds, &mut live, &mut window, &mut max_lag),
                None => break,
            },
            _ = tick.tick() => {
                live.elapsed = start.elapsed();
                live.warmup = live.elapsed < config.warmup;
                live.p99_last_second = (!window.is_empty())
                    .then(|| Duration::from_micros(window.value_at_quantile(0.99)));
                progress(&live);
                window.reset();
            }
        }
    }
    if let Err(e) = scheduler.await {
        return usage(format!("the request scheduler failed: {e}"));
    }
    Ok(RunResult {
        endpoints: stats,
        max_send_lag: max_lag,
    })
}

fn apply(
    event: Event,
    stats: &mut [EndpointStats],
    thresholds: &[Duration],
    live: &mut Progress,
    window: &mut Histogram<u64>,
    max_lag: &mut Duration,
) {
    match event {
        Event::Sent { measured, lag } => {
            live.sent += 1;
            if measured {
                *max_lag = (*max_lag).max(lag);
            }
        }
        Event::Dropped { endpoint, measured } => {
            live.dropped += 1;
            if measured {
                stats[endpoint].scheduled += 1;
                stats[endpoint].dropped += 1;
            }
        }
        Event::Done {
            endpoint,
            measured,
            latency,
            result,
        } => {
            let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
            live.completed += 1;
            let failed = !matches!(result, Ok(code) if code < 500);
            if failed {
                live.errors += 1;
            }
            window.saturating_record(micros.max(1));
            if !measured {
                return;
            }
            let s = &mut stats[endpoint];
            s.scheduled += 1;
            s.sent += 1;
            s.latency.saturating_record(micros.max(1));
            match result {
                Ok(code) => {
                    *s.statuses.entry(code).or_default() += 1;
                    for (slower, threshold) in s.slower_than.iter_mut().zip(thresholds) {
                        if latency > *threshold {
                            *slower += 1;
                        }
                    }
                }
                Err(Failure::Timeout) => s.timeouts += 1,
                Err(Failure::Connect) => s.connect_errors += 1,
                Err(Failure::Other) => s.other_errors += 1,
            }
        }
    }
}

/// What the scheduler needs; one per run.
struct Schedule {
    client: reqwest::Client,
    targets: Arc<Vec<(Method, Url)>>,
    rate: u32,
    warmup: Duration,
    duration: Duration,
    max_requests: Option<u64>,
    limit: Arc<Semaphore>,
    start: Instant,
}

/// Sends request `i` at `start + i / rate`, round-robin over the targets, until the run is over.
async fn schedule(s: Schedule, tx: mpsc::UnboundedSender<Event>) {
    let end = s.warmup + s.duration;
    let mut measured_count = 0u64;
    for i in 0u64.. {
        let nanos = u128::from(i) * 1_000_000_000 / u128::from(s.rate);
        let offset = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        if offset >= end {
            break;
        }
        let measured = offset >= s.warmup;
        if measured {
            if s.max_requests.is_some_and(|max| measured_count >= max) {
                break;
            }
            measured_count += 1;
        }
        let due = s.start + offset;
        tokio::time::sleep_until(due).await;
        let endpoint = usize::try_from(i % s.targets.len() as u64).unwrap_or(0);
        let Ok(permit) = Arc::clone(&s.limit).try_acquire_owned() else {
            let _ = tx.send(Event::Dropped { endpoint, measured });
            continue;
        };
        let _ = tx.send(Event::Sent {
            measured,
            lag: due.elapsed(),
        });
        let client = s.client.clone();
        let targets = Arc::clone(&s.targets);
        let tx = tx.clone();
        tokio::spawn(async move {
            let (method, url) = &targets[endpoint];
            let result = send(&client, method.clone(), url.clone()).await;
            let latency = due.elapsed();
            drop(permit);
            let _ = tx.send(Event::Done {
                endpoint,
                measured,
                latency,
                result,
            });
        });
    }
}

/// Sends one request and reads the whole body, so the latency ends at the response's last byte.
async fn send(client: &reqwest::Client, method: Method, url: Url) -> Result<u16, Failure> {
    let classify = |e: reqwest::Error| {
        if e.is_timeout() {
            Failure::Timeout
        } else if e.is_connect() {
            Failure::Connect
        } else {
            Failure::Other
        }
    };
    let response = client.request(method, url).send().await.map_err(classify)?;
    let status = response.status().as_u16();
    response.bytes().await.map_err(classify)?;
    Ok(status)
}

/// Reads the spec directory through the generator and picks the service to check: `name`, or the only one.
pub fn load_service(dir: &Path, name: Option<&str>) -> Result<Service, UsageError> {
    let files = match slogen::load::spec_dir(dir) {
        Ok(files) => files,
        Err(e) => return usage(format!("{e:#}")),
    };
    let model = match slogen::model::lower(&files) {
        Ok(model) => model,
        Err(problems) => {
            return usage(format!(
                "the SLO specs are invalid:\n{}",
                slogen::diagnostics::render(&files, &problems).trim_end()
            ))
        }
    };
    let names: Vec<&str> = model.services.iter().map(|s| s.name.as_str()).collect();
    let chosen = match name {
        Some(name) => model.services.iter().find(|s| s.name == name),
        None if model.services.len() == 1 => model.services.first(),
        None => {
            return usage(format!(
                "{} describes several services ({}): pick one with --service",
                dir.display(),
                names.join(", ")
            ))
        }
    };
    match chosen {
        Some(service) => Ok(service.clone()),
        None => usage(format!(
            "no service `{}` in {} (services: {})",
            name.unwrap_or_default(),
            dir.display(),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )),
    }
}

/// How one SLO is judged from the client side, decided before the run.
#[derive(Debug, Clone)]
enum Plan {
    /// Responses slower than `threshold` (index `index` in the run's thresholds) are bad.
    Latency {
        threshold: Duration,
        index: usize,
        endpoints: Vec<usize>,
    },
    /// Responses matching the errors selector's status values are bad.
    Ratio {
        /// Endpoints counted in the total, each with whether it also matches the errors selector.
        endpoints: Vec<(usize, bool)>,
        /// Status values the total counts; `None` for all.
        total_status: Option<Vec<String>>,
        /// Status values that make a request bad.
        error_status: Vec<String>,
    },
    /// Not measurable from the client, and why.
    NotMeasured(String),
}

/// Whether a metric is an HTTP server metric: one broken down by route or method.
fn is_http_metric(metric: &Metric) -> bool {
    metric.labels.iter().any(|l| l == "route" || l == "method")
}

/// Whether an axum route template (`/users/{id}`, `/files/{*rest}`) matches a concrete path.
fn route_matches(template: &str, path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let mut wanted = template.split('/');
    let mut given = path.split('/');
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) => {
                let param = (w.starts_with('{') && w.ends_with('}')) || w.starts_with(':');
                if w.starts_with("{*") || w.starts_with('*') {
                    return !g.is_empty();
                }
                if if param { g.is_empty() } else { w != g } {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// The `method` label value the service would record for a method: standard ones as is, the rest `OTHER`.
fn method_label(method: &Method) -> &str {
    match method.as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m,
        _ => "OTHER",
    }
}

/// Whether a response status (or no response, `None`, which counts as a 5xx) is among `values`.
fn status_matches(values: &[String], code: Option<u16>) -> bool {
    let code = code.unwrap_or(500);
    let class = format!("{}xx", code / 100);
    values.iter().any(|v| *v == class || *v == code.to_string())
}

/// The driven endpoints a selector's `method` and `route` matchers keep, or why it cannot be measured.
fn matching_endpoints(
    service: &Service,
    selector: &Selector,
    endpoints: &[Endpoint],
) -> Result<Vec<usize>, String> {
    let Some(metric) = service.find_metric(&selector.metric) else {
        return Err(format!("metric `{}` is not declared", selector.metric));
    };
    if !is_http_metric(metric) {
        return Err(format!(
            "`{}` is not an HTTP server metric (no `route` or `method` label): it is measured inside the service",
            metric.name
        ));
    }
    if let Some(label) = selector
        .matchers
        .keys()
        .find(|l| !CLIENT_LABELS.contains(&l.as_str()))
    {
        return Err(format!(
            "it matches on `{label}`, which a client cannot see"
        ));
    }
    let method = exact(selector, "method")?;
    let route = exact(selector, "route")?;
    Ok(endpoints
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            method.is_none_or(|values| values.iter().any(|v| v == method_label(&e.method)))
                && route.is_none_or(|values| values.iter().any(|t| route_matches(t, &e.path)))
        })
        .map(|(i, _)| i)
        .collect())
}

/// The values a selector lists for `label` (`None`: any), or why it cannot be judged from a client: a regex
/// or a negation, which the load check does not evaluate.
fn exact<'s>(selector: &'s Selector, label: &str) -> Result<Option<&'s Vec<String>>, String> {
    match selector.matchers.get(label) {
        None => Ok(None),
        Some(LabelMatch::Values(values)) => Ok(Some(values)),
        Some(_) => Err(format!(
            "it matches `{label}` with a regex or a negation, which the load check does not evaluate"
        )),
    }
}

/// Decides how each SLO is judged; returns the plans and the latency thresholds the run must count.
fn plan(service: &Service, endpoints: &[Endpoint]) -> (Vec<Plan>, Vec<Duration>) {
    let mut thresholds: Vec<Duration> = Vec::new();
    let plans = service
        .slos
        .iter()
        .map(|slo| match &slo.sli {
            Sli::Latency {
                histogram,
                threshold,
                ..
            } => {
                let matched = match matching_endpoints(service, histogram, endpoints) {
                    Ok(m) => m,
                    Err(reason) => return Plan::NotMeasured(reason),
                };
                let unit = service
                    .metrics
                    .iter()
                    .find(|m| m.name == histogram.metric)
                    .and_then(|m| m.unit.as_deref());
                let threshold = match unit {
                    Some("seconds") => Duration::from_secs_f64(*threshold),
                    Some("milliseconds") => Duration::from_secs_f64(threshold / 1000.0),
                    _ => {
                        return Plan::NotMeasured(format!(
                            "`{}` is not in seconds or milliseconds",
                            histogram.metric
                        ))
                    }
                };
                if matched.is_empty() {
                    return Plan::NotMeasured(no_endpoint(histogram));
                }
                let index = thresholds
                    .iter()
                    .position(|t| *t == threshold)
                    .unwrap_or_else(|| {
                        thresholds.push(threshold);
                        thresholds.len() - 1
                    });
                Plan::Latency {
                    threshold,
                    index,
                    endpoints: matched,
                }
            }
            Sli::Events { .. } | Sli::Raw { .. } => Plan::NotMeasured(
                "a query SLI reads PromQL over series a client cannot see".to_string(),
            ),
            Sli::Ratio { errors, total } => {
                let (in_errors, in_total) = match (
                    matching_endpoints(service, errors, endpoints),
                    matching_endpoints(service, total, endpoints),
                ) {
                    (Ok(e), Ok(t)) => (e, t),
                    (Err(reason), _) | (_, Err(reason)) => return Plan::NotMeasured(reason),
                };
                let (error_status, total_status) =
                    match (exact(errors, "status"), exact(total, "status")) {
                        (Ok(e), Ok(t)) => (e, t),
                        (Err(reason), _) | (_, Err(reason)) => return Plan::NotMeasured(reason),
                    };
                let Some(error_status) = error_status else {
                    return Plan::NotMeasured(
                        "its errors are not told apart by an HTTP `status` matcher".to_string(),
                    );
                };
                if in_total.is_empty() {
                    return Plan::NotMeasured(no_endpoint(total));
                }
                Plan::Ratio {
                    endpoints: in_total
                        .into_iter()
                        .map(|i| (i, in_errors.contains(&i)))
                        .collect(),
                    total_status: total_status.cloned(),
                    error_status: error_status.clone(),
                }
            }
        })
        .collect();
    (plans, thresholds)
}

fn no_endpoint(selector: &Selector) -> String {
    let shown: Vec<String> = selector
        .matchers
        .iter()
        .filter(|(l, _)| *l == "method" || *l == "route")
        .filter_map(|(l, m)| Some(format!("{l} in [{}]", m.listed()?.join(", "))))
        .collect();
    format!(
        "no driven endpoint matches its selector ({})",
        shown.join(", ")
    )
}

/// The whole result: settings, per-endpoint numbers and one verdict per SLO. Field names are stable.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Target base URL.
    pub base_url: String,
    /// Service whose SLOs were checked.
    pub service: String,
    /// Arrival rate, requests per second.
    pub rate: u32,
    /// Measured phase, seconds.
    pub duration_s: f64,
    /// Warm-up phase, seconds.
    pub warmup_s: f64,
    /// Cap on measured requests.
    pub max_requests: Option<u64>,
    /// Per-request timeout, seconds.
    pub timeout_s: f64,
    /// Concurrency bound.
    pub max_in_flight: usize,
    /// What happens to a request due while `max_in_flight` are outstanding: always `dropped` (not sent).
    pub over_limit: &'static str,
    /// Per endpoint, in the order driven.
    pub endpoints: Vec<EndpointReport>,
    /// All endpoints together.
    pub overall: EndpointReport,
    /// The latest a measured request went out after its due time, in milliseconds: the generator's own
    /// delay, already counted in the latencies.
    pub max_send_lag_ms: f64,
    /// One entry per SLO of the service, in name order.
    pub slos: Vec<SloReport>,
    /// `met`, `missed`, or `nothing_measured`.
    pub verdict: Verdict,
}

/// Numbers for one endpoint (or `all`).
#[derive(Debug, Clone, Serialize)]
pub struct EndpointReport {
    /// `METHOD /path`, or `all`.
    pub endpoint: String,
    /// Requests due in the measured phase.
    pub scheduled: u64,
    /// Requests sent.
    pub sent: u64,
    /// Requests not sent because `max_in_flight` were outstanding.
    pub dropped: u64,
    /// Requests that got a response or failed.
    pub completed: u64,
    /// Failures plus 5xx responses.
    pub errors: u64,
    /// Responses by status code.
    pub statuses: BTreeMap<String, u64>,
    /// Requests that timed out.
    pub timeouts: u64,
    /// Requests that could not connect.
    pub connect_errors: u64,
    /// Requests that failed otherwise.
    pub other_errors: u64,
    /// Latency percentiles from the due time, `null` when nothing completed.
    pub latency_ms: Option<Latency>,
}

/// Latency percentiles in milliseconds (microsecond resolution, 3 significant digits).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

impl EndpointReport {
    fn new(name: String, s: &EndpointStats) -> EndpointReport {
        let ms = |micros: u64| micros as f64 / 1000.0;
        EndpointReport {
            endpoint: name,
            scheduled: s.scheduled,
            sent: s.sent,
            dropped: s.dropped,
            completed: s.completed(),
            errors: s.errors(),
            statuses: s
                .statuses
                .iter()
                .map(|(code, n)| (code.to_string(), *n))
                .collect(),
            timeouts: s.timeouts,
            connect_errors: s.connect_errors,
            other_errors: s.other_errors,
            latency_ms: (!s.latency.is_empty()).then(|| Latency {
                p50: ms(s.latency.value_at_quantile(0.50)),
                p95: ms(s.latency.value_at_quantile(0.95)),
                p99: ms(s.latency.value_at_quantile(0.99)),
                max: ms(s.latency.max()),
            }),
        }
    }
}

/// Whether the run kept its promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every measured SLO was met.
    Met,
    /// At least one measured SLO was missed.
    Missed,
    /// No SLO could be measured from the client.
    NothingMeasured,
}

/// The verdict on one SLO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SloStatus {
    /// The measured bad share is within the error budget ratio.
    Met,
    /// The measured bad share is above it.
    Missed,
    /// Not measurable from the client side.
    NotMeasured,
}

/// One SLO, judged on the run.
#[derive(Debug, Clone, Serialize)]
pub struct SloReport {
    /// SLO name.
    pub name: String,
    /// What it promises.
    pub description: String,
    /// `latency` or `ratio`.
    pub sli: &'static str,
    /// The verdict.
    pub status: SloStatus,
    /// Objective, percent, exact as written.
    pub objective_percent: String,
    /// Share of requests allowed to be bad: `1 - objective/100`, exact.
    pub allowed_bad_share: String,
    /// Latency threshold in seconds, for latency SLIs.
    pub threshold_s: Option<f64>,
    /// Endpoints counted.
    pub endpoints: Vec<String>,
    /// Bad requests.
    pub bad: Option<u64>,
    /// Requests counted.
    pub total: Option<u64>,
    /// `bad / total`.
    pub bad_share: Option<f64>,
    /// Why it was not measured.
    pub reason: Option<String>,
}

impl SloReport {
    fn judge(slo: &Slo, plan: &Plan, run: &RunResult) -> SloReport {
        let mut report = SloReport {
            name: slo.name.clone(),
            description: slo.description.clone(),
            sli: match slo.sli {
                Sli::Latency { .. } => "latency",
                Sli::Ratio { .. } => "ratio",
                Sli::Events { .. } => "events",
                Sli::Raw { .. } => "raw",
            },
            status: SloStatus::NotMeasured,
            objective_percent: slo.objective.to_string(),
            allowed_bad_share: slo.budget.ratio.to_string(),
            threshold_s: None,
            endpoints: Vec::new(),
            bad: None,
            total: None,
            bad_share: None,
            reason: None,
        };
        let (bad, total, endpoints): (u64, u64, Vec<usize>) = match plan {
            Plan::NotMeasured(reason) => {
                report.reason = Some(reason.clone());
                return report;
            }
            Plan::Latency {
                threshold,
                index,
                endpoints,
            } => {
                report.threshold_s = Some(threshold.as_secs_f64());
                let of = |i: &usize| &run.endpoints[*i];
                (
                    endpoints
                        .iter()
                        .map(|i| of(i).slower_than[*index] + of(i).unanswered())
                        .sum(),
                    endpoints.iter().map(|i| of(i).scheduled).sum(),
                    endpoints.clone(),
                )
            }
            Plan::Ratio {
                endpoints,
                total_status,
                error_status,
            } => {
                let (mut bad, mut total) = (0, 0);
                for (i, in_errors) in endpoints {
                    let s = &run.endpoints[*i];
                    let outcomes = s
                        .statuses
                        .iter()
                        .map(|(code, n)| (Some(*code), *n))
                        .chain([(None, s.unanswered())]);
                    for (code, n) in outcomes {
                        if total_status
                            .as_ref()
                            .is_none_or(|values| status_matches(values, code))
                        {
                            total += n;
                            if *in_errors && status_matches(error_status, code) {
                                bad += n;
                            }
                        }
                    }
                }
                (bad, total, endpoints.iter().map(|(i, _)| *i).collect())
            }
        };
        report.endpoints = endpoints
            .iter()
            .map(|i| run.endpoints[*i].endpoint.to_string())
            .collect();
        report.bad = Some(bad);
        report.total = Some(total);
        if total == 0 {
            report.reason = Some("no request was counted".to_string());
            return report;
        }
        report.bad_share = Some(bad as f64 / total as f64);
        let share = Exact::new(u128::from(bad), u128::from(total));
        report.status = if share.cmp_value(slo.budget.ratio).is_le() {
            SloStatus::Met
        } else {
            SloStatus::Missed
        };
        report
    }
}

impl Report {
    /// Process exit status: 1 when a measured SLO was missed, else 0.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.verdict == Verdict::Missed)
    }

    /// The report as pretty JSON, ending in a newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("the report serializes");
        text.push('\n');
        text
    }

    /// The report as aligned text tables: endpoints, then SLOs, then the verdict.
    pub fn to_table(&self) -> String {
        let mut out = format!(
            "{} ({}) at {} req/s for {}s after {}s warm-up, timeout {}s, at most {} in flight (more are dropped, not sent)\n\n",
            self.base_url,
            self.service,
            self.rate,
            self.duration_s,
            self.warmup_s,
            self.timeout_s,
            self.max_in_flight
        );
        let mut rows = vec![[
            "endpoint", "count", "sent", "dropped", "errors", "p50", "p95", "p99", "max",
        ]
        .map(String::from)
        .to_vec()];
        for e in self.endpoints.iter().chain([&self.overall]) {
            let lat = |f: fn(&Latency) -> f64| {
                e.latency_ms
                    .as_ref()
                    .map(|l| format!("{:.2} ms", f(l)))
                    .unwrap_or_else(|| "-".to_string())
            };
            rows.push(vec![
                e.endpoint.clone(),
                e.scheduled.to_string(),
                e.sent.to_string(),
                e.dropped.to_string(),
                e.errors.to_string(),
                lat(|l| l.p50),
                lat(|l| l.p95),
                lat(|l| l.p99),
                lat(|l| l.max),
            ]);
        }
        out.push_str(&align(&rows, 1));
        for e in &self.endpoints {
            let mut notes: Vec<String> = e
                .statuses
                .iter()
                .filter(|(code, _)| !code.starts_with('2'))
                .map(|(code, n)| format!("{n} answered {code}"))
                .collect();
            for (n, what) in [
                (e.timeouts, "timed out"),
                (e.connect_errors, "could not connect"),
                (e.other_errors, "failed otherwise"),
                (e.dropped, "dropped"),
            ] {
                if n > 0 {
                    notes.push(format!("{n} {what}"));
                }
            }
            if !notes.is_empty() {
                out.push_str(&format!("  {}: {}\n", e.endpoint, notes.join(", ")));
            }
        }
        if self.max_send_lag_ms >= LAG_WORTH_NOTING_MS {
            out.push_str(&format!(
                "  note: this machine sent some requests up to {:.2} ms after their due time; \
                 their latency counts from the due time\n",
                self.max_send_lag_ms
            ));
        }
        out.push('\n');
        let mut rows = vec![["SLO", "status", "bad", "allowed", "objective", "detail"]
            .map(String::from)
            .to_vec()];
        for s in &self.slos {
            let status = match s.status {
                SloStatus::Met => "met",
                SloStatus::Missed => "MISSED",
                SloStatus::NotMeasured => "not measured here",
            };
            let bad = match (s.bad, s.total, s.bad_share) {
                (Some(bad), Some(total), Some(share)) => {
                    format!("{bad}/{total} ({:.3}%)", share * 100.0)
                }
                _ => "-".to_string(),
            };
            let detail = match (&s.reason, s.threshold_s) {
                (Some(reason), _) => reason.clone(),
                (None, Some(t)) => format!("slower than {t}s or unanswered"),
                (None, None) => "error responses or unanswered".to_string(),
            };
            let measured = s.status != SloStatus::NotMeasured;
            rows.push(vec![
                s.name.clone(),
                status.to_string(),
                bad,
                if measured {
                    format!("{}%", percent(&s.allowed_bad_share))
                } else {
                    "-".to_string()
                },
                format!("{}%", s.objective_percent),
                detail,
            ]);
        }
        out.push_str(&align(&rows, 0));
        let measured: Vec<&SloReport> = self
            .slos
            .iter()
            .filter(|s| s.status != SloStatus::NotMeasured)
            .collect();
        let missed = measured
            .iter()
            .filter(|s| s.status == SloStatus::Missed)
            .count();
        out.push_str(&match self.verdict {
            Verdict::Met => format!("\nverdict: met ({} measured SLOs met)\n", measured.len()),
            Verdict::Missed => format!(
                "\nverdict: missed ({missed} of {} measured SLOs missed)\n",
                measured.len()
            ),
            Verdict::NothingMeasured => {
                "\nverdict: nothing measured (no SLO reads an HTTP server metric)\n".to_string()
            }
        });
        out
    }
}

/// An exact share (`0.0005`) as an exact percentage (`0.05`).
fn percent(share: &str) -> String {
    Exact::parse_decimal(share)
        .map(|e| (e * Exact::int(100)).to_string())
        .unwrap_or_else(|| share.to_string())
}

/// Left-aligns text columns two spaces apart; columns from `numeric_from` on are right-aligned.
fn align(rows: &[Vec<String>], numeric_from: usize) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|v| v.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, v)| {
                if numeric_from > 0 && c >= numeric_from {
                    format!("{v:>width$}", width = widths[c])
                } else if c + 1 == row.len() {
                    v.clone()
                } else {
                    format!("{v:<width$}", width = widths[c])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn format_ms(micros: u64) -> String {
    format!("{:.2} ms", micros as f64 / 1000.0)
}

/// Loads the SLOs, runs the load and judges every SLO: what `slogen-load` does.
pub async fn check(
    config: &LoadConfig,
    slos: &Path,
    service: Option<&str>,
    progress: impl FnMut(&Progress),
) -> Result<Report, UsageError> {
    let base = config.check()?;
    let service = load_service(slos, service)?;
    let (plans, thresholds) = plan(&service, &config.endpoints);
    let run = run(config, &thresholds, progress).await?;
    let mut overall = EndpointStats::new(
        Endpoint {
            method: Method::GET,
            path: String::new(),
        },
        thresholds.len(),
    );
    for s in &run.endpoints {
        overall.add(s);
    }
    let slos: Vec<SloReport> = service
        .slos
        .iter()
        .zip(&plans)
        .map(|(slo, plan)| SloReport::judge(slo, plan, &run))
        .collect();
    let verdict = if slos.iter().any(|s| s.status == SloStatus::Missed) {
        Verdict::Missed
    } else if slos.iter().any(|s| s.status == SloStatus::Met) {
        Verdict::Met
    } else {
        Verdict::NothingMeasured
    };
    Ok(Report {
        base_url: base.to_string(),
        service: service.name.clone(),
        rate: config.rate,
        duration_s: config.duration.as_secs_f64(),
        warmup_s: config.warmup.as_secs_f64(),
        max_requests: config.max_requests,
        timeout_s: config.timeout.as_secs_f64(),
        max_in_flight: config.max_in_flight,
        over_limit: "dropped",
        endpoints: run
            .endpoints
            .iter()
            .map(|s| EndpointReport::new(s.endpoint.to_string(), s))
            .collect(),
        overall: EndpointReport::new("all".to_string(), &overall),
        max_send_lag_ms: run.max_send_lag.as_micros() as f64 / 1000.0,
        slos,
        verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_method_and_path() {
        let e: Endpoint = "post:/payments?x=1".parse().unwrap();
        assert_eq!((e.method, e.path.as_str()), (Method::POST, "/payments?x=1"));
        assert!("GET/users".parse::<Endpoint>().is_err());
        assert!("GET:users".parse::<Endpoint>().is_err());
        assert!("G ET:/".parse::<Endpoint>().is_err());
    }

    #[test]
    fn durations_take_one_unit() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        for bad in ["", "s", "5", "1.5s", "5h", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_loopback_or_named_hosts_are_targets() {
        for ok in [
            "http://127.0.0.1:8000",
            "http://127.8.9.10/",
            "http://localhost:1",
            "http://[::1]:80",
            "http://[::ffff:127.0.0.1]/",
        ] {
            assert!(check_target(ok, &[]).is_ok(), "{ok}");
        }
        for refused in [
            "http://10.0.0.1",
            "http://example.com",
            "http://[::2]",
            "http://0.0.0.0",
        ] {
            let e = check_target(refused, &[]).unwrap_err();
            assert!(e.0.contains("refusing"), "{e}");
        }
        assert!(check_target("http://10.0.0.1:9", &["10.0.0.1".into()]).is_ok());
        assert!(check_target("http://[fd00::1]:9", &["fd00::1".into()]).is_ok());
        assert!(check_target("http://Example.COM", &["example.com".into()]).is_ok());
        assert!(check_target("http://10.0.0.2", &["10.0.0.1".into()]).is_err());
        assert!(check_target("https://127.0.0.1", &[]).is_err());
        assert!(check_target("http://127.0.0.1/?a=1", &[]).is_err());
    }

    #[test]
    fn route_templates_match_concrete_paths() {
        assert!(route_matches("/users/{id}", "/users/1"));
        assert!(route_matches("/users/{id}", "/users/1?full=true"));
        assert!(!route_matches("/users/{id}", "/users/"));
        assert!(!route_matches("/users/{id}", "/users/1/posts"));
        assert!(route_matches("/files/{*rest}", "/files/a/b"));
        assert!(route_matches("/health", "/health"));
        assert!(!route_matches("/health", "/healthz"));
    }

    #[test]
    fn statuses_match_by_class_or_code_and_silence_is_a_5xx() {
        let five = vec!["5xx".to_string()];
        assert!(status_matches(&five, Some(503)));
        assert!(!status_matches(&five, Some(404)));
        assert!(status_matches(&five, None));
        assert!(status_matches(&["429".to_string()], Some(429)));
    }
}
