//! The panels of a service's dashboard: what each one charts (its PromQL and legends), its title,
//! description, unit and thresholds. The Grafana emitter only lays them out and serialises them.
//!
//! Every SLO gets one line of three panels in the [`SLO_ROW`] row (SLI, error budget left, burn rate), so the
//! SLOs of a service read as a table. SLO panels read the recording rules of [`super::rules`], and metric
//! panels select series with the same matchers as the rules, so a name changes in one place.

use std::collections::BTreeMap;

use super::promql::label_matchers;
use super::rules::DISPLAY_WINDOW;
use super::{Exact, ExtraPanel, Metric, MetricKind, Service, Severity, Sli, Slo};
use crate::conventions::{self as names, sli_error_record, SLO_ROW};

/// Latency quantiles charted for a histogram, with their legend.
const QUANTILES: [(&str, &str); 3] = [("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99")];

/// Share of the error budget left under which the budget panel turns yellow: less than half left.
const BUDGET_WARNING_BELOW: Exact = Exact::new(1, 2);

/// Share of the error budget left under which the budget panel turns red: a quarter left is little slack.
const BUDGET_CRITICAL_BELOW: Exact = Exact::new(1, 4);

/// One row of the dashboard with its panels, in display order.
#[derive(Debug, Clone)]
pub struct DashboardRow {
    /// Row title.
    pub title: String,
    /// One line of three panels per SLO (SLI, budget left, burn rate); only in the [`SLO_ROW`] row.
    pub slo_lines: Vec<[Panel; 3]>,
    /// Metric panels, then the spec's extra panels.
    pub panels: Vec<Panel>,
}

/// How a panel draws its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelKind {
    /// Lines over time; thresholds drawn as dashed lines when `dashed_thresholds`.
    Timeseries {
        /// Whether the thresholds are drawn: they mark objectives and alert factors.
        dashed_thresholds: bool,
    },
    /// One big number with a sparkline, coloured by its thresholds.
    Stat,
}

/// What a threshold step means, which the emitter turns into a colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Healthy.
    Good,
    /// Worth a look.
    Warning,
    /// A ticket alert's level.
    Ticket,
    /// Bad: a page alert's level, a missed objective, a nearly spent budget.
    Critical,
}

/// A threshold step: from `value` up (from minus infinity for the base step), the panel has this tone.
#[derive(Debug, Clone, Copy)]
pub struct Threshold {
    /// Lower bound; `None` for the base step.
    pub value: Option<Exact>,
    /// Its meaning.
    pub tone: Tone,
}

/// One PromQL query of a panel with its legend.
#[derive(Debug, Clone)]
pub struct PanelQuery {
    /// PromQL.
    pub expr: String,
    /// Legend format.
    pub legend: String,
}

/// A panel, ready to be laid out.
#[derive(Debug, Clone)]
pub struct Panel {
    /// How it draws.
    pub kind: PanelKind,
    /// Title.
    pub title: String,
    /// What it shows and how to read it.
    pub description: String,
    /// Grafana unit id.
    pub unit: String,
    /// Queries in order.
    pub queries: Vec<PanelQuery>,
    /// Threshold steps, the base first, sorted by value.
    pub thresholds: Vec<Threshold>,
}

/// The rows of a lowered service's dashboard, in `row_order`.
pub fn rows(service: &Service) -> Vec<DashboardRow> {
    let mut singles: BTreeMap<&str, Vec<Panel>> = BTreeMap::new();
    for m in &service.metrics {
        singles.entry(&m.row).or_default().push(metric_panel(m));
    }
    for p in &service.dashboard.extra_panels {
        singles.entry(&p.row).or_default().push(extra_panel(p));
    }
    service
        .dashboard
        .row_order
        .iter()
        .map(|row| DashboardRow {
            title: row.clone(),
            slo_lines: if row == SLO_ROW {
                service
                    .slos
                    .iter()
                    .map(|s| slo_panels(service, s))
                    .collect()
            } else {
                Vec::new()
            },
            panels: singles.remove(row.as_str()).unwrap_or_default(),
        })
        .collect()
}

/// A time-series panel; SLO panels draw their thresholds (objective, alert factors) as dashed lines.
fn timeseries(
    title: String,
    description: String,
    unit: String,
    queries: Vec<PanelQuery>,
    thresholds: Vec<Threshold>,
    dashed_thresholds: bool,
) -> Panel {
    Panel {
        kind: PanelKind::Timeseries { dashed_thresholds },
        title,
        description,
        unit,
        queries,
        thresholds,
    }
}

fn base(tone: Tone) -> Threshold {
    Threshold { value: None, tone }
}

fn at(value: Exact, tone: Tone) -> Threshold {
    Threshold {
        value: Some(value),
        tone,
    }
}

fn query(expr: String, legend: String) -> PanelQuery {
    PanelQuery { expr, legend }
}

/// One panel charting a metric of the service, broken down by its `group_by` labels.
fn metric_panel(metric: &Metric) -> Panel {
    let selector = label_matchers(&metric.selector, &BTreeMap::new());
    let by = &metric.group_by;
    let legend_labels: Vec<String> = by.iter().map(|l| format!("{{{{{l}}}}}")).collect();
    let legend_labels = legend_labels.join(" ");
    let breakdown = match by.as_slice() {
        [] => String::new(),
        [one] => format!(", by {one}"),
        [init @ .., last] => format!(", by {} and {last}", init.join(", ")),
    };
    let single_legend = || {
        if by.is_empty() {
            metric.name.clone()
        } else {
            legend_labels.clone()
        }
    };
    let help = metric.help.trim().trim_end_matches('.');
    let (queries, unit, description) = match metric.kind {
        MetricKind::Counter => (
            vec![query(
                sum_by(
                    by,
                    &format!("rate({}{selector}[$__rate_interval])", metric.sample_name()),
                ),
                single_legend(),
            )],
            rate_unit(metric),
            format!("{help}. Per-second rate{breakdown}."),
        ),
        MetricKind::Gauge if is_timestamp(metric) => (
            vec![query(
                format!(
                    "time() - {}",
                    aggregate("max", by, &format!("{}{selector}", metric.sample_name()))
                ),
                single_legend(),
            )],
            "s".into(),
            format!("{help}. Time elapsed since the latest of these moments{breakdown}."),
        ),
        MetricKind::Gauge => {
            let summed = if by.is_empty() {
                " over every series".to_string()
            } else {
                breakdown.replacen(", by", " by", 1)
            };
            (
                vec![query(
                    sum_by(by, &format!("{}{selector}", metric.sample_name())),
                    single_legend(),
                )],
                value_unit(metric.unit.as_deref()),
                format!("{help}. Current value, summed{summed}."),
            )
        }
        MetricKind::Histogram => {
            let mut le_by = vec!["le".to_string()];
            le_by.extend(by.iter().cloned());
            let buckets = sum_by(
                &le_by,
                &format!(
                    "rate({}{selector}[$__rate_interval])",
                    metric.histogram_series("bucket")
                ),
            );
            let queries = QUANTILES
                .iter()
                .map(|(q, name)| {
                    let legend = if by.is_empty() {
                        (*name).to_string()
                    } else {
                        format!("{name} {legend_labels}")
                    };
                    query(format!("histogram_quantile({q}, {buckets})"), legend)
                })
                .collect();
            (
                queries,
                value_unit(metric.unit.as_deref()),
                format!("{help}. 50th, 95th and 99th percentiles{breakdown}."),
            )
        }
    };
    timeseries(
        metric.name.clone(),
        description,
        unit,
        queries,
        vec![base(Tone::Good)],
        false,
    )
}

/// `sum by (a, b) (inner)`, or `sum(inner)` when there is nothing to break down by.
fn sum_by(labels: &[String], inner: &str) -> String {
    aggregate("sum", labels, inner)
}

/// `op by (a, b) (inner)`, or `op(inner)` when there is nothing to break down by.
fn aggregate(op: &str, labels: &[String], inner: &str) -> String {
    if labels.is_empty() {
        format!("{op}({inner})")
    } else {
        format!("{op} by ({}) ({inner})", labels.join(", "))
    }
}

/// A gauge holding Unix time (`*_timestamp_seconds`, the Prometheus convention): charted as the age of the
/// latest moment, since neither a sum of timestamps nor a timestamp drawn as a duration means anything.
fn is_timestamp(metric: &Metric) -> bool {
    metric.name.ends_with("_timestamp") && metric.unit.as_deref() == Some("seconds")
}

/// The Grafana unit of a per-second rate of a counter.
fn rate_unit(metric: &Metric) -> String {
    let name = metric.name.as_str();
    match metric.unit.as_deref() {
        Some("bytes") => "Bps".into(),
        Some(other) => format!("suffix: {other}/s"),
        None if name.contains("request") && !name.contains("error") && !name.contains("fail") => {
            "reqps".into()
        }
        None => "ops".into(),
    }
}

/// The Grafana unit of a value in a metric's base unit.
fn value_unit(unit: Option<&str>) -> String {
    match unit {
        Some("seconds") => "s".into(),
        Some("milliseconds") => "ms".into(),
        Some("bytes") => "bytes".into(),
        Some("ratio") => "percentunit".into(),
        Some("percent") => "percent".into(),
        Some("celsius") => "celsius".into(),
        Some(other) => format!("suffix: {other}"),
        None => "short".into(),
    }
}

/// The line of an SLO: its SLI against the objective, the error budget left, and the burn rate.
fn slo_panels(service: &Service, slo: &Slo) -> [Panel; 3] {
    let matchers = super::promql::slo_matchers(service, slo);
    let window = slo.window.promql();
    let shown = DISPLAY_WINDOW.promql();

    let good = match &slo.sli {
        Sli::Ratio { .. } | Sli::Events { .. } => "Share of good events".to_string(),
        Sli::Raw { .. } => "One minus the error ratio of its query".to_string(),
        Sli::Latency {
            histogram,
            threshold,
            ..
        } => {
            let unit = service
                .metric(&histogram.metric)
                .unit
                .as_deref()
                .map(|u| format!(" {u}"))
                .unwrap_or_default();
            format!("Share of events faster than {threshold}{unit}")
        }
    };
    let sli = timeseries(
        format!("{}: SLI", slo.name),
        format!(
            "{} {good} over the last {shown}; the dashed line is the {}% objective.",
            sentence(&slo.description),
            slo.objective
        ),
        "percentunit".into(),
        vec![query(
            format!("1 - {}{matchers}", sli_error_record(DISPLAY_WINDOW)),
            format!("SLI ({shown})"),
        )],
        vec![base(Tone::Critical), at(slo.objective_ratio, Tone::Good)],
        true,
    );

    let budget = Panel {
        kind: PanelKind::Stat,
        title: format!("{}: error budget left ({window})", slo.name),
        description: format!(
            "Share of the {window} error budget ({} minutes of full outage) not spent yet: 100% when nothing \
             failed, 0% when the SLO is exactly met, below zero when it is missed.",
            slo.budget.minutes
        ),
        unit: "percentunit".into(),
        queries: vec![query(
            format!("{}{matchers}", names::PERIOD_BUDGET_REMAINING_RECORD),
            "budget left".into(),
        )],
        thresholds: vec![
            base(Tone::Critical),
            at(BUDGET_CRITICAL_BELOW, Tone::Warning),
            at(BUDGET_WARNING_BELOW, Tone::Good),
        ],
    };

    let mut factors: Vec<(Exact, Severity)> = Vec::new();
    for alert in &slo.burn_rate_alerts {
        match factors
            .iter_mut()
            .find(|(f, _)| f.cmp_value(alert.factor).is_eq())
        {
            Some(existing) => existing.1 = existing.1.min(alert.severity),
            None => factors.push((alert.factor, alert.severity)),
        }
    }
    factors.sort_by(|a, b| a.0.cmp_value(b.0));
    let mut steps = vec![base(Tone::Good)];
    for (factor, severity) in &factors {
        let tone = if *severity == Severity::Page {
            Tone::Critical
        } else {
            Tone::Ticket
        };
        steps.push(at(*factor, tone));
    }
    let factors_text = |severity: Severity| -> Vec<String> {
        slo.burn_rate_alerts
            .iter()
            .filter(|a| a.severity == severity)
            .map(|a| format!("{} over {}", a.factor, a.long.promql()))
            .collect()
    };
    let alerting = match (factors_text(Severity::Page), factors_text(Severity::Ticket)) {
        (page, ticket) if page.is_empty() && ticket.is_empty() => {
            " This SLO has no burn-rate alerts.".to_string()
        }
        (page, ticket) => {
            let mut parts = Vec::new();
            if !page.is_empty() {
                parts.push(format!("pages at {}", page.join(" and ")));
            }
            if !ticket.is_empty() {
                parts.push(format!("opens a ticket at {}", ticket.join(" and ")));
            }
            format!(
                " Dashed lines mark the alert factors: it {}.",
                parts.join(", and ")
            )
        }
    };
    let burn = timeseries(
        format!("{}: burn rate", slo.name),
        format!(
            "How fast the error budget is spent, over the last {shown}: at 1 it lasts exactly the {window} \
             window.{alerting}"
        ),
        "short".into(),
        vec![query(
            format!("{}{matchers}", names::CURRENT_BURN_RATE_RECORD),
            format!("burn rate ({shown})"),
        )],
        steps,
        true,
    );
    [sli, budget, burn]
}

/// A hand-written panel from the spec.
fn extra_panel(panel: &ExtraPanel) -> Panel {
    timeseries(
        panel.title.clone(),
        panel.description.clone(),
        panel.unit.clone(),
        panel
            .queries
            .iter()
            .map(|(expr, legend)| query(expr.clone(), legend.clone()))
            .collect(),
        vec![base(Tone::Good)],
        false,
    )
}

/// Ends a sentence with a period, so descriptions join cleanly.
fn sentence(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() || text.ends_with(['.', '!', '?']) {
        text.to_string()
    } else {
        format!("{text}.")
    }
}
