//! Markdown SLO docs: one page per service and an index.
//!
//! Every string the pages show is computed here from the model; the templates only loop and branch, so the
//! numbers in the docs are the very numbers the rules use.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use serde::Serialize;

mod markdown;

use super::templates;
use crate::conventions::{
    self, service_file, DASHBOARD_FILE, DOCS_FILE, METRICS_MODULE_FILE, RULES_FILE,
};
use crate::model::rules::DISPLAY_WINDOW;
use crate::model::{
    promql,
    query::{QueryFeed, WindowQuery},
    BurnRateAlert, Exact, LabelMatch, LabelValues, Metric, MetricKind, Model, Selector, Service,
    Severity, Sli, Slo, ThresholdAlert, Tier,
};
use markdown::{
    cell, code, duration, human_seconds, link, or_dash, pairs, percent, prose, window_words, yes_no,
};

#[derive(Serialize)]
struct IndexContext {
    source: String,
    source_dirs: String,
    services: Vec<IndexService>,
    slos: Vec<IndexSlo>,
    tiers: Vec<TierRow>,
}

#[derive(Serialize)]
struct IndexService {
    name: String,
    rules: String,
    dashboard: String,
    module: String,
    team: String,
    tier: String,
    slos: String,
    description: String,
}

#[derive(Serialize)]
struct IndexSlo {
    service: String,
    slo: String,
    sli: String,
    objective: String,
    window: String,
    budget_minutes: String,
    tier: String,
    alerts: String,
}

#[derive(Serialize)]
struct TierRow {
    name: String,
    objective: String,
    page: String,
    ticket: String,
    description: String,
}

#[derive(Serialize)]
struct ServiceContext {
    /// Links to the deployment outputs, empty when `[outputs]` turns none on.
    deploy: String,
    source: String,
    name: String,
    description: String,
    team: String,
    tier: String,
    selector: String,
    labels: String,
    slo_rows: Vec<SloRow>,
    slos: Vec<SloSection>,
    alerts: Vec<AlertSection>,
    alert_rows: Vec<AlertRow>,
    metrics: Vec<MetricRow>,
    label_rows: Vec<LabelRow>,
}

#[derive(Serialize)]
struct SloRow {
    slo: String,
    sli: String,
    objective: String,
    window: String,
    budget_minutes: String,
    budget_ratio: String,
    tier: String,
}

#[derive(Serialize)]
struct SloSection {
    heading: String,
    description: String,
    objective: String,
    window: String,
    budget_minutes: String,
    budget_human: String,
    budget_per_million: String,
    tier: String,
    sli_kind: String,
    sli_words: String,
    sli_promql: String,
    burn_rows: Vec<BurnRow>,
    burn_alert: String,
    burn_severities: String,
    absent_alert: String,
    runbook: String,
    alert_labels: String,
    alert_annotations: String,
    /// Per severity (`page`, `ticket`), the extra labels and annotations of its alerts, when it has some.
    severity_extras: Vec<(String, String)>,
}

#[derive(Serialize)]
struct BurnRow {
    severity: String,
    long: String,
    short: String,
    factor: String,
    budget_spent: String,
    threshold: String,
    for_: String,
    full_outage: String,
    at_factor: String,
    reset: String,
    min_events: String,
}

#[derive(Serialize)]
struct AlertRow {
    name: String,
    severity: String,
    for_: String,
    summary: String,
    runbook: String,
}

#[derive(Serialize)]
struct AlertSection {
    heading: String,
    summary: String,
    expr: String,
}

#[derive(Serialize)]
struct MetricRow {
    name: String,
    kind: String,
    unit: String,
    labels: String,
    buckets: String,
    help: String,
}

#[derive(Serialize)]
struct LabelRow {
    name: String,
    values: String,
    help: String,
}

/// The index page listing every service and SLO.
pub fn index(model: &Model) -> Result<String> {
    let services = model
        .services
        .iter()
        .map(|s| IndexService {
            name: cell(&link(&s.name, &service_file(&s.name, DOCS_FILE))),
            rules: cell(&link(RULES_FILE, &service_file(&s.name, RULES_FILE))),
            dashboard: cell(&link(
                DASHBOARD_FILE,
                &service_file(&s.name, DASHBOARD_FILE),
            )),
            module: cell(&link(
                METRICS_MODULE_FILE,
                &service_file(&s.name, METRICS_MODULE_FILE),
            )),
            team: cell(&s.team),
            tier: cell(&code(&s.tier)),
            slos: s.slos.len().to_string(),
            description: cell(&or_dash(&s.description)),
        })
        .collect();
    let slos = model
        .services
        .iter()
        .flat_map(|s| {
            s.slos.iter().map(move |slo| IndexSlo {
                service: cell(&link(&s.name, &service_file(&s.name, DOCS_FILE))),
                slo: cell(&link(
                    &code(&slo.name),
                    &format!(
                        "{}#{}",
                        service_file(&s.name, DOCS_FILE),
                        conventions::slo_anchor(&slo.name)
                    ),
                )),
                sli: sli_kind(&slo.sli).into(),
                objective: percent(slo.objective),
                window: slo.window.promql(),
                budget_minutes: format!("{} min", slo.budget.minutes),
                tier: cell(&code(&slo.tier)),
                alerts: severities(slo),
            })
        })
        .collect();
    let dirs = spec_dirs(model);
    let context = IndexContext {
        source: if dirs.is_empty() {
            "the spec directory".into()
        } else {
            dirs.join(", ")
        },
        source_dirs: if dirs.is_empty() {
            "the spec directory".into()
        } else {
            dirs.iter().map(|d| code(d)).collect::<Vec<_>>().join(", ")
        },
        services,
        slos,
        tiers: model.tiers.iter().map(tier_row).collect(),
    };
    render("index.md.j2", &context)
}

/// The deployment outputs `[outputs]` turned on, as links from the service's page.
fn deploy_links(service: &Service) -> String {
    let o = &service.outputs;
    [
        (
            o.prometheus_rule.is_some(),
            "PrometheusRule",
            conventions::PROMETHEUS_RULE_FILE,
        ),
        (
            o.grafana_configmap.is_some(),
            "dashboard ConfigMap (Grafana sidecar)",
            conventions::GRAFANA_CONFIGMAP_FILE,
        ),
        (
            o.grafana_operator.is_some(),
            "GrafanaDashboard (grafana-operator)",
            conventions::GRAFANA_OPERATOR_FILE,
        ),
        (
            o.mimir.is_some(),
            "Mimir rules",
            conventions::MIMIR_RULES_FILE,
        ),
        (
            o.thanos.is_some(),
            "Thanos rules",
            conventions::THANOS_RULES_FILE,
        ),
    ]
    .into_iter()
    .filter(|(on, _, _)| *on)
    .map(|(_, title, file)| format!("[{title}]({file})"))
    .collect::<Vec<_>>()
    .join(", ")
}

/// The page of one service.
pub fn service(model: &Model, service: &Service) -> Result<String> {
    let tier = model.tiers.iter().find(|t| t.name == service.tier);
    let context = ServiceContext {
        source: service.source.clone(),
        name: service.name.clone(),
        description: prose(&service.description),
        team: service.team.clone(),
        tier: match tier {
            Some(t) => format!(
                "{} (default objective {}; {})",
                code(&t.name),
                percent(t.objective),
                tier_alerting(t)
            ),
            None => code(&service.tier),
        },
        selector: if service.selector.is_empty() {
            "none: queries match every series of the metric".into()
        } else {
            code(&promql::label_matchers(
                &service.selector,
                &Default::default(),
            ))
        },
        labels: pairs(&service.labels),
        deploy: deploy_links(service),
        slo_rows: service.slos.iter().map(slo_row).collect(),
        slos: service
            .slos
            .iter()
            .map(|s| slo_section(service, s))
            .collect::<Result<_>>()?,
        alert_rows: service.alerts.iter().map(alert_row).collect(),
        alerts: service.alerts.iter().map(alert_section).collect(),
        metrics: service.metrics.iter().map(metric_row).collect(),
        label_rows: service
            .label_defs
            .values()
            .map(|l| LabelRow {
                name: cell(&code(&l.name)),
                values: cell(&match &l.values {
                    LabelValues::Closed(values) => format!(
                        "closed: {}",
                        values
                            .iter()
                            .map(|v| code(&v.value))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    LabelValues::Open { max_values } => format!(
                        "open: at most {max_values} distinct values, later ones are recorded as {}",
                        code("other")
                    ),
                    LabelValues::Unlimited => {
                        "any value, set by the program exposing it".to_string()
                    }
                }),
                help: cell(&or_dash(&l.help)),
            })
            .collect(),
    };
    render("service.md.j2", &context)
}

/// Renders a page and normalises its end to exactly one newline.
fn render<C: Serialize>(template: &str, context: &C) -> Result<String> {
    let text = templates::environment()
        .get_template(template)?
        .render(context)
        .with_context(|| format!("rendering {template}"))?;
    Ok(format!("{}\n", text.trim_end()))
}

/// The spec directories the services came from (`slos/`), for the index header; the model keeps only each
/// service's file.
fn spec_dirs(model: &Model) -> Vec<String> {
    let dirs: BTreeSet<String> = model
        .services
        .iter()
        .map(|s| match s.source.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/"),
            None => s.source.clone(),
        })
        .collect();
    dirs.into_iter().collect()
}

fn tier_row(t: &Tier) -> TierRow {
    TierRow {
        name: cell(&code(&t.name)),
        objective: percent(t.objective),
        page: yes_no(t.page),
        ticket: yes_no(t.ticket),
        description: cell(&or_dash(&t.description)),
    }
}

fn tier_alerting(t: &Tier) -> &'static str {
    match (t.page, t.ticket) {
        (true, true) => "pages and opens tickets",
        (true, false) => "pages, no tickets",
        (false, true) => "opens tickets, never pages",
        (false, false) => "no burn-rate alerts",
    }
}

fn slo_row(slo: &Slo) -> SloRow {
    SloRow {
        slo: cell(&link(
            &code(&slo.name),
            &format!("#{}", conventions::slo_anchor(&slo.name)),
        )),
        sli: sli_kind(&slo.sli).into(),
        objective: percent(slo.objective),
        window: slo.window.promql(),
        budget_minutes: format!("{} min", slo.budget.minutes),
        budget_ratio: slo.budget.ratio.to_string(),
        tier: cell(&code(&slo.tier)),
    }
}

fn slo_section(service: &Service, slo: &Slo) -> Result<SloSection> {
    Ok(SloSection {
        heading: format!("SLO {}", code(&slo.name)),
        description: prose(&slo.description),
        objective: percent(slo.objective),
        window: format!(
            "{} ({})",
            code(&slo.window.promql()),
            window_words(&slo.window.promql())
        ),
        budget_minutes: slo.budget.minutes.to_string(),
        budget_human: human_seconds(slo.budget.minutes * Exact::int(60)),
        budget_per_million: (slo.budget.ratio * Exact::int(1_000_000)).to_string(),
        tier: code(&slo.tier),
        sli_kind: sli_kind(&slo.sli).into(),
        sli_words: sli_words(service, &slo.sli),
        sli_promql: slo
            .rules
            .sli_record(DISPLAY_WINDOW)
            .map(|r| r.rule.expr.clone())
            .with_context(|| {
                format!(
                    "{} records no {} error ratio",
                    slo.id,
                    DISPLAY_WINDOW.promql()
                )
            })?,
        burn_rows: slo.burn_rate_alerts.iter().map(burn_row).collect(),
        burn_alert: code(&slo.rules.burn_alert),
        burn_severities: slo
            .rules
            .burn_alerts
            .iter()
            .filter_map(|a| a.rule.labels.get(conventions::SEVERITY_LABEL))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|s| code(s))
            .collect::<Vec<_>>()
            .join(" or "),
        absent_alert: code(&slo.rules.absent_alert.rule.alert),
        runbook: link(&slo.runbook_url, &slo.runbook_url),
        alert_labels: pairs(&slo.alert_labels),
        alert_annotations: pairs(&slo.alert_annotations),
        severity_extras: [Severity::Page, Severity::Ticket]
            .into_iter()
            .filter_map(|severity| {
                let extras = slo.extras(severity)?;
                let parts: Vec<String> = [
                    ("labels", &extras.labels),
                    ("annotations", &extras.annotations),
                ]
                .into_iter()
                .filter(|(_, map)| !map.is_empty())
                .map(|(what, map)| format!("{what} {}", pairs(map)))
                .collect();
                (!parts.is_empty()).then(|| {
                    (
                        conventions::severity_name(severity).to_string(),
                        parts.join("; "),
                    )
                })
            })
            .collect(),
    })
}

fn burn_row(a: &BurnRateAlert) -> BurnRow {
    BurnRow {
        severity: conventions::severity_name(a.severity).into(),
        long: a.long.promql(),
        short: a.short.promql(),
        factor: a.factor.to_string(),
        budget_spent: percent(a.budget_share * Exact::int(100)),
        threshold: a.threshold.to_string(),
        for_: a.for_.promql(),
        full_outage: human_seconds(a.time_to_fire_full_outage),
        at_factor: human_seconds(a.time_to_fire_at_factor),
        reset: human_seconds(a.reset_time),
        min_events: if a.min_events == 0 {
            "none".into()
        } else {
            format!("{} events in {}", a.min_events, a.long.promql())
        },
    }
}

fn alert_row(a: &ThresholdAlert) -> AlertRow {
    AlertRow {
        name: cell(&link(
            &code(&a.name),
            &format!("#{}", conventions::alert_anchor(&a.name)),
        )),
        severity: conventions::severity_name(a.severity).into(),
        for_: duration(a.for_),
        summary: cell(&a.summary),
        runbook: cell(&link("runbook", &a.runbook_url)),
    }
}

fn alert_section(a: &ThresholdAlert) -> AlertSection {
    AlertSection {
        heading: format!("Alert {}", code(&a.name)),
        summary: prose(&a.summary),
        expr: a.expr.clone(),
    }
}

fn metric_row(m: &Metric) -> MetricRow {
    MetricRow {
        name: cell(&code(&m.sample_name())),
        kind: conventions::kind_name(m.kind).into(),
        unit: cell(&m.unit.as_deref().map(code).unwrap_or_else(|| "—".into())),
        labels: cell(&if m.labels.is_empty() {
            "—".into()
        } else {
            m.labels
                .iter()
                .map(|l| code(l))
                .collect::<Vec<_>>()
                .join(", ")
        }),
        buckets: if m.buckets.is_empty() {
            "—".into()
        } else {
            m.buckets
                .iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        },
        help: cell(&if m.in_module() {
            or_dash(&m.help)
        } else {
            format!(
                "External, not in the Rust module{}: {}",
                if m.selector.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; selected by {}",
                        code(&promql::label_matchers(&m.selector, &Default::default()))
                    )
                },
                or_dash(&m.help)
            )
        }),
    }
}

fn sli_kind(sli: &Sli) -> &'static str {
    match sli {
        Sli::Ratio { .. } => "ratio",
        Sli::Latency { .. } => "latency",
        Sli::Events { .. } => "events",
        Sli::Raw { .. } => "raw",
    }
}

/// The severities an SLO's burn-rate alerts use: `page, ticket`, or `none`.
fn severities(slo: &Slo) -> String {
    let set: BTreeSet<Severity> = slo.burn_rate_alerts.iter().map(|a| a.severity).collect();
    if set.is_empty() {
        "none".into()
    } else {
        set.into_iter()
            .map(conventions::severity_name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The SLI in a sentence: which events are bad and which are counted at all.
fn sli_words(service: &Service, sli: &Sli) -> String {
    match sli {
        Sli::Ratio { errors, total } => format!(
            "the share of bad events among all events. Bad events are {}; all events are {}.",
            counted(service, errors),
            counted(service, total)
        ),
        Sli::Latency {
            histogram,
            threshold,
            ..
        } => {
            let metric = service.metric(&histogram.metric);
            let unit = match metric.unit.as_deref() {
                Some("seconds") => " s".to_string(),
                Some(unit) => format!(" {unit}"),
                None => String::new(),
            };
            format!(
                "the share of requests slower than {threshold}{unit} among all requests, as counted by {}.",
                counted(service, histogram)
            )
        }
        Sli::Events { errors, total, feed } => format!(
            "bad events per second over all events per second, each a PromQL query over each recorded window \
             (`<window>`, Sloth's window placeholder). Bad events: {}; all events: {}.{}",
            code(&one_line(errors)),
            code(&one_line(total)),
            untested(feed)
        ),
        Sli::Raw { error_ratio, feed } => format!(
            "the error ratio as one PromQL query over each recorded window (`<window>`, Sloth's window \
             placeholder): {}. A raw \
             SLI counts no events, so its alerts have no low-traffic guard, and its ratio over the SLO window \
             is the average of its 5-minute ratios, as Sloth records it (a 5-minute ratio of 0/0 = NaN \
             would stay in that average for the whole window: write the query so that no traffic gives no \
             sample).{}",
            code(&one_line(error_ratio)),
            untested(feed)
        ),
    }
}

/// A query on one line with `<window>` for its placeholders, for a sentence of the docs (the PromQL blocks
/// show it over 5 minutes as written).
fn one_line(query: &WindowQuery) -> String {
    query
        .shown("<window>")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// For a query SLI the rule tests cannot feed, a sentence saying so and why; empty when they feed it.
fn untested(feed: &QueryFeed) -> String {
    match feed {
        QueryFeed::Unfed(why) => format!(
            " The generated rule tests leave this SLO out: {why}, the shape whose input series they can feed."
        ),
        _ => String::new(),
    }
}

/// `` `http_requests_total` with `status` = `5xx` `` for a selector.
fn counted(service: &Service, selector: &Selector) -> String {
    let m = service.metric(&selector.metric);
    let mut text = code(&match m.kind {
        MetricKind::Histogram => m.family_name(),
        _ => m.sample_name(),
    });
    let conditions: Vec<String> = selector
        .matchers
        .iter()
        .map(|(label, m)| {
            let list = |values: &[String]| {
                values
                    .iter()
                    .map(|v| code(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            match m {
                LabelMatch::Values(values) if values.len() == 1 => {
                    format!("{} = {}", code(label), list(values))
                }
                LabelMatch::Values(values) => format!("{} in {}", code(label), list(values)),
                LabelMatch::Not(values) if values.len() == 1 => {
                    format!("{} not {}", code(label), list(values))
                }
                LabelMatch::Not(values) => format!("{} not in {}", code(label), list(values)),
                LabelMatch::Regex(re) => format!("{} matching {}", code(label), code(re)),
                LabelMatch::NotRegex(re) => {
                    format!("{} not matching {}", code(label), code(re))
                }
            }
        })
        .collect();
    if !conditions.is_empty() {
        text.push_str(" with ");
        text.push_str(&conditions.join(" and "));
    }
    text
}
