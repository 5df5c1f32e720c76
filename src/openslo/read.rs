//! Reads OpenSLO v1 documents into objects that remember where each value was written, checking the rules
//! of the specification (and its go-sdk): `apiVersion`, `kind`, names, required fields, enums, lengths.
//!
//! Values slogen cannot map (timeslice budgeting, calendar windows, several objectives, threshold metrics)
//! are reported here, at their place, with what to do instead.

use std::collections::BTreeMap;
use std::ops::Mul as _;

use super::check::*;
use super::fields::{number, scalar, Fields};
use super::model::API_VERSION;
use super::yaml::Node;
use crate::model::Exact;

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
fn metadata(file: usize, node: &Node, p: &mut Problems) -> Option<Meta> {
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
fn description(f: &mut Fields<'_>, p: &mut Problems) -> Option<(String, At)> {
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

fn target(file: usize, spec: &Node, p: &mut Problems) -> bool {
    let Some(mut f) = Fields::of(spec, file, "an AlertNotificationTarget's `spec`", p) else {
        return false;
    };
    description(&mut f, p);
    let ok = f.req_string("target", p).is_some();
    f.finish(p);
    ok
}

/// A duration shorthand, or a problem.
fn shorthand(node: &Node, file: usize, what: &str, p: &mut Problems) -> Option<(u64, At)> {
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

fn slo(file: usize, meta: Meta, spec: &Node, p: &mut Problems) -> Option<Slo> {
    let mut f = Fields::of(spec, file, "an SLO's `spec`", p)?;
    let spec_at = f.at();
    let description = description(&mut f, p);
    let service = f.req_string("service", p);
    let indicator = f.opt("indicator");
    let indicator_ref = f.string("indicatorRef", p);
    let budgeting = f.req_string("budgetingMethod", p);
    let windows = f.req("timeWindow", p);
    let objectives = f.req("objectives", p);
    let policies = f.opt("alertPolicies");
    f.finish(p);
    if let Some((method, at)) = &budgeting {
        match method.as_str() {
            "Occurrences" => {}
            "Timeslices" | "RatioTimeslices" => p.error(at, format!("budgetingMethod `{method}` is not supported"), "time slices", "slogen budgets by occurrences (bad events over all events, what multi-window burn-rate alerts measure); use `budgetingMethod: Occurrences`"),
            _ => p.error(at, format!("unknown budgetingMethod `{method}`"), "not an OpenSLO v1 budgeting method", "OpenSLO v1 has Occurrences, Timeslices and RatioTimeslices; slogen supports Occurrences"),
        }
    }
    let window = windows.and_then(|w| time_window(file, w, p));
    let objective = objectives.and_then(|o| objective(file, o, p));
    let indicator = match (indicator, indicator_ref) {
        (Some(node), None) => {
            let mut f = Fields::of(node, file, "`indicator`", p)?;
            let meta = f.req("metadata", p).and_then(|m| metadata(file, m, p));
            let spec = f.req("spec", p);
            f.finish(p);
            Use::Inline(sli(file, meta?, spec?, p)?)
        }
        (None, Some((name, at))) => {
            if !is_dns_label(&name) {
                p.error(
                    &at,
                    format!("invalid indicatorRef `{name}`"),
                    "not an RFC 1123 label",
                    "name an SLI object by its `metadata.name`",
                );
            }
            Use::Ref(name, at)
        }
        (Some(_), Some((_, at))) => {
            p.error(
                &at,
                "`indicator` and `indicatorRef` are both given",
                "one too many",
                "keep one of them",
            );
            return None;
        }
        (None, None) => {
            p.error(
                &spec_at,
                "the SLO has no `indicator` or `indicatorRef`",
                "no SLI",
                "inline the SLI under `indicator`, or name an SLI object in `indicatorRef`",
            );
            return None;
        }
    };
    let mut uses = Vec::new();
    if let Some(list) = policies {
        for item in seq(list, file, "`alertPolicies`", p) {
            if let Some(u) = policy_use(file, item, p) {
                uses.push(u);
            }
        }
    }
    budgeting.filter(|(m, _)| m == "Occurrences")?;
    Some(Slo {
        meta,
        description,
        service: service?,
        indicator,
        window: window?,
        objective: objective?,
        policies: uses,
    })
}

/// The items of a list, or a problem.
fn seq<'n>(node: &'n Node, file: usize, what: &str, p: &mut Problems) -> &'n [Node] {
    match node.items() {
        Some(items) => items,
        None => {
            p.error(
                &At::of(file, node),
                format!("{what} must be a list"),
                format!("found {}", node.shape()),
                "write one `- ` item per line",
            );
            &[]
        }
    }
}

/// `timeWindow`: exactly one rolling window.
fn time_window(file: usize, node: &Node, p: &mut Problems) -> Option<(u64, At)> {
    let items = seq(node, file, "`timeWindow`", p);
    if items.len() != 1 {
        p.error(
            &At::of(file, node),
            format!("`timeWindow` has {} items", items.len()),
            "exactly one",
            "OpenSLO v1 takes exactly one time window",
        );
        return None;
    }
    let mut f = Fields::of(&items[0], file, "a time window", p)?;
    let duration = f.req("duration", p);
    let rolling = f.boolean("isRolling", p);
    let calendar = f.opt_entry("calendar");
    f.finish(p);
    if let Some((k, _)) = calendar {
        let at = At::of(file, k);
        if rolling {
            p.error(
                &at,
                "`calendar` is set on a rolling window",
                "calendar with isRolling: true",
                "OpenSLO v1 forbids both; remove `calendar`",
            );
        } else {
            p.error(&at, "calendar-aligned windows are not supported", "calendar window", "slogen's SLO windows roll (the last 30 days at every moment, what burn-rate alerts compare against); write `isRolling: true` without `calendar`");
        }
        return None;
    }
    if !rolling {
        p.error(&At::of(file, &items[0]), "the time window is not rolling", "`isRolling` is false or missing", "slogen's SLO windows roll; set `isRolling: true` (OpenSLO v1 also needs `calendar` when it is false)");
        return None;
    }
    shorthand(duration?, file, "`duration`", p)
}

/// `objectives`: exactly one, with `target` or `targetPercent`, not composite.
fn objective(file: usize, node: &Node, p: &mut Problems) -> Option<(Exact, At)> {
    let items = seq(node, file, "`objectives`", p);
    let mut out = None;
    for (n, item) in items.iter().enumerate() {
        let mut f = Fields::of(item, file, "an objective", p)?;
        f.string("displayName", p);
        let target = f.opt("target");
        let percent = f.opt("targetPercent");
        let composite = f
            .opt_entry("indicator")
            .or(f.opt_entry("indicatorRef"))
            .or(f.opt_entry("compositeWeight"));
        let slices = f
            .opt_entry("timeSliceTarget")
            .or(f.opt_entry("timeSliceWindow"));
        let op = f.opt_entry("op").or(f.opt_entry("value"));
        f.finish(p);
        if let Some((k, _)) = composite {
            p.error(
                &At::of(file, k),
                "composite objectives are not supported",
                "composite SLO",
                "slogen measures one SLI per SLO; make each part its own SLO",
            );
            continue;
        }
        if let Some((k, _)) = slices {
            p.error(
                &At::of(file, k),
                "time-slice objectives are not supported",
                "time slices",
                "slogen budgets by occurrences; remove `timeSliceTarget` and `timeSliceWindow`",
            );
            continue;
        }
        if let Some((k, _)) = op {
            p.error(
                &At::of(file, k),
                "`op` and `value` belong to threshold metrics, which are not supported",
                "threshold objective",
                "a ratio SLI's objective is its `target` alone; remove `op` and `value`",
            );
            continue;
        }
        if n > 0 {
            p.error(&At::of(file, item), "several objectives are not supported", "second objective", "slogen has one objective per SLO; make one SLO per objective (each with its own name)");
            return None;
        }
        out = match (target, percent) {
            (Some(t), None) => {
                let text = number(t, file, "`target`", p)?;
                let at = At::of(file, t);
                let ratio =
                    Exact::parse_decimal(&text).filter(|r| r.cmp_value(Exact::int(1)).is_lt());
                let Some(ratio) = ratio else {
                    p.error(
                        &at,
                        format!("target {text} is not in [0, 1)"),
                        "not a ratio below 1",
                        "write the objective as a ratio, e.g. 0.999 for 99.9%",
                    );
                    return None;
                };
                Some((ratio.mul(Exact::int(100)), at))
            }
            (None, Some(t)) => {
                let text = number(t, file, "`targetPercent`", p)?;
                let at = At::of(file, t);
                let percent =
                    Exact::parse_decimal(&text).filter(|r| r.cmp_value(Exact::int(100)).is_lt());
                let Some(percent) = percent else {
                    p.error(
                        &at,
                        format!("targetPercent {text} is not in [0, 100)"),
                        "not a percentage below 100",
                        "write the objective in percent, e.g. 99.9",
                    );
                    return None;
                };
                Some((percent, at))
            }
            (Some(_), Some(t)) => {
                p.error(
                    &At::of(file, t),
                    "`target` and `targetPercent` are both given",
                    "one too many",
                    "keep one of them",
                );
                return None;
            }
            (None, None) => {
                p.error(
                    &At::of(file, item),
                    "the objective has no `target` or `targetPercent`",
                    "no target",
                    "add `target: 0.999` (or `targetPercent: 99.9`)",
                );
                return None;
            }
        };
    }
    if items.is_empty() {
        p.error(
            &At::of(file, node),
            "`objectives` is empty",
            "no objective",
            "add one objective with a `target`",
        );
    }
    out
}

/// An SLI spec.
fn sli(file: usize, meta: Meta, spec: &Node, p: &mut Problems) -> Option<Sli> {
    let mut f = Fields::of(spec, file, "an SLI's `spec`", p)?;
    description(&mut f, p);
    let threshold = f.opt_entry("thresholdMetric");
    let ratio = f.opt("ratioMetric");
    f.finish(p);
    if let Some((k, _)) = threshold {
        p.error(&At::of(file, k), "threshold metrics are not supported", "thresholdMetric", "slogen's SLIs count good and bad events; write the SLI as a `ratioMetric` with `bad` (or `good`) and `total` queries, e.g. requests slower than the threshold over all requests from a histogram");
        return None;
    }
    let Some(ratio) = ratio else {
        p.error(
            &At::of(file, spec),
            "the SLI has no `ratioMetric`",
            "no metric",
            "add a `ratioMetric` with `bad` (or `good`) and `total` Prometheus queries",
        );
        return None;
    };
    let mut f = Fields::of(ratio, file, "`ratioMetric`", p)?;
    let counter = f.boolean("counter", p);
    let good = f.opt("good");
    let bad = f.opt("bad");
    let total = f.opt("total");
    let raw_type = f.string("rawType", p);
    let raw = f.opt("raw");
    f.finish(p);
    let metric = match (raw, total) {
        (Some(raw), None) if good.is_none() && bad.is_none() => {
            let raw = metric_source(file, raw, p)?;
            let failure = match raw_type {
                Some((t, _)) if t == "failure" => true,
                Some((t, _)) if t == "success" => false,
                Some((t, at)) => {
                    p.error(
                        &at,
                        format!("unknown rawType `{t}`"),
                        "not success or failure",
                        "OpenSLO v1 has `success` (good/total) and `failure` (bad/total)",
                    );
                    return None;
                }
                None => {
                    p.error(&At::of(file, ratio), "`raw` needs `rawType`", "rawType missing", "add `rawType: failure` for an error ratio or `rawType: success` for a success ratio");
                    return None;
                }
            };
            Ratio::Raw { failure, raw }
        }
        (None, Some(total)) => {
            if good.is_some() == bad.is_some() {
                p.error(
                    &At::of(file, ratio),
                    "`ratioMetric` needs exactly one of `good` and `bad`",
                    "good or bad",
                    "keep `bad` (or `good`) beside `total`",
                );
                return None;
            }
            if let Some((_, at)) = raw_type {
                p.error(
                    &at,
                    "`rawType` goes with `raw` only",
                    "not with total",
                    "remove `rawType`",
                );
            }
            let good = good.and_then(|n| metric_source(file, n, p));
            let bad = bad.and_then(|n| metric_source(file, n, p));
            Ratio::Events {
                counter,
                good,
                bad,
                total: metric_source(file, total, p)?,
            }
        }
        _ => {
            p.error(
                &At::of(file, ratio),
                "`ratioMetric` needs `total` with `good` or `bad`, or `raw` alone",
                "no usable ratio",
                "write `bad` and `total` queries (or `raw` with `rawType`)",
            );
            return None;
        }
    };
    Some(Sli { meta, metric })
}

/// `{metricSource: {metricSourceRef?, type?, spec: {query}}}`.
fn metric_source(file: usize, node: &Node, p: &mut Problems) -> Option<Query> {
    let mut f = Fields::of(node, file, "a metric", p)?;
    let source = f.req("metricSource", p);
    f.finish(p);
    let mut f = Fields::of(source?, file, "`metricSource`", p)?;
    let source_ref = f.string("metricSourceRef", p);
    let kind = f.string("type", p);
    let spec = f.req("spec", p);
    f.finish(p);
    if let Some((r, at)) = &source_ref {
        if !is_dns_label(r) {
            p.error(
                at,
                format!("invalid metricSourceRef `{r}`"),
                "not an RFC 1123 label",
                "name a DataSource by its `metadata.name`",
            );
        }
    }
    let spec = spec?;
    let Some(query) = spec.get("query") else {
        p.error(
            &At::of(file, spec),
            "the metric source has no `query`",
            "no query",
            "slogen reads Prometheus sources: put the PromQL in `spec.query`",
        );
        return None;
    };
    let text = scalar(query, file, "`query`", p)?;
    Some(Query {
        kind,
        source_ref,
        query: text,
        at: At::of(file, query),
    })
}

/// One `alertPolicies` item: inline, `alertPolicyRef`, or the older `kind: AlertPolicyRef` with `targetRef`.
fn policy_use(file: usize, node: &Node, p: &mut Problems) -> Option<Use<Policy>> {
    let mut f = Fields::of(node, file, "an alert policy", p)?;
    if let Some((name, at)) = f
        .string("alertPolicyRef", p)
        .or_else(|| f.string("targetRef", p))
    {
        f.string("kind", p);
        f.finish(p);
        return Some(Use::Ref(name, at));
    }
    let kind = f.req_string("kind", p);
    let meta = f.req("metadata", p).and_then(|m| metadata(file, m, p));
    let spec = f.req("spec", p);
    f.finish(p);
    let (kind, at) = kind?;
    if kind != "AlertPolicy" {
        p.error(&at, format!("an inline alert policy has kind `{kind}`"), "not AlertPolicy", "write `kind: AlertPolicy` with `metadata` and `spec`, or refer to one with `alertPolicyRef: <name>`");
        return None;
    }
    policy(file, meta?, spec?, p).map(Use::Inline)
}

fn policy(file: usize, meta: Meta, spec: &Node, p: &mut Problems) -> Option<Policy> {
    let mut f = Fields::of(spec, file, "an AlertPolicy's `spec`", p)?;
    description(&mut f, p);
    f.boolean("alertWhenNoData", p);
    f.boolean("alertWhenResolved", p);
    let breaching = f.boolean("alertWhenBreaching", p);
    let conditions = f.req("conditions", p);
    let targets = f.req("notificationTargets", p);
    f.finish(p);
    let conditions = seq(conditions?, file, "`conditions`", p);
    if conditions.len() != 1 {
        p.error(
            &f_at(file, spec, "conditions"),
            format!("`conditions` has {} items", conditions.len()),
            "exactly one",
            "OpenSLO v1 takes one condition per policy; make one policy per condition",
        );
        return None;
    }
    let condition = {
        let mut f = Fields::of(&conditions[0], file, "a condition", p)?;
        if let Some((name, at)) = f.string("conditionRef", p) {
            f.finish(p);
            Use::Ref(name, at)
        } else {
            let kind = f.req_string("kind", p);
            let meta = f.req("metadata", p).and_then(|m| metadata(file, m, p));
            let spec = f.req("spec", p);
            f.finish(p);
            let (kind, at) = kind?;
            if kind != "AlertCondition" {
                p.error(
                    &at,
                    format!("an inline condition has kind `{kind}`"),
                    "not AlertCondition",
                    "write `kind: AlertCondition`, or refer to one with `conditionRef: <name>`",
                );
                return None;
            }
            Use::Inline(condition(file, meta?, spec?, p)?)
        }
    };
    let mut uses = Vec::new();
    let items = seq(targets?, file, "`notificationTargets`", p);
    if items.is_empty() {
        p.error(
            &f_at(file, spec, "notificationTargets"),
            "`notificationTargets` is empty",
            "no target",
            "OpenSLO v1 needs at least one notification target",
        );
    }
    for item in items {
        let Some(mut f) = Fields::of(item, file, "a notification target", p) else {
            continue;
        };
        if let Some((name, at)) = f.string("targetRef", p) {
            f.finish(p);
            uses.push(Use::Ref(name, at));
        } else {
            f.req_string("kind", p);
            let meta = f.req("metadata", p).and_then(|m| metadata(file, m, p));
            let spec = f.req("spec", p);
            f.finish(p);
            if let (Some(_), Some(spec)) = (meta, spec) {
                target(file, spec, p);
            }
            uses.push(Use::Inline(()));
        }
    }
    Some(Policy {
        meta,
        breaching,
        condition,
        targets: uses,
    })
}

/// Where a key of a mapping is, else the mapping.
fn f_at(file: usize, node: &Node, key: &str) -> At {
    node.entry(key)
        .map_or_else(|| At::of(file, node), |(k, _)| At::of(file, k))
}

fn condition(file: usize, meta: Meta, spec: &Node, p: &mut Problems) -> Option<Condition> {
    let mut f = Fields::of(spec, file, "an AlertCondition's `spec`", p)?;
    description(&mut f, p);
    let severity = f.req_string("severity", p);
    let c = f.req("condition", p);
    f.finish(p);
    let mut f = Fields::of(c?, file, "`condition`", p)?;
    let kind = f.req_string("kind", p);
    let op = f.req_string("op", p);
    let threshold = f.req("threshold", p);
    let lookback = f.req("lookbackWindow", p);
    let after = f.opt("alertAfter");
    f.finish(p);
    let (kind, kind_at) = kind?;
    if kind != "burnrate" {
        p.error(
            &kind_at,
            format!("unknown condition kind `{kind}`"),
            "not burnrate",
            "OpenSLO v1 conditions are `kind: burnrate`",
        );
        return None;
    }
    let (op, op_at) = op?;
    match op.as_str() {
        "gte" | "gt" => {}
        "lte" | "lt" => {
            p.error(&op_at, format!("a burn-rate condition with `op: {op}` is not supported"), "fires below the threshold", "slogen's burn-rate alerts fire when the budget burns at the threshold or faster: `op: gte`");
            return None;
        }
        _ => {
            p.error(
                &op_at,
                format!("unknown op `{op}`"),
                "not an OpenSLO v1 operator",
                "OpenSLO v1 operators are gt, lt, gte, lte; burn-rate alerts use gte",
            );
            return None;
        }
    }
    let threshold = threshold?;
    let text = number(threshold, file, "`threshold`", p)?;
    let threshold_at = At::of(file, threshold);
    if text.parse::<f64>().is_ok_and(|t| t <= 0.0) {
        p.error(
            &threshold_at,
            format!("burn-rate threshold {text} is not above 0"),
            "not a burn rate",
            "write the burn rate that fires the alert, e.g. 14.4",
        );
        return None;
    }
    let lookback = shorthand(lookback?, file, "`lookbackWindow`", p)?;
    let alert_after = match after {
        Some(a) => shorthand(a, file, "`alertAfter`", p)?,
        None => (0, At::of(file, c?)),
    };
    Some(Condition {
        meta,
        severity: severity?,
        threshold: (text, threshold_at),
        lookback,
        alert_after,
    })
}
