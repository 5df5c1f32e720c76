//! The fed traffic of one SLO in one test and the replay of its burn-rate alerts on it, under Prometheus 2's
//! and Prometheus 3's range selection.
//!
//! Samples are one evaluation interval `g` apart and the counters start high, so every `rate()` ratio is an
//! exact ratio of increments: extrapolation scales the bad and the total rate alike. Only `increase()` (the
//! low-traffic guard) keeps Prometheus' extrapolation, which the replay reproduces.

use std::ops::{Add as _, Mul as _};

use super::cases::ExhaustedRule;
use super::scenarios::{Burn, Plan};
use super::series::Role;
use super::SloCase;
use crate::model::Exact;

/// Fewest bad events a burning step carries, so that rounding to whole events moves a ratio by at most 0.05%.
const MIN_BAD_EVENTS: u64 = 1000;
/// Floating-point tolerance of the replay: values this close to a threshold could compare either way.
pub(super) const TOLERANCE: f64 = 1e-9;

/// Which samples a range selector `[w]` at time `t` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Range {
    /// Prometheus 2: `[t - w, t]`, a sample exactly at `t - w` included.
    LeftClosed,
    /// Prometheus 3: `(t - w, t]`.
    LeftOpen,
}

/// Both Prometheus majors' range selection.
pub(super) const RANGES: [Range; 2] = [Range::LeftClosed, Range::LeftOpen];

impl Range {
    /// How many intervals before `t` the first sample of a `window` seconds long range lies.
    pub(super) fn reach(self, window: u64, g: u64) -> u64 {
        match self {
            Range::LeftClosed => window / g,
            Range::LeftOpen => window.saturating_sub(1) / g,
        }
    }
}

/// Each step's events for one SLO: `events[i]` at step `i`, `bad[i]` of them bad (step 0 is the first
/// sample, before any event); `total` is the steady events per step.
pub(super) struct Traffic {
    pub(super) total: u64,
    pub(super) bad: Vec<u64>,
    pub(super) events: Vec<u64>,
}

impl Traffic {
    /// The traffic of `plan` over `steps` steps, with at least `min_total` events per steady step (so that
    /// no low-traffic guard holds back an alert outside the scenarios that test the guard).
    pub(super) fn new(plan: &Plan, steps: u64, nudge: u64, min_total: u64) -> Traffic {
        // Enough events per step that the smallest burn has MIN_BAD_EVENTS bad ones.
        let mut total: u64 = MIN_BAD_EVENTS.max(min_total);
        for (_, burn) in &plan.phases {
            if let Burn::Ratio(r) = burn {
                while !r.is_zero()
                    && total <= u64::MAX / 10
                    && r.mul(Exact::int(total))
                        .cmp_value(Exact::int(MIN_BAD_EVENTS))
                        .is_lt()
                {
                    total *= 10;
                }
            }
        }
        let per_step = |burn: &Burn| match burn {
            Burn::Good => (0, total),
            Burn::Outage => (total - nudge, total),
            Burn::Ratio(r) => (
                r.mul(Exact::int(total)).add(Exact::new(1, 2)).floor() as u64 + nudge,
                total,
            ),
            Burn::Idle => (0, 0),
            Burn::Failures(n) => (*n, *n),
        };
        let mut steps_done = vec![(0, 0)];
        for (n, (len, burn)) in plan.phases.iter().enumerate() {
            let len = if n + 1 == plan.phases.len() {
                (steps + 1).saturating_sub(steps_done.len() as u64)
            } else {
                *len
            };
            steps_done.extend(std::iter::repeat_n(per_step(burn), len as usize));
        }
        steps_done.truncate(steps as usize + 1);
        for &step in &plan.idle {
            if let Some(s) = steps_done.get_mut(step as usize) {
                *s = (0, 0);
            }
        }
        let (bad, events) = steps_done.into_iter().unzip();
        Traffic { total, bad, events }
    }

    pub(super) fn increment(&self, role: Role, step: usize) -> u64 {
        match role {
            Role::Bad => self.bad[step],
            Role::Good => self.events[step] - self.bad[step],
            Role::Total => self.events[step],
        }
    }

    /// The counters' value before the first event: high enough that `rate()` never extrapolates to zero;
    /// `None` when that does not fit a 64-bit counter.
    pub(super) fn offset(&self, longest_window: u64, g: u64) -> Option<u64> {
        let most = self
            .events
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
            .max(self.total);
        most.checked_mul(longest_window.div_ceil(g))
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
}

/// Prefix sums of a traffic's bad and all events, and the range semantics the replay reads them with.
pub(super) struct Sums {
    bad: Vec<u64>,
    events: Vec<u64>,
    range: Range,
    g: u64,
}

impl Sums {
    pub(super) fn new(traffic: &Traffic, range: Range, g: u64) -> Sums {
        let prefix = |v: &[u64]| {
            let mut out = vec![0u64; v.len()];
            for i in 1..v.len() {
                out[i] = out[i - 1] + v[i];
            }
            out
        };
        Sums {
            bad: prefix(&traffic.bad),
            events: prefix(&traffic.events),
            range,
            g,
        }
    }

    /// The first sample a `window` at step `i` reads, when it reads at least two (a rate needs two).
    fn first(&self, window: u64, i: usize) -> Option<usize> {
        let first = i.saturating_sub(self.range.reach(window, self.g) as usize);
        (first < i).then_some(first)
    }

    /// The error ratio over `window` at step `i`, as the recording rule computes it: bad over all events of
    /// the steps after the window's first sample up to `i`; none without two samples or without events.
    pub(super) fn ratio(&self, window: u64, i: usize) -> Option<f64> {
        let first = self.first(window, i)?;
        let events = self.events[i] - self.events[first];
        (events > 0).then(|| (self.bad[i] - self.bad[first]) as f64 / events as f64)
    }

    /// `increase()` of the event counter over `window` at step `i`, extrapolated as Prometheus does (same
    /// float operations, so the same result to the bit): to the window's start when the first sample lies
    /// within 1.1 intervals of it, else by half an interval; the last sample is at the window's end.
    pub(super) fn increase(&self, window: u64, i: usize) -> Option<f64> {
        self.extrapolated(&self.events, window, i)
    }

    /// `increase()` of the counter whose prefix sums are `counter`, as [`Sums::increase`] computes it.
    fn extrapolated(&self, counter: &[u64], window: u64, i: usize) -> Option<f64> {
        let first = self.first(window, i)?;
        let g = self.g as f64;
        let sampled = (i - first) as f64 * g;
        let average = sampled / (i - first) as f64;
        let to_start = first as f64 * g - (i as f64 * g - window as f64);
        let extrapolate_to = sampled
            + if to_start < average * 1.1 {
                to_start
            } else {
                average / 2.0
            };
        let delta = (counter[i] - counter[first]) as f64;
        Some(delta * (extrapolate_to / sampled))
    }

    /// The SLO window's error ratio at step `i`: summed from the per-step rates over `from` (bad over all
    /// events summed over the window, the rates' extrapolation and `/ from` applied as Prometheus applies
    /// them), or over the raw window when `from` is `None`; none without events.
    pub(super) fn period_ratio(&self, window: u64, from: Option<u64>, i: usize) -> Option<f64> {
        let Some(from) = from else {
            return self.ratio(window, i);
        };
        let first = i.saturating_sub(self.range.reach(window, self.g) as usize);
        let (mut bad, mut events, mut any) = (0.0, 0.0, false);
        for j in first..=i {
            if let (Some(b), Some(e)) = (
                self.extrapolated(&self.bad, from, j),
                self.extrapolated(&self.events, from, j),
            ) {
                bad += b / from as f64;
                events += e / from as f64;
                any = true;
            }
        }
        (any && events > 0.0).then(|| bad / events)
    }
}

/// Per step, whether the SLO's budget-exhausted alert fires: the budget left, `1 - ratio / budget`, at or
/// below zero for its `for`. Also says whether the budget left came within [`TOLERANCE`] of zero, where
/// `edge` decides.
pub(super) fn replay_exhausted(rule: &ExhaustedRule, sums: &Sums, edge: bool) -> (Vec<bool>, bool) {
    let mut touched = false;
    let mut since = None;
    let mut out = Vec::with_capacity(sums.events.len());
    for i in 0..sums.events.len() {
        let left = sums
            .period_ratio(rule.window, rule.summed_from, i)
            .map(|ratio| 1.0 - ratio / rule.budget);
        let spent = match left {
            Some(left) if left.abs() <= TOLERANCE => {
                touched = true;
                edge
            }
            Some(left) => left <= 0.0,
            None => false,
        };
        if spent {
            let start = *since.get_or_insert(i);
            out.push(((i - start) as u64) * sums.g >= rule.for_.seconds);
        } else {
            since = None;
            out.push(false);
        }
    }
    (out, touched)
}

/// Per step, the burn-rate pairs (indexes into the SLO's alerts) firing, with the alert's value.
pub(super) type Firing = Vec<Vec<(usize, f64)>>;

/// The burn-rate pairs firing at each step, with the alert's value, replaying the recording rules, the alert
/// conditions, the low-traffic guard and `for`. A ratio within [`TOLERANCE`] of its threshold counts as over
/// it when `edge` is set (a quotient of two extrapolated rates may round either way); the guard's increase
/// is computed as Prometheus computes it and compared exactly.
/// Also says whether any ratio came within [`TOLERANCE`] of a threshold: if none did, the replay with the
/// other `edge` is the same.
pub(super) fn replay(case: &SloCase, sums: &Sums, edge: bool) -> (Firing, bool) {
    let alerts = &case.slo.burn_rate_alerts;
    let steps = sums.events.len();
    let touched = std::cell::Cell::new(false);
    let over = |ratio: f64, threshold: f64| {
        if (ratio - threshold).abs() <= TOLERANCE * threshold {
            touched.set(true);
            edge
        } else {
            ratio > threshold
        }
    };
    let mut since: Vec<Option<usize>> = vec![None; alerts.len()];
    let mut out = Vec::with_capacity(steps);
    for i in 0..steps {
        let mut firing = Vec::new();
        for (p, a) in alerts.iter().enumerate() {
            let t = case.pairs[p].threshold;
            let long = sums.ratio(a.long.seconds, i);
            let short = sums.ratio(a.short.seconds, i);
            let enough = a.min_events == 0
                || sums
                    .increase(a.long.seconds, i)
                    .is_some_and(|n| n >= a.min_events as f64);
            match (long, short) {
                (Some(l), Some(s)) if over(l, t) && over(s, t) && enough => {
                    let start = *since[p].get_or_insert(i);
                    if ((i - start) as u64) * sums.g >= a.for_.seconds {
                        firing.push((p, l));
                    }
                }
                _ => since[p] = None,
            }
        }
        out.push(firing);
    }
    (out, touched.get())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::rule_tests::scenarios::Plan;

    #[test]
    fn series_values_use_the_expanding_notation_per_run_of_equal_increments() {
        let plan = Plan::new(
            vec![(2, Burn::Good), (1, Burn::Outage), (0, Burn::Good)],
            Vec::new(),
        );
        let traffic = Traffic::new(&plan, 5, 0, 0);
        assert_eq!(traffic.bad, vec![0, 0, 0, 1000, 0, 0]);
        assert_eq!(traffic.values(Role::Bad, 7), "7 7+0x1 1007 1007+0x1");
        assert_eq!(
            traffic.values(Role::Good, 0),
            "0 1000+1000x1 2000 3000+1000x1"
        );
        assert_eq!(traffic.values(Role::Total, 0), "0 1000+1000x4");
    }

    fn steady(bad: Vec<u64>) -> Traffic {
        let events = bad
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { 0 } else { 10 })
            .collect();
        Traffic {
            total: 10,
            bad,
            events,
        }
    }

    #[test]
    fn ratios_count_the_steps_after_the_first_sample_of_a_window() {
        let traffic = steady(vec![0, 0, 5, 10, 10]);
        let closed = Sums::new(&traffic, Range::LeftClosed, 60);
        // A 2-step window at step 4 has samples at steps 2, 3 and 4: the increments of steps 3 and 4.
        assert_eq!(closed.ratio(120, 4), Some(1.0));
        // Before the second sample there is no rate.
        assert_eq!(closed.ratio(120, 0), None);
        // A window shorter than the interval holds one sample.
        assert_eq!(closed.ratio(30, 4), None);
        // A window reaching before the first sample counts from it.
        assert_eq!(closed.ratio(600, 2), Some(0.25));
        // Prometheus 3 leaves out the sample at the window's start: only step 4's increment.
        let open = Sums::new(&traffic, Range::LeftOpen, 60);
        assert_eq!(open.ratio(180, 4), Some(1.0));
        assert_eq!(closed.ratio(180, 4), Some(25.0 / 30.0));
    }

    #[test]
    fn no_events_in_a_window_gives_no_ratio_not_nan() {
        let traffic = Traffic {
            total: 10,
            bad: vec![0, 1, 0, 0, 0],
            events: vec![0, 10, 0, 0, 0],
        };
        let sums = Sums::new(&traffic, Range::LeftClosed, 60);
        assert_eq!(sums.ratio(120, 4), None);
        assert_eq!(sums.ratio(240, 4), Some(0.1));
    }

    #[test]
    fn increase_extrapolates_like_prometheus() {
        let traffic = steady(vec![0; 8]);
        // Prometheus 2, window full of samples: exactly the increments.
        let closed = Sums::new(&traffic, Range::LeftClosed, 60);
        assert_eq!(closed.increase(180, 6), Some(30.0));
        // Prometheus 3 misses the sample at the start and extrapolates the 2 increments over 3 intervals.
        let open = Sums::new(&traffic, Range::LeftOpen, 60);
        assert_eq!(open.increase(180, 6), Some(30.0));
        // A window reaching before the first sample extends by half an interval.
        assert_eq!(closed.increase(600, 2), Some(25.0));
    }
}
