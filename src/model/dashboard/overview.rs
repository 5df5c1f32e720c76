//! The overview row — a table of every SLO and a table of the service's alerts, both from instant queries —
//! and the dashboard's template variables with the selector they add to raw-series queries.

use std::collections::{BTreeMap, BTreeSet};

use super::{at, base, slo, Colours, Column, Field, Panel, PanelKind, PanelQuery, Table, Tone};
use crate::conventions as names;
use crate::model::promql::{braces, label_matchers, quote, Matcher};
use crate::model::rules::DISPLAY_WINDOW;
use crate::model::{Exact, MetricKind, Service};

/// The series Prometheus (and every rule evaluator that writes back: Thanos and Mimir rulers, vmalert) keeps
/// for each pending or firing alert, labelled as the alert is.
const ALERTS_SERIES: &str = "ALERTS";
/// The alert's name on [`ALERTS_SERIES`].
const ALERT_NAME_LABEL: &str = "alertname";
/// `pending` or `firing` on [`ALERTS_SERIES`].
const ALERT_STATE_LABEL: &str = "alertstate";

/// The burn rate at which the budget lasts exactly the SLO window; the overview marks faster burns.
const SUSTAINABLE_BURN: u64 = 1;

/// A dashboard variable over a selector label: pick one or more of its values, or all.
#[derive(Debug, Clone)]
pub struct TemplateVariable {
    /// The label, which also names the variable (`$cluster`).
    pub label: String,
    /// `label_values(...)` listing the label's values, narrowed by the variables before it, so choosing a
    /// cluster narrows the namespaces offered.
    pub query: String,
}

/// The template variable of each of the dashboard's `variables`, in spec order.
pub(super) fn templates(service: &Service) -> Vec<TemplateVariable> {
    let series = values_series(service);
    service
        .dashboard
        .variables
        .iter()
        .enumerate()
        .map(|(i, label)| TemplateVariable {
            label: label.clone(),
            query: format!(
                "label_values({series}{}, {label})",
                raw_selector(service, &service.selector, i)
            ),
        })
        .collect()
}

/// The series a variable lists its values from: one the service exposes (its first metric's), since the
/// service's own series carry the labels its panels filter by; `up` for a service without metrics.
fn values_series(service: &Service) -> String {
    match service.metrics.first() {
        Some(m) if m.kind == MetricKind::Histogram => m.histogram_series("count"),
        Some(m) => m.sample_name(),
        None => "up".into(),
    }
}

/// The braces of a raw-series selector: `selector` (the service's, or an external metric's own), then
/// `label=~"$label"` for each of the first `variables` dashboard variables. With "All" chosen a variable is
/// `.*`, which also matches series without the label.
pub(super) fn raw_selector(
    service: &Service,
    selector: &BTreeMap<String, String>,
    variables: usize,
) -> String {
    let selector = label_matchers(selector, &BTreeMap::new());
    let mut parts: Vec<String> = selector
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .map(str::to_string)
        .into_iter()
        .collect();
    for label in &service.dashboard.variables[..variables] {
        parts.push(format!("{label}=~{}", quote(&format!("${label}"))));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

/// The overview row's panels: the SLO table when there are SLOs, the alerts table when anything can alert.
pub(super) fn panels(service: &Service) -> Vec<Panel> {
    let mut out = Vec::new();
    if !service.slos.is_empty() {
        out.push(slo_table(service));
    }
    if !service.slos.is_empty() || !service.alerts.is_empty() {
        out.push(alerts_table(service));
    }
    out
}

fn matcher(label: &str, values: Vec<String>) -> Matcher {
    Matcher::any_of(label, &values, false)
}

fn column(field: Field, title: &str) -> Column {
    Column {
        field,
        title: title.to_string(),
        unit: None,
        decimals: None,
        colours: Colours::None,
    }
}

fn number(index: usize, title: String, unit: &str, decimals: u32, colours: Colours) -> Column {
    Column {
        field: Field::Value(index),
        title,
        unit: Some(unit.to_string()),
        decimals: Some(decimals),
        colours,
    }
}

/// Digits after the decimal point of an exact decimal (`99.95` → 2).
fn decimal_places(value: Exact) -> u32 {
    let text = value.to_string();
    text.split_once('.')
        .map_or(0, |(_, fraction)| fraction.len() as u32)
}

/// One row per SLO: objective, SLI over the SLO's own window, budget left and the current burn rate, each
/// from the series the rules record, joined on the SLO name.
fn slo_table(service: &Service) -> Panel {
    let of_service = matcher(names::SLO_SERVICE_LABEL, vec![service.name.clone()]);
    let by_slo = |inner: &str| format!("max by ({}) ({inner})", names::SLO_NAME_LABEL);
    let recorded = |record: &str| {
        by_slo(&format!(
            "{record}{}",
            braces(std::slice::from_ref(&of_service))
        ))
    };
    // Each SLO's SLI over its own window: the SLOs grouped by the record of their window.
    let mut by_record: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in &service.slos {
        by_record
            .entry(slo::period_record(s))
            .or_default()
            .push(s.name.clone());
    }
    let per_window: Vec<String> = by_record
        .iter()
        .map(|(record, slos)| {
            let names = matcher(names::SLO_NAME_LABEL, slos.clone());
            format!("{record}{}", braces(&[of_service.clone(), names]))
        })
        .collect();
    let windows: BTreeSet<String> = service.slos.iter().map(|s| s.window.promql()).collect();
    let window = match windows.iter().collect::<Vec<_>>().as_slice() {
        [one] => (*one).clone(),
        _ => "own window".to_string(),
    };
    let objective_places = service
        .slos
        .iter()
        .map(|s| decimal_places(s.objective))
        .max()
        .unwrap_or_default();
    let shown = DISPLAY_WINDOW.promql();
    let queries = vec![
        PanelQuery {
            expr: recorded(names::OBJECTIVE_RECORD),
            legend: "objective".into(),
        },
        PanelQuery {
            expr: format!("1 - {}", by_slo(&per_window.join(" or "))),
            legend: "SLI".into(),
        },
        PanelQuery {
            expr: recorded(names::PERIOD_BUDGET_REMAINING_RECORD),
            legend: "budget left".into(),
        },
        PanelQuery {
            expr: recorded(names::CURRENT_BURN_RATE_RECORD),
            legend: "burn rate".into(),
        },
    ];
    let columns = vec![
        column(Field::Label(names::SLO_NAME_LABEL.into()), "SLO"),
        number(
            0,
            "Objective".into(),
            "percentunit",
            objective_places,
            Colours::None,
        ),
        number(
            1,
            format!("SLI ({window})"),
            "percentunit",
            objective_places + 1,
            Colours::None,
        ),
        number(
            2,
            "Budget left".into(),
            "percentunit",
            1,
            Colours::Steps(slo::budget_steps()),
        ),
        number(
            3,
            format!("Burn rate ({shown})"),
            "suffix:×",
            2,
            Colours::Steps(vec![
                base(Tone::Good),
                at(Exact::int(SUSTAINABLE_BURN), Tone::Warning),
            ]),
        ),
    ];
    Panel {
        kind: PanelKind::Table(Table {
            columns,
            hidden: vec![Field::Time],
            sort_by: "SLO".into(),
            rows: Some(service.slos.len()),
            empty: "No SLO series yet: are the rules loaded where this data source reads?".into(),
        }),
        title: "SLO overview".into(),
        description: format!(
            "Every SLO of {}: its objective, the SLI over the SLO's own window, the share of that window's \
             error budget left (red under {}%, yellow under {}%) and the burn rate over the last {shown} \
             ({SUSTAINABLE_BURN}× spends the budget exactly over the window; yellow above). Read from the \
             recorded SLO series, which the dashboard variables do not filter: an SLO covers everything the \
             service selector selects.",
            service.name,
            slo::BUDGET_CRITICAL_BELOW * Exact::int(100),
            slo::BUDGET_WARNING_BELOW * Exact::int(100),
        ),
        unit: "none".into(),
        queries,
        thresholds: vec![base(Tone::Good)],
    }
}

/// The service's pending and firing alerts, from the `ALERTS` series: works with any Prometheus-compatible
/// data source where the rules are evaluated, without Grafana-managed alerting.
fn alerts_table(service: &Service) -> Panel {
    let selector = braces(&[matcher(names::SERVICE_LABEL, vec![service.name.clone()])]);
    let label = |name: &str| Field::Label(name.to_string());
    let text = |values: &[(&str, Tone)]| {
        Colours::Text(values.iter().map(|(v, t)| ((*v).to_string(), *t)).collect())
    };
    let columns = vec![
        column(label(ALERT_NAME_LABEL), "Alert"),
        Column {
            colours: text(&[("firing", Tone::Critical), ("pending", Tone::Warning)]),
            ..column(label(ALERT_STATE_LABEL), "State")
        },
        Column {
            colours: text(&[
                (
                    names::severity_name(crate::model::Severity::Page),
                    Tone::Critical,
                ),
                (
                    names::severity_name(crate::model::Severity::Ticket),
                    Tone::Ticket,
                ),
            ]),
            ..column(label(names::SEVERITY_LABEL), "Severity")
        },
        column(label(names::SLO_LABEL), "SLO"),
        column(label(names::LONG_WINDOW_LABEL), "Long window"),
        column(label(names::SHORT_WINDOW_LABEL), "Short window"),
        column(label(names::BURN_RATE_LABEL), "Burn-rate factor"),
    ];
    // The same on every row, or only there to tie an SLO's series together.
    let mut hidden = vec![
        Field::Time,
        Field::Value(0),
        label("__name__"),
        label(names::SERVICE_LABEL),
        label(names::SLO_ID_LABEL),
        label(names::SLO_SERVICE_LABEL),
        label(names::SLO_NAME_LABEL),
        label(names::WINDOW_LABEL),
        label(names::SLOTH_SEVERITY_LABEL),
    ];
    hidden.extend(service.labels.keys().map(|k| label(k)));
    Panel {
        kind: PanelKind::Table(Table {
            columns,
            hidden,
            sort_by: "State".into(),
            rows: None,
            empty: "No alert of this service is pending or firing.".into(),
        }),
        title: "Alerts pending or firing".into(),
        description: format!(
            "Alerts of {} that are pending or firing now: the `{ALERTS_SERIES}` series of the data source, \
             which Prometheus (or a Thanos or Mimir ruler, or vmalert writing back) keeps for every active \
             alert, so no Grafana-managed alerting is needed. Burn-rate alerts show their windows and factor; \
             labels a threshold alert adds follow as columns.",
            service.name
        ),
        unit: "none".into(),
        queries: vec![PanelQuery {
            expr: format!("{ALERTS_SERIES}{selector}"),
            legend: String::new(),
        }],
        thresholds: vec![base(Tone::Good)],
    }
}
