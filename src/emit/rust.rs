//! The typed Rust metrics module of one service, compiled by the service against `slogen-runtime`.
//!
//! Closed labels become enums and each metric's labels a struct, so a wrong label name or value is a
//! compile error in the service rather than a silent new series.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use serde::Serialize;

use super::templates;
use crate::conventions::{rust_field, upper_camel};
use crate::model::{Label, LabelValues, Metric, MetricKind, Service};

#[derive(Serialize)]
struct ModuleContext {
    source: String,
    service: String,
    imports: Vec<&'static str>,
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
    name_literal: String,
    help_literal: String,
    unit_literal: String,
    unit_doc: String,
    dimensions: Vec<String>,
    make: String,
    buckets: String,
    buckets_const: String,
}

#[derive(Serialize)]
struct OpenLabelContext {
    var: String,
    name: String,
    max_values: u32,
}

/// The module source of one service.
pub fn emit(service: &Service) -> Result<String> {
    let used: BTreeSet<&str> = service
        .metrics
        .iter()
        .flat_map(|m| m.labels.iter().map(String::as_str))
        .collect();
    let enums = service
        .label_defs
        .values()
        .filter_map(|label| match &label.values {
            LabelValues::Closed(values) => Some(EnumContext {
                name: upper_camel(&label.name),
                prefixed: values
                    .iter()
                    .any(|v| v.variant.starts_with(&upper_camel(&label.name))),
                doc: doc_lines(&label.help),
                values: list(values.iter().map(|v| literal(&v.value))),
                variants: values
                    .iter()
                    .map(|v| VariantContext {
                        variant: v.variant.clone(),
                        value: v.value.replace('`', "'"),
                    })
                    .collect(),
            }),
            LabelValues::Open { .. } => None,
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
            LabelValues::Closed(_) => None,
        })
        .collect();
    let label_sets = service
        .metrics
        .iter()
        .filter(|m| !m.labels.is_empty())
        .map(|m| label_set(service, m))
        .collect();
    let metrics: Vec<MetricContext> = service.metrics.iter().map(|m| metric(service, m)).collect();
    let mut imports = vec!["Dimension", "Family", "MetricSet", "Visitor"];
    let kinds: BTreeSet<&str> = metrics.iter().map(|m| m.kind).collect();
    imports.extend(kinds);
    if service.metrics.iter().any(|m| m.labels.is_empty()) {
        imports.push("NoLabels");
    }
    if service.metrics.iter().any(|m| !m.labels.is_empty()) {
        imports.extend(["LabelSet", "Slot"]);
    }
    if service
        .label_defs
        .values()
        .any(|l| matches!(l.values, LabelValues::Closed(_)))
    {
        imports.push("LabelValue");
    }
    if service
        .label_defs
        .values()
        .any(|l| used.contains(l.name.as_str()) && matches!(l.values, LabelValues::Open { .. }))
    {
        imports.push("OpenLabel");
    }
    if service.metrics.iter().all(|m| m.labels.is_empty()) {
        imports.retain(|i| *i != "Dimension");
    }
    imports.sort_unstable();
    let context = ModuleContext {
        source: service.source.clone(),
        service: service.name.clone(),
        imports,
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
                LabelValues::Open { .. } => {
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
        names: list(metric.labels.iter().map(|l| literal(l))),
        fields,
    }
}

fn labels_struct(metric: &Metric) -> String {
    format!("{}Labels", upper_camel(&metric.name))
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
    let buckets_const = format!("{}_BUCKETS", m.name.to_ascii_uppercase());
    let (kind, make) = match m.kind {
        MetricKind::Counter => ("Counter", "Counter::default".to_string()),
        MetricKind::Gauge => ("Gauge", "Gauge::default".to_string()),
        MetricKind::Histogram => ("Histogram", format!("|| Histogram::new({buckets_const})")),
    };
    MetricContext {
        field: rust_field(&m.name),
        name: m.name.clone(),
        doc: doc_lines(&m.help),
        kind,
        labels_type,
        name_literal: literal(&m.name),
        help_literal: literal(&m.help),
        unit_literal: match &m.unit {
            Some(u) => format!("Some({})", literal(u)),
            None => "None".into(),
        },
        unit_doc: m.unit.clone().unwrap_or_default(),
        dimensions: m
            .labels
            .iter()
            .map(|l| match service.label_defs[l].values {
                LabelValues::Closed(_) => format!("Dimension::closed::<{}>()", upper_camel(l)),
                LabelValues::Open { .. } => format!("Dimension::open(&{})", rust_field(l)),
            })
            .collect(),
        make,
        buckets: list(m.buckets.iter().map(|b| format!("{b:?}"))),
        buckets_const,
    }
}

/// A Rust string literal (Debug escaping is valid Rust).
fn literal(text: &str) -> String {
    format!("{text:?}")
}

fn list(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
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
