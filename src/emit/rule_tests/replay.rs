//! Turns scenarios into promtool tests: feeds each SLO's series, replays the rules on them to find which
//! alerts fire at each checked time, and fails when the replay contradicts a time the model predicts.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::ops::{Add as _, Mul as _};

use anyhow::{bail, Result};

use super::cases::{render, SloCase};
use super::scenarios::{Burn, Claim, Plan};
use super::series::Role;
use super::{alert_tests, dur, Checks, ExpAlert, InputSeries, TestGroup};
use crate::model::template::{self, Piece};
use crate::model::{Exact, Severity};

/// Fewest bad events a burning step carries, so that rounding to whole events moves a ratio by at most 0.05%.
const MIN_BAD_EVENTS: u64 = 1000;
/// Floating-point tolerance of the replay: ratios this close to a threshold could compare either way.
const TOLERANCE: f64 = 1e-9;

/// The tests of one scenario: its SLOs go into as few tests as their series allow, each SLO into the first
/// test whose SLOs' queries select none of its series and whose series its queries do not select.
pub(super) fn scenario<'c>(
    cases: &'c [SloCase],
    g: u64,
    plan: impl Fn(&SloCase) -> Option<(String, Plan)>,
) -> Result<Vec<TestGroup<'c>>> {
    let mut lanes: Vec<Lane> = Vec::new();
    for case in cases {
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
    /// Whether `case` conflicts with none of the lane's SLOs.
    pub(super) fn admits(&self, case: &SloCase) -> bool {
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
        .flat_map(|(_, _, p)| p.checks.iter().map(|(t, _)| *t))
        .max()
        .unwrap_or(0)
        / g;
    let mut names: Vec<&str> = Vec::new();
    let mut named: HashSet<&str> = HashSet::new();
    let mut input_series = Vec::new();
    let mut tests = Checks::new();
    for (case, name, plan) in parts {
        if named.insert(name) {
            names.push(name);
        }
        // A value on a rounding edge of `humanizePercentage` cannot be predicted; one bad event more per step
        // (or less in an outage) moves every ratio off it without moving any firing time.
        let mut attempts = (0..NUDGES).map(|nudge| part(case, plan, steps, g, nudge));
        let first = attempts.next().expect("at least one attempt");
        let (series, checks) = match first {
            Ok(done) => done,
            Err(e) => attempts.find_map(Result::ok).ok_or(e)?,
        };
        input_series.extend(series);
        tests.extend(checks);
    }
    let slos: Vec<&str> = parts.iter().map(|(c, _, _)| c.slo.name.as_str()).collect();
    Ok(TestGroup {
        name: format!("{} ({})", names.join("; "), slos.join(", ")),
        interval: dur(g),
        input_series,
        alert_rule_test: alert_tests(tests),
    })
}

/// Attempts at feeding an SLO before giving up on values that print ambiguously.
pub(super) const NUDGES: u64 = 4;

/// One SLO's series and checks in a test of `steps` steps.
pub(super) fn part<'c>(
    case: &'c SloCase,
    plan: &Plan,
    steps: u64,
    g: u64,
    nudge: u64,
) -> Result<(Vec<InputSeries<'c>>, Checks<'c>)> {
    let traffic = Traffic::new(plan, steps, nudge);
    let offset = traffic.total * case.longest_window.seconds.div_ceil(g);
    let series = case
        .feeds
        .iter()
        .zip(&case.series)
        .map(|(f, series)| InputSeries {
            series,
            values: traffic.values(f.role, offset),
        })
        .collect();
    let replays = [true, false].map(|edge| replay(case, &traffic, g, edge));
    let mut tests = Checks::new();
    for (at, claim) in &plan.checks {
        let i = (at / g) as usize;
        let (firing, other) = (&replays[0][i], &replays[1][i]);
        let expected = firing_alerts(case, firing)?;
        // The same pairs firing at the same values expect the same alerts.
        if firing != other && expected != firing_alerts(case, other)? {
            bail!(
                "{}: whether its alerts fire at {} depends on floating-point rounding",
                case.slo.id,
                dur(*at)
            );
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
    Ok((series, tests))
}

/// Each step's events for one SLO: `total` per step, `bad[i]` of them bad at step `i` (step 0 is the first
/// sample, before any event).
pub(super) struct Traffic {
    pub(super) total: u64,
    pub(super) bad: Vec<u64>,
}

impl Traffic {
    pub(super) fn new(plan: &Plan, steps: u64, nudge: u64) -> Traffic {
        // Enough events per step that the smallest burn has MIN_BAD_EVENTS bad ones.
        let mut total: u64 = MIN_BAD_EVENTS;
        for (_, burn) in &plan.phases {
            if let Burn::Ratio(r) = burn {
                while !r.is_zero()
                    && r.mul(Exact::int(total))
                        .cmp_value(Exact::int(MIN_BAD_EVENTS))
                        .is_lt()
                {
                    total *= 10;
                }
            }
        }
        let per_step = |burn: &Burn| match burn {
            Burn::Good => 0,
            Burn::Outage => total - nudge,
            Burn::Ratio(r) => r.mul(Exact::int(total)).add(Exact::new(1, 2)).floor() as u64 + nudge,
        };
        let mut bad = vec![0];
        for (n, (len, burn)) in plan.phases.iter().enumerate() {
            let len = if n + 1 == plan.phases.len() {
                (steps + 1).saturating_sub(bad.len() as u64)
            } else {
                *len
            };
            bad.extend(std::iter::repeat_n(per_step(burn), len as usize));
        }
        bad.truncate(steps as usize + 1);
        Traffic { total, bad }
    }

    pub(super) fn increment(&self, role: Role, step: usize) -> u64 {
        match role {
            Role::Bad => self.bad[step],
            Role::Good => self.total - self.bad[step],
            Role::Total => self.total,
        }
    }

    /// promtool's expanding notation: `start`, then `a+bxn` for each run of equal increments.
    pub(super) fn values(&self, role: Role, offset: u64) -> String {
        let mut parts = vec![offset.to_string()];
        let mut value = offset;
        let mut step = 1;
        while step < self.bad.len() {
            let inc = self.increment(role, step);
            let run = (step..self.bad.len())
                .take_while(|&s| self.increment(role, s) == inc)
                .count();
            parts.push(if run == 1 {
                (value + inc).to_string()
            } else {
                format!("{}+{inc}x{}", value + inc, run - 1)
            });
            value += inc * run as u64;
            step += run;
        }
        parts.join(" ")
    }

    /// The error ratio over `window` at step `i`, as the recording rule computes it: bad over all events of the
    /// steps between the window's first sample and `i`; none with fewer than two samples in the window.
    pub(super) fn ratio(&self, prefix: &[u64], window: u64, g: u64, i: usize) -> Option<f64> {
        let first = i.saturating_sub((window / g) as usize);
        (first < i)
            .then(|| (prefix[i] - prefix[first]) as f64 / (self.total * (i - first) as u64) as f64)
    }
}

/// The burn-rate pairs firing at each step, with the alert's value, replaying the recording rules, the alert
/// conditions and `for`; a ratio within [`TOLERANCE`] of its threshold counts as over it when `edge` is set.
pub(super) fn replay(
    case: &SloCase,
    traffic: &Traffic,
    g: u64,
    edge: bool,
) -> Vec<Vec<(usize, f64)>> {
    let mut prefix = vec![0u64; traffic.bad.len()];
    for i in 1..traffic.bad.len() {
        prefix[i] = prefix[i - 1] + traffic.bad[i];
    }
    let alerts = &case.slo.burn_rate_alerts;
    let mut since: Vec<Option<usize>> = vec![None; alerts.len()];
    let mut out = Vec::with_capacity(traffic.bad.len());
    for i in 0..traffic.bad.len() {
        let mut firing = Vec::new();
        for (p, a) in alerts.iter().enumerate() {
            let t = case.pairs[p].threshold;
            let over = |r: f64| {
                if (r - t).abs() <= TOLERANCE * t {
                    edge
                } else {
                    r > t
                }
            };
            let long = traffic.ratio(&prefix, a.long.seconds, g, i);
            let short = traffic.ratio(&prefix, a.short.seconds, g, i);
            match (long, short) {
                (Some(l), Some(s)) if over(l) && over(s) => {
                    let start = *since[p].get_or_insert(i);
                    if ((i - start) as u64) * g >= a.for_.seconds {
                        firing.push((p, l));
                    }
                }
                _ => since[p] = None,
            }
        }
        out.push(firing);
    }
    out
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

    #[test]
    fn series_values_use_the_expanding_notation_per_run_of_equal_increments() {
        let plan = Plan {
            phases: vec![(2, Burn::Good), (1, Burn::Outage), (0, Burn::Good)],
            checks: Vec::new(),
        };
        let traffic = Traffic::new(&plan, 5, 0);
        assert_eq!(traffic.bad, vec![0, 0, 0, 1000, 0, 0]);
        assert_eq!(traffic.values(Role::Bad, 7), "7 7+0x1 1007 1007+0x1");
        assert_eq!(
            traffic.values(Role::Good, 0),
            "0 1000+1000x1 2000 3000+1000x1"
        );
        assert_eq!(traffic.values(Role::Total, 0), "0 1000+1000x4");
    }

    #[test]
    fn ratios_count_the_steps_between_the_first_and_last_sample_of_a_window() {
        let traffic = Traffic {
            total: 10,
            bad: vec![0, 0, 5, 10, 10],
        };
        let prefix = [0, 0, 5, 15, 25];
        // A 2-step window at step 4 has samples at steps 2, 3 and 4: the increments of steps 3 and 4.
        assert_eq!(traffic.ratio(&prefix, 120, 60, 4), Some(1.0));
        // Before the second sample there is no rate.
        assert_eq!(traffic.ratio(&prefix, 120, 60, 0), None);
        // A window shorter than the interval holds one sample.
        assert_eq!(traffic.ratio(&prefix, 30, 60, 4), None);
        // A window reaching before the first sample counts from it.
        assert_eq!(traffic.ratio(&prefix, 600, 60, 2), Some(0.25));
    }
}
