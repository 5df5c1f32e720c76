//! Turns scenarios into promtool tests: feeds each SLO's series, replays the rules on them to find which
//! alerts fire at each checked time, and fails when the replay contradicts a time the model predicts.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use anyhow::{bail, Context, Result};

use super::cases::{render, SloCase};
use super::scenarios::{Claim, Plan};
use super::series::Spelling;
use super::traffic::{replay, Firing, Range, Sums, Traffic, RANGES, TOLERANCE};
use super::{alert_tests, dur, Checks, ExpAlert, ExprTest, InputSeries, TestGroup};
use crate::model::template::{self, Piece};
use crate::model::Severity;

/// The tests of one scenario: its SLOs go into as few tests as their series allow, each SLO into the first
/// test whose SLOs' queries select none of its series and whose series its queries do not select.
pub(super) fn scenario<'c>(
    cases: &'c [SloCase],
    g: u64,
    plan: impl Fn(&SloCase) -> Option<(String, Plan)>,
) -> Result<Vec<TestGroup<'c>>> {
    let mut lanes: Vec<Lane> = Vec::new();
    for case in cases.iter().filter(|c| !c.differs_by_range(g)) {
        let Some((name, p)) = plan(case) else {
            continue;
        };
        match lanes.iter_mut().find(|lane| lane.admits(case)) {
            Some(lane) => lane.push(case, name, p),
            None => {
                let mut lane = Lane::default();
                lane.push(case, name, p);
                lanes.push(lane);
            }
        }
    }
    lanes
        .iter()
        .map(|lane| test_group(&lane.parts, g))
        .collect()
}

/// The SLOs of one test, with the sample names their queries read and their series write: a query selects a
/// series only of its own name, so only SLOs that share a name with a newcomer can conflict with it.
#[derive(Default)]
pub(super) struct Lane<'c, 's> {
    pub(super) parts: Vec<(&'c SloCase<'s>, String, Plan)>,
    /// Sample name to the parts that query it.
    pub(super) read: HashMap<&'c str, Vec<usize>>,
    /// Sample name to the parts fed a series of it.
    pub(super) written: HashMap<&'c str, Vec<usize>>,
}

impl<'c, 's> Lane<'c, 's> {
    /// Whether `case` conflicts with none of the lane's SLOs, and shares no alert name with one (SLOs may
    /// share a burn-rate alert name, and a check of one would not expect the other's alerts).
    pub(super) fn admits(&self, case: &SloCase) -> bool {
        let names = |c: &SloCase| [c.burn_alert.clone(), c.absent_alert.clone()];
        if self
            .parts
            .iter()
            .any(|(other, _, _)| names(other).iter().any(|n| names(case).contains(n)))
        {
            return false;
        }
        let mut sharing: Vec<usize> = case
            .feeds
            .iter()
            .filter_map(|f| self.read.get(f.name.as_str()))
            .chain(
                case.queries
                    .iter()
                    .filter_map(|q| self.written.get(q.name.as_str())),
            )
            .flatten()
            .copied()
            .collect();
        sharing.sort_unstable();
        sharing.dedup();
        sharing.iter().all(|&i| !case.conflicts(self.parts[i].0))
    }

    pub(super) fn push(&mut self, case: &'c SloCase<'s>, name: String, plan: Plan) {
        let i = self.parts.len();
        for q in &case.queries {
            self.read.entry(&q.name).or_default().push(i);
        }
        for f in &case.feeds {
            self.written.entry(&f.name).or_default().push(i);
        }
        self.parts.push((case, name, plan));
    }
}

/// Feeds every part's SLO, replays the rules, checks the model's claims against the replay and writes the
/// replay's firing alerts at each checked time.
pub(super) fn test_group<'c>(
    parts: &[(&'c SloCase, String, Plan)],
    g: u64,
) -> Result<TestGroup<'c>> {
    let steps = parts
        .iter()
        .flat_map(|(_, _, p)| {
            p.checks
                .iter()
                .map(|(t, _)| *t)
                .chain(p.expressions.iter().map(|(t, _)| *t))
        })
        .max()
        .unwrap_or(0)
        / g;
    let mut names: Vec<&str> = Vec::new();
    let mut named: HashSet<&str> = HashSet::new();
    let mut input_series = Vec::new();
    let mut tests = Checks::new();
    let mut expression_tests = Vec::new();
    for (case, name, plan) in parts {
        if named.insert(name) {
            names.push(name);
        }
        // A value on a rounding edge of `humanizePercentage` cannot be predicted; one bad event more per step
        // (or less in an outage) moves every ratio off it without moving any firing time.
        let mut attempts = (0..NUDGES).map(|nudge| part(case, plan, steps, g, nudge));
        let first = attempts.next().expect("at least one attempt");
        let (series, checks, expressions) = match first {
            Ok(done) => done,
            Err(e) => attempts.find_map(Result::ok).ok_or(e)?,
        };
        input_series.extend(series);
        tests.extend(checks);
        expression_tests.extend(expressions);
    }
    let slos: Vec<&str> = parts.iter().map(|(c, _, _)| c.slo.name.as_str()).collect();
    Ok(TestGroup {
        name: format!("{} ({})", names.join("; "), slos.join(", ")),
        interval: dur(g),
        input_series,
        alert_rule_test: alert_tests(tests),
        promql_expr_test: expression_tests,
    })
}

/// Attempts at feeding an SLO before giving up on values that print ambiguously.
pub(super) const NUDGES: u64 = 4;

/// One SLO's series, alert checks and expression checks in a test of `steps` steps.
pub(super) fn part<'c>(
    case: &'c SloCase,
    plan: &Plan,
    steps: u64,
    g: u64,
    nudge: u64,
) -> Result<(Vec<InputSeries<'c>>, Checks<'c>, Vec<ExprTest>)> {
    // Every step's traffic alone meets the largest guard, so guards only matter where a scenario idles.
    let most_guarded = case
        .slo
        .burn_rate_alerts
        .iter()
        .map(|a| a.min_events)
        .max()
        .unwrap_or(0);
    let traffic = Traffic::new(plan, steps, nudge, most_guarded);
    let offset = traffic
        .offset(case.longest_window.seconds, g)
        .context("the objective needs more test traffic than 64-bit counters hold")?;
    let spelled = match plan.spelling {
        Spelling::Prometheus3 => &case.series[0],
        Spelling::GoClient => &case.series[1],
    };
    let series = case
        .feeds
        .iter()
        .zip(spelled)
        .map(|(f, series)| InputSeries {
            series,
            values: traffic.values(f.role, offset),
        })
        .collect();
    // Each range semantics with a ratio at its threshold read as over it, then as under it.
    let mut replays: Vec<(Range, Firing)> = Vec::new();
    for range in RANGES {
        let sums = Sums::new(&traffic, range, g);
        let (firing, touched) = replay(case, &sums, true);
        replays.push((range, firing));
        if touched {
            replays.push((range, replay(case, &sums, false).0));
        }
    }
    let mut tests = Checks::new();
    'checks: for (at, claim) in &plan.checks {
        let i = (at / g) as usize;
        let firing = &replays[0].1[i];
        let expected = firing_alerts(case, firing)?;
        for (range, other) in &replays[1..] {
            let other = &other[i];
            // The same pairs firing at the same values expect the same alerts.
            if other != firing && expected != firing_alerts(case, other)? {
                let pairs = |f: &[(usize, f64)]| f.iter().map(|(p, _)| *p).collect::<Vec<_>>();
                if pairs(other) == pairs(firing) {
                    // The same alerts fire, but one prints a value that differs between the majors (its
                    // window is mid-ramp): no expectation holds under both, so this check is left out.
                    continue 'checks;
                }
                bail!(
                    "{}: at {} the replay with {range:?} ranges or another rounding fires {:?}, not {:?}",
                    case.slo.id,
                    dur(*at),
                    other.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
                    firing.iter().map(|(p, _)| *p).collect::<Vec<_>>()
                );
            }
        }
        let holds = match claim {
            Claim::Pair { pair, firing: f } => firing.iter().any(|(p, _)| p == pair) == *f,
            Claim::NoBurn => firing.is_empty(),
            Claim::TicketsOnly => {
                !firing.is_empty()
                    && firing
                        .iter()
                        .all(|(p, _)| case.slo.burn_rate_alerts[*p].severity == Severity::Ticket)
            }
            Claim::NoPage => firing
                .iter()
                .all(|(p, _)| case.slo.burn_rate_alerts[*p].severity != Severity::Page),
            // The SLO is fed from the first step on.
            Claim::Present => true,
        };
        if !holds {
            bail!(
                "{}: the model's timing ({claim:?} at {}) disagrees with replaying its rules, which fire {:?}",
                case.slo.id,
                dur(*at),
                firing.iter().map(|(p, _)| *p).collect::<Vec<_>>()
            );
        }
        let (alertname, exp) = match claim {
            Claim::Present => (&case.absent_alert, Vec::new()),
            _ => (&case.burn_alert, expected),
        };
        tests.insert((*at, alertname), exp);
    }
    let expressions = plan
        .expressions
        .iter()
        .map(|(at, expr)| ExprTest::one(expr.clone(), *at))
        .collect();
    Ok((series, tests, expressions))
}

/// The alerts promtool should report for the firing pairs, with their annotations rendered; an error when a
/// value sits so close to a rounding edge of `humanizePercentage` that floating point could tip it.
pub(super) fn firing_alerts<'c>(
    case: &'c SloCase,
    firing: &[(usize, f64)],
) -> Result<Vec<ExpAlert<'c>>> {
    firing
        .iter()
        .map(|&(p, value)| {
            let rule = &case.pairs[p];
            // The annotations print differently exactly when a value they show does.
            let shows_value = rule
                .annotations
                .values()
                .flatten()
                .any(|piece| *piece == Piece::ValuePercent);
            let percent = template::humanize_percentage(value);
            let nudged = [value * (1.0 - TOLERANCE), value * (1.0 + TOLERANCE)];
            if shows_value
                && nudged
                    .iter()
                    .any(|v| template::humanize_percentage(*v) != percent)
            {
                bail!(
                    "{}: the alert value {value} prints differently within floating-point error",
                    case.slo.id
                );
            }
            Ok(ExpAlert {
                exp_labels: &rule.labels,
                exp_annotations: Cow::Owned(render(&rule.annotations, value)),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::rule_tests::scenarios::Burn;
    use crate::emit::rule_tests::series::{queries, Uses};

    /// A claim that holds under one range semantics only fails generation: the replay checks both. A page
    /// over 10m with an error-ratio threshold of 0.105: one failing minute after clean traffic is 1/10 of
    /// Prometheus 2's window (under it) and 1/9 of Prometheus 3's (over it), so "nothing fires" then holds
    /// under 2 and not under 3.
    #[test]
    fn a_check_where_prometheus_2_and_3_disagree_is_rejected() {
        let service = crate::emit::rule_tests::tests::service(
            r#"[[service.alert_windows]]
severity = "page"
long = "10m"
short = "2m"
budget_percent = 2.431

[slos.availability]
description = "Requests succeed."
ratio.errors = { metric = "requests", match = { route = ["failing"] } }
ratio.total = { metric = "requests" }
"#,
        );
        let slo = &service.slos[0];
        let own = queries(&service, slo).expect("queries").expect("fed");
        let all = vec![own.clone()];
        let uses = Uses::new(&all);
        let case = SloCase::new(&service, slo, own, &uses).expect("case");
        let g = 60;
        let start = 600;
        let disagreements: Vec<String> = (start / g..start / g + 3)
            .filter_map(|step| {
                let plan = Plan::new(
                    vec![(start / g, Burn::Good), (0, Burn::Outage)],
                    vec![(step * g, Claim::NoBurn)],
                );
                part(&case, &plan, step, g, 0).err().map(|e| e.to_string())
            })
            .collect();
        assert!(
            disagreements.iter().any(|e| e.contains("LeftOpen")),
            "no step where only one semantics fires: {disagreements:?}"
        );
    }
}
