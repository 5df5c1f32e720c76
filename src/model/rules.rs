//! The Prometheus rules of a service as typed values: SLI records per window, metadata records, burn-rate
//! alerts, absent alerts and threshold alerts, each with its group, labels and annotations.
//!
//! The rules file, the rule tests, the docs and the dashboard all read these, so what an alert is called,
//! which labels it carries when it fires and which windows are recorded is decided once, here.

use std::collections::BTreeMap;

use super::promql::{self, sli_error_ratio, slo_matchers};
use super::{BurnRateAlert, Duration, Exact, Service, Severity, Slo, ThresholdAlert};
use crate::conventions::{self as names, sli_error_record, WINDOW_LABEL};

mod alerts;

use alerts::{absent_alert, burn_rate_alert, exhausted_alert, threshold_alert};

/// SLI windows recorded for every SLO, in seconds: the default alert windows plus 2h, the set Sloth records,
/// so dashboards built for Sloth find every series they chart.
const SLI_WINDOWS: [u64; 7] = [300, 1_800, 3_600, 7_200, 21_600, 86_400, 259_200];

/// The window that dashboards and docs show an SLO's error ratio and burn rate over: the shortest one every
/// SLO records.
pub const DISPLAY_WINDOW: Duration = Duration { seconds: 300 };

/// How long an SLI must have no data before the absent alert fires: long enough to ride out a restart.
const ABSENT_FOR: Duration = Duration { seconds: 600 };

/// How long the budget left must stay at or below zero before the budget-exhausted alert fires: the SLO
/// window's ratio moves slowly, so this only rides out a ratio wobbling around the budget at its edge.
const BUDGET_EXHAUSTED_FOR: Duration = Duration { seconds: 300 };

/// A recording rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingRule {
    /// The recorded series name.
    pub record: String,
    /// PromQL.
    pub expr: String,
    /// Labels added to the recorded series.
    pub labels: BTreeMap<String, String>,
}

/// An alerting rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertingRule {
    /// Alert name.
    pub alert: String,
    /// PromQL condition.
    pub expr: String,
    /// How long the condition must hold; zero is written as no `for`.
    pub for_: Duration,
    /// Labels added to the alert.
    pub labels: BTreeMap<String, String>,
    /// Annotations (summary, description, runbook and the spec's own).
    pub annotations: BTreeMap<String, String>,
}

/// An alerting rule with the labels a firing alert of it has: the labels of the series its expression
/// returns, overlaid with the rule's own, which is what Alertmanager and `promtool test rules` see.
#[derive(Debug, Clone, Default)]
pub struct GeneratedAlert {
    /// The rule.
    pub rule: AlertingRule,
    /// Every label of a firing alert.
    pub firing_labels: BTreeMap<String, String>,
}

/// An SLO's error ratio over one window.
#[derive(Debug, Clone)]
pub struct SliRecord {
    /// The window.
    pub window: Duration,
    /// The rule.
    pub rule: RecordingRule,
}

/// Every rule generated for one SLO.
#[derive(Debug, Clone, Default)]
pub struct SloRules {
    /// Error ratio records from the raw series, shortest window first.
    pub sli_records: Vec<SliRecord>,
    /// Bad and all events per second over the shortest window, and the events of each long window an alert
    /// guards with `min_events`.
    pub traffic_records: Vec<RecordingRule>,
    /// The SLO window's error ratio, summed from the traffic records so that every event weighs the same;
    /// none when the SLO window is one of the raw windows.
    pub period_record: Option<SliRecord>,
    /// Sloth's metadata records: objective, budget, period, burn rates, budget left, info.
    pub meta_records: Vec<RecordingRule>,
    /// The name every burn-rate alert of the SLO shares; named even when it has none, so that tests can
    /// expect none.
    pub burn_alert: String,
    /// One alert per burn-rate pair, in the order of [`Slo::burn_rate_alerts`].
    pub burn_alerts: Vec<GeneratedAlert>,
    /// Fires when the SLI has no data.
    pub absent_alert: GeneratedAlert,
    /// Fires once the SLO window's error budget is spent, when the spec asks for it.
    pub exhausted_alert: Option<GeneratedAlert>,
}

impl SloRules {
    /// The error-ratio record over `window`, if the SLO records one.
    pub fn sli_record(&self, window: Duration) -> Option<&SliRecord> {
        self.sli_records
            .iter()
            .chain(&self.period_record)
            .find(|r| r.window == window)
    }

    /// The longest window a rule reads the raw series over.
    pub fn longest_window(&self) -> Duration {
        self.sli_records
            .iter()
            .map(|r| r.window)
            .max()
            .unwrap_or_default()
    }
}

/// One rule group, evaluated together, in the order the rules file lists them.
#[derive(Debug)]
pub struct RuleGroup<'m> {
    /// Group name.
    pub name: String,
    /// Its rules in order.
    pub rules: Vec<Rule<'m>>,
}

/// A rule of a group.
#[derive(Debug, Clone, Copy)]
pub enum Rule<'m> {
    /// A recording rule.
    Record(&'m RecordingRule),
    /// An alerting rule.
    Alert(&'m AlertingRule),
}

impl Service {
    /// The rule groups in file order: per SLO its SLI records, metadata records and alerts, then the
    /// threshold alerts.
    pub fn rule_groups(&self) -> Vec<RuleGroup<'_>> {
        let mut groups = Vec::new();
        for slo in &self.slos {
            let r = &slo.rules;
            groups.push(RuleGroup {
                name: names::sli_group(&slo.id),
                rules: r
                    .sli_records
                    .iter()
                    .map(|s| &s.rule)
                    .chain(&r.traffic_records)
                    .chain(r.period_record.iter().map(|s| &s.rule))
                    .map(Rule::Record)
                    .collect(),
            });
            groups.push(RuleGroup {
                name: names::meta_group(&slo.id),
                rules: r.meta_records.iter().map(Rule::Record).collect(),
            });
            groups.push(RuleGroup {
                name: names::alert_group(&slo.id),
                rules: r
                    .burn_alerts
                    .iter()
                    .chain(std::iter::once(&r.absent_alert))
                    .chain(&r.exhausted_alert)
                    .map(|a| Rule::Alert(&a.rule))
                    .collect(),
            });
        }
        if !self.threshold_rules.is_empty() {
            groups.push(RuleGroup {
                name: names::alert_group(&self.name),
                rules: self.threshold_rules.iter().map(Rule::Alert).collect(),
            });
        }
        groups
    }
}

/// Builds the rules of every SLO and threshold alert of a lowered service.
pub fn attach(service: &mut Service) {
    let rules: Vec<SloRules> = service
        .slos
        .iter()
        .map(|slo| slo_rules(service, slo))
        .collect();
    for (slo, rules) in service.slos.iter_mut().zip(rules) {
        slo.rules = rules;
    }
    service.threshold_rules = service
        .alerts
        .iter()
        .map(|a| threshold_alert(service, a))
        .collect();
}

fn slo_rules(service: &Service, slo: &Slo) -> SloRules {
    let sli_records = sli_records(service, slo);
    let shortest = sli_records[0].window;
    let (traffic_records, period_record) = traffic_records(service, slo, shortest, &sli_records);
    let meta_records = meta_records(service, slo, shortest);
    let burn_alerts = slo
        .burn_rate_alerts
        .iter()
        .map(|a| burn_rate_alert(service, slo, a))
        .collect();
    SloRules {
        sli_records,
        traffic_records,
        period_record,
        meta_records,
        burn_alert: slo.burn_alert.clone(),
        burn_alerts,
        absent_alert: absent_alert(service, slo, shortest),
        exhausted_alert: slo
            .budget_exhausted
            .map(|severity| exhausted_alert(service, slo, severity)),
    }
}

/// Every SLI window of an SLO, shortest first: the fixed set plus any window an alert reads.
fn sli_windows(slo: &Slo) -> Vec<Duration> {
    let mut windows: Vec<Duration> = SLI_WINDOWS
        .iter()
        .map(|&seconds| Duration { seconds })
        .chain(slo.burn_rate_alerts.iter().flat_map(|a| [a.long, a.short]))
        .collect();
    windows.sort();
    windows.dedup();
    windows
}

/// `sloth_id`, `sloth_service`, `sloth_slo` over the service labels: Sloth's identity of an SLO's series.
fn slo_labels(service: &Service, slo: &Slo) -> BTreeMap<String, String> {
    let mut labels = service.labels.clone();
    labels.insert(names::SLO_ID_LABEL.into(), slo.id.clone());
    labels.insert(names::SLO_SERVICE_LABEL.into(), service.name.clone());
    labels.insert(names::SLO_NAME_LABEL.into(), slo.name.clone());
    labels
}

/// A record of an SLO's series over `window`: its identity and the window as labels.
fn window_record(
    service: &Service,
    slo: &Slo,
    record: String,
    window: Duration,
    expr: String,
) -> RecordingRule {
    let mut labels = slo_labels(service, slo);
    labels.insert(WINDOW_LABEL.into(), window.promql());
    RecordingRule {
        record,
        expr,
        labels,
    }
}

/// The error ratio over each window from the raw series, as Sloth records it: alerts compare these.
fn sli_records(service: &Service, slo: &Slo) -> Vec<SliRecord> {
    sli_windows(slo)
        .into_iter()
        .map(|window| SliRecord {
            window,
            rule: window_record(
                service,
                slo,
                sli_error_record(window),
                window,
                sli_error_ratio(service, slo, window),
            ),
        })
        .collect()
}

/// Bad and all events per second over the shortest window; the events of every long window an alert needs
/// a minimum of; and, when the SLO window is not a raw window, its error ratio as bad over all events summed
/// from the shortest window's rates. A sum of rates weighs every event the same (an average of ratios would
/// weigh one failure at 3 a.m. like ten thousand at noon), and a month of raw rates would be too costly to
/// evaluate every minute.
fn traffic_records(
    service: &Service,
    slo: &Slo,
    shortest: Duration,
    sli_records: &[SliRecord],
) -> (Vec<RecordingRule>, Option<SliRecord>) {
    let period = slo.window.duration();
    let recorded = sli_records.iter().any(|r| r.window == period);
    let (Some(error_rate), Some(event_rate)) = (
        promql::sli_error_rate(service, slo, shortest),
        promql::sli_event_rate(service, slo, shortest),
    ) else {
        // No event count (a raw SLI): the SLO window's ratio is the average of the shortest window's, as
        // Sloth records it.
        let average = |function: &str| {
            format!(
                "{function}({}{}[{}])",
                sli_error_record(shortest),
                slo_matchers(service, slo),
                period.promql()
            )
        };
        let period_record = (!recorded).then(|| SliRecord {
            window: period,
            rule: window_record(
                service,
                slo,
                sli_error_record(period),
                period,
                format!(
                    "{} / {}",
                    average("sum_over_time"),
                    average("count_over_time")
                ),
            ),
        });
        return (Vec::new(), period_record);
    };
    let errors = names::sli_errors_rate_record(shortest);
    let events = names::sli_events_rate_record(shortest);
    let mut records = vec![
        window_record(service, slo, errors.clone(), shortest, error_rate),
        window_record(service, slo, events.clone(), shortest, event_rate),
    ];
    let mut guarded: Vec<Duration> = slo
        .burn_rate_alerts
        .iter()
        .filter(|a| a.min_events > 0)
        .map(|a| a.long)
        .collect();
    guarded.sort();
    guarded.dedup();
    records.extend(guarded.into_iter().filter_map(|window| {
        Some(window_record(
            service,
            slo,
            names::sli_events_increase_record(window),
            window,
            promql::sli_event_increase(service, slo, window)?,
        ))
    }));
    let period_record = (!recorded).then(|| {
        let matchers = slo_matchers(service, slo);
        let window = period.promql();
        SliRecord {
            window: period,
            rule: window_record(
                service,
                slo,
                sli_error_record(period),
                period,
                format!(
                    "sum_over_time({errors}{matchers}[{window}]) / (sum_over_time({events}{matchers}[{window}]) > 0)"
                ),
            ),
        }
    });
    (records, period_record)
}

/// Sloth's metadata series: objective, budget, period, burn rates, remaining budget and the info series.
fn meta_records(service: &Service, slo: &Slo, shortest: Duration) -> Vec<RecordingRule> {
    let labels = slo_labels(service, slo);
    let matchers = slo_matchers(service, slo);
    let burn_rate = |window: Duration| {
        format!(
            "{}{matchers} / on({}, {}, {}) group_left {}{matchers}",
            sli_error_record(window),
            names::SLO_ID_LABEL,
            names::SLO_NAME_LABEL,
            names::SLO_SERVICE_LABEL,
            names::ERROR_BUDGET_RECORD,
        )
    };
    let record = |name: &str, expr: String| RecordingRule {
        record: name.to_string(),
        expr,
        labels: labels.clone(),
    };
    let mut info_labels = labels.clone();
    info_labels.extend([
        (
            names::SLOTH_MODE_LABEL.to_string(),
            names::SLOTH_MODE.to_string(),
        ),
        (
            names::SLOTH_OBJECTIVE_LABEL.to_string(),
            slo.objective.to_string(),
        ),
        (
            names::SLOTH_SPEC_LABEL.to_string(),
            names::SLOTH_SPEC.to_string(),
        ),
    ]);
    vec![
        record(
            names::OBJECTIVE_RECORD,
            format!("vector({})", slo.objective_ratio),
        ),
        record(
            names::ERROR_BUDGET_RECORD,
            format!("vector({})", slo.budget.ratio),
        ),
        record(
            names::TIME_PERIOD_RECORD,
            format!("vector({})", slo.window.days()),
        ),
        record(names::CURRENT_BURN_RATE_RECORD, burn_rate(shortest)),
        record(
            names::PERIOD_BURN_RATE_RECORD,
            burn_rate(slo.window.duration()),
        ),
        record(
            names::PERIOD_BUDGET_REMAINING_RECORD,
            format!("1 - {}{matchers}", names::PERIOD_BURN_RATE_RECORD),
        ),
        RecordingRule {
            record: names::SLO_INFO_RECORD.into(),
            expr: "vector(1)".into(),
            labels: info_labels,
        },
    ]
}
