//! The OpenSLO v1 objects slogen writes, as serde types in the field order of the specification's README.
//!
//! Only what the export fills in is here: the importer reads the positioned YAML tree instead (see
//! `super::read`), because it must point at values it cannot map.

use std::collections::BTreeMap;

use serde::Serialize;

/// `apiVersion` of every object.
pub const API_VERSION: &str = "openslo/v1";

/// The `metricSource.type` slogen writes and reads.
pub const PROMETHEUS: &str = "Prometheus";

/// A top-level object: `apiVersion`, `kind`, `metadata`, `spec`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<S> {
    /// Always [`API_VERSION`].
    pub api_version: &'static str,
    /// `Service` or `SLO`.
    pub kind: &'static str,
    /// Name, labels, annotations.
    pub metadata: Metadata,
    /// The kind's spec.
    pub spec: S,
}

/// An inlined object: like [`Object`] without `apiVersion`; `kind` is left out where the spec has none
/// (an SLO's inline `indicator`).
#[derive(Debug, Serialize)]
pub struct Inline<S> {
    /// `AlertPolicy`, `AlertCondition`, `AlertNotificationTarget`, or none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// Name, labels, annotations.
    pub metadata: Metadata,
    /// The kind's spec.
    pub spec: S,
}

/// `metadata`: an RFC 1123 label as name, at most 63 characters of display name.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// DNS label.
    pub name: String,
    /// Human name, at most 63 characters.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    /// Labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// `slogen.dev/` annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// `Service.spec`.
#[derive(Debug, Serialize)]
pub struct ServiceSpec {
    /// At most 1050 characters.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// `SLO.spec`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SloSpec {
    /// At most 1050 characters.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The `Service`'s name.
    pub service: String,
    /// The SLI, inline.
    pub indicator: Inline<SliSpec>,
    /// Exactly one rolling window.
    pub time_window: Vec<TimeWindow>,
    /// Always `Occurrences`: slogen counts good and bad events.
    pub budgeting_method: &'static str,
    /// Exactly one objective.
    pub objectives: Vec<Objective>,
    /// One policy per burn-rate alert (a policy holds one condition).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alert_policies: Vec<Inline<AlertPolicySpec>>,
}

/// `SLI.spec` with a `ratioMetric`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SliSpec {
    /// At most 1050 characters.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Bad (or a raw error ratio) over total.
    pub ratio_metric: RatioMetric,
}

/// `ratioMetric`: `bad` and `total`, or a `raw` ratio.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RatioMetric {
    /// The queries read counters (through `rate`).
    pub counter: bool,
    /// Bad events per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bad: Option<MetricSpec>,
    /// All events per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<MetricSpec>,
    /// `failure` with `raw`: the query is an error ratio.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_type: Option<&'static str>,
    /// A precomputed ratio.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<MetricSpec>,
}

/// `{metricSource: {type: Prometheus, spec: {query}}}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricSpec {
    /// The source.
    pub metric_source: MetricSource,
}

impl MetricSpec {
    /// A Prometheus query.
    pub fn prometheus(query: String) -> MetricSpec {
        MetricSpec {
            metric_source: MetricSource {
                kind: PROMETHEUS,
                spec: QuerySpec { query },
            },
        }
    }
}

/// `metricSource`.
#[derive(Debug, Serialize)]
pub struct MetricSource {
    /// Always [`PROMETHEUS`].
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The query.
    pub spec: QuerySpec,
}

/// `metricSource.spec` of a Prometheus source.
#[derive(Debug, Serialize)]
pub struct QuerySpec {
    /// PromQL.
    pub query: String,
}

/// One `timeWindow` item.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeWindow {
    /// Duration shorthand (`30d`).
    pub duration: String,
    /// Always true: slogen's windows roll.
    pub is_rolling: bool,
}

/// One objective.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Objective {
    /// At most 63 characters.
    pub display_name: String,
    /// The objective as a ratio in [0, 1).
    pub target: f64,
}

/// `AlertPolicy.spec`, with one inline condition and one inline notification target.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertPolicySpec {
    /// At most 1050 characters.
    pub description: String,
    /// Always true: the alert fires while the condition holds.
    pub alert_when_breaching: bool,
    /// Exactly one condition.
    pub conditions: Vec<Inline<AlertConditionSpec>>,
    /// At least one target.
    pub notification_targets: Vec<Inline<NotificationTargetSpec>>,
}

/// `AlertCondition.spec`.
#[derive(Debug, Serialize)]
pub struct AlertConditionSpec {
    /// At most 1050 characters.
    pub description: String,
    /// `page` or `ticket`.
    pub severity: &'static str,
    /// The burn-rate condition.
    pub condition: BurnRate,
}

/// `condition` of kind `burnrate`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BurnRate {
    /// Always `burnrate`.
    pub kind: &'static str,
    /// Always `gte`: the alert fires at the factor.
    pub op: &'static str,
    /// The burn-rate factor.
    pub threshold: f64,
    /// The long window.
    pub lookback_window: String,
    /// The `for`; left out when zero (OpenSLO's default `0m`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alert_after: String,
}

/// `AlertNotificationTarget.spec`.
#[derive(Debug, Serialize)]
pub struct NotificationTargetSpec {
    /// Where the alert goes.
    pub target: String,
    /// At most 1050 characters.
    pub description: String,
}
