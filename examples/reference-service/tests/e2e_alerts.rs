//! The generated SLO alerts against the real thing: rules generated from `tests/e2e/slos/` by the generator's
//! own code, a real Prometheus scraping the reference service every second and evaluating them, real
//! PostgreSQL and Redis behind the service, and its fault switch turning errors on and off. The page alert
//! must fire within the time the model computes for it and clear within the model's reset time, each plus
//! scrape and evaluation slack; the SLI must report the injected error ratio; every series the rules read
//! must exist. Prometheus sends its alerts to a real Alertmanager routed by the generated snippet: the page
//! reaches the page receiver (a webhook in the test), the ticket the same faults fire is inhibited, and the
//! resolved page follows. No process may outlive the test.

#[path = "support/delivery.rs"]
mod delivery;
#[path = "../../../runtime/tests/support/prometheus.rs"]
mod prometheus_server;
#[path = "support/reference.rs"]
mod reference;
#[path = "support/scenario.rs"]
mod scenario;
#[path = "../../../runtime/tests/support/server.rs"]
mod server;
#[path = "support/servers.rs"]
mod servers;
#[path = "../../../runtime/tests/support/services.rs"]
mod services;
#[path = "support/webhook.rs"]
mod webhook;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use delivery::Delivery;
use prometheus_server::Prometheus;
use reference::{backend, repository, rule_exprs, selects_service};
use scenario::{
    clear_bound, descendants, e2e_spec, fire_bound, pair, poll, selectors, slo, still_running,
    Backend, Traffic, API_ROUTES, FIRST_DATA_TIMEOUT, INJECTED_ERROR_RATIO, JOB, MIN_API_SHARE,
    POLL, SLO,
};
use serde_json::{json, Value};
use slogen::conventions::{burn_window, sli_error_record};
use slogen::model::promql::slo_matchers;
use slogen::model::{Label, LabelMatch, LabelValues, Service, Severity, Sli, Slo};
use tempfile::TempDir;
use tokio::task::block_in_place;

/// How far the recorded error ratio may be from the injected one, scaled by the share of API requests.
const RATIO_TOLERANCE: f64 = 0.03;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_alert_fires_on_injected_errors_reaches_the_page_receiver_and_clears_when_they_stop(
) {
    let since = SystemTime::now();
    let test_started = Instant::now();

    // 1. The rules, generated by the generator's own code, and accepted by promtool.
    let service = e2e_spec();
    let slo = slo(&service, SLO);
    let page = pair(slo, Severity::Page);
    let ticket = pair(slo, Severity::Ticket);
    let rules = Rules::generate(&service);
    assert_promtool_accepts_rules(&rules.path());
    let alert = &slo.rules.burn_alert;
    let slo_selector = slo_matchers(&service, slo);
    let sli = |window| format!("{}{slo_selector}", sli_error_record(window));
    let (short, long) = (sli(page.short), sli(page.long));
    let threshold = page.threshold.to_f64();
    let page_alerts = format!("alertname=\"{alert}\",severity=\"page\"");
    let (fire_bound, clear_bound) = (fire_bound(page), clear_bound(page));

    // 2. The stores, the service, Alertmanager with the generated routing, and Prometheus scraping the
    //    service, evaluating the rules and sending its alerts to Alertmanager.
    let backend = Backend::start().await;
    let mut delivery = Delivery::start(&service).await;
    let prometheus = block_in_place(|| {
        Prometheus::start_alerting(
            JOB,
            backend.running.address,
            &[&rules.path()],
            Some(delivery.alertmanager.address()),
        )
    });
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
    let traffic = Traffic::start(&backend.running, backend.user);
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
    // `rate()` and `increase()` need two samples of a series: the failures the service counted before the
    // first scrape are not errors here (MetricsQL counts them, see `e2e_vmalert.rs`).
    let first_errors =
        format!("sum(increase(http_requests_total{{job=\"{JOB}\",status=\"5xx\"}}[1h]))");
    assert_eq!(
        api.query(&first_errors)
            .first()
            .map(|sample| number(&sample["value"][1])),
        Some(0.0),
        "`{first_errors}` while healthy"
    );
    assert_eq!(
        api.alert_states(&format!("alertname=\"{alert}\"")),
        Vec::<String>::new(),
        "no burn alert while healthy"
    );

    // 3b. Faults: the page alert goes pending, then fires, and reaches the page receiver.
    backend.running.set_faults(INJECTED_ERROR_RATIO).await;
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
    let paged_after = delivery
        .await_page(
            faults_on,
            fire_bound + POLL,
            &burn_window(page.long, page.short),
        )
        .await;

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

    // 3c. The same faults fire the ticket, later: Alertmanager holds it inhibited by the page.
    let inhibited_after = delivery
        .await_ticket_inhibited(faults_on, scenario::fire_bound(ticket))
        .await;
    let ticket_alerts = format!("alertname=\"{alert}\",severity=\"ticket\",alertstate=\"firing\"");
    assert_eq!(
        api.alert_states(&ticket_alerts),
        ["firing"],
        "Prometheus fires the ticket"
    );

    // 3d. No more faults: the page alert clears, and its resolved notification arrives.
    backend.running.set_faults(0.0).await;
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
    let resolved_after = delivery
        .await_resolved(faults_off, clear_bound + POLL)
        .await;

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
    sent.assert_complete();
    let notifications = delivery.summary();

    eprintln!(
        "Prometheus: {alert} (page, {} / {}, for {}): pending {pending_after:.1?} and firing \
         {firing_after:.1?} after the faults (model: {:.1}s in a full outage, bound {fire_bound:.1?}); \
         page notification {paged_after:.1?} after the faults; ticket inhibited {inhibited_after:.1?} after \
         them; cleared {cleared_after:.1?} and resolved notification {resolved_after:.1?} after they stopped \
         (model reset time {:.2}s, bound {clear_bound:.1?}); notifications (receiver, status, count) \
         {notifications:?}, the page's labels {:?}; traffic {sent:?}; test {:.1?}",
        page.long.promql(),
        page.short.promql(),
        page.for_.promql(),
        page.time_to_fire_full_outage.to_f64(),
        page.reset_time.to_f64(),
        delivery.page_labels(),
        test_started.elapsed(),
    );

    // 5. Everything stops, and no process of the test outlives it.
    let children = descendants();
    for pid in [prometheus.pid(), delivery.alertmanager.pid()] {
        assert!(
            children.iter().any(|child| child.pid == pid),
            "{pid} in {children:?}"
        );
    }
    drop(prometheus);
    drop(delivery);
    backend.stop();
    let left = still_running(&children);
    assert!(left.is_empty(), "still running: {left:?}");
}
