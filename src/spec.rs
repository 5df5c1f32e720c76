//! The TOML input format, as written by people: serde types with source spans.
//!
//! Nothing here is validated beyond its shape; [`crate::model`] lowers these types into the checked model
//! that the emitters read. Fields that a later check may point at keep their [`Spanned`] position.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

mod outputs;
mod read;

pub use outputs::*;
pub use read::{read, Broken, ReadFile, ShapeError};

/// A name written as a table key or a string value, with the place it was written.
pub type Name = Spanned<String>;

/// One file under `slos/`: shared tiers, and at most one service with its labels, metrics, SLOs and alerts.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "slogen SLO and metric specification")]
pub struct SpecFile {
    /// Format version of this file; must be 1.
    #[schemars(with = "u32")]
    pub version: Spanned<u32>,
    /// Named service tiers that give SLOs their default objective and alerting.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, TierSpec>")]
    pub tiers: BTreeMap<Name, Spanned<TierSpec>>,
    /// The service this file describes; required when the file declares labels, metrics, SLOs or alerts.
    #[schemars(with = "Option<ServiceSpec>")]
    pub service: Option<Spanned<ServiceSpec>>,
    /// Label definitions shared by this service's metrics.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, LabelSpec>")]
    pub labels: BTreeMap<Name, Spanned<LabelSpec>>,
    /// Metrics the service exposes, by base name (without unit or `_total` suffix).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, MetricSpec>")]
    pub metrics: BTreeMap<Name, Spanned<MetricSpec>>,
    /// Service level objectives, by name (`snake_case`).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, SloSpec>")]
    pub slos: BTreeMap<Name, Spanned<SloSpec>>,
    /// Threshold alerts for what SLOs do not cover, by alert name (`UpperCamelCase`).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, AlertSpec>")]
    pub alerts: BTreeMap<Name, Spanned<AlertSpec>>,
    /// Extra dashboard panels and row order.
    pub dashboard: Option<DashboardSpec>,
    /// Deployment outputs: the defaults of every service in a file without `[service]`, a service's own
    /// overrides in its file.
    #[schemars(with = "Option<OutputsSpec>")]
    pub outputs: Option<Spanned<OutputsSpec>>,
}

/// Defaults for the SLOs of one tier of service.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TierSpec {
    /// Default objective in percent, e.g. `99.9`.
    #[schemars(with = "f64")]
    pub objective: Spanned<f64>,
    /// What the tier means, for the docs.
    #[serde(default)]
    pub description: String,
    /// Whether SLOs of this tier page (fast burn). Default: true.
    pub page: Option<bool>,
    /// Whether SLOs of this tier open tickets (slow burn). Default: true.
    pub ticket: Option<bool>,
    /// Fewest events an alert's long window must hold before the alert may fire; `0` turns the guard off.
    /// Default: per alert, the fewest events for which one bad event alone stays under its threshold.
    pub min_events: Option<u64>,
}

/// The service: who owns it, how its series are selected, where its runbooks live.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Service name (`snake_case`); names the generated files and the `service` label.
    #[schemars(with = "String")]
    pub name: Name,
    /// Tier whose defaults the service's SLOs inherit.
    #[schemars(with = "String")]
    pub tier: Name,
    /// Owning team, added as the `team` label on every alert.
    #[schemars(with = "String")]
    pub team: Spanned<String>,
    /// What the service does, for the docs and the dashboard description.
    #[serde(default)]
    pub description: String,
    /// Base URL of the runbooks; an alert's runbook slug is appended to it.
    #[schemars(with = "String")]
    pub runbook_base_url: Spanned<String>,
    /// Label matchers that select this service's series in every query, e.g. `{ job = "backend" }`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub selector: BTreeMap<Name, String>,
    /// Extra labels put on every generated rule and alert.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub labels: BTreeMap<Name, String>,
    /// Burn-rate alert windows for this service's SLOs, replacing the default policy (1h/5m and 6h/30m pages,
    /// 1d/2h and 3d/6h tickets); for SLO windows much shorter than the usual 28 or 30 days.
    #[schemars(with = "Option<Vec<AlertWindowSpec>>")]
    pub alert_windows: Option<Spanned<Vec<AlertWindowSpec>>>,
}

/// One row of a custom burn-rate policy: a window pair, the budget share it lets burn, and how long it waits.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertWindowSpec {
    /// `page` or `ticket`.
    #[schemars(with = "Severity")]
    pub severity: Spanned<Severity>,
    /// Long window, e.g. `1h`: the error ratio over it shows the budget really burns.
    #[schemars(with = "String")]
    pub long: Spanned<String>,
    /// Short window, shorter than `long`, e.g. `5m`: lets the alert resolve soon after the burn stops.
    #[schemars(with = "String")]
    pub short: Spanned<String>,
    /// Percent of the SLO window's error budget spent when the alert fires at exactly its burn-rate factor,
    /// above 0 and at most 100; the factor is `budget_percent / 100 × SLO window / long`.
    #[schemars(with = "f64")]
    pub budget_percent: Spanned<f64>,
    /// How long both windows must be over the threshold, e.g. `2m`. Default: `0s`.
    #[serde(rename = "for")]
    #[schemars(with = "Option<String>")]
    pub for_: Option<Spanned<String>>,
}

/// A label: either a closed set of values (a Rust enum) or open values with a cardinality limit.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelSpec {
    /// What the label tells, for doc comments and the docs.
    pub help: String,
    /// The closed set of values; each becomes an enum variant.
    #[schemars(with = "Option<Vec<String>>")]
    pub values: Option<Spanned<Vec<Name>>>,
    /// For an open label: how many distinct values are kept before new ones fold into `other`. A label with
    /// neither `values` nor `max_values` takes any value, for metrics another program exposes only.
    #[schemars(with = "Option<u32>")]
    pub max_values: Option<Spanned<u32>>,
}

/// The three Prometheus metric types that slogen generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Monotonic count, exposed with `_total`.
    Counter,
    /// Value that goes up and down.
    Gauge,
    /// Distribution over fixed buckets.
    Histogram,
}

/// Who exposes a metric, which decides whether the generated Rust module records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MetricSource {
    /// The service itself, through the generated Rust module.
    Service,
    /// Another program (ingress-nginx, kube-state-metrics, a blackbox probe, a sidecar): SLOs, alerts and
    /// panels read it, the Rust module leaves it out.
    External,
}

/// A metric the service exposes, or (`source = "external"`) one that another program exposes about it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricSpec {
    /// Counter, gauge or histogram.
    #[serde(rename = "type")]
    #[schemars(with = "MetricKind")]
    pub kind: Spanned<MetricKind>,
    /// Help text, exposed as `# HELP`.
    #[schemars(with = "String")]
    pub help: Spanned<String>,
    /// Base unit (`seconds`, `bytes`, `ratio`, …), appended to the exposed name.
    #[schemars(with = "Option<String>")]
    pub unit: Option<Name>,
    /// Label names, each defined under `[labels]`, in exposition order.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub labels: Vec<Name>,
    /// Histogram bucket upper bounds, strictly increasing; `+Inf` is implied.
    #[schemars(with = "Option<Vec<f64>>")]
    pub buckets: Option<Spanned<Vec<f64>>>,
    /// Dashboard row that charts this metric; default `Metrics`.
    pub row: Option<String>,
    /// Labels the metric's panel breaks down by, each one of `labels`; default: none (one line).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub group_by: Vec<Name>,
    /// `service` (default) or `external`: exposed by another program, so not part of the Rust module.
    #[schemars(with = "Option<MetricSource>")]
    pub source: Option<Spanned<MetricSource>>,
    /// An external metric's exact exposed name: a counter's or gauge's sample name as exposed (with or
    /// without `_total`, e.g. `nginx_ingress_controller_requests`), a histogram's name without `_bucket`.
    /// Default: derived from the key, `unit` and type as for the service's own metrics.
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    /// An external metric's label matchers in every query, in place of the service's `selector` (another
    /// program is scraped as another job), e.g. `{ job = "ingress-nginx" }`. Default: none.
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub selector: Option<Spanned<BTreeMap<Name, String>>>,
}

/// What one label of a selector may be: a list of values, or a table with exactly one of `regex`, `not`
/// and `not_regex`.
#[derive(Debug, JsonSchema)]
#[serde(untagged)]
pub enum MatchSpec {
    /// Any of these values, e.g. `["5xx"]`.
    Values(Vec<String>),
    /// A regex or a negative matcher, e.g. `{ regex = "5..|429" }`.
    Table(MatchTableSpec),
}

/// A regex or negative matcher of one label.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchTableSpec {
    /// Values matching this RE2 regex, anchored as Prometheus anchors it (`^(?:…)$`); open labels only.
    #[schemars(with = "Option<String>")]
    pub regex: Option<Spanned<String>>,
    /// Any value but these.
    #[schemars(with = "Option<Vec<String>>")]
    pub not: Option<Spanned<Vec<String>>>,
    /// Values not matching this RE2 regex, anchored; open labels only.
    #[schemars(with = "Option<String>")]
    pub not_regex: Option<Spanned<String>>,
}

impl<'de> Deserialize<'de> for MatchSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> serde::de::Visitor<'de> for Either {
            type Value = MatchSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of values or a table with `regex`, `not` or `not_regex`")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<MatchSpec, A::Error> {
                Deserialize::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(MatchSpec::Values)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<MatchSpec, A::Error> {
                Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(MatchSpec::Table)
            }
        }
        deserializer.deserialize_any(Either)
    }
}

/// Label matchers on one metric: each label maps to the values it may take.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectorSpec {
    /// Metric name, as declared under `[metrics]`.
    #[schemars(with = "String")]
    pub metric: Name,
    /// Label to allowed values, e.g. `{ status = ["5xx"] }`, or to a matcher table, e.g.
    /// `{ code = { regex = "5..|429" } }`, `{ code = { not = ["404"] } }`.
    #[serde(default, rename = "match")]
    #[schemars(with = "BTreeMap<String, MatchSpec>")]
    pub matchers: BTreeMap<Name, Spanned<MatchSpec>>,
}

/// A ratio SLI: bad events over all events, both counters.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RatioSliSpec {
    /// The bad events.
    pub errors: SelectorSpec,
    /// All events.
    pub total: SelectorSpec,
}

/// A latency SLI: events slower than a threshold are bad.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencySliSpec {
    /// Histogram metric, as declared under `[metrics]`.
    #[schemars(with = "String")]
    pub metric: Name,
    /// Threshold in the histogram's unit; must be one of its bucket boundaries.
    #[schemars(with = "f64")]
    pub threshold: Spanned<f64>,
    /// Label matchers restricting the events counted: values, or a table with `regex`, `not` or
    /// `not_regex`.
    #[serde(default, rename = "match")]
    #[schemars(with = "BTreeMap<String, MatchSpec>")]
    pub matchers: BTreeMap<Name, Spanned<MatchSpec>>,
}

/// A query SLI like Sloth's `events`: bad and all events per second, each a PromQL query with a
/// `{{.window}}` placeholder where the range of each recorded window goes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventsSliSpec {
    /// Bad events per second, e.g. `sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))`.
    #[schemars(with = "String")]
    pub errors: Spanned<String>,
    /// All events per second, e.g. `sum(rate(http_requests_total[{{.window}}]))`.
    #[schemars(with = "String")]
    pub total: Spanned<String>,
}

/// A query SLI like Sloth's `raw`: the error ratio itself, one PromQL query with a `{{.window}}` placeholder.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSliSpec {
    /// The error ratio over the window, between 0 and 1.
    #[schemars(with = "String")]
    pub error_ratio: Spanned<String>,
}

/// Alerting settings of one SLO.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SloAlertingSpec {
    /// Page on fast burn; default from the tier.
    pub page: Option<bool>,
    /// Open a ticket on slow burn; default from the tier.
    pub ticket: Option<bool>,
    /// Extra labels on this SLO's alerts.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub labels: BTreeMap<Name, String>,
    /// Extra annotations on this SLO's alerts.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub annotations: BTreeMap<Name, String>,
    /// Runbook slug or absolute URL; default: the SLO name.
    #[schemars(with = "Option<String>")]
    pub runbook: Option<Spanned<String>>,
    /// Name of the burn-rate alerts (page and ticket share it), as Sloth's `alerting.name`, e.g.
    /// `MyServiceHighErrorRate`; default `<Service><Slo>BudgetBurn`.
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    /// Extra labels on the page alerts only (Sloth's `page_alert.labels`); may replace `severity`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub page_labels: BTreeMap<Name, String>,
    /// Extra annotations on the page alerts only (Sloth's `page_alert.annotations`).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub page_annotations: BTreeMap<Name, String>,
    /// Extra labels on the ticket alerts only (Sloth's `ticket_alert.labels`); may replace `severity`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub ticket_labels: BTreeMap<Name, String>,
    /// Extra annotations on the ticket alerts only (Sloth's `ticket_alert.annotations`).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub ticket_annotations: BTreeMap<Name, String>,
}

/// A service level objective.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SloSpec {
    /// What the SLO promises users, in a sentence.
    #[schemars(with = "String")]
    pub description: Spanned<String>,
    /// Tier override; default: the service's tier.
    #[schemars(with = "Option<String>")]
    pub tier: Option<Name>,
    /// Objective in percent; default: the tier's.
    #[schemars(with = "Option<f64>")]
    pub objective: Option<Spanned<f64>>,
    /// Fewest events an alert's long window must hold before the alert may fire; `0` turns the guard off.
    /// Default: the tier's, else per alert the fewest events for which one bad event alone stays under its
    /// threshold. A `raw` SLI has no event count, so it cannot have one.
    #[schemars(with = "Option<u64>")]
    pub min_events: Option<Spanned<u64>>,
    /// Rolling window such as `30d`, `28d`, `4w` or `12h`, at least the longest alert window. Default: `30d`.
    #[schemars(with = "Option<String>")]
    pub window: Option<Spanned<String>>,
    /// Ratio SLI (exactly one of `ratio`, `latency`, `events` and `raw`).
    pub ratio: Option<RatioSliSpec>,
    /// Latency SLI (exactly one of `ratio`, `latency`, `events` and `raw`).
    pub latency: Option<LatencySliSpec>,
    /// Query SLI of bad and all events, as Sloth's `events` (exactly one of `ratio`, `latency`, `events` and
    /// `raw`).
    pub events: Option<EventsSliSpec>,
    /// Query SLI of the error ratio, as Sloth's `raw` (exactly one of `ratio`, `latency`, `events` and `raw`).
    pub raw: Option<RawSliSpec>,
    /// Alerting settings.
    #[serde(default)]
    pub alerting: SloAlertingSpec,
}

/// Severity of a generated alert: who gets woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Someone is paged now.
    Page,
    /// A ticket for working hours.
    Ticket,
    /// Shown on dashboards and in notifications, nobody is woken.
    Info,
}

/// A threshold alert written as PromQL.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertSpec {
    /// PromQL condition; the alert fires for each series it returns.
    #[schemars(with = "String")]
    pub expr: Spanned<String>,
    /// How long the condition must hold, e.g. `5m`. Default: `0s`.
    #[serde(rename = "for")]
    #[schemars(with = "Option<String>")]
    pub for_: Option<Spanned<String>>,
    /// Who gets notified.
    pub severity: Severity,
    /// One static line, ending with a period.
    #[schemars(with = "String")]
    pub summary: Spanned<String>,
    /// Details; may use `{{ $labels.x }}` and `{{ $value }}`.
    #[schemars(with = "String")]
    pub description: Spanned<String>,
    /// Runbook slug or absolute URL; default: the alert name.
    pub runbook: Option<String>,
}

/// Dashboard additions on top of the panels derived from metrics and SLOs.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DashboardSpec {
    /// Dashboard title; default: the service name.
    pub title: Option<String>,
    /// Row titles in the order to show them; unlisted rows follow in their default order.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub row_order: Vec<Name>,
    /// Extra panels.
    #[serde(default)]
    pub panels: Vec<PanelSpec>,
}

/// One extra time-series panel.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PanelSpec {
    /// Panel title.
    pub title: String,
    /// What the panel shows and what to do about it.
    pub description: String,
    /// Row the panel goes in (an existing one or a new one).
    pub row: String,
    /// Grafana unit id, e.g. `s`, `percentunit`, `reqps`.
    pub unit: String,
    /// Queries: PromQL expression and legend.
    #[schemars(with = "Vec<QuerySpec>")]
    pub queries: Spanned<Vec<QuerySpec>>,
}

/// One PromQL query of a panel.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuerySpec {
    /// PromQL expression.
    #[schemars(with = "String")]
    pub expr: Spanned<String>,
    /// Legend format, e.g. `{{route}}`.
    #[serde(default)]
    pub legend: String,
}
