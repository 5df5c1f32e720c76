//! One SLO's test case: its fed series, the queries they must match, and its alerts as the model's rules
//! describe them when they fire.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};

use super::series::{feeds, Feed, Query, Spelling, Uses};
use super::traffic::Range;
use crate::model::template::{self, Piece};
use crate::model::{Duration, Service, Severity, Slo};

/// What is expected of one burn-rate alert when it fires.
#[derive(Debug, Clone)]
pub(super) struct PairRule {
    /// The threshold as the rule prints it, which is what Prometheus compares with.
    pub(super) threshold: f64,
    pub(super) labels: BTreeMap<String, String>,
    pub(super) annotations: BTreeMap<String, Vec<Piece>>,
}

/// What is expected of an SLO's budget-exhausted alert when it fires, and what its replay reads.
pub(super) struct ExhaustedRule {
    pub(super) alert: String,
    pub(super) labels: BTreeMap<String, String>,
    /// Rendered: they print no value.
    pub(super) annotations: BTreeMap<String, String>,
    pub(super) for_: Duration,
    /// The error budget as `slo:error_budget:ratio` prints it, which the budget left divides by.
    pub(super) budget: f64,
    /// The SLO window in seconds.
    pub(super) window: u64,
    /// The window whose event rates the SLO window's ratio sums; `None` when the SLO window's ratio is
    /// recorded from the raw series like the alert windows'.
    pub(super) summed_from: Option<u64>,
}

/// One SLO with everything its tests need: feeds, the queries they must (and other SLOs' feeds must not)
/// match, and the alerts as the rules file renders them.
pub(super) struct SloCase<'a> {
    pub(super) slo: &'a Slo,
    pub(super) feeds: Vec<Feed>,
    /// Each feed's series selector, as the input series print it, in each `le` spelling.
    pub(super) series: [Vec<String>; 2],
    pub(super) queries: Vec<Query>,
    pub(super) burn_alert: String,
    pub(super) absent_alert: String,
    pub(super) pairs: Vec<PairRule>,
    pub(super) absent_labels: BTreeMap<String, String>,
    pub(super) absent_annotations: BTreeMap<String, String>,
    pub(super) absent_for: Duration,
    pub(super) exhausted: Option<ExhaustedRule>,
    /// The longest SLI window recorded: counters start high enough that `rate()` never extrapolates to zero.
    pub(super) longest_window: Duration,
}

impl<'a> SloCase<'a> {
    pub(super) fn new(
        service: &Service,
        slo: &'a Slo,
        queries: Vec<Query>,
        uses: &Uses,
    ) -> Result<SloCase<'a>> {
        let rules = &slo.rules;
        let pairs = slo
            .burn_rate_alerts
            .iter()
            .zip(&rules.burn_alerts)
            .map(|(a, generated)| {
                Ok(PairRule {
                    threshold: a
                        .threshold
                        .to_string()
                        .parse()
                        .context("a printed threshold")?,
                    labels: generated.firing_labels.clone(),
                    annotations: parse_annotations(slo, &generated.rule.annotations)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let absent = &rules.absent_alert;
        let exhausted = match &rules.exhausted_alert {
            Some(generated) => Some(ExhaustedRule {
                alert: generated.rule.alert.clone(),
                labels: generated.firing_labels.clone(),
                annotations: render(&parse_annotations(slo, &generated.rule.annotations)?, 0.0),
                for_: generated.rule.for_,
                budget: slo
                    .budget
                    .ratio
                    .to_string()
                    .parse()
                    .context("a printed budget")?,
                window: slo.window.seconds,
                summed_from: rules
                    .period_record
                    .as_ref()
                    .map(|_| rules.sli_records[0].window.seconds),
            }),
            None => None,
        };
        let feeds = feeds(service, slo, &queries, uses)?;
        let series = [Spelling::Prometheus3, Spelling::GoClient]
            .map(|spelling| feeds.iter().map(|f| f.series(spelling)).collect());
        Ok(SloCase {
            slo,
            feeds,
            series,
            queries,
            burn_alert: rules.burn_alert.clone(),
            absent_alert: absent.rule.alert.clone(),
            pairs,
            absent_labels: absent.firing_labels.clone(),
            absent_annotations: render(&parse_annotations(slo, &absent.rule.annotations)?, 1.0),
            absent_for: absent.rule.for_,
            exhausted,
            longest_window: rules.longest_window(),
        })
    }

    pub(super) fn conflicts(&self, other: &SloCase) -> bool {
        self.feeds
            .iter()
            .any(|f| other.queries.iter().any(|q| q.selects(f)))
            || other
                .feeds
                .iter()
                .any(|f| self.queries.iter().any(|q| q.selects(f)))
    }

    /// Whether one of the SLO's alerts can fire at interval `g` under one range semantics and not the other:
    /// a window of exactly one interval holds two samples under Prometheus 2 and one (no rate) under 3. Its
    /// alerts would then differ between the majors, so the SLO is tested only in files where they agree.
    pub(super) fn differs_by_range(&self, g: u64) -> bool {
        self.slo.burn_rate_alerts.iter().any(|a| {
            let can_fire = |range: Range| {
                range.reach(a.long.seconds, g) > 0 && range.reach(a.short.seconds, g) > 0
            };
            can_fire(Range::LeftClosed) != can_fire(Range::LeftOpen)
        })
    }

    /// The index of the pair a full outage is tested with: the page (else ticket) that fires first.
    pub(super) fn outage_pair(&self) -> Option<usize> {
        let alerts = &self.slo.burn_rate_alerts;
        let has_page = alerts.iter().any(|a| a.severity == Severity::Page);
        (0..alerts.len())
            .filter(|&i| !has_page || alerts[i].severity == Severity::Page)
            .min_by(|&i, &j| {
                alerts[i]
                    .time_to_fire_full_outage
                    .cmp_value(alerts[j].time_to_fire_full_outage)
            })
    }
}

pub(super) fn parse_annotations(
    slo: &Slo,
    annotations: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Vec<Piece>>> {
    annotations
        .iter()
        .map(|(k, v)| match template::parse(v) {
            Ok(pieces) => Ok((k.clone(), pieces)),
            Err(action) => bail!(
                "{}: annotation {k} uses `{action}`, which the rule tests cannot render",
                slo.id
            ),
        })
        .collect()
}

pub(super) fn render(
    annotations: &BTreeMap<String, Vec<Piece>>,
    value: f64,
) -> BTreeMap<String, String> {
    annotations
        .iter()
        .map(|(k, pieces)| (k.clone(), template::render(pieces, value)))
        .collect()
}
