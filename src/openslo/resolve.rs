//! Resolves references between OpenSLO objects (`indicatorRef`, `alertPolicyRef`, `conditionRef`,
//! `targetRef`, `metricSourceRef`), groups SLOs by service, and turns each burn-rate condition into a row of
//! slogen's alert-window policy.

use std::collections::BTreeMap;
use std::ops::{Add as _, Div as _, Mul as _};

use super::annotations as key;
use super::check::{At, Problems};
use super::model::PROMETHEUS;
use super::read::*;
use crate::conventions::{from_openslo_name, is_snake_case};
use crate::model::{Duration, Exact, Severity};

/// The SLOs of one service, each with its SLI and alert rows resolved.
#[derive(Debug)]
pub struct Group<'o> {
    /// Service name (snake_case).
    pub name: String,
    /// The `Service` object, when there is one.
    pub service: Option<&'o Service>,
    /// Where an SLO names the service.
    pub at: At,
    /// Its SLOs.
    pub slos: Vec<Draft<'o>>,
}

/// One SLO with everything it refers to.
#[derive(Debug)]
pub struct Draft<'o> {
    /// The object.
    pub slo: &'o Slo,
    /// slogen name.
    pub name: String,
    /// Its SLI.
    pub sli: &'o Sli,
    /// Its burn-rate alerts as policy rows.
    pub rows: Vec<Row>,
}

/// One burn-rate condition as a row of `alert_windows`.
#[derive(Debug, Clone)]
pub struct Row {
    /// Page or ticket.
    pub severity: Severity,
    /// Long window.
    pub long: Duration,
    /// Short window.
    pub short: Duration,
    /// Budget share in percent, at most 3 decimals.
    pub percent: Exact,
    /// `for`.
    pub for_: Duration,
    /// What was rounded to fit slogen's limits, for a comment.
    pub note: Option<String>,
    /// The policy's description, for a comment.
    pub description: Option<String>,
    /// The condition's threshold.
    pub at: At,
}

impl Row {
    /// The identity of the row in a policy.
    pub fn key(&self) -> (Severity, Duration, Duration, Exact, Duration) {
        (
            self.severity,
            self.long,
            self.short,
            self.percent,
            self.for_,
        )
    }
}

/// Objects by name, reporting duplicates.
fn index<'o, T>(
    items: &'o [T],
    meta: impl Fn(&T) -> &Meta,
    what: &str,
    p: &mut Problems,
) -> BTreeMap<&'o str, &'o T> {
    let mut out: BTreeMap<&str, &T> = BTreeMap::new();
    for item in items {
        let m = meta(item);
        if let Some(first) = out.get(m.name.as_str()) {
            p.duplicate(&m.at, &meta(first).at, what, &m.name);
        } else {
            out.insert(&m.name, item);
        }
    }
    out
}

/// Resolves every SLO and groups them by service, in the order services are first named.
pub fn resolve<'o>(objects: &'o Objects, p: &mut Problems) -> Vec<Group<'o>> {
    let services = index(&objects.services, |s| &s.meta, "Service", p);
    let slis = index(&objects.slis, |s| &s.meta, "SLI", p);
    let policies = index(&objects.policies, |s| &s.meta, "AlertPolicy", p);
    let conditions = index(&objects.conditions, |s| &s.meta, "AlertCondition", p);
    let targets = index(&objects.targets, |m| m, "AlertNotificationTarget", p);
    let sources = index(&objects.sources, |s| &s.meta, "DataSource", p);
    index(&objects.slos, |s| &s.meta, "SLO", p);
    let missing = |p: &mut Problems, at: &At, kind: &str, name: &str| {
        p.error(
            at,
            format!("no {kind} named `{name}`"),
            "not found in the files given",
            format!("add the file that defines {kind} `{name}` to the command line, or inline it"),
        );
    };
    let mut groups: Vec<Group<'o>> = Vec::new();
    for slo in &objects.slos {
        let sli = match &slo.indicator {
            Use::Inline(s) => Some(s),
            Use::Ref(name, at) => {
                let found = slis.get(name.as_str()).copied();
                if found.is_none() {
                    missing(p, at, "SLI", name);
                }
                found
            }
        };
        let sli_ok = sli.is_some_and(|s| sources_ok(s, &sources, p));
        let mut rows = Vec::new();
        for u in &slo.policies {
            let policy = match u {
                Use::Inline(policy) => Some(policy),
                Use::Ref(name, at) => {
                    let found = policies.get(name.as_str()).copied();
                    if found.is_none() {
                        missing(p, at, "AlertPolicy", name);
                    }
                    found
                }
            };
            let Some(policy) = policy else { continue };
            for t in &policy.targets {
                if let Use::Ref(name, at) = t {
                    if !targets.contains_key(name.as_str()) {
                        missing(p, at, "AlertNotificationTarget", name);
                    }
                }
            }
            let condition = match &policy.condition {
                Use::Inline(c) => Some(c),
                Use::Ref(name, at) => {
                    let found = conditions.get(name.as_str()).copied();
                    if found.is_none() {
                        missing(p, at, "AlertCondition", name);
                    }
                    found
                }
            };
            if !policy.breaching {
                p.error(&policy.meta.at, format!("alert policy `{}` does not alert when its condition breaches", policy.meta.name), "alertWhenBreaching is false or missing", "slogen's burn-rate alerts fire while the budget burns: set `alertWhenBreaching: true`, or remove the policy from the SLO");
                continue;
            }
            if let Some(row) = condition.and_then(|c| row(slo, policy, c, p)) {
                rows.push(row);
            }
        }
        let name = slo
            .meta
            .annotation(key::NAME)
            .map_or_else(|| from_openslo_name(&slo.meta.name), |(n, _)| n.clone());
        if !is_snake_case(&name) {
            p.error(
                &slo.meta.at,
                format!("SLO name `{}` does not make a slogen name", slo.meta.name),
                format!("`{name}` is not snake_case"),
                "use lower-case letters and digits with single `-` between words",
            );
            continue;
        }
        let (service, service_at) = &slo.service;
        let service_name = from_openslo_name(service);
        if !is_snake_case(&service_name) {
            p.error(
                service_at,
                format!("service `{service}` does not make a slogen name"),
                format!("`{service_name}` is not snake_case"),
                "name the service with lower-case letters and digits and single `-` between words",
            );
            continue;
        }
        let (Some(sli), true) = (sli, sli_ok) else {
            continue;
        };
        let draft = Draft {
            slo,
            name,
            sli,
            rows,
        };
        match groups.iter_mut().find(|g| g.name == service_name) {
            Some(g) => g.slos.push(draft),
            None => {
                let object = services.get(service.as_str()).copied();
                groups.push(Group {
                    name: object
                        .and_then(|s| s.meta.annotation(key::NAME))
                        .map_or(service_name, |(n, _)| n.clone()),
                    service: object,
                    at: service_at.clone(),
                    slos: vec![draft],
                });
            }
        }
    }
    // A slogen export of a service without SLOs is a `Service` alone; another tool's has nothing to import.
    for s in objects
        .services
        .iter()
        .filter(|s| s.meta.annotation(key::SPEC).is_some())
    {
        let name = s
            .meta
            .annotation(key::NAME)
            .map_or_else(|| from_openslo_name(&s.meta.name), |(n, _)| n.clone());
        if !groups.iter().any(|g| g.name == name) {
            groups.push(Group {
                name,
                service: Some(s),
                at: s.meta.at.clone(),
                slos: Vec::new(),
            });
        }
    }
    groups
}

/// Checks that every query of the SLI reads Prometheus, directly or through its `DataSource`.
fn sources_ok(sli: &Sli, sources: &BTreeMap<&str, &DataSource>, p: &mut Problems) -> bool {
    let queries: Vec<&Query> = match &sli.metric {
        Ratio::Events {
            good, bad, total, ..
        } => good.iter().chain(bad).chain([total]).collect(),
        Ratio::Raw { raw, .. } => vec![raw],
    };
    let mut ok = true;
    for q in queries {
        let from_ref = match &q.source_ref {
            Some((name, at)) => match sources.get(name.as_str()) {
                Some(s) => Some(s.kind.clone()),
                None => {
                    p.error(at, format!("no DataSource named `{name}`"), "not found in the files given", "add the file that defines it, or write `type: Prometheus` instead of the reference");
                    ok = false;
                    continue;
                }
            },
            None => None,
        };
        match q.kind.clone().or(from_ref) {
            Some((kind, _)) if kind.eq_ignore_ascii_case(PROMETHEUS) => {}
            Some((kind, at)) => {
                p.error(&at, format!("metric source type `{kind}` is not supported"), "not Prometheus", "slogen generates Prometheus rules: the queries must be PromQL with `type: Prometheus`");
                ok = false;
            }
            None => {
                p.error(
                    &q.at,
                    "the query's source type is not given",
                    "no `type` or `metricSourceRef`",
                    "add `type: Prometheus` to the `metricSource`",
                );
                ok = false;
            }
        }
    }
    ok
}

/// The page-or-ticket word of a condition: its `severity`, else the policy's `severity` label, else a word in
/// the policy's or condition's name.
fn severity(policy: &Policy, c: &Condition) -> Option<Severity> {
    let word = |w: &str| match w.to_ascii_lowercase().as_str() {
        "page" | "critical" | "high" | "urgent" | "emergency" | "sev1" | "sev-1" | "p1"
        | "fast" => Some(Severity::Page),
        "ticket" | "warning" | "warn" | "medium" | "low" | "sev2" | "sev-2" | "sev3" | "sev-3"
        | "p2" | "p3" | "slow" => Some(Severity::Ticket),
        _ => None,
    };
    word(&c.severity.0)
        .or_else(|| policy.meta.labels.get("severity").and_then(|s| word(s)))
        .or_else(|| {
            [&policy.meta.name, &c.meta.name]
                .iter()
                .flat_map(|n| n.split('-'))
                .find_map(word)
        })
}

/// A condition as a policy row: the exact annotations of a slogen export where they agree with the
/// condition, else the share its threshold spends of the SLO window's budget, rounded to slogen's 3 decimals.
fn row(slo: &Slo, policy: &Policy, c: &Condition, p: &mut Problems) -> Option<Row> {
    let Some(severity) = severity(policy, c) else {
        p.error(&c.severity.1, format!("severity `{}` is neither page nor ticket", c.severity.0), "unknown severity", "slogen's burn-rate alerts page or open tickets: write `severity: page` (also critical, high, sev1, p1) or `severity: ticket` (also warning, medium, low, sev2, p2)");
        return None;
    };
    let a = |k: &str| c.meta.annotation(k).map(|(v, _)| v.as_str());
    let exact = |annotation: Option<&str>, minutes: u64| {
        annotation
            .and_then(Duration::parse)
            .filter(|d| d.seconds.div_ceil(60) * 60 == minutes)
            .unwrap_or(Duration { seconds: minutes })
    };
    let long = exact(a(key::LONG_WINDOW), c.lookback.0);
    let for_ = exact(a(key::FOR), c.alert_after.0);
    let short = a(key::SHORT_WINDOW)
        .and_then(Duration::parse)
        .filter(|s| s.seconds > 0 && *s < long)
        .unwrap_or(Duration {
            seconds: long.seconds.div_ceil(12),
        });
    let window = Exact::int(slo.window.0);
    let (text, at) = &c.threshold;
    let threshold =
        Exact::parse_decimal(text).or_else(|| text.parse().ok().and_then(Exact::from_f64))?;
    let percent_of = |factor: Exact| {
        factor
            .mul(Exact::int(long.seconds))
            .div(window)
            .mul(Exact::int(100))
    };
    let annotated = a(key::BUDGET_PERCENT)
        .and_then(Exact::parse_decimal)
        .filter(|bp| {
            let factor = bp
                .div(Exact::int(100))
                .mul(window)
                .div(Exact::int(long.seconds));
            text.parse::<f64>().is_ok_and(|t| t == factor.to_f64())
        });
    let (percent, note) = match annotated {
        Some(bp) => (bp, None),
        None => {
            let exact = percent_of(threshold);
            let thousandths = exact.mul(Exact::int(1000));
            let rounded = Exact::new(
                thousandths
                    .mul(Exact::int(2))
                    .add(Exact::int(1))
                    .div(Exact::int(2))
                    .floor(),
                1000,
            );
            if rounded == exact {
                (exact, None)
            } else {
                let factor = rounded
                    .div(Exact::int(100))
                    .mul(window)
                    .div(Exact::int(long.seconds));
                (rounded, Some(format!("burn rate {text} over {} spends {exact}% of the budget; rounded to {rounded}% (burn rate {factor})", long.promql())))
            }
        }
    };
    Some(Row {
        severity,
        long,
        short,
        percent,
        for_,
        note,
        description: policy.description.clone(),
        at: at.clone(),
    })
}
