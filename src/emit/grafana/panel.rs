//! One model panel as Grafana's panel JSON: time series, stat and table panels, their field config,
//! thresholds and Prometheus queries.

use anyhow::{Context, Result};
use serde::Serialize;

use super::table::{self, Override, TableFieldConfig, TableOptions, Transformation};
use crate::conventions::DATASOURCE_VARIABLE;
use crate::model::dashboard::{Panel as ModelPanel, PanelKind, Threshold, Tone};
use crate::model::Exact;

/// A model panel as Grafana's JSON, `width` columns wide and `height` units tall, placed by the layout.
pub(super) fn panel_json(panel: &ModelPanel, width: u32, height: u32) -> Result<Panel> {
    let thresholds = thresholds(&panel.thresholds)?;
    let mut overrides = Vec::new();
    let mut transformations = Vec::new();
    let mut no_value = None;
    let (kind, color, custom, options) = match &panel.kind {
        PanelKind::Timeseries { dashed_thresholds } => (
            "timeseries",
            "palette-classic",
            Some(Custom::Graph(GraphFieldConfig {
                draw_style: "line",
                line_width: 1,
                fill_opacity: 10,
                gradient_mode: "none",
                show_points: "never",
                span_nulls: false,
                axis_placement: "auto",
                thresholds_style: ThresholdsStyle {
                    mode: if *dashed_thresholds { "dashed" } else { "off" },
                },
            })),
            Options::Timeseries(TimeseriesOptions {
                legend: Legend {
                    calcs: [],
                    display_mode: "list",
                    placement: "bottom",
                    show_legend: true,
                },
                tooltip: Tooltip {
                    mode: "multi",
                    sort: "desc",
                },
            }),
        ),
        PanelKind::Stat => (
            "stat",
            "thresholds",
            None,
            Options::Stat(StatOptions::default()),
        ),
        PanelKind::Table(t) => {
            overrides = table::overrides(t)?;
            transformations = table::transformations(t, panel.queries.len());
            no_value = Some(t.empty.clone());
            (
                "table",
                "thresholds",
                Some(Custom::Table(TableFieldConfig::default())),
                Options::Table(TableOptions::sorted_by(&t.sort_by)),
            )
        }
    };
    let instant = matches!(panel.kind, PanelKind::Table(_));
    Ok(Panel {
        kind,
        id: 0,
        title: panel.title.clone(),
        description: panel.description.clone(),
        datasource: DataSourceRef::prometheus(),
        grid_pos: GridPos {
            h: height,
            w: width,
            x: 0,
            y: 0,
        },
        field_config: FieldConfigSource {
            defaults: FieldDefaults {
                unit: panel.unit.clone(),
                color: FieldColor { mode: color },
                thresholds,
                no_value,
                custom,
            },
            overrides,
        },
        options,
        transformations,
        targets: targets(panel, instant),
    })
}

/// Threshold steps in Grafana's colours, absolute.
pub(super) fn thresholds(steps: &[Threshold]) -> Result<Thresholds> {
    Ok(Thresholds {
        mode: "absolute",
        steps: steps.iter().map(step).collect::<Result<_>>()?,
    })
}

/// A threshold step in Grafana's colours.
fn step(threshold: &Threshold) -> Result<Step> {
    Ok(Step {
        value: threshold.value.map(number).transpose()?,
        color: colour(threshold.tone),
    })
}

/// Grafana's named colour of a tone.
pub(super) fn colour(tone: Tone) -> &'static str {
    match tone {
        Tone::Good => "green",
        Tone::Warning => "yellow",
        Tone::Ticket => "orange",
        Tone::Critical => "red",
    }
}

/// Prometheus targets with `refId`s A, B, C… in query order; a table's are instant queries returning a table.
fn targets(panel: &ModelPanel, instant: bool) -> Vec<Target> {
    panel
        .queries
        .iter()
        .enumerate()
        .map(|(i, q)| Target {
            datasource: DataSourceRef::prometheus(),
            editor_mode: "code",
            expr: q.expr.clone(),
            legend_format: q.legend.clone(),
            range: !instant,
            instant: instant.then_some(true),
            format: instant.then_some("table"),
            ref_id: ref_id(i),
        })
        .collect()
}

/// Grafana's query letters: A…Z, then AA, AB….
pub(super) fn ref_id(index: usize) -> String {
    let mut n = index + 1;
    let mut letters = Vec::new();
    while n > 0 {
        n -= 1;
        letters.push(char::from(b'A' + (n % 26) as u8));
        n /= 26;
    }
    letters.iter().rev().collect()
}

/// An exact number as a JSON number, through its decimal so `0.999` does not become `0.9990000000000001`.
fn number(value: Exact) -> Result<f64> {
    value
        .to_string()
        .parse()
        .with_context(|| format!("threshold {value} is not a decimal"))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Panel {
    #[serde(rename = "type")]
    kind: &'static str,
    pub(super) id: u32,
    title: String,
    description: String,
    datasource: DataSourceRef,
    pub(super) grid_pos: GridPos,
    field_config: FieldConfigSource,
    options: Options,
    /// A table's join of its queries and its column choice; none for other panels.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    transformations: Vec<Transformation>,
    targets: Vec<Target>,
}

#[derive(Serialize)]
pub(super) struct GridPos {
    pub(super) h: u32,
    pub(super) w: u32,
    pub(super) x: u32,
    pub(super) y: u32,
}

#[derive(Serialize)]
pub(super) struct DataSourceRef {
    #[serde(rename = "type")]
    kind: &'static str,
    uid: String,
}

impl DataSourceRef {
    /// Whatever Prometheus data source the dashboard's variable points at.
    pub(super) fn prometheus() -> DataSourceRef {
        DataSourceRef {
            kind: "prometheus",
            uid: format!("${{{DATASOURCE_VARIABLE}}}"),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    datasource: DataSourceRef,
    editor_mode: &'static str,
    expr: String,
    legend_format: String,
    range: bool,
    /// Only the latest value: what a table shows.
    #[serde(skip_serializing_if = "Option::is_none")]
    instant: Option<bool>,
    /// `table`: labels as columns, which the table joins queries on.
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'static str>,
    ref_id: String,
}

#[derive(Serialize)]
struct FieldConfigSource {
    defaults: FieldDefaults,
    /// A table's per-column units, decimals and colours.
    overrides: Vec<Override>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FieldDefaults {
    unit: String,
    color: FieldColor,
    thresholds: Thresholds,
    /// What a table says when it has no row.
    #[serde(skip_serializing_if = "Option::is_none")]
    no_value: Option<String>,
    /// The panel plugin's own field options; stat panels have none.
    #[serde(skip_serializing_if = "Option::is_none")]
    custom: Option<Custom>,
}

#[derive(Serialize)]
struct FieldColor {
    mode: &'static str,
}

#[derive(Serialize)]
pub(super) struct Thresholds {
    mode: &'static str,
    steps: Vec<Step>,
}

#[derive(Serialize)]
struct Step {
    /// `null` for the base step: Grafana's JSON for minus infinity.
    value: Option<f64>,
    color: &'static str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Custom {
    Graph(GraphFieldConfig),
    Table(TableFieldConfig),
}

/// The timeseries plugin's field options.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GraphFieldConfig {
    draw_style: &'static str,
    line_width: u32,
    fill_opacity: u32,
    gradient_mode: &'static str,
    show_points: &'static str,
    span_nulls: bool,
    axis_placement: &'static str,
    thresholds_style: ThresholdsStyle,
}

#[derive(Serialize)]
struct ThresholdsStyle {
    mode: &'static str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Options {
    Timeseries(TimeseriesOptions),
    Stat(StatOptions),
    Table(TableOptions),
}

#[derive(Serialize)]
struct TimeseriesOptions {
    legend: Legend,
    tooltip: Tooltip,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Legend {
    calcs: [&'static str; 0],
    display_mode: &'static str,
    placement: &'static str,
    show_legend: bool,
}

#[derive(Serialize)]
struct Tooltip {
    mode: &'static str,
    sort: &'static str,
}

/// A big number with a sparkline, coloured by its thresholds.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatOptions {
    graph_mode: &'static str,
    color_mode: &'static str,
    justify_mode: &'static str,
    text_mode: &'static str,
    wide_layout: bool,
    show_percent_change: bool,
    percent_change_color_mode: &'static str,
    orientation: &'static str,
    reduce_options: ReduceOptions,
}

impl Default for StatOptions {
    fn default() -> StatOptions {
        StatOptions {
            graph_mode: "area",
            color_mode: "value",
            justify_mode: "auto",
            text_mode: "auto",
            wide_layout: true,
            show_percent_change: false,
            percent_change_color_mode: "standard",
            orientation: "auto",
            reduce_options: ReduceOptions {
                calcs: ["lastNotNull"],
                fields: "",
                values: false,
            },
        }
    }
}

#[derive(Serialize)]
struct ReduceOptions {
    /// The value shown: the latest one.
    calcs: [&'static str; 1],
    fields: &'static str,
    values: bool,
}
