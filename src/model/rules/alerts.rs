//! The alerting rules of an SLO (burn-rate, absent, budget-exhausted) and the threshold alerts: their
//! expressions, the labels a firing alert carries and the annotations people read.

use std::collections::BTreeMap;
use std::ops::Mul as _;

use super::*;

/// Labels every SLO alert carries: the service labels, then the SLO's own, then the generated ones, which win
/// so that routing never depends on what a spec happens to set.
fn slo_alert_labels(service: &Service, slo: &Slo, severity: Severity) -> BTreeMap<String, String> {
    let mut labels = service.labels.clone();
    labels.extend(slo.alert_labels.clone());
    labels.insert(
        names::SEVERITY_LABEL.into(),
        names::severity_name(severity).into(),
    );
    labels.insert(names::SERVICE_LABEL.into(), service.name.clone());
    labels.insert(names::SLO_LABEL.into(), slo.name.clone());
    labels
}

/// Summary, description and runbook, then the SLO's extra annotations.
fn annotations(slo: &Slo, summary: String, description: String) -> BTreeMap<String, String> {
    let mut out = BTreeMap::from([
        ("summary".to_string(), summary),
        ("description".to_string(), description),
        ("runbook_url".to_string(), slo.runbook_url.clone()),
    ]);
    out.extend(slo.alert_annotations.clone());
    out
}

/// Fires when the series the SLI counts are gone (a query SLI: when its query over the shortest window
/// returns nothing); a firing alert has the selector's equality matchers as labels, which is what `absent()`
/// returns.
pub(super) fn absent_alert(service: &Service, slo: &Slo, shortest: Duration) -> GeneratedAlert {
    let (present, matchers) = promql::sli_presence(service, slo, shortest);
    let rule = AlertingRule {
        alert: names::slo_absent_alert(&service.name, &slo.name),
        expr: format!("absent({present})"),
        for_: ABSENT_FOR,
        labels: slo_alert_labels(service, slo, Severity::Ticket),
        annotations: annotations(
            slo,
            format!("The {} SLO of {} has no data.", slo.name, service.name),
            format!(
                "The series the {} SLI counts have been absent for {}, so its error ratio and burn-rate alerts \
                 cannot be computed. Check that {} is running and being scraped.",
                slo.name,
                ABSENT_FOR.promql(),
                service.name
            ),
        ),
    };
    let mut firing_labels: BTreeMap<String, String> = matchers
        .into_iter()
        .filter(|m| m.op == promql::MatchOp::Equal)
        .map(|m| (m.label, m.value))
        .collect();
    firing_labels.extend(rule.labels.clone());
    GeneratedAlert {
        rule,
        firing_labels,
    }
}

/// Fires while both windows of the pair are over the threshold. The two series differ in `sloth_window`
/// only, so the join ignores it, as Sloth's does; a firing alert has the long window's series labels.
pub(super) fn burn_rate_alert(service: &Service, slo: &Slo, a: &BurnRateAlert) -> GeneratedAlert {
    let matchers = slo_matchers(service, slo);
    let (long, short) = (a.long.promql(), a.short.promql());
    let mut labels = slo_alert_labels(service, slo, a.severity);
    labels.insert(names::LONG_WINDOW_LABEL.into(), long.clone());
    labels.insert(names::SHORT_WINDOW_LABEL.into(), short.clone());
    labels.insert(
        names::BURN_WINDOW_LABEL.into(),
        names::burn_window(a.long, a.short),
    );
    labels.insert(names::BURN_RATE_LABEL.into(), a.factor.to_string());
    labels.insert(
        names::SLOTH_SEVERITY_LABEL.into(),
        names::severity_name(a.severity).to_string(),
    );
    let extras = slo.extras(a.severity);
    // Sloth's `page_alert` labels may replace `severity`; every other generated label stays.
    labels.extend(extras.into_iter().flat_map(|e| e.labels.clone()));
    let percent = Exact::int(100);
    let mut rule = AlertingRule {
        alert: slo.burn_alert.clone(),
        expr: format!(
            "{long_record}{matchers} > {t} and ignoring ({WINDOW_LABEL}) {short_record}{matchers} > {t}{guard}",
            long_record = sli_error_record(a.long),
            short_record = sli_error_record(a.short),
            t = a.threshold,
            guard = if a.min_events > 0 {
                format!(
                    " and ignoring ({WINDOW_LABEL}) {}{matchers} >= {}",
                    names::sli_events_increase_record(a.long),
                    a.min_events
                )
            } else {
                String::new()
            },
        ),
        for_: a.for_,
        labels,
        annotations: annotations(
            slo,
            format!(
                "The {} SLO of {} burns its error budget at least {}x too fast.",
                slo.name, service.name, a.factor
            ),
            format!(
                "The {} error ratio is {{{{ $value | humanizePercentage }}}} over the last {long}, and above \
                 {}% ({}x the {}% error budget) over the last {short} too. At this rate {}% of the {} error \
                 budget is spent in {long}.",
                slo.name,
                a.threshold.mul(percent),
                a.factor,
                slo.budget.ratio.mul(percent),
                a.budget_share.mul(percent),
                slo.window.promql(),
            ),
        ),
    };
    rule.annotations
        .extend(extras.into_iter().flat_map(|e| e.annotations.clone()));
    let mut firing_labels = slo_labels(service, slo);
    firing_labels.insert(WINDOW_LABEL.into(), long);
    firing_labels.extend(rule.labels.clone());
    GeneratedAlert {
        rule,
        firing_labels,
    }
}

/// Fires while the SLO window's budget left (Sloth's `slo:period_error_budget_remaining:ratio`, what the
/// dashboard shows) is at or below zero: the objective is missed over the window. A firing alert has the
/// labels of that series, whose `sloth_window` is the SLO window.
pub(super) fn exhausted_alert(service: &Service, slo: &Slo, severity: Severity) -> GeneratedAlert {
    let window = slo.window.promql();
    let rule = AlertingRule {
        alert: names::slo_budget_exhausted_alert(&service.name, &slo.name),
        expr: format!(
            "{}{} <= 0",
            names::PERIOD_BUDGET_REMAINING_RECORD,
            slo_matchers(service, slo)
        ),
        for_: BUDGET_EXHAUSTED_FOR,
        labels: slo_alert_labels(service, slo, severity),
        annotations: annotations(
            slo,
            format!(
                "The {} SLO of {} has spent its whole {window} error budget.",
                slo.name, service.name
            ),
            format!(
                "More than {}% of the {} events over the last {window} were bad, so the {}% objective is \
                 missed for the window. The burn-rate alerts say how fast the budget burns now; this one \
                 says the error budget policy applies.",
                slo.budget.ratio.mul(Exact::int(100)),
                slo.name,
                slo.objective,
            ),
        ),
    };
    let mut firing_labels = slo_labels(service, slo);
    firing_labels.insert(WINDOW_LABEL.into(), window);
    firing_labels.extend(rule.labels.clone());
    GeneratedAlert {
        rule,
        firing_labels,
    }
}

/// A threshold alert from the spec, with the service's labels for routing.
pub(super) fn threshold_alert(service: &Service, a: &ThresholdAlert) -> AlertingRule {
    let mut labels = service.labels.clone();
    labels.insert(
        names::SEVERITY_LABEL.into(),
        names::severity_name(a.severity).into(),
    );
    labels.insert(names::SERVICE_LABEL.into(), service.name.clone());
    AlertingRule {
        alert: a.name.clone(),
        expr: a.expr.clone(),
        for_: a.for_,
        labels,
        annotations: BTreeMap::from([
            ("summary".to_string(), a.summary.clone()),
            ("description".to_string(), a.description.clone()),
            ("runbook_url".to_string(), a.runbook_url.clone()),
        ]),
    }
}
