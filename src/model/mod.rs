//! The validated model: references resolved, defaults filled, numbers exact, order fixed.
//!
//! Emitters read only this. Everything an output prints — PromQL, burn-rate factors, budgets, names — is
//! computed here once, so the rules, the dashboard, the docs and the tests cannot disagree.

pub mod bounds;
pub mod dashboard;
pub mod lower;
pub mod number;
pub mod outputs;
pub mod promql;
mod promql_check;
pub mod query;
pub mod regex;
pub mod rules;
pub mod template;

use std::collections::BTreeMap;

pub use lower::{lower, SourceFile};
pub use number::Exact;
pub use rules::{AlertingRule, GeneratedAlert, RecordingRule, SloRules};

pub use crate::spec::{MetricKind, MetricSource, Severity};

/// Every service described under `slos/`, sorted by name.
#[derive(Debug, Clone)]
pub struct Model {
    /// Services in name order.
    pub services: Vec<Service>,
    /// Tiers in name order, shared by all services.
    pub tiers: Vec<Tier>,
}

/// A service tier: the default objective and alerting of its SLOs.
#[derive(Debug, Clone)]
pub struct Tier {
    /// Tier name.
    pub name: String,
    /// What the tier means.
    pub description: String,
    /// Default objective, in percent.
    pub objective: Exact,
    /// Whether SLOs of this tier page by default.
    pub page: bool,
    /// Whether SLOs of this tier open tickets by default.
    pub ticket: bool,
    /// The low-traffic guard of its SLOs' alerts, when the tier sets one.
    pub min_events: Option<u64>,
}

/// One service and everything that is generated for it.
#[derive(Debug, Clone)]
pub struct Service {
    /// Service name (`snake_case`).
    pub name: String,
    /// The spec file it came from, relative to the spec directory's parent (`slos/backend.toml`).
    pub source: String,
    /// Tier name.
    pub tier: String,
    /// Owning team.
    pub team: String,
    /// What the service does.
    pub description: String,
    /// Runbook base URL, without a trailing slash.
    pub runbook_base_url: String,
    /// Label matchers that select the service's series.
    pub selector: BTreeMap<String, String>,
    /// Extra labels on every rule and alert (includes `team`).
    pub labels: BTreeMap<String, String>,
    /// Label definitions by name.
    pub label_defs: BTreeMap<String, Label>,
    /// Metrics in name order, which [`Service::find_metric`] relies on.
    pub metrics: Vec<Metric>,
    /// SLOs in name order.
    pub slos: Vec<Slo>,
    /// Threshold alerts in name order.
    pub alerts: Vec<ThresholdAlert>,
    /// The alerting rules of the threshold alerts, in the same order.
    pub threshold_rules: Vec<AlertingRule>,
    /// Dashboard layout.
    pub dashboard: Dashboard,
    /// Deployment outputs beyond the rules, dashboard, docs and Rust module.
    pub outputs: outputs::Outputs,
}

impl Service {
    /// The metric named `name`, if the service declares it. `metrics` is in name order, so this is a binary
    /// search: emitters look a metric up per SLO and per window, and a scan would make them quadratic.
    pub fn find_metric(&self, name: &str) -> Option<&Metric> {
        self.metrics
            .binary_search_by(|m| m.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.metrics[i])
    }

    /// The metric a selector of this service names. Lowering resolves every reference, so a model invariant
    /// says it exists; a name that is not declared is a bug in slogen and panics.
    pub fn metric(&self, name: &str) -> &Metric {
        self.find_metric(name)
            .unwrap_or_else(|| panic!("model invariant: metric {name} resolved at lowering"))
    }
}

/// A label definition.
#[derive(Debug, Clone)]
pub struct Label {
    /// Label name.
    pub name: String,
    /// What the label tells.
    pub help: String,
    /// Closed or open.
    pub values: LabelValues,
}

/// The values a label may take.
#[derive(Debug, Clone)]
pub enum LabelValues {
    /// A fixed set, compiled to a Rust enum: each value with its variant name.
    Closed(Vec<ClosedValue>),
    /// Any value, up to `max_values` distinct ones; later ones are folded into `other`.
    Open {
        /// Cardinality limit.
        max_values: u32,
    },
    /// Any value, with no limit of slogen's: another program sets it, so only external metrics have it.
    Unlimited,
}

/// One value of a closed label.
#[derive(Debug, Clone)]
pub struct ClosedValue {
    /// The exposed label value.
    pub value: String,
    /// The Rust enum variant.
    pub variant: String,
}

/// A metric, with both the name written in the spec and the names Prometheus sees.
#[derive(Debug, Clone)]
pub struct Metric {
    /// Base name as declared (no unit, no `_total`).
    pub name: String,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// Help text.
    pub help: String,
    /// Base unit, if any.
    pub unit: Option<String>,
    /// Label names in exposition order.
    pub labels: Vec<String>,
    /// Histogram bucket bounds (empty for other kinds).
    pub buckets: Vec<f64>,
    /// Dashboard row.
    pub row: String,
    /// Labels its panel breaks down by.
    pub group_by: Vec<String>,
    /// Who exposes it: the service (and its Rust module) or another program.
    pub source: MetricSource,
    /// An external metric's exposed name as the spec gives it (a histogram's without `_bucket`); `None`
    /// when it is derived from the base name, unit and type.
    pub exposed_as: Option<String>,
    /// Label matchers that select its series in every query: the service's selector, or an external
    /// metric's own.
    pub selector: BTreeMap<String, String>,
}

impl Metric {
    /// Family name as exposed: base name plus `_<unit>`, as prometheus-client registers it, or an external
    /// metric's given name.
    pub fn family_name(&self) -> String {
        match (&self.exposed_as, &self.unit) {
            (Some(name), _) => name.clone(),
            (None, Some(unit)) => format!("{}_{}", self.name, unit),
            (None, None) => self.name.clone(),
        }
    }

    /// The sample name a query uses for a counter (`_total`) or gauge; an external metric's given name as is.
    pub fn sample_name(&self) -> String {
        match (self.kind, &self.exposed_as) {
            (_, Some(name)) => name.clone(),
            (MetricKind::Counter, None) => format!("{}_total", self.family_name()),
            (MetricKind::Gauge | MetricKind::Histogram, None) => self.family_name(),
        }
    }

    /// Whether the generated Rust module records it: the service's own metrics, not external ones.
    pub fn in_module(&self) -> bool {
        self.source == MetricSource::Service
    }

    /// The `_bucket`, `_count` or `_sum` series of a histogram.
    pub fn histogram_series(&self, suffix: &str) -> String {
        format!("{}_{}", self.family_name(), suffix)
    }

    /// Every sample name this metric exposes, for cross-checks against a scrape.
    pub fn exposed_names(&self) -> Vec<String> {
        match self.kind {
            MetricKind::Histogram => ["bucket", "count", "sum"]
                .iter()
                .map(|s| self.histogram_series(s))
                .collect(),
            _ => vec![self.sample_name()],
        }
    }
}

/// Label matchers on one metric (the metric's selector is added when PromQL is printed).
#[derive(Debug, Clone)]
pub struct Selector {
    /// Metric base name.
    pub metric: String,
    /// Label to what it may be.
    pub matchers: BTreeMap<String, LabelMatch>,
}

/// What a selector lets through for one label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelMatch {
    /// One of these values (sorted, without duplicates): `=` for one, `=~` for several.
    Values(Vec<String>),
    /// Values matching this RE2 regex, anchored: `=~`.
    Regex(String),
    /// Any value but these (sorted, without duplicates): `!=` for one, `!~` for several.
    Not(Vec<String>),
    /// Values not matching this RE2 regex, anchored: `!~`.
    NotRegex(String),
}

impl LabelMatch {
    /// The PromQL matcher on `label`.
    pub fn matcher(&self, label: &str) -> promql::Matcher {
        use promql::{MatchOp, Matcher};
        match self {
            LabelMatch::Values(values) => Matcher::any_of(label, values, false),
            LabelMatch::Not(values) => Matcher::any_of(label, values, true),
            LabelMatch::Regex(re) | LabelMatch::NotRegex(re) => Matcher {
                label: label.to_string(),
                op: if matches!(self, LabelMatch::Regex(_)) {
                    MatchOp::Regex
                } else {
                    MatchOp::NotRegex
                },
                value: re.clone(),
            },
        }
    }

    /// The values it lists: kept (`Values`) or dropped (`Not`); none for a regex.
    pub fn listed(&self) -> Option<&[String]> {
        match self {
            LabelMatch::Values(values) | LabelMatch::Not(values) => Some(values),
            LabelMatch::Regex(_) | LabelMatch::NotRegex(_) => None,
        }
    }
}

/// How an SLO tells good events from bad.
#[derive(Debug, Clone)]
pub enum Sli {
    /// Bad events over all events, both counters.
    Ratio {
        /// Bad events.
        errors: Selector,
        /// All events.
        total: Selector,
    },
    /// Events slower than a bucket boundary are bad.
    Latency {
        /// The histogram and its matchers.
        histogram: Selector,
        /// Threshold as written, in the histogram's unit.
        threshold: f64,
        /// Every `le` text the threshold's bucket may be stored under, by any client and Prometheus major.
        le: Vec<String>,
    },
    /// Sloth's `events`: bad and all events per second, each a PromQL query over a window.
    Events {
        /// Bad events per second.
        errors: query::WindowQuery,
        /// All events per second.
        total: query::WindowQuery,
        /// How the rule tests feed it.
        feed: query::QueryFeed,
    },
    /// Sloth's `raw`: the error ratio itself, a PromQL query over a window; it has no event count.
    Raw {
        /// The error ratio.
        error_ratio: query::WindowQuery,
        /// How the rule tests feed it.
        feed: query::QueryFeed,
    },
}

impl Sli {
    /// Whether the SLI counts events (all but `raw`): only then can an alert require a minimum of events,
    /// and the SLO window's ratio weigh every event the same.
    pub fn counts_events(&self) -> bool {
        !matches!(self, Sli::Raw { .. })
    }
}

/// A service level objective.
#[derive(Debug, Clone)]
pub struct Slo {
    /// SLO name (`snake_case`).
    pub name: String,
    /// `<service>-<slo>`, the `sloth_id` label.
    pub id: String,
    /// What it promises.
    pub description: String,
    /// Tier it belongs to.
    pub tier: String,
    /// Objective in percent.
    pub objective: Exact,
    /// Objective as a ratio (`0.999`), as the rules and dashboards use it.
    pub objective_ratio: Exact,
    /// Rolling window.
    pub window: SloWindow,
    /// The indicator.
    pub sli: Sli,
    /// The error budget, derived from objective and window.
    pub budget: ErrorBudget,
    /// Multi-window multi-burn-rate alerts, in severity then window order.
    pub burn_rate_alerts: Vec<BurnRateAlert>,
    /// The name its burn-rate alerts share: the spec's `alerting.name` (as Sloth's), else
    /// `<Service><Slo>BudgetBurn`.
    pub burn_alert: String,
    /// Extra alert labels.
    pub alert_labels: BTreeMap<String, String>,
    /// Extra alert annotations.
    pub alert_annotations: BTreeMap<String, String>,
    /// Extra labels and annotations of its page alerts.
    pub page_extras: SeverityExtras,
    /// Extra labels and annotations of its ticket alerts.
    pub ticket_extras: SeverityExtras,
    /// Runbook URL.
    pub runbook_url: String,
    /// Its recording and alerting rules.
    pub rules: SloRules,
}

/// Extra labels and annotations of an SLO's burn-rate alerts of one severity, as Sloth's `page_alert` and
/// `ticket_alert` give them: routing keys, a channel, a `severity` of the team's own.
#[derive(Debug, Clone, Default)]
pub struct SeverityExtras {
    /// Labels, over the SLO's (they may replace `severity`).
    pub labels: BTreeMap<String, String>,
    /// Annotations, over the SLO's and the generated ones.
    pub annotations: BTreeMap<String, String>,
}

impl Slo {
    /// The extras of the alerts of `severity` (none for `info`, which burn-rate alerts never have).
    pub fn extras(&self, severity: Severity) -> Option<&SeverityExtras> {
        match severity {
            Severity::Page => Some(&self.page_extras),
            Severity::Ticket => Some(&self.ticket_extras),
            Severity::Info => None,
        }
    }
}

/// An SLO's rolling window: any whole number of seconds from the longest alert window up to 366 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SloWindow {
    /// Seconds in the window.
    pub seconds: u64,
}

impl SloWindow {
    /// Prometheus duration (`30d`, `28d`, `1h`), spelled as [`Duration::promql`] spells alert windows so that
    /// a window both recorded for an alert and as the SLO period gets one record name.
    pub fn promql(&self) -> String {
        self.duration().promql()
    }

    /// The window as a duration.
    pub fn duration(&self) -> Duration {
        Duration {
            seconds: self.seconds,
        }
    }

    /// Window length in days, exact (`1/24` for `1h`), for Sloth's `slo:time_period:days`.
    pub fn days(&self) -> Exact {
        Exact::new(u128::from(self.seconds), 86_400)
    }
}

/// How much may go wrong within the window.
#[derive(Debug, Clone)]
pub struct ErrorBudget {
    /// Allowed bad-event ratio: `1 - objective/100`.
    pub ratio: Exact,
    /// Allowed minutes of full outage within the window.
    pub minutes: Exact,
}

/// One alert of a multi-window multi-burn-rate pair.
#[derive(Debug, Clone)]
pub struct BurnRateAlert {
    /// Page or ticket.
    pub severity: Severity,
    /// The long window, which says the budget is really burning.
    pub long: Duration,
    /// The short window, which makes the alert reset soon after the burn stops.
    pub short: Duration,
    /// Share of the whole window's budget spent when the alert fires at exactly `factor`.
    pub budget_share: Exact,
    /// Burn rate threshold: `budget_share × window / long`.
    pub factor: Exact,
    /// Error-ratio threshold: `factor × budget ratio`.
    pub threshold: Exact,
    /// How long both windows must be over the threshold.
    pub for_: Duration,
    /// Fewest events the long window must hold for the alert to fire (0: no guard), so that a handful of
    /// failures at low traffic does not page.
    pub min_events: u64,
    /// Seconds from the start of a full outage until the alert fires (`threshold × long + for`).
    pub time_to_fire_full_outage: Exact,
    /// Seconds until it fires on a burn of exactly `factor`: the long window must fill (`long + for`).
    pub time_to_fire_at_factor: Exact,
    /// Seconds after a full outage ends until the short window drops under the threshold.
    pub reset_time: Exact,
}

/// A duration in whole seconds, printed the way Prometheus writes it (`1h`, `30m`, `1d`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration {
    /// Whole seconds.
    pub seconds: u64,
}

impl Duration {
    /// Parses `90s`, `5m`, `1h`, `1d`, `1w` (one unit; Prometheus also allows combinations, we keep one).
    pub fn parse(text: &str) -> Option<Duration> {
        let split = text.find(|c: char| !c.is_ascii_digit())?;
        let (digits, unit) = text.split_at(split);
        let n: u64 = digits.parse().ok()?;
        let scale = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return None,
        };
        Some(Duration {
            seconds: n.checked_mul(scale)?,
        })
    }

    /// The largest unit up to days that divides the duration exactly: `28d` rather than `4w`, as SLO windows
    /// are usually written.
    pub fn promql(&self) -> String {
        let s = self.seconds;
        if s == 0 {
            return "0s".into();
        }
        for (scale, unit) in [(86_400, "d"), (3600, "h"), (60, "m")] {
            if s.is_multiple_of(scale) {
                return format!("{}{}", s / scale, unit);
            }
        }
        format!("{s}s")
    }
}

/// A threshold alert from the spec.
#[derive(Debug, Clone)]
pub struct ThresholdAlert {
    /// Alert name (`UpperCamelCase`).
    pub name: String,
    /// PromQL condition, already parsed once.
    pub expr: String,
    /// Hold duration.
    pub for_: Duration,
    /// Severity.
    pub severity: Severity,
    /// Static one-line summary.
    pub summary: String,
    /// Templated description.
    pub description: String,
    /// Runbook URL.
    pub runbook_url: String,
}

/// Dashboard layout inputs.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// Title.
    pub title: String,
    /// Row titles in display order, every row that has a panel.
    pub row_order: Vec<String>,
    /// Extra panels from the spec.
    pub extra_panels: Vec<ExtraPanel>,
    /// Every row with its panels, in `row_order`.
    pub rows: Vec<dashboard::DashboardRow>,
}

/// A hand-written panel.
#[derive(Debug, Clone)]
pub struct ExtraPanel {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Row.
    pub row: String,
    /// Grafana unit.
    pub unit: String,
    /// Queries: expression and legend.
    pub queries: Vec<(String, String)>,
}

/// The service `app` (job `app`, tier `standard` at 99.9%, team `web`) with `tables`, the rest of a spec
/// (labels, metrics, SLOs), lowered: the one spec builder of the unit tests.
#[cfg(test)]
pub(crate) fn test_service(tables: &str) -> Service {
    let text = format!(
        r#"version = 1

[tiers.standard]
objective = 99.9

[service]
name = "app"
tier = "standard"
team = "web"
runbook_base_url = "https://runbooks.example.com/app"
selector = {{ job = "app" }}

{tables}"#
    );
    let files = [SourceFile {
        path: "slos/app.toml".into(),
        text,
    }];
    let mut model = lower(&files).unwrap_or_else(|_| panic!("the test spec is valid:\n{tables}"));
    model.services.remove(0)
}
