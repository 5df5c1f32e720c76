//! From an alerting engine to a person: a real Alertmanager configured with the routing snippet slogen
//! generates for the service, its receivers given webhook integrations that point at the test's
//! [`Webhook`], and the checks of what reaches them: the page reaches the page receiver, the ticket of the
//! same SLO is inhibited while the page fires (Alertmanager's API says so, and no ticket notification
//! arrives), and the page's resolved notification follows once the faults stop.
//!
//! Include it with `#[path = "support/delivery.rs"] mod delivery;` next to `servers`, `webhook` and
//! `scenario`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use slogen::conventions;
use slogen::model::{Service, Severity};

use crate::scenario::SLO;
use crate::servers::{self, Server};
use crate::webhook::{Notification, Webhook};

/// How long a group waits before its first notification, and between two: a second, so a notification
/// follows its alert's state within a second or two (the generated routes wait 30 s to 5 min).
const GROUP_WAIT: &str = "1s";

/// The receiver of the root route, which gets whatever the service's routes do not take.
const DEFAULT_RECEIVER: &str = "default";

/// The full `alertmanager.yml` of the test: a root route with a default receiver and, under it, the
/// service's generated route, its receivers with a webhook each (resolved notifications on), and its
/// inhibit rules, as the README tells a user to merge them. Only the timing is shortened. JSON is YAML.
pub fn alertmanager_config(snippet: &str, webhook: &Webhook) -> String {
    let mut snippet: Value = serde_norway::from_str(snippet).expect("the snippet is YAML");
    for route in snippet["routes"]
        .as_array_mut()
        .expect("routes")
        .iter_mut()
        .flat_map(|service| service["routes"].as_array_mut().expect("severity routes"))
    {
        for timing in ["group_wait", "group_interval"] {
            route[timing] = json!(GROUP_WAIT);
        }
        route["repeat_interval"] = json!("1h");
    }
    let mut receivers = vec![json!({
        "name": DEFAULT_RECEIVER,
        "webhook_configs": [{ "url": webhook.url(DEFAULT_RECEIVER), "send_resolved": true }],
    })];
    for receiver in snippet["receivers"].as_array().expect("receivers") {
        let name = receiver["name"].as_str().expect("a receiver name");
        assert_eq!(
            receiver.as_object().map(|r| r.len()),
            Some(1),
            "the generated receiver {name} has no integrations"
        );
        receivers.push(json!({
            "name": name,
            "webhook_configs": [{ "url": webhook.url(name), "send_resolved": true }],
        }));
    }
    let config = json!({
        "route": { "receiver": DEFAULT_RECEIVER, "routes": snippet["routes"] },
        "receivers": receivers,
        "inhibit_rules": snippet["inhibit_rules"],
    });
    serde_json::to_string_pretty(&config).expect("JSON")
}

/// A notification's alerts of the SLO's burn alert, by what the test looks for.
fn burns<'n>(
    notification: &'n Notification,
    alert: &str,
) -> Vec<&'n serde_json::Map<String, Value>> {
    notification
        .alert_labels()
        .into_iter()
        .filter(|labels| labels["alertname"] == alert && labels["slo"] == SLO)
        .collect()
}

/// Alertmanager with the service's routing, the webhook behind it, and what the test has seen so far.
pub struct Delivery {
    /// The real Alertmanager.
    pub alertmanager: Server,
    /// Where its receivers post.
    pub webhook: Webhook,
    client: reqwest::Client,
    alert: String,
    page_receiver: String,
    ticket_receiver: String,
    /// Times Alertmanager was seen holding the page active, to check no ticket went out meanwhile.
    page_active_seen: u32,
}

impl Delivery {
    /// Starts the webhook and Alertmanager with the generated routing of `service`.
    pub async fn start(service: &Service) -> Self {
        let webhook = Webhook::start().await;
        let snippet = slogen::emit::alertmanager::emit(service).expect("emit the routing snippet");
        let config = alertmanager_config(&snippet, &webhook);
        let alertmanager = tokio::task::block_in_place(|| servers::alertmanager(&config));
        let slo = crate::scenario::slo(service, SLO);
        Delivery {
            alertmanager,
            webhook,
            client: reqwest::Client::new(),
            alert: slo.rules.burn_alert.clone(),
            page_receiver: conventions::receiver(&service.team, Severity::Page),
            ticket_receiver: conventions::receiver(&service.team, Severity::Ticket),
            page_active_seen: 0,
        }
    }

    /// Every alert Alertmanager holds (`/api/v2/alerts`: active, inhibited and silenced ones).
    async fn alerts(&self) -> Vec<Value> {
        let response = self
            .client
            .get(self.alertmanager.url("/api/v2/alerts"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("Alertmanager's API: {e}\n{}", self.alertmanager.log()));
        response.json().await.expect("a JSON list of alerts")
    }

    /// The SLO's burn alert of `severity` as Alertmanager holds it.
    fn find<'a>(&self, alerts: &'a [Value], severity: Severity) -> Option<&'a Value> {
        alerts.iter().find(|a| {
            let labels = &a["labels"];
            labels["alertname"] == self.alert.as_str()
                && labels["slo"] == SLO
                && labels[conventions::SEVERITY_LABEL] == conventions::severity_name(severity)
        })
    }

    /// The notifications `receiver` got about the SLO's burn alert with `status`.
    fn notifications(&self, receiver: &str, status: &str) -> Vec<Notification> {
        self.webhook
            .received()
            .into_iter()
            .filter(|n| n.receiver == receiver && n.status() == status)
            .filter(|n| !burns(n, &self.alert).is_empty())
            .collect()
    }

    /// Asks Alertmanager for its alerts and checks the invariant of the test: while it holds the page
    /// active, the ticket receiver has had no notification at all.
    async fn observe(&mut self) -> Vec<Value> {
        let alerts = self.alerts().await;
        let page_active = self
            .find(&alerts, Severity::Page)
            .is_some_and(|page| page["status"]["state"] == "active");
        if page_active {
            self.page_active_seen += 1;
            let tickets: Vec<Notification> = self
                .webhook
                .received()
                .into_iter()
                .filter(|n| n.receiver == self.ticket_receiver)
                .collect();
            assert!(
                tickets.is_empty(),
                "a ticket went out while the page fired: {tickets:#?}"
            );
        }
        alerts
    }

    /// Waits until the page receiver gets a firing notification of the SLO's page, and checks it is the
    /// page: `severity="page"`, the page's `burn_window`. Returns how long after `since` it arrived.
    pub async fn await_page(
        &mut self,
        since: Instant,
        bound: Duration,
        burn_window: &str,
    ) -> Duration {
        loop {
            self.observe().await;
            if let Some(first) = self.notifications(&self.page_receiver, "firing").first() {
                for labels in burns(first, &self.alert) {
                    assert_eq!(labels[conventions::SEVERITY_LABEL], "page", "{first:#?}");
                    assert_eq!(
                        labels[conventions::BURN_WINDOW_LABEL],
                        burn_window,
                        "{first:#?}"
                    );
                }
                return first.at - since;
            }
            assert!(
                since.elapsed() < bound,
                "no page reached {} within {bound:?}; Alertmanager holds {:#?}; received {:#?}\n{}",
                self.page_receiver,
                self.alerts().await,
                self.webhook.received(),
                self.alertmanager.log()
            );
            tokio::time::sleep(crate::scenario::POLL).await;
        }
    }

    /// Waits until Alertmanager holds the SLO's ticket, inhibited (`suppressed`, `inhibitedBy` the page)
    /// while the page is active. Returns how long after `since` it was first seen so.
    pub async fn await_ticket_inhibited(&mut self, since: Instant, bound: Duration) -> Duration {
        loop {
            let alerts = self.observe().await;
            if let (Some(ticket), Some(page)) = (
                self.find(&alerts, Severity::Ticket),
                self.find(&alerts, Severity::Page),
            ) {
                let status = &ticket["status"];
                if status["state"] == "suppressed" {
                    assert_eq!(
                        status["inhibitedBy"],
                        json!([page["fingerprint"]]),
                        "the ticket is muted by the page: {ticket:#}"
                    );
                    assert_eq!(status["silencedBy"], json!([]), "{ticket:#}");
                    assert_eq!(page["status"]["state"], "active", "{page:#}");
                    return since.elapsed();
                }
            }
            assert!(
                since.elapsed() < bound,
                "Alertmanager held no inhibited ticket within {bound:?}: {alerts:#?}\n{}",
                self.alertmanager.log()
            );
            tokio::time::sleep(crate::scenario::POLL).await;
        }
    }

    /// Waits until the page receiver gets the resolved notification of the SLO's page. Returns how long
    /// after `since` it arrived.
    pub async fn await_resolved(&mut self, since: Instant, bound: Duration) -> Duration {
        loop {
            self.observe().await;
            if let Some(resolved) = self.notifications(&self.page_receiver, "resolved").first() {
                for labels in burns(resolved, &self.alert) {
                    assert_eq!(labels[conventions::SEVERITY_LABEL], "page", "{resolved:#?}");
                }
                return resolved.at.saturating_duration_since(since);
            }
            assert!(
                since.elapsed() < bound,
                "no resolved page within {bound:?}; Alertmanager holds {:#?}; received {:#?}",
                self.alerts().await,
                self.webhook.received()
            );
            tokio::time::sleep(crate::scenario::POLL).await;
        }
    }

    /// The labels of the SLO's page as the page receiver got them first, for the test's report.
    pub fn page_labels(&self) -> Vec<(String, String)> {
        self.notifications(&self.page_receiver, "firing")
            .first()
            .and_then(|n| burns(n, &self.alert).first().cloned().cloned())
            .into_iter()
            .flatten()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
            .collect()
    }

    /// What reached the receivers, once the page resolved: no ticket while the page fired (checked at every
    /// look at Alertmanager, which saw the page active at least once), nothing for the default receiver,
    /// and the count of each receiver's notifications by status.
    pub fn summary(&self) -> Vec<(String, String, usize)> {
        assert!(self.page_active_seen > 0, "the page was never seen active");
        let received = self.webhook.received();
        let stray: Vec<&Notification> = received
            .iter()
            .filter(|n| n.receiver == DEFAULT_RECEIVER)
            .collect();
        assert!(stray.is_empty(), "unrouted notifications: {stray:#?}");
        let mut counts: Vec<(String, String, usize)> = Vec::new();
        for n in &received {
            match counts
                .iter_mut()
                .find(|(r, s, _)| *r == n.receiver && s == n.status())
            {
                Some((_, _, count)) => *count += 1,
                None => counts.push((n.receiver.clone(), n.status().to_owned(), 1)),
            }
        }
        counts
    }
}
