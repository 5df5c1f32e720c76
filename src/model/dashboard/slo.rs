//! The line of panels of one SLO: its SLI against the objective, the error budget left, and the burn rate
//! against the factors its alerts fire at. All three read the SLO's recorded series.

use super::{at, base, query, sentence, timeseries, Panel, PanelKind, Threshold, Tone};
use crate::conventions::{self as names, sli_error_record, title_words};
use crate::model::promql::slo_matchers;
use crate::model::rules::DISPLAY_WINDOW;
use crate::model::{Exact, Service, Severity, Sli, Slo};

/// Share of the error budget left under which the budget turns yellow: less than half left.
pub(super) const BUDGET_WARNING_BELOW: Exact = Exact::new(1, 2);

/// Share of the error budget left under which the budget turns red: a quarter left is little slack.
pub(super) const BUDGET_CRITICAL_BELOW: Exact = Exact::new(1, 4);

/// The budget's colours: red under a quarter left, yellow under half, green above.
pub(super) fn budget_steps() -> Vec<Threshold> {
    vec![
        base(Tone::Critical),
        at(BUDGET_CRITICAL_BELOW, Tone::Warning),
        at(BUDGET_WARNING_BELOW, Tone::Good),
    ]
}

/// The record holding the SLO's error ratio over its whole window, as the rules write it.
pub(super) fn period_record(slo: &Slo) -> String {
    slo.rules
        .sli_record(slo.window.duration())
        .map(|r| r.rule.record.clone())
        .expect("model invariant: every SLO records the error ratio of its window")
}

/// The line of an SLO: its SLI against the objective, the error budget left, and the burn rate.
pub(super) fn slo_panels(service: &Service, slo: &Slo) -> [Panel; 3] {
    let matchers = slo_matchers(service, slo);
    let window = slo.window.promql();
    let shown = DISPLAY_WINDOW.promql();
    let title = title_words(&slo.name);

    let good = match &slo.sli {
        Sli::Ratio { .. } | Sli::Events { .. } => "Share of good events".to_string(),
        Sli::Raw { .. } => "One minus the error ratio of its query".to_string(),
        Sli::Latency {
            histogram,
            threshold,
            ..
        } => {
            let unit = service
                .metric(&histogram.metric)
                .unit
                .as_deref()
                .map(|u| format!(" {u}"))
                .unwrap_or_default();
            format!("Share of events faster than {threshold}{unit}")
        }
    };
    let sli = timeseries(
        format!("{title}: SLI"),
        format!(
            "{} {good} (SLO `{}`), over the last {shown} and over the whole {window} window; the dashed \
             line is the {}% objective.",
            sentence(&slo.description),
            slo.name,
            slo.objective
        ),
        "percentunit".into(),
        vec![
            query(
                format!("1 - {}{matchers}", sli_error_record(DISPLAY_WINDOW)),
                format!("SLI ({shown})"),
            ),
            query(
                format!("1 - {}{matchers}", period_record(slo)),
                format!("SLI ({window})"),
            ),
        ],
        vec![base(Tone::Critical), at(slo.objective_ratio, Tone::Good)],
        true,
    );

    let budget = Panel {
        kind: PanelKind::Stat,
        title: format!("{title}: error budget left ({window})"),
        description: format!(
            "Share of the {window} error budget ({} minutes of full outage) not spent yet: 100% when nothing \
             failed, 0% when the SLO is exactly met, below zero when it is missed. Red under {}% left, yellow \
             under {}%.",
            slo.budget.minutes,
            BUDGET_CRITICAL_BELOW * Exact::int(100),
            BUDGET_WARNING_BELOW * Exact::int(100),
        ),
        unit: "percentunit".into(),
        queries: vec![query(
            format!("{}{matchers}", names::PERIOD_BUDGET_REMAINING_RECORD),
            "budget left".into(),
        )],
        thresholds: budget_steps(),
    };

    let burn = timeseries(
        format!("{title}: burn rate"),
        format!(
            "How fast the error budget is spent, over the last {shown}: at 1 it lasts exactly the {window} \
             window.{}",
            alerting_text(slo)
        ),
        "short".into(),
        vec![query(
            format!("{}{matchers}", names::CURRENT_BURN_RATE_RECORD),
            format!("burn rate ({shown})"),
        )],
        factor_steps(slo),
        true,
    );
    [sli, budget, burn]
}

/// A step at each burn-rate factor the SLO's alerts fire at, as the model computed them: red where a page
/// fires, orange where only a ticket does.
fn factor_steps(slo: &Slo) -> Vec<Threshold> {
    let mut factors: Vec<(Exact, Severity)> = Vec::new();
    for alert in &slo.burn_rate_alerts {
        match factors
            .iter_mut()
            .find(|(f, _)| f.cmp_value(alert.factor).is_eq())
        {
            Some(existing) => existing.1 = existing.1.min(alert.severity),
            None => factors.push((alert.factor, alert.severity)),
        }
    }
    factors.sort_by(|a, b| a.0.cmp_value(b.0));
    let mut steps = vec![base(Tone::Good)];
    for (factor, severity) in &factors {
        let tone = if *severity == Severity::Page {
            Tone::Critical
        } else {
            Tone::Ticket
        };
        steps.push(at(*factor, tone));
    }
    steps
}

/// Which factors page and which open a ticket, for the burn-rate panel's description.
fn alerting_text(slo: &Slo) -> String {
    let factors_text = |severity: Severity| -> Vec<String> {
        slo.burn_rate_alerts
            .iter()
            .filter(|a| a.severity == severity)
            .map(|a| format!("{} over {}", a.factor, a.long.promql()))
            .collect()
    };
    let (page, ticket) = (factors_text(Severity::Page), factors_text(Severity::Ticket));
    if page.is_empty() && ticket.is_empty() {
        return " This SLO has no burn-rate alerts.".to_string();
    }
    let mut parts = Vec::new();
    if !page.is_empty() {
        parts.push(format!("pages at {}", page.join(" and ")));
    }
    if !ticket.is_empty() {
        parts.push(format!("opens a ticket at {}", ticket.join(" and ")));
    }
    format!(
        " Dashed lines mark the alert factors: it {}.",
        parts.join(", and ")
    )
}
