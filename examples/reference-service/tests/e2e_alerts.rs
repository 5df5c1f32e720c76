//! The generated SLO alerts against the real thing: rules generated from `tests/e2e/slos/` by the generator's
//! own code, a real Prometheus scraping the reference service every second and evaluating them, real
//! PostgreSQL and Redis behind the service, and its fault switch turning errors on and off. The page alert
//! must fire within the time the model computes for it and clear within the model's reset time, each plus
//! scrape and evaluation slack; the SLI must report the injected error ratio; every series the rules read
//! must exist; and no process may outlive the test.

#[path = "../../../runtime/tests/support/prometheus.rs"]
mod prometheus_server;
#[path = "support/reference.rs"]
mod reference;
#[path = "../../../runtime/tests/support/services.rs"]
mod services;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use prometheus_server::Prometheus;
use promql_parser::parser::{Expr, VectorSelector};
use reference::{backend, repository, rule_exprs, selects_service, Running};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use services::{Postgres, RedisServer};
use slogen::conventions::sli_error_record;
use slogen::model::promql::slo_matchers;
use slogen::model::{BurnRateAlert, Label, LabelMatch, LabelValues, Service, Severity, Sli, Slo};
use tempfile::TempDir;
use tokio::task::{block_in_place, JoinHandle};

/// The scrape job, as the spec's selector names it.
const JOB: &str = "backend";

/// The SLO whose page alert the test drives.
const SLO: &str = "api_availability";

/// The share of API requests the fault switch fails.
const INJECTED_ERROR_RATIO: f64 = 0.5;

/// The API routes the traffic uses, as the HTTP layer labels them.
const API_ROUTES: [&str; 2] = ["/users/{id}", "/jobs/{name}/run"];

/// The lowest share of API requests among all requests the service counts (the rest are Prometheus' scrapes
/// and the test's fault switching); the traffic's pace keeps it near 40 / 41.
const MIN_API_SHARE: f64 = 0.8;

/// Pause between two requests of the traffic: 40 requests per second.
const REQUEST_PERIOD: Duration = Duration::from_millis(25);

/// Bounds of the traffic, in case the test stops waiting for it: at most this many requests…
const MAX_REQUESTS: u64 = 12_000;

/// …and at most this long.
const MAX_TRAFFIC: Duration = Duration::from_secs(300);

/// What the observed times may exceed the model's by: a scrape (1s), two rule evaluations (the SLI
/// recording, then the alert; 1s each), `rate()` extrapolating over a window whose edge falls between
/// samples, and room for a machine busy compiling.
const SLACK: Duration = Duration::from_secs(20);

/// How long Prometheus may take to scrape the target and record the SLI for the first time.
const FIRST_DATA_TIMEOUT: Duration = Duration::from_secs(60);

/// How often the test asks Prometheus.
const POLL: Duration = Duration::from_millis(250);

/// How far the recorded error ratio may be from the injected one, scaled by the share of API requests.
const RATIO_TOLERANCE: f64 = 0.03;

fn e2e_spec() -> Service {
    backend(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/slos"))
}

fn slo<'s>(service: &'s Service, name: &str) -> &'s Slo {
    service
        .slos
        .iter()
        .find(|slo| slo.name == name)
        .unwrap_or_else(|| panic!("no SLO `{name}`"))
}

/// A label's values, comparable: the closed values, or the open label's limit (none for an unlimited one).
fn values(label: &Label) -> (Vec<&str>, Option<u32>) {
    match &label.values {
        LabelValues::Closed(values) => (values.iter().map(|v| v.value.as_str()).collect(), None),
        LabelValues::Open { max_values } => (Vec::new(), Some(*max_values)),
        LabelValues::Unlimited => (Vec::new(), None),
    }
}

/// The ratio SLI's error and total selectors: metric and matchers.
type RatioSelectors<'s> = [(&'s str, &'s BTreeMap<String, LabelMatch>); 2];

fn ratio_selectors(slo: &Slo) -> RatioSelectors<'_> {
    match &slo.sli {
        Sli::Ratio { errors, total } => [
            (errors.metric.as_str(), &errors.matchers),
            (total.metric.as_str(), &total.matchers),
        ],
        _ => panic!("`{}` is not a ratio SLO", slo.name),
    }
}

/// The end-to-end spec must describe the service the reference backend is, or its alerts would read series
/// the service does not expose.
#[test]
fn the_e2e_spec_describes_the_backend_of_slos() {
    let e2e = e2e_spec();
    let reference = backend(&repository().join("slos"));
    assert_eq!(e2e.selector, reference.selector);
    assert!(!e2e.metrics.is_empty());
    for metric in &e2e.metrics {
        let theirs = reference
            .metrics
            .iter()
            .find(|theirs| theirs.name == metric.name)
            .unwrap_or_else(|| panic!("slos/backend.toml has no metric `{}`", metric.name));
        assert_eq!(
            (
                metric.kind,
                &metric.unit,
                &metric.labels,
                &metric.buckets,
                &metric.help
            ),
            (
                theirs.kind,
                &theirs.unit,
                &theirs.labels,
                &theirs.buckets,
                &theirs.help
            ),
            "metric `{}`",
            metric.name
        );
        for label in &metric.labels {
            assert_eq!(
                values(&e2e.label_defs[label]),
                values(&reference.label_defs[label]),
                "label `{label}`"
            );
        }
    }
    assert_eq!(
        ratio_selectors(slo(&e2e, SLO)),
        ratio_selectors(slo(&reference, SLO)),
        "the SLI of `{SLO}`"
    );
}

/// The rules file, generated into a temporary directory.
struct Rules {
    dir: TempDir,
}

impl Rules {
    fn generate(service: &Service) -> Self {
        let dir = tempfile::tempdir().expect("create a directory for the rules");
        let rules = slogen::emit::prometheus::emit(service).expect("emit the rules");
        fs::write(dir.path().join("rules.yml"), rules).expect("write the rules");
        Rules { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("rules.yml")
    }

    /// Every rule's expression, with its record or alert name.
    fn exprs(&self) -> Vec<(String, String)> {
        rule_exprs(&fs::read_to_string(self.path()).expect("read the rules"))
    }
}

fn assert_promtool_accepts_rules(path: &Path) {
    let output = Command::new("promtool")
        .args(["check", "rules"])
        .arg(path)
        .output()
        .expect("run promtool (Debian's `prometheus` package provides /usr/bin/promtool)");
    assert!(
        output.status.success(),
        "promtool check rules:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The vector selectors of `expr`, those inside range selectors included.
fn selectors(expr: &Expr, out: &mut Vec<VectorSelector>) {
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

impl Running {
    /// Sets the share of API requests the service fails.
    async fn set_faults(&self, error_ratio: f64) {
        let (status, _) = self
            .post("/admin/faults", json!({ "error_ratio": error_ratio }))
            .await;
        assert_eq!(status, StatusCode::OK, "set the fault switch");
    }
}

/// The `n`-th request of the traffic: two reads of the user for each run of a job, so that failures, which
/// hit every second request at a ratio of 0.5, fall on both routes.
fn request(n: u64, user: i64) -> (Method, String) {
    match n % 3 {
        2 => (Method::POST, "/jobs/send_digest_emails/run".to_owned()),
        _ => (Method::GET, format!("/users/{user}")),
    }
}

/// What the traffic got back.
#[derive(Debug, Default)]
struct Sent {
    /// Answers by status code.
    statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer.
    failed: u64,
    /// Whether the test stopped it, rather than its bounds.
    stopped: bool,
}

/// A steady stream of API requests in the background.
struct Traffic {
    stop: Arc<AtomicBool>,
    task: JoinHandle<Sent>,
}

impl Traffic {
    fn start(backend: &Running, user: i64) -> Self {
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

    async fn stop(self) -> Sent {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.expect("the traffic task ends")
    }
}

/// Prometheus' API from async code: each call blocks its worker thread only, so the service and the traffic
/// keep running on the others.
struct Api<'p> {
    prometheus: &'p Prometheus,
}

impl Api<'_> {
    fn fail(&self, what: &str) -> ! {
        panic!("{what} failed; Prometheus' log:\n{}", self.prometheus.log())
    }

    fn query(&self, query: &str) -> Vec<Value> {
        block_in_place(|| self.prometheus.query(query))
            .unwrap_or_else(|| self.fail(&format!("the query `{query}`")))
    }

    /// The values of a range query with one series, by timestamp (milliseconds).
    fn range(&self, query: &str, start: SystemTime, end: SystemTime) -> BTreeMap<u64, f64> {
        let result = block_in_place(|| {
            self.prometheus
                .query_range(query, start, end, Duration::from_secs(1))
        })
        .unwrap_or_else(|| self.fail(&format!("the range query `{query}`")));
        assert_eq!(result.len(), 1, "`{query}` has one series: {result:?}");
        result[0]["values"]
            .as_array()
            .expect("values")
            .iter()
            .map(|point| {
                let at = point[0].as_f64().expect("a timestamp");
                ((at * 1000.0).round() as u64, number(&point[1]))
            })
            .collect()
    }

    fn series(&self, selector: &str, since: SystemTime) -> Vec<Value> {
        block_in_place(|| self.prometheus.series(selector, since))
            .unwrap_or_else(|| self.fail(&format!("the series of `{selector}`")))
    }

    fn api(&self, path: &str) -> Value {
        block_in_place(|| self.prometheus.api(path)).unwrap_or_else(|| self.fail(path))
    }

    /// The `alertstate` of every active `ALERTS` series matching `matchers`.
    fn alert_states(&self, matchers: &str) -> Vec<String> {
        self.query(&format!("ALERTS{{{matchers}}}"))
            .iter()
            .map(|alert| {
                alert["metric"]["alertstate"]
                    .as_str()
                    .expect("an alertstate")
                    .to_owned()
            })
            .collect()
    }
}

/// A sample value, which the API sends as a string.
fn number(value: &Value) -> f64 {
    value
        .as_str()
        .expect("a value string")
        .parse()
        .expect("a number")
}

/// Polls `probe` every [`POLL`] until it gives a value, or `bound` has passed since `since`.
async fn poll<T>(
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
struct Process {
    pid: u32,
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
fn descendants() -> Vec<Process> {
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

fn still_running(process: &Process) -> bool {
    read_process(&process.pid.to_string()).is_some_and(|now| now.started == process.started)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_alert_fires_on_injected_errors_and_clears_when_they_stop() {
    let since = SystemTime::now();

    // 1. The rules, generated by the generator's own code, and accepted by promtool.
    let service = e2e_spec();
    let slo = slo(&service, SLO);
    let pages: Vec<&BurnRateAlert> = slo
        .burn_rate_alerts
        .iter()
        .filter(|alert| alert.severity == Severity::Page)
        .collect();
    let [page] = pages[..] else {
        panic!("the spec has one page window, not {}", pages.len())
    };
    let rules = Rules::generate(&service);
    assert_promtool_accepts_rules(&rules.path());
    let alert = &slo.rules.burn_alert;
    let slo_selector = slo_matchers(&service, slo);
    let sli = |window| format!("{}{slo_selector}", sli_error_record(window));
    let (short, long) = (sli(page.short), sli(page.long));
    let threshold = page.threshold.to_f64();
    let page_alerts = format!("alertname=\"{alert}\",severity=\"page\"");
    let seconds = |exact: slogen::model::Exact| Duration::from_secs_f64(exact.to_f64());
    // At an error ratio r the long window crosses the threshold 1 / r times later than in a full outage
    // (the short one, a fraction of it, crosses first), then the alert waits its `for`. After the errors
    // stop, the short window drops under the threshold within (1 - threshold / r) × short: at most the
    // model's reset time, which is that of r = 1.
    let for_ = Duration::from_secs(page.for_.seconds);
    let lowest_ratio = INJECTED_ERROR_RATIO * MIN_API_SHARE;
    let fire_bound =
        (seconds(page.time_to_fire_full_outage) - for_).div_f64(lowest_ratio) + for_ + SLACK;
    let clear_bound = seconds(page.reset_time) + SLACK;

    // 2. The stores, the service, and Prometheus scraping it and evaluating the rules.
    let postgres = block_in_place(Postgres::start);
    let redis = block_in_place(RedisServer::start);
    let backend = Running::start(
        postgres.url(),
        redis.url(),
        &[("APP_ENV", "development".to_owned())],
    )
    .await;
    let user = backend.create_user("alerta").await;
    // One failure on each route before Prometheus' first scrape: an error counter appears with its first
    // error, and `rate()` never counts a series' first sample, so without these the SLI would have no
    // error series to divide while healthy, and would miss the first error of each route.
    backend.set_faults(1.0).await;
    for n in [0, 2] {
        let (method, path) = request(n, user);
        assert_eq!(
            backend.send(method, &path, None).await.0,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
    backend.set_faults(0.0).await;
    let prometheus = block_in_place(|| Prometheus::start(JOB, backend.address, &[&rules.path()]));
    let api = Api {
        prometheus: &prometheus,
    };
    let started = Instant::now();
    let up = poll(started, FIRST_DATA_TIMEOUT, || {
        let targets = api.api("/api/v1/targets");
        let active = targets["data"]["activeTargets"].as_array()?;
        active
            .iter()
            .any(|target| target["labels"]["job"] == JOB && target["health"] == "up")
            .then_some(())
    })
    .await;
    assert!(
        up.is_some(),
        "the target never came up: {}",
        prometheus.log()
    );

    // 3a. Healthy traffic: the SLI is 0 over both windows and the alert is silent.
    let traffic = Traffic::start(&backend, user);
    // Until a window holds two scrapes that saw requests, its ratio is 0 / 0.
    let defined = |query: &str| {
        let result = api.query(query);
        let ratio = number(&result.first()?["value"][1]);
        (!ratio.is_nan()).then_some(ratio)
    };
    let healthy = poll(started, FIRST_DATA_TIMEOUT, || {
        Some((defined(&short)?, defined(&long)?))
    })
    .await;
    let ((short_ratio, long_ratio), _) = healthy.unwrap_or_else(|| {
        panic!(
            "Prometheus never recorded a ratio in `{short}` and `{long}`; its log:\n{}",
            prometheus.log()
        )
    });
    assert_eq!((short_ratio, long_ratio), (0.0, 0.0), "the healthy SLI");
    assert_eq!(
        api.alert_states(&format!("alertname=\"{alert}\"")),
        Vec::<String>::new(),
        "no burn alert while healthy"
    );

    // 3b. Faults: the page alert goes pending, then fires.
    backend.set_faults(INJECTED_ERROR_RATIO).await;
    let faults_on = Instant::now();
    let faults_on_at = SystemTime::now();
    let mut pending_after = None;
    let fired = poll(faults_on, fire_bound, || {
        let states = api.alert_states(&page_alerts);
        if pending_after.is_none() && !states.is_empty() {
            pending_after = Some(faults_on.elapsed());
        }
        states.iter().any(|state| state == "firing").then_some(())
    })
    .await;
    let ((), firing_after) = fired.unwrap_or_else(|| {
        panic!(
            "`{alert}` did not fire within {fire_bound:?} of the faults (pending after {pending_after:?}); \
             {short} = {:?}, {long} = {:?}",
            api.query(&short),
            api.query(&long)
        )
    });
    // It was pending before it fired, as its `for` requires: Prometheus recorded the pending state.
    let pending = api.query(&format!(
        "count_over_time(ALERTS{{{page_alerts},alertstate=\"pending\"}}[{}s])",
        fire_bound.as_secs() + 1
    ));
    assert_eq!(pending.len(), 1, "`{alert}` was never pending: {pending:?}");

    // The short window's error ratio, once it holds only faulty traffic, is the injected ratio diluted by
    // the requests the fault switch spares (scrapes, the switch itself): compared point by point with
    // that share, measured by Prometheus over the same window.
    let short_window = Duration::from_secs(page.short.seconds);
    let steady_from = faults_on_at + short_window + Duration::from_secs(3);
    let steady_until = steady_from + Duration::from_secs(5);
    while SystemTime::now() < steady_until + Duration::from_secs(1) {
        tokio::time::sleep(POLL).await;
    }
    let window = page.short.promql();
    let api_requests = API_ROUTES
        .iter()
        .map(|route| {
            format!("rate(http_requests_total{{job=\"{JOB}\",route=\"{route}\"}}[{window}])")
        })
        .collect::<Vec<_>>()
        .join(" or ");
    let share_query =
        format!("sum({api_requests}) / sum(rate(http_requests_total{{job=\"{JOB}\"}}[{window}]))");
    let recorded = api.range(&short, steady_from, steady_until);
    let shares = api.range(&share_query, steady_from, steady_until);
    assert!(recorded.len() >= 5, "{recorded:?}");
    for (at, ratio) in &recorded {
        let share = *shares.get(at).expect("the share at every step");
        assert!(share >= MIN_API_SHARE, "API share {share} at {at}");
        let expected = INJECTED_ERROR_RATIO * share;
        assert!(
            (ratio - expected).abs() <= RATIO_TOLERANCE,
            "{short} = {ratio} at {at}, expected {expected} ({INJECTED_ERROR_RATIO} of a {share} share)"
        );
        assert!(*ratio > threshold);
    }

    // 3c. No more faults: the page alert clears.
    backend.set_faults(0.0).await;
    let faults_off = Instant::now();
    let cleared = poll(faults_off, clear_bound, || {
        api.alert_states(&page_alerts).is_empty().then_some(())
    })
    .await;
    let ((), cleared_after) = cleared.unwrap_or_else(|| {
        panic!(
            "`{alert}` still {:?} {clear_bound:?} after the faults stopped; {short} = {:?}",
            api.alert_states(&page_alerts),
            api.query(&short)
        )
    });

    // 4. Every series the rules read exists in Prometheus: the service's, and every recorded one.
    let mut problems = Vec::new();
    for (rule, expr) in rules.exprs() {
        let parsed = promql_parser::parser::parse(&expr)
            .unwrap_or_else(|error| panic!("{rule}: `{expr}` does not parse: {error}"));
        let mut found = Vec::new();
        selectors(&parsed, &mut found);
        for selector in found {
            let name = selector.name.clone().unwrap_or_default();
            if !name.contains(':') && !selects_service(&selector, &service) {
                problems.push(format!("{rule}: `{selector}` does not select the service"));
            } else if api.series(&selector.to_string(), since).is_empty() {
                problems.push(format!(
                    "{rule}: no series `{selector}` (`{name}`) in Prometheus"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // …and Prometheus evaluated every rule without an error.
    let groups = api.api("/api/v1/rules");
    for group in groups["data"]["groups"].as_array().expect("rule groups") {
        for rule in group["rules"].as_array().expect("rules") {
            // `lastError` is left out when there is none.
            assert_eq!(
                (
                    &rule["health"],
                    rule["lastError"].as_str().unwrap_or_default()
                ),
                (&json!("ok"), ""),
                "rule {}",
                rule["name"]
            );
        }
    }

    let sent = traffic.stop().await;
    assert!(
        sent.stopped,
        "the traffic ran out before the test ended: {sent:?}"
    );
    assert_eq!(sent.failed, 0, "{sent:?}");
    assert_eq!(
        sent.statuses.keys().copied().collect::<Vec<_>>(),
        [200, 500],
        "{sent:?}"
    );

    eprintln!(
        "{alert} (page, {} / {}, for {}): pending {pending_after:.1?} and firing {firing_after:.1?} after \
         the faults (model: {:.1}s in a full outage, bound {fire_bound:.1?}); cleared {cleared_after:.1?} \
         after they stopped (model reset time {:.2}s, bound {clear_bound:.1?}); traffic {sent:?}",
        page.long.promql(),
        page.short.promql(),
        page.for_.promql(),
        page.time_to_fire_full_outage.to_f64(),
        page.reset_time.to_f64(),
    );

    // 5. Everything stops, and no process of the test outlives it.
    let children = descendants();
    let prometheus_pid = prometheus.pid();
    assert!(
        children.iter().any(|child| child.pid == prometheus_pid),
        "{children:?}"
    );
    drop(prometheus);
    block_in_place(|| {
        drop(redis);
        drop(postgres);
    });
    let left: Vec<&Process> = children
        .iter()
        .filter(|child| still_running(child))
        .collect();
    assert!(left.is_empty(), "still running: {left:?}");
}
