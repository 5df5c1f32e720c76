//! The scenarios every SLO is tested with (a burn at a factor, between page and ticket factors, an outage, a
//! quiet burn, a quiet period, a few failures at low traffic, no data), each with the times at which the
//! model says an alert fires or not.
//!
//! Where Prometheus 2's and 3's range selection put a transition at different steps (3 reads one sample
//! less per window), a check sits where both agree: a "not firing" check before the earlier of the two, a
//! "firing" check after the later.

use std::borrow::Cow;
use std::ops::{Add as _, Div as _, Mul as _};

use super::cases::SloCase;
use super::series::Spelling;
use super::traffic::{Range, RANGES};
use super::{alert_tests, dur, Checks, ExpAlert, PairKey, TestGroup};
use crate::model::{promql, BurnRateAlert, Exact, Severity};

/// Steady burns sit this far above a factor (`26/25`, 4%) or below one (`25/26`): far enough from the
/// threshold for floating point, close enough that a changed factor moves the firing time past a check.
const ABOVE: Exact = Exact::new(26, 25);
/// See [`ABOVE`].
const BELOW: Exact = Exact::new(25, 26);
/// The quiet burn, as a share of the lowest factor (or of 1 when every factor is above it).
const QUIET: Exact = Exact::new(9, 10);
/// A stretch without any request, long enough to empty every short window and more than the 15 minutes a
/// service may well sit idle at night.
const QUIET_PERIOD: u64 = 1_200;

/// The error ratio of a stretch of steps.
#[derive(Debug, Clone, Copy)]
pub(super) enum Burn {
    /// No bad events.
    Good,
    /// This share of events bad.
    Ratio(Exact),
    /// Every event bad.
    Outage,
    /// No events at all.
    Idle,
    /// This many events, every one of them bad.
    Failures(u64),
}

/// What the model says of an alert at a time; checked against the replay before it is written.
#[derive(Debug, Clone)]
pub(super) enum Claim {
    /// Burn-rate pair `pair` (index into the SLO's alerts) is or is not firing.
    Pair { pair: usize, firing: bool },
    /// No burn-rate alert fires.
    NoBurn,
    /// Tickets fire, pages do not.
    TicketsOnly,
    /// No page fires.
    NoPage,
    /// The absent alert does not fire: the SLI has data.
    Present,
}

/// One SLO's part in a test: its burn stretches (the last one lasts to the end), checks at seconds, the
/// queries that must each return one sample of value 1 at a time, how its bucket series write `le`, and
/// steps without events.
pub(super) struct Plan {
    pub(super) phases: Vec<(u64, Burn)>,
    pub(super) checks: Vec<(u64, Claim)>,
    pub(super) expressions: Vec<(u64, String)>,
    pub(super) spelling: Spelling,
    /// Steps without any event, whatever the phase.
    pub(super) idle: Vec<u64>,
}

impl Plan {
    /// A plan with no expression checks, its buckets spelled as Prometheus 3 stores them.
    pub(super) fn new(phases: Vec<(u64, Burn)>, checks: Vec<(u64, Claim)>) -> Plan {
        Plan {
            phases,
            checks,
            expressions: Vec::new(),
            spelling: Spelling::Prometheus3,
            idle: Vec::new(),
        }
    }
}

/// Seconds of a `window` whose increments a range selector reads, on a grid of `g`: all of them under
/// Prometheus 2, one interval less under 3.
fn span(window: u64, g: u64, range: Range) -> Exact {
    Exact::int(range.reach(window, g) * g)
}

/// The earliest and the latest of a time under both range semantics.
fn earliest_latest(time: impl Fn(Range) -> Exact) -> (Exact, Exact) {
    let [a, b] = RANGES.map(time);
    if a.cmp_value(b).is_le() {
        (a, b)
    } else {
        (b, a)
    }
}

/// Seconds `x` rounded down to the evaluation grid.
pub(super) fn floor_to(x: Exact, g: u64) -> u64 {
    (x.div(Exact::int(g)).floor() as u64) * g
}

/// The last grid point strictly before `x`.
pub(super) fn before(x: Exact, g: u64) -> u64 {
    let down = floor_to(x, g);
    if Exact::int(down).cmp_value(x).is_eq() {
        down.saturating_sub(g)
    } else {
        down
    }
}

/// Seconds `x` rounded up to the grid.
pub(super) fn ceil_to(x: Exact, g: u64) -> u64 {
    let down = floor_to(x, g);
    if Exact::int(down).cmp_value(x).is_lt() {
        down + g
    } else {
        down
    }
}

/// The smaller of two values.
pub(super) fn min(a: Exact, b: Exact) -> Exact {
    if a.cmp_value(b).is_le() {
        a
    } else {
        b
    }
}

/// A burn just above pair `key`'s factor from a clean history: it fires by `long × factor / burn + for` plus
/// one interval after the burn starts (the model's `time_to_fire_at_factor` less `for`, scaled by factor over
/// burn), and not one interval before.
pub(super) fn at_factor(case: &SloCase, key: &PairKey, g: u64) -> Option<(String, Plan)> {
    let pair = case
        .slo
        .burn_rate_alerts
        .iter()
        .position(|a| PairKey::of(a) == *key)?;
    let a = &case.slo.burn_rate_alerts[pair];
    // Just above the threshold, but never at or above a ratio of 1.
    let over = min(
        ABOVE,
        Exact::int(1)
            .add(a.threshold)
            .div(a.threshold.mul(Exact::int(2))),
    );
    let burn = a.factor.mul(over);
    let ratio = a.threshold.mul(over);
    let for_ = Exact::int(a.for_.seconds);
    let long = a.time_to_fire_at_factor.checked_sub(for_)?;
    let (first, last) =
        earliest_latest(|range| span(a.long.seconds, g, range).mul(a.factor).div(burn));
    // Clean history just long enough that the long window is full of it and the burn when the ratio crosses.
    let start = ceil_to(long.checked_sub(last)?, g);
    let quiet_until = start + a.for_.seconds + before(first, g);
    // Checked once the long window holds only the burn, under both semantics: the alert's value, which its
    // annotations print, is then the burn's ratio whichever samples a range reads.
    let steady = start + Range::LeftClosed.reach(a.long.seconds, g) * g;
    let fired_by = steady.max(start + floor_to(last.add(for_).add(Exact::int(g)), g));
    let name = format!(
        "{}: a burn of {over} times its factor from {} fires it by {}, not at {}",
        key.describe(),
        dur(start),
        dur(fired_by),
        dur(quiet_until)
    );
    Some((
        name,
        Plan::new(
            vec![(start / g, Burn::Good), (0, Burn::Ratio(ratio))],
            vec![
                (
                    quiet_until,
                    Claim::Pair {
                        pair,
                        firing: false,
                    },
                ),
                (fired_by, Claim::Pair { pair, firing: true }),
                (fired_by, Claim::Present),
            ],
        ),
    ))
}

/// The error ratio of a steady burn just below the lowest page factor and, when the SLO has a ticket with a
/// lower factor, above the highest such ticket factor; with the tickets it should fire.
pub(super) fn between(case: &SloCase) -> Option<(Exact, Vec<usize>)> {
    let alerts = &case.slo.burn_rate_alerts;
    let lowest_page = alerts
        .iter()
        .filter(|a| a.severity == Severity::Page)
        .map(|a| a.threshold)
        .reduce(min);
    let tickets: Vec<usize> = (0..alerts.len())
        .filter(|&i| {
            alerts[i].severity == Severity::Ticket
                && lowest_page.is_none_or(|p| alerts[i].threshold.cmp_value(p).is_lt())
        })
        .collect();
    let highest_ticket = tickets.iter().map(|&i| alerts[i].threshold).reduce(|a, b| {
        if a.cmp_value(b).is_ge() {
            a
        } else {
            b
        }
    });
    let ratio = match (lowest_page, highest_ticket) {
        (Some(page), Some(ticket)) if page.mul(BELOW).cmp_value(ticket).is_le() => {
            page.add(ticket).div(Exact::int(2))
        }
        (Some(page), _) => page.mul(BELOW),
        (None, Some(ticket)) => min(
            ticket.mul(ABOVE),
            Exact::int(1).add(ticket).div(Exact::int(2)),
        ),
        (None, None) => return None,
    };
    Some((ratio, tickets))
}

/// That steady burn fires no page: checked once the longest page `for` has passed, in a file whose interval
/// samples every page window.
pub(super) fn below_pages(case: &SloCase, g: u64) -> Option<(String, Plan)> {
    let longest_for = case
        .slo
        .burn_rate_alerts
        .iter()
        .filter(|a| a.severity == Severity::Page)
        .map(|a| a.for_.seconds)
        .max()?;
    let (ratio, _) = between(case)?;
    let at = ceil_to(Exact::int(g + longest_for), g) + g;
    Some((
        "a steady burn just below the lowest page factor fires no page".into(),
        Plan::new(
            vec![(0, Burn::Ratio(ratio))],
            vec![(at, Claim::NoPage), (at, Claim::Present)],
        ),
    ))
}

/// The same burn fires the ticket with the shortest `for` among those with a lower factor, and no page, in
/// that ticket's file.
pub(super) fn above_tickets(case: &SloCase, g: u64) -> Option<(String, Plan)> {
    let (ratio, tickets) = between(case)?;
    let alerts = &case.slo.burn_rate_alerts;
    let pair = tickets.into_iter().min_by_key(|&i| alerts[i].for_)?;
    if PairKey::of(&alerts[pair]).grid() != g {
        return None;
    }
    let at = ceil_to(Exact::int(g + alerts[pair].for_.seconds), g) + g;
    Some((
        format!(
            "{}: a steady burn below every page factor and above its factor fires it, and no page",
            PairKey::of(&alerts[pair]).describe()
        ),
        Plan::new(
            vec![(0, Burn::Ratio(ratio))],
            vec![
                (at, Claim::Pair { pair, firing: true }),
                (at, Claim::TicketsOnly),
                (at, Claim::Present),
            ],
        ),
    ))
}

/// A full outage after a clean long window: the fastest page (or ticket) fires by `time_to_fire_full_outage`
/// and not one interval before; the outage lasts until then and at least one short window, and once it stops
/// the alert still fires just before `reset_time` and has resolved one interval after it.
pub(super) fn outage(case: &SloCase, g: u64) -> Option<(String, Plan)> {
    let pair = case.outage_pair()?;
    let a = &case.slo.burn_rate_alerts[pair];
    if PairKey::of(a).grid() != g {
        return None;
    }
    let start = ceil_to(Exact::int(a.long.seconds), g);
    let for_ = Exact::int(a.for_.seconds);
    // An idle step where the long window of a "firing" check starts makes both semantics read the same
    // increments there, so the alert's value is the same; it can shorten a window by one more interval.
    let (first, last) = earliest_latest(|range| a.threshold.mul(span(a.long.seconds, g, range)));
    let first = first.checked_sub(a.threshold.mul(Exact::int(g)))?;
    let quiet_until = start + a.for_.seconds + before(first, g);
    let fired_by = start + floor_to(last.add(for_).add(Exact::int(g)), g);
    let stop = fired_by.max(start + ceil_to(Exact::int(a.short.seconds), g));
    let one_minus = Exact::int(1).checked_sub(a.threshold)?;
    let (first_reset, last_reset) =
        earliest_latest(|range| one_minus.mul(span(a.short.seconds, g, range)));
    let still = stop + before(first_reset, g);
    let resolved = stop + floor_to(last_reset.add(Exact::int(g)), g);
    let reach = Range::LeftClosed.reach(a.long.seconds, g);
    let idle = [fired_by, still]
        .iter()
        .filter_map(|at| (at / g + 1).checked_sub(reach).filter(|s| *s > 0))
        .collect();
    let name = format!(
        "{}: a full outage from {} fires it by its time to fire on a full outage; once the outage stops, it \
         resolves within its reset time",
        PairKey::of(a).describe(),
        dur(start),
    );
    Some((
        name,
        Plan {
            spelling: Spelling::GoClient,
            expressions: Vec::new(),
            idle,
            phases: vec![
                (start / g, Burn::Good),
                ((stop - start) / g, Burn::Outage),
                (0, Burn::Good),
            ],
            checks: vec![
                (
                    quiet_until,
                    Claim::Pair {
                        pair,
                        firing: false,
                    },
                ),
                (fired_by, Claim::Pair { pair, firing: true }),
                (still, Claim::Pair { pair, firing: true }),
                (
                    resolved,
                    Claim::Pair {
                        pair,
                        firing: false,
                    },
                ),
                (resolved, Claim::Present),
            ],
        },
    ))
}

/// A steady burn below 1 and below every factor: nothing fires, checked when each pair would have fired had
/// its windows been over the threshold and at the end, after the longest window, `for` and short window.
pub(super) fn quiet(case: &SloCase, g: u64) -> Option<(String, Plan)> {
    let alerts = &case.slo.burn_rate_alerts;
    let lowest = alerts.iter().map(|a| a.factor).fold(Exact::int(1), min);
    let burn = lowest.mul(QUIET);
    let ratio = burn.mul(case.slo.budget.ratio);
    let longest = |f: fn(&BurnRateAlert) -> u64| alerts.iter().map(f).max().unwrap_or(0);
    let end = ceil_to(
        Exact::int(
            longest(|a| a.long.seconds)
                + longest(|a| a.for_.seconds)
                + longest(|a| a.short.seconds),
        ),
        g,
    ) + g;
    let mut checks: Vec<(u64, Claim)> = alerts
        .iter()
        .map(|a| {
            (
                ceil_to(Exact::int(g + a.long.seconds + a.for_.seconds), g),
                Claim::NoBurn,
            )
        })
        .collect();
    checks.push((end, Claim::NoBurn));
    checks.push((end, Claim::Present));
    let name = "a steady burn below 1 and below every factor fires nothing for longer than the longest window"
        .to_string();
    Some((name, Plan::new(vec![(0, Burn::Ratio(ratio))], checks)))
}

/// Traffic, then a quiet period without a single request, then traffic again: as soon as traffic resumes, the
/// SLO window's error ratio, the budget left and both burn rates are numbers (an average poisoned by one
/// 0/0 would stay NaN for the whole SLO window). Only in the finest file: the records read the shortest
/// window, which holds at least two of its samples. Not for an SLI without an event count (`raw`): its SLO
/// window's ratio averages its query's ratios, as Sloth's does, and a query of 0/0 poisons that average.
pub(super) fn quiet_period(case: &SloCase, g: u64) -> Option<(String, Plan)> {
    if !case.slo.sli.counts_events() {
        return None;
    }
    let rules = &case.slo.rules;
    let shortest = rules.sli_records.first()?.window;
    if Range::LeftOpen.reach(shortest.seconds, g) == 0 || shortest.seconds >= QUIET_PERIOD {
        return None;
    }
    let steps = QUIET_PERIOD.div_ceil(g);
    let resumed = (2 * steps + 1) * g;
    let period = rules.sli_record(case.slo.window.duration())?;
    let watched = [
        crate::conventions::CURRENT_BURN_RATE_RECORD,
        crate::conventions::PERIOD_BURN_RATE_RECORD,
        crate::conventions::PERIOD_BUDGET_REMAINING_RECORD,
    ];
    let expressions = std::iter::once(&period.rule)
        .chain(
            rules
                .meta_records
                .iter()
                .filter(|r| watched.contains(&r.record.as_str())),
        )
        .map(|r| (resumed, promql::count_numbers(r)))
        .collect();
    Some((
        format!(
            "{} without requests: the SLO window's SLI, budget left and burn rates are numbers again once traffic resumes",
            dur(steps * g)
        ),
        Plan {
            phases: vec![(steps, Burn::Good), (steps, Burn::Idle), (0, Burn::Good)],
            checks: vec![(resumed, Claim::NoBurn), (resumed, Claim::Present)],
            expressions,
            spelling: Spelling::Prometheus3,
            idle: Vec::new(),
        },
    ))
}

/// At low traffic, the fastest page's guard: a handful of failures, every request failing but fewer than its
/// `min_events` in its long window (under both range semantics, after `increase()` extrapolates), pages no
/// one; once they have left the window, `min_events` failures page.
pub(super) fn low_traffic(case: &SloCase, g: u64) -> Option<(String, Plan)> {
    let pair = case.outage_pair()?;
    let a = &case.slo.burn_rate_alerts[pair];
    if PairKey::of(a).grid() != g || a.min_events < 2 {
        return None;
    }
    let long = Range::LeftClosed.reach(a.long.seconds, g);
    let long_open = Range::LeftOpen.reach(a.long.seconds, g);
    let short_open = Range::LeftOpen.reach(a.short.seconds, g);
    let wait = a.for_.seconds.div_ceil(g);
    if long_open == 0 || wait >= short_open {
        return None;
    }
    // Prometheus 3 reads `long_open` increments and extrapolates them over `long_open + 1` intervals.
    let few = (a.min_events.checked_mul(long_open)? - 1) / (long_open + 1);
    if few == 0 {
        return None;
    }
    let first = long + 1;
    let second = first + long + 1;
    let (quiet_at, fired_at) = ((first + wait) * g, (second + wait) * g);
    Some((
        format!(
            "{}: {few} failures in {} (under its min_events of {}) page no one; {} failures page",
            PairKey::of(a).describe(),
            a.long.promql(),
            a.min_events,
            a.min_events
        ),
        Plan::new(
            vec![
                (first - 1, Burn::Idle),
                (1, Burn::Failures(few)),
                (second - first - 1, Burn::Idle),
                (1, Burn::Failures(a.min_events)),
                (0, Burn::Idle),
            ],
            vec![
                (quiet_at, Claim::NoPage),
                (fired_at, Claim::Pair { pair, firing: true }),
                (fired_at, Claim::Present),
            ],
        ),
    ))
}

/// No series at all: every absent alert fires once its `for` has passed, not one interval before, and no
/// burn-rate alert fires.
pub(super) fn no_data<'c>(cases: &'c [SloCase], g: u64) -> TestGroup<'c> {
    let mut tests = Checks::new();
    for c in cases {
        let fires = ceil_to(Exact::int(c.absent_for.seconds), g);
        if fires >= g {
            tests.entry((fires - g, &c.absent_alert)).or_default();
        }
        let absent = ExpAlert {
            exp_labels: &c.absent_labels,
            exp_annotations: Cow::Borrowed(&c.absent_annotations),
        };
        // SLOs may share an alert name: each adds its alerts to the name's expected ones.
        tests
            .entry((fires, &c.absent_alert))
            .or_default()
            .push(absent);
        tests.entry((fires, &c.burn_alert)).or_default();
    }
    TestGroup {
        name: "no data: every SLI's absent alert fires after its `for`, no burn-rate alert fires"
            .into(),
        interval: dur(g),
        input_series: Vec::new(),
        alert_rule_test: alert_tests(tests),
        promql_expr_test: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_to_the_grid() {
        let x = Exact::new(3_461_538, 1_000); // 3461.538 s
        assert_eq!(floor_to(x, 60), 3_420);
        assert_eq!(before(x, 60), 3_420);
        assert_eq!(ceil_to(x, 60), 3_480);
        assert_eq!(before(Exact::int(120), 60), 60);
        assert_eq!(ceil_to(Exact::int(120), 60), 120);
    }
}
