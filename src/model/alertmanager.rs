//! The Alertmanager routing of a service, decided once: a route subtree for its alerts with one child route per
//! severity, a receiver per team and severity, and the inhibition that silences an SLO's tickets while it
//! pages. The emitter only writes it out.
//!
//! Only what the generated alerts carry is matched on: `service` (every alert), `severity` (every alert) and
//! `slo` (every SLO alert, none on threshold alerts).

use std::collections::BTreeSet;

use super::{Duration, Service, Severity};
use crate::conventions::{self as names, SERVICE_LABEL, SEVERITY_LABEL, SLO_LABEL};

/// What the service's snippet adds to an `alertmanager.yml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    /// The route of the service's alerts, to go under the root route.
    pub route: Route,
    /// The receivers its routes name, without integrations: the user adds theirs.
    pub receivers: Vec<String>,
    /// Inhibitions among the service's alerts.
    pub inhibit_rules: Vec<InhibitRule>,
}

/// A route: what it matches, how it groups and times notifications, and where they go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// All must match.
    pub matchers: Vec<Matcher>,
    /// Where matching alerts go; `None` inherits the parent's.
    pub receiver: Option<String>,
    /// Labels whose values split notifications into groups; empty inherits the parent's.
    pub group_by: Vec<String>,
    /// Notification timing; `None` inherits the parent's.
    pub timing: Option<Timing>,
    /// Child routes, tried in order.
    pub routes: Vec<Route>,
}

/// When a route notifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long a new group waits for more alerts before its first notification.
    pub group_wait: Duration,
    /// How long a group waits before notifying about alerts added to it.
    pub group_interval: Duration,
    /// How long before a notification that changed nothing is sent again.
    pub repeat_interval: Duration,
}

/// One label matcher, as Alertmanager's `matchers` lists write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    /// The label.
    pub label: String,
    /// Whether the label must equal the value or differ from it.
    pub equal: bool,
    /// The value; empty matches a missing label.
    pub value: String,
}

impl Matcher {
    fn eq(label: &str, value: &str) -> Matcher {
        Matcher {
            label: label.into(),
            equal: true,
            value: value.into(),
        }
    }
}

/// Mutes the alerts `target_matchers` select while an alert `source_matchers` select fires with the same
/// values of the `equal` labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InhibitRule {
    /// The muting alert.
    pub source_matchers: Vec<Matcher>,
    /// The muted alerts.
    pub target_matchers: Vec<Matcher>,
    /// Labels both must share.
    pub equal: Vec<String>,
}

/// A page wakes someone: notify half a minute after the first alert (Alertmanager's default, enough to
/// gather the pairs of one burn), and remind every four hours while it fires.
const PAGE: Timing = Timing {
    group_wait: Duration { seconds: 30 },
    group_interval: Duration { seconds: 300 },
    repeat_interval: Duration { seconds: 4 * 3600 },
};

/// A ticket waits for working hours: gather for five minutes, and remind once a day.
const TICKET: Timing = Timing {
    group_wait: Duration { seconds: 300 },
    group_interval: Duration { seconds: 1800 },
    repeat_interval: Duration { seconds: 86_400 },
};

/// Info wakes nobody: gathered like tickets, updated at most hourly.
const INFO: Timing = Timing {
    group_wait: Duration { seconds: 300 },
    group_interval: Duration { seconds: 3600 },
    repeat_interval: Duration { seconds: 86_400 },
};

impl Service {
    /// The service's Alertmanager routing: its alerts grouped per service, SLO and alert name (one
    /// notification per burning SLO, however many of its window pairs fire; threshold alerts, which have no
    /// `slo`, one by one), routed by severity to the team's receivers, and a firing SLO page muting that
    /// SLO's tickets, which say the same thing more slowly.
    pub fn alertmanager_routing(&self) -> Routing {
        let severities: BTreeSet<Severity> = self
            .slos
            .iter()
            .flat_map(|slo| {
                let r = &slo.rules;
                r.burn_alerts
                    .iter()
                    .chain(std::iter::once(&r.absent_alert))
                    .chain(&r.exhausted_alert)
                    .map(|a| &a.rule)
            })
            .chain(&self.threshold_rules)
            .filter_map(|rule| rule.labels.get(SEVERITY_LABEL))
            .filter_map(|name| severity(name))
            .collect();
        let receivers: Vec<String> = severities
            .iter()
            .map(|&s| names::receiver(&self.team, s))
            .collect();
        let routes = severities
            .iter()
            .zip(&receivers)
            .map(|(&s, receiver)| Route {
                matchers: vec![Matcher::eq(SEVERITY_LABEL, names::severity_name(s))],
                receiver: Some(receiver.clone()),
                group_by: Vec::new(),
                timing: Some(match s {
                    Severity::Page => PAGE,
                    Severity::Ticket => TICKET,
                    Severity::Info => INFO,
                }),
                routes: Vec::new(),
            })
            .collect();
        let service = Matcher::eq(SERVICE_LABEL, &self.name);
        let slo_pages = self.slos.iter().any(|slo| {
            let r = &slo.rules;
            r.burn_alerts.iter().chain(&r.exhausted_alert).any(|a| {
                a.rule.labels.get(SEVERITY_LABEL).map(String::as_str)
                    == Some(names::severity_name(Severity::Page))
            })
        });
        let inhibit_rules = if slo_pages && severities.contains(&Severity::Ticket) {
            vec![InhibitRule {
                // Only SLO pages: a threshold page has no `slo`, and as missing labels count as equal it
                // would mute every threshold ticket of the service.
                source_matchers: vec![
                    service.clone(),
                    Matcher::eq(SEVERITY_LABEL, names::severity_name(Severity::Page)),
                    Matcher {
                        label: SLO_LABEL.into(),
                        equal: false,
                        value: String::new(),
                    },
                ],
                target_matchers: vec![
                    service.clone(),
                    Matcher::eq(SEVERITY_LABEL, names::severity_name(Severity::Ticket)),
                ],
                equal: vec![SERVICE_LABEL.into(), SLO_LABEL.into()],
            }]
        } else {
            Vec::new()
        };
        Routing {
            route: Route {
                matchers: vec![service],
                receiver: None,
                group_by: vec![SERVICE_LABEL.into(), SLO_LABEL.into(), "alertname".into()],
                timing: None,
                routes,
            },
            receivers,
            inhibit_rules,
        }
    }
}

/// The severity a `severity` label value names.
fn severity(name: &str) -> Option<Severity> {
    [Severity::Page, Severity::Ticket, Severity::Info]
        .into_iter()
        .find(|&s| names::severity_name(s) == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUESTS: &str = r#"[labels.status]
help = "Status class."
values = ["2xx", "5xx"]

[metrics.requests]
type = "counter"
help = "Requests."
labels = ["status"]
"#;

    #[test]
    fn pages_and_tickets_go_to_the_team_and_a_page_mutes_the_tickets_of_its_slo() {
        let service = crate::model::test_service(&format!(
            r#"{REQUESTS}
[slos.availability]
description = "Requests succeed."
ratio.errors = {{ metric = "requests", match = {{ status = ["5xx"] }} }}
ratio.total = {{ metric = "requests" }}
"#
        ));
        let routing = service.alertmanager_routing();
        assert_eq!(routing.receivers, ["web-page", "web-ticket"]);
        assert_eq!(routing.route.matchers, [Matcher::eq("service", "app")]);
        let children: Vec<(&str, Option<&str>)> = routing
            .route
            .routes
            .iter()
            .map(|r| (r.matchers[0].value.as_str(), r.receiver.as_deref()))
            .collect();
        assert_eq!(
            children,
            [("page", Some("web-page")), ("ticket", Some("web-ticket"))]
        );
        assert_eq!(routing.inhibit_rules.len(), 1);
        assert_eq!(routing.inhibit_rules[0].equal, ["service", "slo"]);
    }

    #[test]
    fn without_pages_there_is_no_page_receiver_and_no_inhibition() {
        let service = crate::model::test_service(&format!(
            r#"{REQUESTS}
[slos.availability]
description = "Requests succeed."
ratio.errors = {{ metric = "requests", match = {{ status = ["5xx"] }} }}
ratio.total = {{ metric = "requests" }}
alerting.page = false

[alerts.Backlog]
expr = 'sum(rate(requests_total{{job="app"}}[5m])) > 100'
severity = "info"
summary = "Many requests."
description = "Many requests."
"#
        ));
        let routing = service.alertmanager_routing();
        assert_eq!(routing.receivers, ["web-ticket", "web-info"]);
        assert!(routing.inhibit_rules.is_empty());
    }
}
