//! The typed Rust metrics module of one service, compiled by the service against `slogen-runtime`.
//!
//! Closed labels become enums and each metric's labels a struct, so a wrong label name or value is a
//! compile error in the service rather than a silent new series.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use serde::Serialize;

use super::templates;
use crate::conventions::{self, rust_field, upper_camel};
use crate::model::{Label, LabelValues, Metric, MetricKind, Service};

#[derive(Serialize)]
struct ModuleContext {
    source: String,
    service: String,
    /// The `use slogen_runtime::{..};` item, laid out as rustfmt would.
    imports: String,
    enums: Vec<EnumContext>,
    label_sets: Vec<LabelSetContext>,
    metrics: Vec<MetricContext>,
    open_labels: Vec<OpenLabelContext>,
}

#[derive(Serialize)]
struct EnumContext {
    name: String,
    /// Some variant starts with the enum's own name, which clippy's `enum_variant_names` flags.
    prefixed: bool,
    doc: Vec<String>,
    variants: Vec<VariantContext>,
    /// The `const VALUES` item, laid out as rustfmt would.
    values: String,
}

#[derive(Serialize)]
struct VariantContext {
    variant: String,
    value: String,
}

#[derive(Serialize)]
struct LabelSetContext {
    name: String,
    metric: String,
    borrows: bool,
    /// The `const NAMES` item, laid out as rustfmt would.
    names: String,
    fields: Vec<FieldContext>,
}

#[derive(Serialize)]
struct FieldContext {
    field: String,
    ty: String,
    doc: Vec<String>,
    /// `closed` or `open`: the `Slot` method that indexes this label.
    kind: &'static str,
}

#[derive(Serialize)]
struct MetricContext {
    field: String,
    name: String,
    doc: Vec<String>,
    kind: &'static str,
    labels_type: String,
    unit_doc: String,
    /// The `Family::new(..)` call, laid out as rustfmt would at the field's indentation.
    family_new: String,
    /// The bucket bounds `const` item, laid out as rustfmt would; empty for other kinds.
    buckets: String,
}

#[derive(Serialize)]
struct OpenLabelContext {
    var: String,
    name: String,
    max_values: u32,
}

/// The module source of one service.
pub fn emit(service: &Service) -> Result<String> {
    // External metrics are another program's: the module records only the service's own.
    let own: Vec<&Metric> = service.metrics.iter().filter(|m| m.in_module()).collect();
    let used: BTreeSet<&str> = own
        .iter()
        .flat_map(|m| m.labels.iter().map(String::as_str))
        .collect();
    let external_only: BTreeSet<&str> = service
        .metrics
        .iter()
        .filter(|m| !m.in_module())
        .flat_map(|m| m.labels.iter().map(String::as_str))
        .filter(|l| !used.contains(l))
        .collect();
    let enums = service
        .label_defs
        .values()
        .filter(|label| !external_only.contains(label.name.as_str()))
        .filter_map(|label| match &label.values {
            LabelValues::Closed(values) => Some(EnumContext {
                name: upper_camel(&label.name),
                prefixed: values
                    .iter()
                    .any(|v| v.variant.starts_with(&upper_camel(&label.name))),
                doc: doc_lines(&label.help),
                values: array_item(
                    4,
                    "const VALUES: &'static [&'static str]",
                    &values.iter().map(|v| literal(&v.value)).collect::<Vec<_>>(),
                ),
                variants: values
                    .iter()
                    .map(|v| VariantContext {
                        variant: v.variant.clone(),
                        value: v.value.replace('`', "'"),
                    })
                    .collect(),
            }),
            LabelValues::Open { .. } | LabelValues::Unlimited => None,
        })
        .collect();
    let open_labels = service
        .label_defs
        .values()
        .filter(|l| used.contains(l.name.as_str()))
        .filter_map(|label| match label.values {
            LabelValues::Open { max_values } => Some(OpenLabelContext {
                var: rust_field(&label.name),
                name: literal(&label.name),
                max_values,
            }),
            LabelValues::Closed(_) | LabelValues::Unlimited => None,
        })
        .collect();
    let label_sets = own
        .iter()
        .filter(|m| !m.labels.is_empty())
        .map(|m| label_set(service, m))
        .collect();
    let metrics: Vec<MetricContext> = own.iter().map(|m| metric(service, m)).collect();
    let mut imports = vec!["Dimension", "Family", "MetricSet", "Visitor"];
    let kinds: BTreeSet<&str> = metrics.iter().map(|m| m.kind).collect();
    imports.extend(kinds);
    if own.iter().any(|m| m.labels.is_empty()) {
        imports.push("NoLabels");
    }
    if own.iter().any(|m| !m.labels.is_empty()) {
        imports.extend(["LabelSet", "Slot"]);
    }
    if service.label_defs.values().any(|l| {
        matches!(l.values, LabelValues::Closed(_)) && !external_only.contains(l.name.as_str())
    }) {
        imports.push("LabelValue");
    }
    if service
        .label_defs
        .values()
        .any(|l| used.contains(l.name.as_str()) && matches!(l.values, LabelValues::Open { .. }))
    {
        imports.push("OpenLabel");
    }
    if own.iter().all(|m| m.labels.is_empty()) {
        imports.retain(|i| *i != "Dimension");
    }
    imports.sort_unstable();
    let imports: Vec<String> = imports.into_iter().map(String::from).collect();
    let context = ModuleContext {
        source: service.source.clone(),
        service: service.name.clone(),
        imports: import_item(&imports),
        enums,
        label_sets,
        metrics,
        open_labels,
    };
    let rendered = templates::environment()
        .get_template("metrics.rs.j2")?
        .render(&context)
        .context("rendering metrics.rs.j2")?;
    Ok(rendered)
}

fn label_set(service: &Service, metric: &Metric) -> LabelSetContext {
    let mut borrows = false;
    let fields = metric
        .labels
        .iter()
        .map(|name| {
            let label: &Label = &service.label_defs[name];
            let (ty, kind) = match label.values {
                LabelValues::Closed(_) => (upper_camel(name), "closed"),
                // Lowering keeps unlimited labels (external metrics' only) off the service's metrics.
                LabelValues::Open { .. } | LabelValues::Unlimited => {
                    borrows = true;
                    ("&'a str".to_string(), "open")
                }
            };
            FieldContext {
                field: rust_field(name),
                ty,
                doc: doc_lines(&label.help),
                kind,
            }
        })
        .collect();
    LabelSetContext {
        name: labels_struct(metric),
        metric: metric.name.clone(),
        borrows,
        names: array_item(
            4,
            "const NAMES: &'static [&'static str]",
            &metric.labels.iter().map(|l| literal(l)).collect::<Vec<_>>(),
        ),
        fields,
    }
}

fn labels_struct(metric: &Metric) -> String {
    conventions::labels_struct(&metric.name)
}

fn metric(service: &Service, m: &Metric) -> MetricContext {
    let borrows = m
        .labels
        .iter()
        .any(|l| matches!(service.label_defs[l].values, LabelValues::Open { .. }));
    let labels_type = if m.labels.is_empty() {
        "NoLabels".to_string()
    } else if borrows {
        format!("{}<'static>", labels_struct(m))
    } else {
        labels_struct(m)
    };
    let buckets_const = conventions::buckets_const(&m.name);
    let (kind, make) = match m.kind {
        MetricKind::Counter => ("Counter", "Counter::default".to_string()),
        MetricKind::Gauge => ("Gauge", "Gauge::default".to_string()),
        MetricKind::Histogram => ("Histogram", format!("|| Histogram::new({buckets_const})")),
    };
    let dimensions: Vec<String> = m
        .labels
        .iter()
        .map(|l| match service.label_defs[l].values {
            LabelValues::Closed(_) => format!("Dimension::closed::<{}>()", upper_camel(l)),
            LabelValues::Open { .. } | LabelValues::Unlimited => {
                format!("Dimension::open(&{})", rust_field(l))
            }
        })
        .collect();
    let field = rust_field(&m.name);
    let unit = match &m.unit {
        Some(u) => format!("Some({})", literal(u)),
        None => "None".into(),
    };
    let args = [literal(&m.name), literal(&m.help), unit];
    let buckets = if m.buckets.is_empty() {
        String::new()
    } else {
        let bounds: Vec<String> = m.buckets.iter().map(|b| format!("{b:?}")).collect();
        array_item(0, &format!("const {buckets_const}: &[f64]"), &bounds)
    };
    MetricContext {
        family_new: family_new(&field, &args, &dimensions, &make),
        field,
        name: m.name.clone(),
        doc: doc_lines(&m.help),
        kind,
        labels_type,
        unit_doc: m.unit.clone().unwrap_or_default(),
        buckets,
    }
}

// rustfmt's defaults (style edition 2021) that decide the layout of the lists the module contains.
/// `max_width`: no line may be longer.
const MAX_WIDTH: usize = 100;
/// `array_width` and `fn_call_width` (60 % of `max_width`): the widest list kept on one line.
const LIST_WIDTH: usize = 60;
/// `short_array_element_width_threshold`: arrays of items this short are filled, not one item a line.
const SHORT_ITEM: usize = 10;

/// `use slogen_runtime::{..};`: on one line when it fits, else the names filled onto indented lines.
fn import_item(names: &[String]) -> String {
    let one_line = format!("use slogen_runtime::{{{}}};", names.join(", "));
    if one_line.len() <= MAX_WIDTH {
        return one_line;
    }
    format!("use slogen_runtime::{{\n{}}};", fill(names, 4))
}

/// `<indent>lhs = &[items];` as rustfmt lays out a `const` array: on one line when the list is narrow and
/// fits, else the array alone on the next line when that fits, else one item a line (short items filled).
fn array_item(indent: usize, lhs: &str, items: &[String]) -> String {
    let pad = " ".repeat(indent);
    let content = items.join(", ");
    let narrow = content.len() <= LIST_WIDTH;
    let one_line = format!("{pad}{lhs} = &[{content}];");
    if narrow && one_line.len() <= MAX_WIDTH {
        return one_line;
    }
    let next_line = format!("{pad}    &[{content}];");
    if narrow && next_line.len() <= MAX_WIDTH {
        return format!("{pad}{lhs} =\n{next_line}");
    }
    let body = if items.iter().all(|item| item.len() <= SHORT_ITEM) {
        fill(items, indent + 4)
    } else {
        vertical(items, indent + 4)
    };
    format!("{pad}{lhs} = &[\n{body}{pad}];")
}

/// `field: Family::new(..),` inside `Metrics { .. }` (12 spaces deep): on one line when the arguments are
/// narrow and fit, else one argument a line, the `vec!` of dimensions likewise. (Where a help text is too
/// long for any layout, rustfmt keeps the expression as written, which is this layout too.)
fn family_new(field: &str, args: &[String; 3], dimensions: &[String], make: &str) -> String {
    let pad = " ".repeat(12);
    let dims_content = dimensions.join(", ");
    let dims = if dimensions.is_empty() {
        "Vec::new()".to_string()
    } else {
        format!("vec![{dims_content}]")
    };
    let all: Vec<String> = args
        .iter()
        .cloned()
        .chain([dims, make.to_string()])
        .collect();
    let content = all.join(", ");
    let one_line = format!("{pad}{field}: Family::new({content}),");
    if content.len() <= LIST_WIDTH && one_line.len() <= MAX_WIDTH {
        return one_line;
    }
    let mut lines = vertical(&all[..3], 16);
    let dims_line = format!("{pad}    {},", all[3]);
    if dimensions.is_empty() || (dims_content.len() <= LIST_WIDTH && dims_line.len() <= MAX_WIDTH) {
        lines.push_str(&dims_line);
        lines.push('\n');
    } else {
        lines.push_str(&format!(
            "{pad}    vec![\n{}{pad}    ],\n",
            vertical(dimensions, 20)
        ));
    }
    lines.push_str(&format!("{pad}    {make},\n"));
    format!("{pad}{field}: Family::new(\n{lines}{pad}),")
}

/// One item a line, each followed by a comma.
fn vertical(items: &[String], indent: usize) -> String {
    let pad = " ".repeat(indent);
    items.iter().map(|item| format!("{pad}{item},\n")).collect()
}

/// Items filled onto lines of at most [`MAX_WIDTH`], each line ending in a comma.
fn fill(items: &[String], indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    let mut line = String::new();
    for item in items {
        if !line.is_empty() && pad.len() + line.len() + 1 + item.len() + 1 > MAX_WIDTH {
            out.push_str(&format!("{pad}{line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(item);
        line.push(',');
    }
    if !line.is_empty() {
        out.push_str(&format!("{pad}{line}\n"));
    }
    out
}

/// A Rust string literal (Debug escaping is valid Rust).
fn literal(text: &str) -> String {
    format!("{text:?}")
}

/// Doc-comment lines, each starting with a space unless empty.
fn doc_lines(text: &str) -> Vec<String> {
    let lines: Vec<String> = text
        .trim()
        .lines()
        .map(|l| {
            if l.trim().is_empty() {
                String::new()
            } else {
                format!(" {}", l.trim_end())
            }
        })
        .collect();
    if lines.is_empty() {
        vec![String::new()]
    } else {
        lines
    }
}
