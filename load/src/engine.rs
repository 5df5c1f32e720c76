//! The open-loop engine: requests due at fixed times, sent concurrently up to a limit, timed from when they
//! were due, and counted per endpoint.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use reqwest::{Method, Url};
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

use crate::config::{usage, Endpoint, LoadConfig, UsageError};
use crate::report::format_ms;

/// Largest latency the histograms keep exactly: longer ones are recorded as this (no request can take longer
/// than warm-up, run and timeout together).
const HISTOGRAM_MAX_MICROS: u64 = 3_600_000_000;

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
    pub(crate) fn new(endpoint: Endpoint, thresholds: usize) -> EndpointStats {
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
    pub(crate) fn unanswered(&self) -> u64 {
        self.timeouts + self.connect_errors + self.other_errors + self.dropped
    }

    /// Requests that got a response or failed.
    pub(crate) fn completed(&self) -> u64 {
        self.statuses.values().sum::<u64>()
            + self.timeouts
            + self.connect_errors
            + self.other_errors
    }

    /// Failed requests plus 5xx responses (dropped ones are counted apart).
    pub(crate) fn errors(&self) -> u64 {
        self.timeouts
            + self.connect_errors
            + self.other_errors
            + self.statuses.range(500..600).map(|(_, n)| n).sum::<u64>()
    }

    pub(crate) fn add(&mut self, other: &EndpointStats) {
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
