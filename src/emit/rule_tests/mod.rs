//! `promtool test rules` files that prove every SLO's alerts against the rules file next to them.
//!
//! Each SLO is fed synthetic series built from its own selectors (the sample names and labels its SLI
//! queries read), and the tests check, at evaluation times computed from the model's numbers — the ones the
//! docs print —
//! - that a burn just above each alert pair's factor fires it by `long × factor / burn + for` plus one
//!   evaluation interval after the burn starts, and that it is not firing one evaluation earlier;
//! - that a burn below the lowest page factor and above a ticket factor opens tickets and never pages;
//! - that a full outage fires the fastest page (or, without pages, ticket) by `time_to_fire_full_outage`,
//!   and that it resolves within `reset_time` of the recovery;
//! - that a burn below 1 and below every factor fires nothing for longer than the longest alert window;
//! - that no data fires the absent alert after its `for`.
//!
//! Which other alerts fire at a checked time comes from replaying the rules on the fed series: their samples
//! are evenly spaced counters, so every `rate()` ratio is an exact ratio of increases. The replay is also a
//! cross-check of the model: if it contradicts a time the model predicts, generation fails.
//!
//! promtool evaluates every rule of the rules file at every step of every test, at one evaluation interval per
//! test file. So each alert pair is tested in the file whose interval fits its windows: `rules.test.yml` has
//! the finest (one minute for the default policy) and the no-data tests, `rules.<interval>.test.yml` the
//! coarser ones, the coarsest also the multi-day quiet test. The expected results assume Prometheus 2's
//! range selection (both ends of a window included), as the promtool they are checked with does.

mod cases;
mod replay;
mod scenarios;
mod series;
mod traffic;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::conventions::{rule_test_file, RULES_FILE};
use crate::model::{BurnRateAlert, Duration, Service, Severity, Sli};
use cases::SloCase;
use replay::scenario;
use scenarios::{
    above_tickets, at_factor, below_pages, low_traffic, no_data, outage, quiet, quiet_period,
};
use series::{queries, Uses};

/// Steps in a pair's short window at its evaluation interval.
const SAMPLES_PER_SHORT_WINDOW: u64 = 2;

/// The test files of one service, by file name; none for a service without SLOs.
pub fn emit(service: &Service) -> Result<Vec<(String, String)>> {
    if service.slos.is_empty() {
        return Ok(Vec::new());
    }
    // A query SLI whose queries the tests cannot feed is left out, and the files say why.
    let mut fed = Vec::new();
    let mut left_out: Vec<String> = Vec::new();
    for slo in &service.slos {
        match queries(service, slo)? {
            Ok(own) => fed.push((slo, own)),
            Err(why) => left_out.push(format!("{}: {why}", slo.name)),
        }
    }
    let queries: Vec<Vec<series::Query>> = fed.iter().map(|(_, own)| own.clone()).collect();
    let uses = Uses::new(&queries);
    let group_names: Vec<String> = service.rule_groups().into_iter().map(|g| g.name).collect();
    let mut cases = Vec::new();
    for (slo, own) in fed {
        match SloCase::new(service, slo, own, &uses) {
            Ok(case) => cases.push(case),
            Err(e) if !matches!(slo.sli, Sli::Ratio { .. } | Sli::Latency { .. }) => {
                left_out.push(format!("{}: no series fit its queries ({e:#})", slo.name));
            }
            Err(e) => return Err(e),
        }
    }
    let left_out: String = left_out
        .iter()
        .map(|why| format!("# Left out (query SLI): {why}.\n"))
        .collect();
    let pairs: BTreeSet<PairKey> = cases
        .iter()
        .flat_map(|c| c.slo.burn_rate_alerts.iter().map(PairKey::of))
        .collect();
    let mut grids: BTreeSet<u64> = pairs.iter().map(PairKey::grid).collect();
    if grids.is_empty() {
        grids.insert(60);
    }
    let finest = *grids.first().expect("at least one grid");
    let coarsest = *grids.last().expect("at least one grid");
    // A burn below the page factors is shown to fire no page at the coarsest interval that samples every page
    // window at least twice.
    let shortest_page_short = pairs
        .iter()
        .filter(|p| p.severity == Severity::Page)
        .map(|p| p.short.seconds)
        .min();
    let below_pages_grid =
        shortest_page_short.and_then(|short| grids.iter().copied().filter(|g| *g <= short).max());

    let mut files = Vec::new();
    for &g in &grids {
        let mut tests = Vec::new();
        if g == finest && !cases.is_empty() {
            tests.push(no_data(&cases, g));
            tests.extend(scenario(&cases, g, |c| quiet_period(c, g))?);
        }
        for pair in pairs.iter().filter(|p| p.grid() == g) {
            tests.extend(scenario(&cases, g, |c| at_factor(c, pair, g))?);
        }
        if Some(g) == below_pages_grid {
            tests.extend(scenario(&cases, g, |c| below_pages(c, g))?);
        }
        tests.extend(scenario(&cases, g, |c| above_tickets(c, g))?);
        tests.extend(scenario(&cases, g, |c| outage(c, g))?);
        tests.extend(scenario(&cases, g, |c| low_traffic(c, g))?);
        if g == coarsest {
            tests.extend(scenario(&cases, g, |c| quiet(c, g))?);
        }
        let file = TestFile {
            rule_files: vec![RULES_FILE.into()],
            evaluation_interval: dur(g),
            group_eval_order: group_names.clone(),
            tests,
        };
        let yaml = super::yaml::to_string(&file)
            .with_context(|| format!("cannot serialize the rule tests of {}", service.name))?;
        let name = rule_test_file(&dur(g), g == finest);
        files.push((
            name,
            format!(
                "# Generated by slogen from {}. Do not edit.\n\
                 # Run with `promtool test rules`: the SLO alerts of {RULES_FILE}, evaluated every {}.\n{left_out}{}\n",
                service.source,
                dur(g),
                yaml.trim_end_matches('\n')
            ),
        ));
    }
    Ok(files)
}

/// A test file as promtool reads it.
///
/// The tests borrow what every test of an SLO repeats (series, alert names, labels) from its [`SloCase`].
#[derive(Serialize)]
struct TestFile<'c> {
    rule_files: Vec<String>,
    evaluation_interval: String,
    /// Every group, in file order: recordings before the alerts that read them, whatever the interval.
    group_eval_order: Vec<String>,
    tests: Vec<TestGroup<'c>>,
}

/// Input series and the alerts expected at given times.
#[derive(Serialize)]
struct TestGroup<'c> {
    name: String,
    interval: String,
    input_series: Vec<InputSeries<'c>>,
    alert_rule_test: Vec<AlertTest<'c>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    promql_expr_test: Vec<ExprTest>,
}

/// A query and the samples it must return at a time.
#[derive(Serialize)]
struct ExprTest {
    expr: String,
    eval_time: String,
    exp_samples: Vec<ExpSample>,
}

impl ExprTest {
    /// `expr` returns one sample, without labels, of value 1 at `at` seconds: a `count()` of one series.
    fn one(expr: String, at: u64) -> ExprTest {
        ExprTest {
            expr,
            eval_time: dur(at),
            exp_samples: vec![ExpSample {
                labels: "{}",
                value: 1,
            }],
        }
    }
}

#[derive(Serialize)]
struct ExpSample {
    labels: &'static str,
    value: u64,
}

#[derive(Serialize)]
struct InputSeries<'c> {
    series: &'c str,
    values: String,
}

#[derive(Serialize)]
struct AlertTest<'c> {
    eval_time: String,
    alertname: &'c str,
    exp_alerts: Vec<ExpAlert<'c>>,
}

#[derive(Serialize, Clone, PartialEq)]
struct ExpAlert<'c> {
    exp_labels: &'c BTreeMap<String, String>,
    exp_annotations: Cow<'c, BTreeMap<String, String>>,
}

/// An alert pair of the service's policy, the same for every SLO that has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct PairKey {
    severity: Severity,
    long: Duration,
    short: Duration,
    for_: Duration,
}

impl PairKey {
    fn of(a: &BurnRateAlert) -> PairKey {
        PairKey {
            severity: a.severity,
            long: a.long,
            short: a.short,
            for_: a.for_,
        }
    }

    /// The evaluation interval this pair is tested at: the longest that divides its windows and `for` and
    /// leaves [`SAMPLES_PER_SHORT_WINDOW`] steps in its short window.
    fn grid(&self) -> u64 {
        let common = [self.long.seconds, self.short.seconds, self.for_.seconds]
            .into_iter()
            .filter(|s| *s > 0)
            .fold(0, gcd);
        (1..=common)
            .rev()
            .find(|g| common % g == 0 && g * SAMPLES_PER_SHORT_WINDOW <= self.short.seconds)
            .unwrap_or(1)
    }

    fn describe(&self) -> String {
        format!(
            "{} {}/{}{}",
            format!("{:?}", self.severity).to_lowercase(),
            self.long.promql(),
            self.short.promql(),
            if self.for_.seconds > 0 {
                format!(" for {}", self.for_.promql())
            } else {
                String::new()
            }
        )
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Expected alerts by time and alert name.
type Checks<'c> = BTreeMap<(u64, &'c str), Vec<ExpAlert<'c>>>;

/// promtool's alert tests from expected alerts by time and alert name, in that order.
fn alert_tests(tests: Checks) -> Vec<AlertTest> {
    tests
        .into_iter()
        .map(|((at, alertname), exp_alerts)| AlertTest {
            eval_time: dur(at),
            alertname,
            exp_alerts,
        })
        .collect()
}

/// A time as promtool reads it, in hours, minutes and seconds (`25h30m`), which reads better than one unit.
fn dur(seconds: u64) -> String {
    if seconds == 0 {
        return "0s".into();
    }
    [
        (seconds / 3600, "h"),
        (seconds / 60 % 60, "m"),
        (seconds % 60, "s"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, unit)| format!("{n}{unit}"))
    .collect()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The service `app` with a counter `requests` by open label `route`, and `slos`, `[slos.*]` tables.
    pub(crate) fn service(slos: &str) -> Service {
        crate::model::test_service(&format!(
            r#"[labels.route]
help = "Route."
max_values = 10

[metrics.requests]
type = "counter"
help = "Requests."
labels = ["route"]

{slos}"#
        ))
    }

    fn pair(long: u64, short: u64, for_: u64) -> PairKey {
        PairKey {
            severity: Severity::Page,
            long: Duration { seconds: long },
            short: Duration { seconds: short },
            for_: Duration { seconds: for_ },
        }
    }

    #[test]
    fn each_pair_gets_the_longest_interval_that_divides_it_and_samples_its_short_window_twice() {
        assert_eq!(pair(3_600, 300, 120).grid(), 60);
        assert_eq!(pair(21_600, 1_800, 900).grid(), 900);
        assert_eq!(pair(86_400, 7_200, 3_600).grid(), 3_600);
        assert_eq!(pair(259_200, 21_600, 10_800).grid(), 10_800);
        assert_eq!(pair(300, 60, 0).grid(), 30);
        assert_eq!(pair(70, 14, 0).grid(), 7);
    }

    #[test]
    fn times_print_in_hours_minutes_and_seconds() {
        assert_eq!(dur(0), "0s");
        assert_eq!(dur(3_780), "1h3m");
        assert_eq!(dur(91_800), "25h30m");
        assert_eq!(dur(45), "45s");
    }
}
