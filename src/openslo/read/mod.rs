//! Reads OpenSLO v1 documents into objects that remember where each value was written, checking the rules
//! of the specification (and its go-sdk): `apiVersion`, `kind`, names, required fields, enums, lengths.
//!
//! Values slogen cannot map (timeslice budgeting, calendar windows, several objectives, threshold metrics)
//! are reported here, at their place, with what to do instead.

use std::collections::BTreeMap;
use std::ops::Mul as _;

mod alert;
mod sli;
mod slo;

use super::check::*;
use super::fields::{scalar, Fields};
use super::model::API_VERSION;
use crate::model::Exact;
use crate::yaml::Node;
use alert::{condition, policy};
use sli::sli;
use slo::slo;

/// An object's `metadata`.
#[derive(Debug, Clone)]
pub struct Meta {
    /// The name.
    pub name: String,
    /// Where the name is.
    pub at: At,
    /// `displayName`.
    pub display_name: Option<String>,
    /// Labels, a list label joined with commas.
    pub labels: BTreeMap<String, String>,
    /// Annotations with the place of each value.
    pub annotations: BTreeMap<String, (String, At)>,
}

impl Meta {
    /// An annotation's value and place.
    pub fn annotation(&self, key: &str) -> Option<&(String, At)> {
        self.annotations.get(key)
    }
}

/// An object given inline or by name.
#[derive(Debug, Clone)]
pub enum Use<T> {
    /// Written in place.
    Inline(T),
    /// The name of an object of its kind, and where the reference is.
    Ref(String, At),
}

/// A `Service`.
#[derive(Debug, Clone)]
pub struct Service {
    /// Metadata.
    pub meta: Meta,
    /// `spec.description`.
    pub description: String,
}

/// An `SLO`.
#[derive(Debug, Clone)]
pub struct Slo {
    /// Metadata.
    pub meta: Meta,
    /// `spec.description`.
    pub description: Option<(String, At)>,
    /// `spec.service`.
    pub service: (String, At),
    /// `indicator` or `indicatorRef`.
    pub indicator: Use<Sli>,
    /// The rolling window in seconds, and where it is written.
    pub window: (u64, At),
    /// The objective in percent, exact, and where it is written.
    pub objective: (Exact, At),
    /// `alertPolicies`.
    pub policies: Vec<Use<Policy>>,
}

/// An `SLI` with a `ratioMetric`.
#[derive(Debug, Clone)]
pub struct Sli {
    /// Metadata (of the inline indicator or the object).
    pub meta: Meta,
    /// `spec.description`, for a comment.
    pub description: Option<String>,
    /// The queries.
    pub metric: Ratio,
}

/// A `ratioMetric`.
#[derive(Debug, Clone)]
// One per SLI of the files read: boxing the larger variant would save nothing that matters.
#[allow(clippy::large_enum_variant)]
pub enum Ratio {
    /// `good` or `bad`, over `total`.
    Events {
        /// `counter`.
        counter: bool,
        /// `good`, when given.
        good: Option<Query>,
        /// `bad`, when given.
        bad: Option<Query>,
        /// `total`.
        total: Query,
    },
    /// `raw` with its `rawType`.
    Raw {
        /// `rawType: failure` (an error ratio), else a success ratio.
        failure: bool,
        /// The ratio.
        raw: Query,
    },
}

/// One `metricSource` with its query.
#[derive(Debug, Clone)]
pub struct Query {
    /// `type`, when given.
    pub kind: Option<(String, At)>,
    /// `metricSourceRef`, when given.
    pub source_ref: Option<(String, At)>,
    /// `spec.query`.
    pub query: String,
    /// Where the query is.
    pub at: At,
}

/// An `AlertPolicy`.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Metadata.
    pub meta: Meta,
    /// `spec.description`, for a comment.
    pub description: Option<String>,
    /// `alertWhenBreaching`.
    pub breaching: bool,
    /// Its one condition.
    pub condition: Use<Condition>,
    /// Its notification targets (references to check).
    pub targets: Vec<Use<()>>,
}

/// An `AlertCondition` of kind `burnrate`.
#[derive(Debug, Clone)]
pub struct Condition {
    /// Metadata.
    pub meta: Meta,
    /// `severity`.
    pub severity: (String, At),
    /// `threshold` as written, and where.
    pub threshold: (String, At),
    /// `lookbackWindow` in seconds.
    pub lookback: (u64, At),
    /// `alertAfter` in seconds (0 when not given).
    pub alert_after: (u64, At),
}

/// A `DataSource`.
#[derive(Debug, Clone)]
pub struct DataSource {
    /// Metadata.
    pub meta: Meta,
    /// `spec.type`.
    pub kind: (String, At),
}

/// Every object of every file.
#[derive(Debug, Default)]
pub struct Objects {
    /// Services.
    pub services: Vec<Service>,
    /// SLOs.
    pub slos: Vec<Slo>,
    /// Standalone SLIs.
    pub slis: Vec<Sli>,
    /// Standalone alert policies.
    pub policies: Vec<Policy>,
    /// Standalone alert conditions.
    pub conditions: Vec<Condition>,
    /// Names of standalone notification targets.
    pub targets: Vec<Meta>,
    /// Data sources.
    pub sources: Vec<DataSource>,
}

const KINDS: [&str; 7] = [
    "Service",
    "SLO",
    "SLI",
    "AlertPolicy",
    "AlertCondition",
    "AlertNotificationTarget",
    "DataSource",
];

/// Reads one document of file `file` into `objects`.
pub fn document(file: usize, doc: &Node, objects: &mut Objects, p: &mut Problems) {
    if doc.is_null() {
        return;
    }
    let Some(mut f) = Fields::of(doc, file, "an OpenSLO object", p) else {
        return;
    };
    let version = f.req_string("apiVersion", p);
    let kind = f.req_string("kind", p);
    let (Some((version, version_at)), Some((kind, kind_at))) = (version, kind) else {
        return;
    };
    if version != API_VERSION {
        p.error(
            &version_at,
            format!("unsupported apiVersion `{version}`"),
            "not openslo/v1",
            "slogen reads OpenSLO v1 (`apiVersion: openslo/v1`); convert v1alpha or v2alpha files to v1 first",
        );
        return;
    }
    if !KINDS.contains(&kind.as_str()) {
        p.error(
            &kind_at,
            format!("unknown kind `{kind}`"),
            "not an OpenSLO v1 kind",
            format!("OpenSLO v1 kinds are {}", KINDS.join(", ")),
        );
        return;
    }
    let meta = f.req("metadata", p).and_then(|m| metadata(file, m, p));
    let spec = f.req("spec", p);
    f.finish(p);
    let (Some(meta), Some(spec)) = (meta, spec) else {
        return;
    };
    match kind.as_str() {
        "Service" => {
            if let Some(s) = service(file, meta, spec, p) {
                objects.services.push(s);
            }
        }
        "SLO" => {
            if let Some(s) = slo(file, meta, spec, p) {
                objects.slos.push(s);
            }
        }
        "SLI" => {
            if let Some(s) = sli(file, meta, spec, p) {
                objects.slis.push(s);
            }
        }
        "AlertPolicy" => {
            if let Some(s) = policy(file, meta, spec, p) {
                objects.policies.push(s);
            }
        }
        "AlertCondition" => {
            if let Some(s) = condition(file, meta, spec, p) {
                objects.conditions.push(s);
            }
        }
        "AlertNotificationTarget" => {
            if target(file, spec, p) {
                objects.targets.push(meta);
            }
        }
        _ => {
            if let Some(s) = data_source(file, meta, spec, p) {
                objects.sources.push(s);
            }
        }
    }
}

/// `metadata`: a DNS-label name, a display name of at most 63 characters, labels and annotations.
pub(super) fn metadata(file: usize, node: &Node, p: &mut Problems) -> Option<Meta> {
    let mut f = Fields::of(node, file, "`metadata`", p)?;
    let name = f.req_string("name", p);
    let display_name = f.string("displayName", p);
    if let Some((d, at)) = &display_name {
        if d.chars().count() > DISPLAY_NAME_MAX {
            p.error(
                at,
                "`displayName` is longer than 63 characters",
                "too long",
                "shorten it (OpenSLO v1 allows 63)",
            );
        }
    }
    let mut labels = BTreeMap::new();
    if let Some(l) = f.opt("labels") {
        for (k, v) in l.entries().unwrap_or_default() {
            let key = k.scalar().unwrap_or_default().to_string();
            if !is_label_key(&key) {
                p.error(&At::of(file, k), format!("invalid label key `{key}`"), "not a label key", "at most 63 of letters, digits, `-`, `_`, `.`, starting and ending with a letter or digit");
            }
            let value = match v.items() {
                Some(items) => items
                    .iter()
                    .filter_map(Node::scalar)
                    .collect::<Vec<_>>()
                    .join(","),
                None => v.scalar().unwrap_or_default().to_string(),
            };
            labels.insert(key, value);
        }
    }
    let mut annotations = BTreeMap::new();
    if let Some(a) = f.opt("annotations") {
        for (k, v) in a.entries().unwrap_or_default() {
            let key = k.scalar().unwrap_or_default().to_string();
            if !is_annotation_key(&key) {
                p.error(&At::of(file, k), format!("invalid annotation key `{key}`"), "not an annotation key", "write `prefix/name`: a DNS subdomain, `/`, and at most 63 of letters, digits, `-`, `_`, `.`");
            }
            if let Some(value) = scalar(v, file, &format!("annotation `{key}`"), p) {
                annotations.insert(key, (value, At::of(file, v)));
            }
        }
    }
    f.finish(p);
    let (name, at) = name?;
    if !is_dns_label(&name) {
        p.error(&at, format!("invalid name `{name}`"), "not an RFC 1123 label", "names are at most 63 lower-case letters, digits and `-`, starting and ending with a letter or digit");
        return None;
    }
    Some(Meta {
        name,
        at,
        display_name: display_name.map(|(d, _)| d),
        labels,
        annotations,
    })
}

/// `description`, checked against OpenSLO's 1050 characters.
pub(super) fn description(f: &mut Fields<'_>, p: &mut Problems) -> Option<(String, At)> {
    let d = f.string("description", p)?;
    if d.0.chars().count() > DESCRIPTION_MAX {
        p.error(
            &d.1,
            "`description` is longer than 1050 characters",
            "too long",
            "shorten it (OpenSLO v1 allows 1050)",
        );
    }
    Some(d)
}

fn service(file: usize, meta: Meta, spec: &Node, p: &mut Problems) -> Option<Service> {
    let mut f = Fields::of(spec, file, "a Service's `spec`", p)?;
    let description = description(&mut f, p).map(|d| d.0).unwrap_or_default();
    f.finish(p);
    Some(Service { meta, description })
}

fn data_source(file: usize, meta: Meta, spec: &Node, p: &mut Problems) -> Option<DataSource> {
    let mut f = Fields::of(spec, file, "a DataSource's `spec`", p)?;
    description(&mut f, p);
    let kind = f.req_string("type", p);
    f.req("connectionDetails", p);
    f.finish(p);
    Some(DataSource { meta, kind: kind? })
}

pub(super) fn target(file: usize, spec: &Node, p: &mut Problems) -> bool {
    let Some(mut f) = Fields::of(spec, file, "an AlertNotificationTarget's `spec`", p) else {
        return false;
    };
    description(&mut f, p);
    let ok = f.req_string("target", p).is_some();
    f.finish(p);
    ok
}

/// A duration shorthand, or a problem.
pub(super) fn shorthand(
    node: &Node,
    file: usize,
    what: &str,
    p: &mut Problems,
) -> Option<(u64, At)> {
    let text = scalar(node, file, what, p)?;
    let at = At::of(file, node);
    match shorthand_seconds(&text) {
        Some(s) => Some((s, at)),
        None => {
            p.error(
                &at,
                format!("invalid duration `{text}` for {what}"),
                "not a duration shorthand",
                "write a positive whole number and one of m, h, d, w, M, Q, Y: `5m`, `1h`, `30d`",
            );
            None
        }
    }
}
