//! What only table panels have: the join of their instant queries (`merge`), the choice, order and headers
//! of their columns (`organize`), each column's unit, decimals and colours (field overrides by the column's
//! header), and the table options.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;
use serde_json::{json, Value};

use super::panel::{colour, ref_id, thresholds};
use crate::model::dashboard::{Colours, Field, Table};

/// The name Grafana gives a field of a table query's result: `Time`, the label's name, and `Value #A` for the
/// value of query A (plain `Value` when the panel has one query).
fn field_name(field: &Field, queries: usize) -> String {
    match field {
        Field::Time => "Time".into(),
        Field::Label(label) => label.clone(),
        Field::Value(_) if queries == 1 => "Value".into(),
        Field::Value(index) => format!("Value #{}", ref_id(*index)),
    }
}

/// `merge` (queries joined into one row per shared label set, when there are several), then `organize`
/// (hidden fields, column order, headers).
pub(super) fn transformations(table: &Table, queries: usize) -> Vec<Transformation> {
    let mut out = Vec::new();
    if queries > 1 {
        out.push(Transformation {
            id: "merge",
            options: TransformOptions::Merge {},
        });
    }
    out.push(Transformation {
        id: "organize",
        options: TransformOptions::Organize(Organize {
            exclude_by_name: table
                .hidden
                .iter()
                .map(|f| (field_name(f, queries), true))
                .collect(),
            index_by_name: table
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| (field_name(&c.field, queries), i))
                .collect(),
            rename_by_name: table
                .columns
                .iter()
                .map(|c| (field_name(&c.field, queries), c.title.clone()))
                .collect(),
        }),
    });
    out
}

/// Each column's unit, decimals and colours, matched by its header (the name `organize` gives it).
pub(super) fn overrides(table: &Table) -> Result<Vec<Override>> {
    let mut out = Vec::new();
    for column in &table.columns {
        let mut properties = Vec::new();
        if let Some(unit) = &column.unit {
            properties.push(property("unit", json!(unit)));
        }
        if let Some(decimals) = column.decimals {
            properties.push(property("decimals", json!(decimals)));
        }
        match &column.colours {
            Colours::None => {}
            Colours::Steps(steps) => {
                properties.push(property(
                    "thresholds",
                    serde_json::to_value(thresholds(steps)?)?,
                ));
                properties.push(property("color", json!({ "mode": "thresholds" })));
                properties.push(property(
                    "custom.cellOptions",
                    json!({ "type": "color-text" }),
                ));
            }
            Colours::Text(values) => {
                let options: BTreeMap<&str, Value> = values
                    .iter()
                    .enumerate()
                    .map(|(i, (text, tone))| {
                        (text.as_str(), json!({ "color": colour(*tone), "index": i }))
                    })
                    .collect();
                properties.push(property(
                    "mappings",
                    json!([{ "type": "value", "options": options }]),
                ));
                // Text without a mapping keeps the theme's text colour.
                properties.push(property(
                    "color",
                    json!({ "mode": "fixed", "fixedColor": "text" }),
                ));
                properties.push(property(
                    "custom.cellOptions",
                    json!({ "type": "color-text" }),
                ));
            }
        }
        if !properties.is_empty() {
            out.push(Override {
                matcher: Matcher {
                    id: "byName",
                    options: column.title.clone(),
                },
                properties,
            });
        }
    }
    Ok(out)
}

fn property(id: &'static str, value: Value) -> Property {
    Property { id, value }
}

/// A step of the panel's data pipeline.
#[derive(Serialize)]
pub(super) struct Transformation {
    id: &'static str,
    options: TransformOptions,
}

#[derive(Serialize)]
#[serde(untagged)]
enum TransformOptions {
    /// `merge` takes no options.
    Merge {},
    Organize(Organize),
}

/// Fields left out, the position of each shown one, and its header.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Organize {
    exclude_by_name: BTreeMap<String, bool>,
    index_by_name: BTreeMap<String, usize>,
    rename_by_name: BTreeMap<String, String>,
}

/// Field options for the columns one matcher selects.
#[derive(Serialize)]
pub(super) struct Override {
    matcher: Matcher,
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct Matcher {
    id: &'static str,
    /// The column's header.
    options: String,
}

#[derive(Serialize)]
struct Property {
    id: &'static str,
    value: Value,
}

/// The table plugin's field options: plain cells unless a column's override colours them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TableFieldConfig {
    align: &'static str,
    cell_options: CellOptions,
    inspect: bool,
}

impl Default for TableFieldConfig {
    fn default() -> TableFieldConfig {
        TableFieldConfig {
            align: "auto",
            cell_options: CellOptions { kind: "auto" },
            inspect: false,
        }
    }
}

#[derive(Serialize)]
struct CellOptions {
    #[serde(rename = "type")]
    kind: &'static str,
}

/// The table plugin's options: a header, compact rows, no footer, sorted by one column.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TableOptions {
    show_header: bool,
    cell_height: &'static str,
    footer: Footer,
    sort_by: [SortBy; 1],
}

impl TableOptions {
    /// Sorted ascending by the column headed `column`.
    pub(super) fn sorted_by(column: &str) -> TableOptions {
        TableOptions {
            show_header: true,
            cell_height: "sm",
            footer: Footer {
                show: false,
                reducer: ["sum"],
                count_rows: false,
                fields: "",
            },
            sort_by: [SortBy {
                display_name: column.to_string(),
                desc: false,
            }],
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Footer {
    show: bool,
    reducer: [&'static str; 1],
    count_rows: bool,
    fields: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SortBy {
    display_name: String,
    desc: bool,
}
