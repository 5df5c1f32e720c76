//! The panels of a service's dashboard: what each one charts (its PromQL and legends), its title,
//! description, unit, thresholds and, for tables, columns. The Grafana emitter only lays them out and
//! serialises them.
//!
//! The [`OVERVIEW_ROW`] leads with a table of every SLO and one of the service's alerts. Every SLO then gets
//! one line of three panels in the [`SLO_ROW`] row (SLI, error budget left, burn rate). Metric rows chart the
//! raw series through the service selector and the dashboard's variables, over `$__rate_interval`; SLO panels
//! read the recording rules of [`super::rules`], whose fixed windows are part of the SLO's definition, and
//! which sum away the labels the variables filter by. See `metric`, `slo` and `overview`.

use std::collections::BTreeMap;

use super::{Exact, Service};
use crate::conventions::{OVERVIEW_ROW, SLO_ROW};

mod metric;
mod overview;
mod slo;

pub use overview::TemplateVariable;

/// One row of the dashboard with its panels, in display order.
#[derive(Debug, Clone)]
pub struct DashboardRow {
    /// Row title.
    pub title: String,
    /// The SLO overview table and the alerts table, a line each; only in the [`OVERVIEW_ROW`] row.
    pub overview: Vec<Panel>,
    /// One line of three panels per SLO (SLI, budget left, burn rate); only in the [`SLO_ROW`] row.
    pub slo_lines: Vec<[Panel; 3]>,
    /// Metric panels, then the spec's extra panels.
    pub panels: Vec<Panel>,
}

/// How a panel draws its data.
#[derive(Debug, Clone)]
pub enum PanelKind {
    /// Lines over time; thresholds drawn as dashed lines when `dashed_thresholds`.
    Timeseries {
        /// Whether the thresholds are drawn: they mark objectives and alert factors.
        dashed_thresholds: bool,
    },
    /// One big number with a sparkline, coloured by its thresholds.
    Stat,
    /// The latest value of instant queries as a table: one row per label set, the queries joined on the
    /// labels they share.
    Table(Table),
}

/// The columns of a table panel, which the emitter turns into Grafana's join and column transformations.
#[derive(Debug, Clone)]
pub struct Table {
    /// Shown columns, in order.
    pub columns: Vec<Column>,
    /// Fields the queries return that are left out: the evaluation time, labels that only tie series together.
    pub hidden: Vec<Field>,
    /// Title of the column the rows are sorted by, ascending.
    pub sort_by: String,
    /// How many rows it has, when that is known (one per SLO), so the panel can be as tall as its rows.
    pub rows: Option<usize>,
    /// What the table says when no query returns a row, so an empty table reads as good news, not a fault.
    pub empty: String,
}

/// One shown column of a table.
#[derive(Debug, Clone)]
pub struct Column {
    /// Where its values come from.
    pub field: Field,
    /// Header.
    pub title: String,
    /// Grafana unit of a number column; `None` for label text.
    pub unit: Option<String>,
    /// Decimals shown, when the unit's automatic choice would round a difference away (`99.95%` as `100%`).
    pub decimals: Option<u32>,
    /// How its cells are coloured.
    pub colours: Colours,
}

/// A field of a table query's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// The evaluation time of the instant queries.
    Time,
    /// A label of the returned series.
    Label(String),
    /// The value returned by the query at this index.
    Value(usize),
}

/// How the cells of a column are coloured.
#[derive(Debug, Clone)]
pub enum Colours {
    /// Plain text.
    None,
    /// Numbers by threshold steps, the base first.
    Steps(Vec<Threshold>),
    /// These text values in their tone; others plain.
    Text(Vec<(String, Tone)>),
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

/// Builds the rows and template variables of a lowered service's dashboard, once its rules are attached.
pub fn attach(service: &mut Service) {
    service.dashboard.templates = overview::templates(service);
    service.dashboard.rows = rows(service);
}

/// The rows of a service's dashboard, in `row_order`.
fn rows(service: &Service) -> Vec<DashboardRow> {
    let mut singles: BTreeMap<&str, Vec<Panel>> = BTreeMap::new();
    for m in &service.metrics {
        singles
            .entry(&m.row)
            .or_default()
            .push(metric::metric_panel(service, m));
    }
    for p in &service.dashboard.extra_panels {
        singles
            .entry(&p.row)
            .or_default()
            .push(metric::extra_panel(p));
    }
    service
        .dashboard
        .row_order
        .iter()
        .map(|row| DashboardRow {
            title: row.clone(),
            overview: if row == OVERVIEW_ROW {
                overview::panels(service)
            } else {
                Vec::new()
            },
            slo_lines: if row == SLO_ROW {
                service
                    .slos
                    .iter()
                    .map(|s| slo::slo_panels(service, s))
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

/// `op by (a, b) (inner)`, or `op(inner)` when there is nothing to break down by.
fn aggregate(op: &str, labels: &[String], inner: &str) -> String {
    if labels.is_empty() {
        format!("{op}({inner})")
    } else {
        format!("{op} by ({}) ({inner})", labels.join(", "))
    }
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
