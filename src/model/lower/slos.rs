//! `[slos]`: SLIs and their selectors, objectives, windows, error budgets and burn-rate alerts.

use std::ops::{Add as _, Div as _, Mul as _};

use super::service::BurnRateWindow;
use super::*;

/// The smallest error-ratio threshold of a burn-rate alert: one bad event in 10⁸.
///
/// Below it an alert fires on a single error in any realistic window, and the float64 ratio Prometheus
/// evaluates is close to its rounding; it also bounds the exact arithmetic and the generated rule tests.
const MIN_THRESHOLD: Exact = Exact::new(1, 100_000_000);

/// The SLO window when a spec sets none.
pub(crate) const DEFAULT_SLO_WINDOW: Duration = Duration {
    seconds: 30 * 86_400,
};

/// The longest SLO window: a year, leap or not.
pub(super) const MAX_SLO_WINDOW: Duration = Duration {
    seconds: 366 * 86_400,
};

impl Lowering<'_> {
    pub(super) fn lower_slo(
        &mut self,
        file: usize,
        declared: &Declared,
        service_tier: &str,
        (policy, check_window): (&[BurnRateWindow], bool),
        name: &Name,
        spec: &spec::SloSpec,
    ) -> Option<Slo> {
        let service = declared.service();
        let n = name.get_ref();
        let mut ok = true;
        if spec.description.get_ref().trim().is_empty() {
            self.error(
                file,
                spec.description.span(),
                format!("SLO `{n}` has an empty description"),
                "description",
                "say in one sentence what users get, e.g. \"Requests succeed.\"",
            );
            ok = false;
        }
        if !conventions::is_snake_case(n) {
            self.error(
                file,
                name.span(),
                format!("invalid SLO name `{n}`"),
                "not snake_case",
                "use lower-case letters, digits and single underscores, e.g. `api_availability`",
            );
            ok = false;
        }
        let tier_name = match &spec.tier {
            Some(t) => {
                self.known_tier(file, t);
                t.get_ref().clone()
            }
            None => service_tier.to_string(),
        };
        // An unknown or broken tier is reported once, where it is named; the rest of the SLO is still checked.
        let tier = self.tiers.get(&tier_name).map(|(_, _, t)| t.clone());
        let objective = match &spec.objective {
            Some(o) => self.objective(file, o),
            None => tier.as_ref().map(|t| t.objective),
        };
        let longest = policy
            .iter()
            .map(|w| w.long)
            .max()
            .filter(|_| check_window)
            .unwrap_or(Duration { seconds: 0 });
        let window = self.slo_window(file, name, spec.window.as_ref(), longest);
        let min_events = spec
            .min_events
            .as_ref()
            .map(|m| *m.get_ref())
            .or(tier.as_ref().and_then(|t| t.min_events));
        if let (Some(_), Some(m)) = (&spec.raw, &spec.min_events) {
            self.error(
                file,
                m.span(),
                format!("`min_events` on SLO `{n}`, whose `raw` SLI counts no events"),
                "no event count to compare with",
                "remove `min_events`: a raw SLI's alerts have no low-traffic guard (a tier's `min_events` does \
                 not apply to it either); an `events` SLI has one",
            );
            ok = false;
        }
        let sli = self.lower_sli(file, declared, name, spec, min_events != Some(0));
        let alerting = self.slo_alerting(file, service, name, &spec.alerting);
        let (Some(tier), Some(objective), Some(window), Some(sli), Some(alerting)) =
            (tier, objective, window, sli, alerting)
        else {
            return None;
        };
        let ratio = objective.div(Exact::int(100));
        let budget_ratio = Exact::int(1).checked_sub(ratio)?;
        let window_seconds = Exact::int(window.seconds);
        let budget = ErrorBudget {
            ratio: budget_ratio,
            minutes: window_seconds.div(Exact::int(60)).mul(budget_ratio),
        };
        let budget_exhausted = self.budget_exhausted(file, n, &spec.alerting);
        let page = spec.alerting.page.unwrap_or(tier.page);
        let ticket = spec.alerting.ticket.unwrap_or(tier.ticket);
        let mut burn_rate_alerts = Vec::new();
        for &BurnRateWindow {
            severity,
            long,
            short,
            budget_share,
            for_,
        } in policy
        {
            if (severity == Severity::Page && !page) || (severity == Severity::Ticket && !ticket) {
                continue;
            }
            let factor = budget_share
                .mul(window_seconds)
                .div(Exact::int(long.seconds));
            let threshold = factor.mul(budget_ratio);
            let objective_span = || {
                spec.objective
                    .as_ref()
                    .map(|o| o.span())
                    .unwrap_or(name.span())
            };
            let severity_name = conventions::severity_name(severity);
            if threshold.cmp_value(Exact::int(1)) != std::cmp::Ordering::Less {
                self.error(
                    file,
                    objective_span(),
                    format!(
                        "objective {objective}% is too low for the {severity_name} alert over {}",
                        long.promql()
                    ),
                    format!(
                        "its error-ratio threshold would be {threshold}, which no ratio exceeds"
                    ),
                    format!("raise the objective, or set `alerting.{severity_name} = false`"),
                );
                ok = false;
                continue;
            }
            if threshold.cmp_value(MIN_THRESHOLD).is_lt() {
                self.error(
                    file,
                    objective_span(),
                    format!(
                        "objective {objective}% is too high for the {severity_name} alert over {}",
                        long.promql()
                    ),
                    format!("its error-ratio threshold would be {threshold}, below {MIN_THRESHOLD}"),
                    format!(
                        "below one bad event in 10^8 an alert fires on a single error, and Prometheus's float64 \
                         evaluation of the ratio is at its rounding noise; lower the objective, raise this \
                         window's `budget_percent`, or set `alerting.{severity_name} = false`"
                    ),
                );
                ok = false;
                continue;
            }
            let one_minus = Exact::int(1).checked_sub(threshold)?;
            let min_events = if sli.counts_events() {
                min_events.unwrap_or_else(|| single_failure_guard(threshold))
            } else {
                0
            };
            burn_rate_alerts.push(BurnRateAlert {
                severity,
                long,
                short,
                budget_share,
                factor,
                threshold,
                for_,
                min_events,
                time_to_fire_full_outage: threshold
                    .mul(Exact::int(long.seconds))
                    .add(Exact::int(for_.seconds)),
                time_to_fire_at_factor: Exact::int(long.seconds + for_.seconds),
                reset_time: one_minus.mul(Exact::int(short.seconds)),
            });
        }
        ok.then(|| Slo {
            name: n.clone(),
            id: conventions::slo_id(&service.name, n),
            description: spec.description.get_ref().clone(),
            tier: tier_name,
            objective,
            objective_ratio: ratio,
            window,
            sli,
            budget,
            burn_rate_alerts,
            burn_alert: alerting.burn_alert,
            alert_labels: alerting.labels,
            alert_annotations: alerting.annotations,
            page_extras: alerting.page,
            ticket_extras: alerting.ticket,
            runbook_url: alerting.runbook_url,
            budget_exhausted,
            rules: SloRules::default(),
        })
    }

    /// The severity of the SLO's budget-exhausted alert, `None` when it has none; a severity set without
    /// the alert is reported, since it would silently do nothing.
    fn budget_exhausted(
        &mut self,
        file: usize,
        slo: &str,
        alerting: &spec::SloAlertingSpec,
    ) -> Option<Severity> {
        let on = alerting
            .budget_exhausted
            .as_ref()
            .is_some_and(|on| *on.get_ref());
        match (&alerting.budget_exhausted_severity, on) {
            (Some(severity), true) => Some(*severity.get_ref()),
            (None, true) => Some(Severity::Ticket),
            (Some(severity), false) => {
                self.error(
                    file,
                    severity.span(),
                    format!("SLO `{slo}` sets `budget_exhausted_severity` without the alert"),
                    "has no effect",
                    "add `budget_exhausted = true` to alert once the error budget is spent, or remove this line",
                );
                None
            }
            (None, false) => None,
        }
    }

    /// The SLO's window, checked against the longest alert window; `None` after reporting a problem.
    fn slo_window(
        &mut self,
        file: usize,
        name: &Name,
        window: Option<&Spanned<String>>,
        longest: Duration,
    ) -> Option<SloWindow> {
        let n = name.get_ref();
        let window = match window {
            None => {
                let window = SloWindow {
                    seconds: DEFAULT_SLO_WINDOW.seconds,
                };
                if window.duration() < longest {
                    self.error(file, name.span(), format!("SLO `{n}` has the default {} window, shorter than its longest alert window `{}`", DEFAULT_SLO_WINDOW.promql(), longest.promql()), "default window", format!("set `window` to at least `{}`, or shorten the service's `alert_windows`", longest.promql()));
                    return None;
                }
                window
            }
            Some(w) => match Duration::parse(w.get_ref()) {
                Some(d) if d >= longest && d.seconds > 0 && d <= MAX_SLO_WINDOW => {
                    SloWindow { seconds: d.seconds }
                }
                Some(_) => {
                    self.error(file, w.span(), format!("SLO window `{}` is out of range", w.get_ref()), "window", format!("use a window from {} (the longest alert window) to {}; 28d or 30d are usual", longest.promql(), MAX_SLO_WINDOW.promql()));
                    return None;
                }
                None => {
                    self.error(
                        file,
                        w.span(),
                        format!("invalid SLO window `{}`", w.get_ref()),
                        "not a duration",
                        "write a whole number and one unit, e.g. `30d`, `28d`, `4w` or `12h`",
                    );
                    return None;
                }
            },
        };
        Some(window)
    }

    /// The SLO's SLI: a ratio of counters, a latency histogram or a query SLI; `None` after reporting
    /// problems. `guarded` says whether its alerts count events for `min_events`.
    fn lower_sli(
        &mut self,
        file: usize,
        declared: &Declared,
        name: &Name,
        spec: &spec::SloSpec,
        guarded: bool,
    ) -> Option<Sli> {
        let service = declared.service();
        let n = name.get_ref();
        let sli = match (&spec.ratio, &spec.latency, &spec.events, &spec.raw) {
            (Some(r), None, None, None) => {
                let errors = self.selector(
                    file,
                    service,
                    &r.errors.metric,
                    &r.errors.matchers,
                    MetricKind::Counter,
                    "the `errors` selector",
                );
                let total = self.selector(
                    file,
                    service,
                    &r.total.metric,
                    &r.total.matchers,
                    MetricKind::Counter,
                    "the `total` selector",
                );
                let (errors, total) = (errors?, total?);
                if errors_cover_total(service, &errors, &total) {
                    self.error(file, r.errors.metric.span(), format!("the `errors` selector of SLO `{n}` matches every event `total` does"), "no event could be good", "match only the bad events in `errors`, e.g. `match = { status = [\"5xx\"] }`");
                    return None;
                }
                Sli::Ratio { errors, total }
            }
            (None, Some(l), None, None) => {
                let histogram = self.selector(
                    file,
                    service,
                    &l.metric,
                    &l.matchers,
                    MetricKind::Histogram,
                    "the latency SLI",
                )?;
                let buckets = &service.find_metric(&histogram.metric)?.buckets;
                let threshold = *l.threshold.get_ref();
                if !buckets.contains(&threshold) {
                    let below = buckets.iter().rev().find(|b| **b < threshold);
                    let above = buckets.iter().find(|b| **b > threshold);
                    let nearest: Vec<String> = below
                        .into_iter()
                        .chain(above)
                        .map(|b| b.to_string())
                        .collect();
                    self.error(file, l.threshold.span(), format!("latency threshold {threshold} is not a bucket boundary of `{}`", histogram.metric), "no bucket ends here", format!("the SLI counts whole buckets: use a boundary ({}), or add {threshold} to the histogram's buckets", if nearest.is_empty() { "none".into() } else { format!("nearest: {}", nearest.join(", ")) }));
                    return None;
                }
                Sli::Latency {
                    histogram,
                    threshold,
                    le: crate::model::bounds::le_spellings(threshold),
                }
            }
            (None, None, Some(e), None) => self.lower_events(file, declared, e, guarded)?,
            (None, None, None, Some(r)) => self.lower_raw(file, declared, r)?,
            _ => {
                self.error(file, name.span(), format!("SLO `{n}` needs exactly one of `ratio`, `latency`, `events` and `raw`"), "which SLI?", "add one `[slos.<name>.ratio]` table with `errors` and `total`, `[slos.<name>.latency]` with `metric` and `threshold`, `[slos.<name>.events]` with `errors` and `total` queries, or `[slos.<name>.raw]` with an `error_ratio` query");
                return None;
            }
        };
        Some(sli)
    }
}

/// True when every series `total` selects is an error too, so the SLI could never be below 1.
fn errors_cover_total(service: &Service, errors: &Selector, total: &Selector) -> bool {
    errors.metric == total.metric
        && errors.matchers.iter().all(|(label, bad)| {
            let closed = match service.label_defs.get(label).map(|l| &l.values) {
                Some(LabelValues::Closed(values)) => Some(values),
                _ => None,
            };
            // Whether every value `all` keeps is bad; unknown (a regex, an open label) is not covered.
            match (bad, total.matchers.get(label)) {
                (bad, Some(all)) if bad == all => true,
                (LabelMatch::Values(bad), Some(LabelMatch::Values(all))) => {
                    all.iter().all(|v| bad.contains(v))
                }
                (LabelMatch::Values(bad), None) => {
                    closed.is_some_and(|values| values.iter().all(|v| bad.contains(&v.value)))
                }
                (LabelMatch::Not(dropped), None) => {
                    closed.is_some_and(|values| values.iter().all(|v| !dropped.contains(&v.value)))
                }
                _ => false,
            }
        })
}

/// The default low-traffic guard of an alert: the fewest events for which one bad event alone keeps the
/// error ratio at or under `threshold` (`ceil(1 / threshold)`), so a single failure never fires it.
fn single_failure_guard(threshold: Exact) -> u64 {
    let events = Exact::int(1) / threshold;
    let whole = events.floor();
    let whole = if Exact::new(whole, 1).cmp_value(events).is_lt() {
        whole + 1
    } else {
        whole
    };
    u64::try_from(whole).unwrap_or(u64::MAX)
}
