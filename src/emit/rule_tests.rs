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

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::{Add as _, Div as _, Mul as _};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::prometheus::{self, Group as RuleGroup, Rule};
use crate::model::template::{self, Piece};
use crate::model::{
    promql, BurnRateAlert, Duration, Exact, LabelValues, Metric, Selector, Service, Severity, Sli,
    Slo,
};
use crate::naming;

/// Steady burns sit this far above a factor (`26/25`, 4%) or below one (`25/26`): far enough from the
/// threshold for floating point, close enough that a changed factor moves the firing time past a check.
const ABOVE: Exact = Exact::new(26, 25);
/// See [`ABOVE`].
const BELOW: Exact = Exact::new(25, 26);
/// The quiet burn, as a share of the lowest factor (or of 1 when every factor is above it).
const QUIET: Exact = Exact::new(9, 10);
/// Fewest bad events a burning step carries, so that rounding to whole events moves a ratio by at most 0.05%.
const MIN_BAD_EVENTS: u64 = 1000;
/// Steps in a pair's short window at its evaluation interval.
const SAMPLES_PER_SHORT_WINDOW: u64 = 2;
/// Value of an open label in the fed series.
const OPEN_VALUE: &str = "test";
/// Floating-point tolerance of the replay: ratios this close to a threshold could compare either way.
const TOLERANCE: f64 = 1e-9;

/// The test files of one service, by file name; none for a service without SLOs.
pub fn emit(service: &Service) -> Result<Vec<(String, String)>> {
    if service.slos.is_empty() {
        return Ok(Vec::new());
    }
    let queries = service
        .slos
        .iter()
        .map(|slo| queries(service, slo))
        .collect::<Result<Vec<_>>>()?;
    let uses = Uses::new(&queries);
    // The rules are read once into the cases, then dropped: only the group names are needed later.
    let (group_names, cases) = {
        let groups = prometheus::groups(service);
        let rules = RuleIndex::new(&groups);
        let cases = service
            .slos
            .iter()
            .zip(&queries)
            .map(|(slo, own)| SloCase::new(service, slo, &rules, own.clone(), &uses))
            .collect::<Result<Vec<_>>>()?;
        let names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
        (names, cases)
    };
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
        if g == finest {
            tests.push(no_data(&cases, g));
        }
        for pair in pairs.iter().filter(|p| p.grid() == g) {
            tests.extend(scenario(&cases, g, |c| at_factor(c, pair, g))?);
        }
        if Some(g) == below_pages_grid {
            tests.extend(scenario(&cases, g, |c| below_pages(c, g))?);
        }
        tests.extend(scenario(&cases, g, |c| above_tickets(c, g))?);
        tests.extend(scenario(&cases, g, |c| outage(c, g))?);
        if g == coarsest {
            tests.extend(scenario(&cases, g, |c| quiet(c, g))?);
        }
        let file = TestFile {
            rule_files: vec!["rules.yml".into()],
            evaluation_interval: dur(g),
            group_eval_order: group_names.clone(),
            tests,
        };
        let yaml = serde_norway::to_string(&file)
            .with_context(|| format!("cannot serialize the rule tests of {}", service.name))?;
        let name = if g == finest {
            "rules.test.yml".to_string()
        } else {
            format!("rules.{}.test.yml", dur(g))
        };
        files.push((
            name,
            format!(
                "# Generated by slogen from {}. Do not edit.\n\
                 # Run with `promtool test rules`: the SLO alerts of rules.yml, evaluated every {}.\n{}\n",
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

/// How a fed series moves with each step's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Counts the bad events.
    Bad,
    /// Counts the good events.
    Good,
    /// Counts all events.
    Total,
}

/// One synthetic series.
#[derive(Debug, Clone)]
struct Feed {
    name: String,
    labels: BTreeMap<String, String>,
    role: Role,
}

impl Feed {
    fn series(&self) -> String {
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={}", promql::quote(v)))
            .collect();
        format!("{}{{{}}}", self.name, labels.join(","))
    }
}

/// A vector selector an SLI reads: sample name and the values each label may take.
#[derive(Debug, Clone)]
struct Query {
    name: String,
    matchers: BTreeMap<String, Vec<String>>,
}

impl Query {
    fn new(service: &Service, metric: &str, selector: &Selector, extra: &[(&str, &str)]) -> Query {
        let mut matchers: BTreeMap<String, Vec<String>> = service
            .selector
            .iter()
            .map(|(k, v)| (k.clone(), vec![v.clone()]))
            .collect();
        matchers.extend(selector.matchers.clone());
        for (k, v) in extra {
            matchers.insert(k.to_string(), vec![v.to_string()]);
        }
        Query {
            name: metric.to_string(),
            matchers,
        }
    }

    fn selects(&self, feed: &Feed) -> bool {
        feed.name == self.name
            && self
                .matchers
                .iter()
                .all(|(k, values)| feed.labels.get(k).is_some_and(|v| values.contains(v)))
    }
}

/// What is expected of one burn-rate alert when it fires.
#[derive(Debug, Clone)]
struct PairRule {
    /// The threshold as the rule prints it, which is what Prometheus compares with.
    threshold: f64,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, Vec<Piece>>,
}

/// An alerting rule's expression, `for`, labels and annotations.
type AlertRule<'g> = (
    &'g String,
    &'g Option<String>,
    &'g BTreeMap<String, String>,
    &'g BTreeMap<String, String>,
);

/// The rules file's alerts by name and SLI error-ratio records by `sloth_id`, each in file order: indexed once,
/// so that finding an SLO's rules does not scan every other SLO's.
struct RuleIndex<'g> {
    alerts: HashMap<&'g str, Vec<AlertRule<'g>>>,
    sli_records: HashMap<&'g str, Vec<&'g BTreeMap<String, String>>>,
}

impl<'g> RuleIndex<'g> {
    fn new(groups: &'g [RuleGroup]) -> RuleIndex<'g> {
        let mut index = RuleIndex {
            alerts: HashMap::new(),
            sli_records: HashMap::new(),
        };
        let sli_record = promql::sli_error_record("");
        for rule in groups.iter().flat_map(|g| &g.rules) {
            match rule {
                Rule::Alert {
                    alert,
                    expr,
                    for_,
                    labels,
                    annotations,
                } => index
                    .alerts
                    .entry(alert)
                    .or_default()
                    .push((expr, for_, labels, annotations)),
                Rule::Record { record, labels, .. } if record.starts_with(&sli_record) => {
                    if let Some(id) = labels.get("sloth_id") {
                        index.sli_records.entry(id).or_default().push(labels);
                    }
                }
                Rule::Record { .. } => {}
            }
        }
        index
    }

    /// The alerting rules named `name`.
    fn alerts(&self, name: &str) -> &[AlertRule<'g>] {
        self.alerts.get(name).map_or(&[], Vec::as_slice)
    }

    /// The labels of the error-ratio records of the SLO `id`.
    fn sli_records(&self, id: &str) -> &[&'g BTreeMap<String, String>] {
        self.sli_records.get(id).map_or(&[], Vec::as_slice)
    }
}

/// One SLO with everything its tests need: feeds, the queries they must (and other SLOs' feeds must not)
/// match, and the alerts as the rules file renders them.
struct SloCase<'a> {
    slo: &'a Slo,
    feeds: Vec<Feed>,
    /// Each feed's series selector, as the input series print it.
    series: Vec<String>,
    queries: Vec<Query>,
    burn_alert: String,
    absent_alert: String,
    pairs: Vec<PairRule>,
    absent_labels: BTreeMap<String, String>,
    absent_annotations: BTreeMap<String, String>,
    absent_for: Duration,
    /// The longest SLI window recorded: counters start high enough that `rate()` never extrapolates to zero.
    longest_window: Duration,
}

impl<'a> SloCase<'a> {
    fn new(
        service: &Service,
        slo: &'a Slo,
        rules: &RuleIndex,
        queries: Vec<Query>,
        uses: &Uses,
    ) -> Result<SloCase<'a>> {
        let burn_alert = naming::slo_burn_alert(&service.name, &slo.name);
        let absent_alert = naming::slo_absent_alert(&service.name, &slo.name);
        let records = rules.sli_records(&slo.id);
        let longest_window = records
            .iter()
            .filter_map(|l| l.get("sloth_window").and_then(|w| Duration::parse(w)))
            .max()
            .context("an SLO records its error ratio")?;

        let burn_rules = rules.alerts(&burn_alert);
        if burn_rules.len() != slo.burn_rate_alerts.len() {
            bail!(
                "{}: the rules have {} burn-rate alerts, the model {}",
                slo.id,
                burn_rules.len(),
                slo.burn_rate_alerts.len()
            );
        }
        let mut pairs = Vec::new();
        for (a, &(_, _, labels, annotations)) in slo.burn_rate_alerts.iter().zip(burn_rules) {
            let long = a.long.promql();
            if labels.get("long") != Some(&long) || labels.get("short") != Some(&a.short.promql()) {
                bail!("{}: burn-rate rules are not in the model's order", slo.id);
            }
            let series = records
                .iter()
                .find(|l| l.get("sloth_window") == Some(&long))
                .with_context(|| format!("{}: no {long} error-ratio record", slo.id))?;
            let mut exp_labels = (*series).clone();
            exp_labels.extend(labels.clone());
            pairs.push(PairRule {
                threshold: a
                    .threshold
                    .to_string()
                    .parse()
                    .context("a printed threshold")?,
                labels: exp_labels,
                annotations: parse_annotations(slo, annotations)?,
            });
        }

        let &(expr, for_, labels, annotations) = rules
            .alerts(&absent_alert)
            .first()
            .with_context(|| format!("{}: no absent alert", slo.id))?;
        let mut absent_labels = absent_labels(expr)?;
        absent_labels.extend(labels.clone());
        let absent_annotations = render(&parse_annotations(slo, annotations)?, 1.0);
        let absent_for = match for_ {
            Some(f) => Duration::parse(f).with_context(|| format!("absent `for` {f}"))?,
            None => Duration { seconds: 0 },
        };
        let feeds = feeds(service, slo, &queries, uses)?;
        let series = feeds.iter().map(Feed::series).collect();
        Ok(SloCase {
            slo,
            feeds,
            series,
            queries,
            burn_alert,
            absent_alert,
            pairs,
            absent_labels,
            absent_annotations,
            absent_for,
            longest_window,
        })
    }

    fn conflicts(&self, other: &SloCase) -> bool {
        self.feeds
            .iter()
            .any(|f| other.queries.iter().any(|q| q.selects(f)))
            || other
                .feeds
                .iter()
                .any(|f| self.queries.iter().any(|q| q.selects(f)))
    }

    /// The index of the pair a full outage is tested with: the page (else ticket) that fires first.
    fn outage_pair(&self) -> Option<usize> {
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

fn parse_annotations(
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

fn render(annotations: &BTreeMap<String, Vec<Piece>>, value: f64) -> BTreeMap<String, String> {
    annotations
        .iter()
        .map(|(k, pieces)| (k.clone(), template::render(pieces, value)))
        .collect()
}

/// The labels `absent(<selector>)` returns: the selector's equality matchers other than the name.
fn absent_labels(expr: &str) -> Result<BTreeMap<String, String>> {
    use promql_parser::label::MatchOp;
    use promql_parser::parser::{self, Expr};
    let ast = parser::parse(expr).map_err(|e| anyhow::anyhow!("{expr}: {e}"))?;
    let Expr::Call(call) = ast else {
        bail!("{expr}: not an absent() call");
    };
    let Some(Expr::VectorSelector(selector)) = call.args.args.first().map(|a| a.as_ref()) else {
        bail!("{expr}: absent() of something else than a selector");
    };
    Ok(selector
        .matchers
        .matchers
        .iter()
        .filter(|m| matches!(m.op, MatchOp::Equal) && m.name != "__name__")
        .map(|m| (m.name.clone(), m.value.clone()))
        .collect())
}

/// The queries an SLO's SLI reads: errors and total, or the threshold bucket and the count.
fn queries(service: &Service, slo: &Slo) -> Result<Vec<Query>> {
    Ok(match &slo.sli {
        Sli::Ratio { errors, total } => vec![
            Query::new(
                service,
                &metric(service, slo, &errors.metric)?.sample_name(),
                errors,
                &[],
            ),
            Query::new(
                service,
                &metric(service, slo, &total.metric)?.sample_name(),
                total,
                &[],
            ),
        ],
        Sli::Latency { histogram, le, .. } => {
            let m = metric(service, slo, &histogram.metric)?;
            vec![
                Query::new(
                    service,
                    &m.histogram_series("bucket"),
                    histogram,
                    &[("le", le)],
                ),
                Query::new(service, &m.histogram_series("count"), histogram, &[]),
            ]
        }
    })
}

fn metric<'a>(service: &'a Service, slo: &Slo, name: &str) -> Result<&'a Metric> {
    service
        .find_metric(name)
        .with_context(|| format!("{}: unknown metric {name}", slo.id))
}

/// The series one SLO is fed, with label values its queries (`own`) select and, where there is a choice,
/// ones other SLOs' queries (`uses` less `own`) do not, so that more SLOs can share a test.
fn feeds(service: &Service, slo: &Slo, own: &[Query], uses: &Uses) -> Result<Vec<Feed>> {
    let values = Values { service, uses, own };
    match &slo.sli {
        Sli::Ratio { errors, total } => {
            let (eq, tq) = (&own[0], &own[1]);
            let em = metric(service, slo, &errors.metric)?;
            let bad = values.feed(
                em,
                &eq.name,
                |l| both(errors.matchers.get(l), total.matchers.get(l)),
                Role::Bad,
            );
            let other = if tq.selects(&bad) {
                // Same metric, bad events among all: a good series differs in one label errors restricts.
                let good = em
                    .labels
                    .iter()
                    .find_map(|l| {
                        let bad_values = errors.matchers.get(l)?;
                        let value = values.pick(l, total.matchers.get(l), |v| {
                            !bad_values.iter().any(|b| b == v)
                        })?;
                        let mut labels = bad.labels.clone();
                        labels.insert(l.clone(), value);
                        Some(labels)
                    })
                    .with_context(|| {
                        format!(
                            "{}: no series is counted in total but not in errors",
                            slo.id
                        )
                    })?;
                Feed {
                    name: bad.name.clone(),
                    labels: good,
                    role: Role::Good,
                }
            } else {
                let tm = metric(service, slo, &total.metric)?;
                values.feed(
                    tm,
                    &tq.name,
                    |l| total.matchers.get(l).cloned(),
                    Role::Total,
                )
            };
            if !eq.selects(&bad) || !tq.selects(&other) || eq.selects(&other) {
                bail!("{}: cannot build series for its selectors", slo.id);
            }
            Ok(vec![bad, other])
        }
        Sli::Latency { histogram, le, .. } => {
            let m = metric(service, slo, &histogram.metric)?;
            let base = values.feed(
                m,
                &own[0].name,
                |l| histogram.matchers.get(l).cloned(),
                Role::Good,
            );
            let mut good = base.clone();
            good.labels.insert("le".into(), le.clone());
            let mut all = base.clone();
            all.labels.insert("le".into(), "+Inf".into());
            all.role = Role::Total;
            let mut counted = base;
            counted.name = own[1].name.clone();
            counted.role = Role::Total;
            Ok(vec![good, all, counted])
        }
    }
}

/// Values allowed by both of two matchers (`None` allows any); the first's own when they share none.
fn both(a: Option<&Vec<String>>, b: Option<&Vec<String>>) -> Option<Vec<String>> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let common: Vec<String> = a.iter().filter(|v| b.contains(v)).cloned().collect();
            Some(if common.is_empty() { a.clone() } else { common })
        }
        (Some(a), None) => Some(a.clone()),
        (None, Some(b)) => Some(b.clone()),
        (None, None) => None,
    }
}

/// How many SLI queries select each value of each label, counted once for the whole service so that an SLO
/// can prefer values other SLOs' queries do not select without scanning them.
struct Uses<'q> {
    /// Label to value to the number of queries whose matcher on the label allows the value.
    counts: HashMap<&'q str, HashMap<&'q str, usize>>,
    /// Every SLO's queries, counted.
    queries: usize,
}

impl<'q> Uses<'q> {
    fn new(queries: &'q [Vec<Query>]) -> Uses<'q> {
        let mut counts: HashMap<&str, HashMap<&str, usize>> = HashMap::new();
        // A matcher lists each value once (lowering dedups them), so a query counts once per value.
        for q in queries.iter().flatten() {
            for (label, values) in &q.matchers {
                let counts = counts.entry(label).or_default();
                for v in values {
                    *counts.entry(v).or_default() += 1;
                }
            }
        }
        Uses {
            counts,
            queries: queries.iter().map(Vec::len).sum(),
        }
    }

    fn count(&self, label: &str, value: &str) -> usize {
        self.counts
            .get(label)
            .and_then(|values| values.get(value))
            .copied()
            .unwrap_or(0)
    }
}

/// Picks label values for fed series.
struct Values<'a> {
    service: &'a Service,
    /// Every SLO's queries: values other SLOs' queries select are the last choice.
    uses: &'a Uses<'a>,
    /// The fed SLO's own queries, which do not count against a value.
    own: &'a [Query],
}

impl Values<'_> {
    /// How many other SLOs' queries select `value` of `label`.
    fn used(&self, label: &str, value: &str) -> usize {
        let own = self
            .own
            .iter()
            .filter(|q| {
                q.matchers
                    .get(label)
                    .is_some_and(|m| m.iter().any(|v| v == value))
            })
            .count();
        self.uses.count(label, value) - own
    }

    /// The first value that `fits` of those a label may take under a matcher (`None`: any), fewest other
    /// SLOs' queries selecting it first, earlier first among equals: the matcher's, else a closed label's
    /// declared values, else for an open label [`OPEN_VALUE`], `test1`, `test2`, … up to one more than the
    /// other SLOs' queries.
    fn pick(
        &self,
        label: &str,
        matcher: Option<&Vec<String>>,
        fits: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let mut values = match (
            matcher,
            self.service.label_defs.get(label).map(|l| &l.values),
        ) {
            (Some(values), _) => values.clone(),
            (None, Some(LabelValues::Closed(values))) => {
                values.iter().map(|v| v.value.clone()).collect()
            }
            (None, _) => {
                let open = (0..=self.uses.queries - self.own.len()).map(|i| {
                    if i == 0 {
                        OPEN_VALUE.to_string()
                    } else {
                        format!("{OPEN_VALUE}{i}")
                    }
                });
                // An unused value comes before every used one: the first that fits is the pick, and is near
                // the front, as few values are used. Only when none fits are the used ones ranked.
                if let Some(unused) = open.clone().find(|v| self.used(label, v) == 0 && fits(v)) {
                    return Some(unused);
                }
                open.collect()
            }
        };
        values.sort_by_key(|v| self.used(label, v));
        values.into_iter().find(|v| fits(v))
    }

    /// A series of `metric` named `name` with the service selector and every label of the metric set.
    fn feed(
        &self,
        metric: &Metric,
        name: &str,
        matcher: impl Fn(&String) -> Option<Vec<String>>,
        role: Role,
    ) -> Feed {
        let mut labels = self.service.selector.clone();
        for l in &metric.labels {
            let value = self
                .pick(l, matcher(l).as_ref(), |_| true)
                .unwrap_or_else(|| OPEN_VALUE.to_string());
            labels.insert(l.clone(), value);
        }
        Feed {
            name: name.to_string(),
            labels,
            role,
        }
    }
}

/// The error ratio of a stretch of steps.
#[derive(Debug, Clone, Copy)]
enum Burn {
    /// No bad events.
    Good,
    /// This share of events bad.
    Ratio(Exact),
    /// Every event bad.
    Outage,
}

/// What the model says of an alert at a time; checked against the replay before it is written.
#[derive(Debug, Clone)]
enum Claim {
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

/// One SLO's part in a test: its burn stretches (the last one lasts to the end) and checks at seconds.
struct Plan {
    phases: Vec<(u64, Burn)>,
    checks: Vec<(u64, Claim)>,
}

/// Seconds `x` rounded down to the evaluation grid.
fn floor_to(x: Exact, g: u64) -> u64 {
    (x.div(Exact::int(g)).floor() as u64) * g
}

/// The last grid point strictly before `x`.
fn before(x: Exact, g: u64) -> u64 {
    let down = floor_to(x, g);
    if Exact::int(down).cmp_value(x).is_eq() {
        down.saturating_sub(g)
    } else {
        down
    }
}

/// Seconds `x` rounded up to the grid.
fn ceil_to(x: Exact, g: u64) -> u64 {
    let down = floor_to(x, g);
    if Exact::int(down).cmp_value(x).is_lt() {
        down + g
    } else {
        down
    }
}

/// The smaller of two values.
fn min(a: Exact, b: Exact) -> Exact {
    if a.cmp_value(b).is_le() {
        a
    } else {
        b
    }
}

/// A burn just above pair `key`'s factor from a clean history: it fires by `long × factor / burn + for` plus
/// one interval after the burn starts (the model's `time_to_fire_at_factor` less `for`, scaled by factor over
/// burn), and not one interval before.
fn at_factor(case: &SloCase, key: &PairKey, g: u64) -> Option<(String, Plan)> {
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
    let crossing = long.mul(a.factor).div(burn);
    // Clean history just long enough that the long window is full of it and the burn when the ratio crosses.
    let start = ceil_to(long.checked_sub(crossing)?, g);
    let quiet_until = start + a.for_.seconds + before(crossing, g);
    let fired_by = start + floor_to(crossing.add(for_).add(Exact::int(g)), g);
    let name = format!(
        "{}: a burn of {over} times its factor from {} fires it by {}, not at {}",
        key.describe(),
        dur(start),
        dur(fired_by),
        dur(quiet_until)
    );
    Some((
        name,
        Plan {
            phases: vec![(start / g, Burn::Good), (0, Burn::Ratio(ratio))],
            checks: vec![
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
        },
    ))
}

/// The error ratio of a steady burn just below the lowest page factor and, when the SLO has a ticket with a
/// lower factor, above the highest such ticket factor; with the tickets it should fire.
fn between(case: &SloCase) -> Option<(Exact, Vec<usize>)> {
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
fn below_pages(case: &SloCase, g: u64) -> Option<(String, Plan)> {
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
        Plan {
            phases: vec![(0, Burn::Ratio(ratio))],
            checks: vec![(at, Claim::NoPage), (at, Claim::Present)],
        },
    ))
}

/// The same burn fires the ticket with the shortest `for` among those with a lower factor, and no page, in
/// that ticket's file.
fn above_tickets(case: &SloCase, g: u64) -> Option<(String, Plan)> {
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
        Plan {
            phases: vec![(0, Burn::Ratio(ratio))],
            checks: vec![
                (at, Claim::Pair { pair, firing: true }),
                (at, Claim::TicketsOnly),
                (at, Claim::Present),
            ],
        },
    ))
}

/// A full outage after a clean long window: the fastest page (or ticket) fires by `time_to_fire_full_outage`
/// and not one interval before; the outage lasts until then and at least one short window, and once it stops
/// the alert still fires just before `reset_time` and has resolved one interval after it.
fn outage(case: &SloCase, g: u64) -> Option<(String, Plan)> {
    let pair = case.outage_pair()?;
    let a = &case.slo.burn_rate_alerts[pair];
    if PairKey::of(a).grid() != g {
        return None;
    }
    let start = ceil_to(Exact::int(a.long.seconds), g);
    let for_ = Exact::int(a.for_.seconds);
    let outage_crossing = a.time_to_fire_full_outage.checked_sub(for_)?;
    let quiet_until = start + a.for_.seconds + before(outage_crossing, g);
    let fired_by = start + floor_to(a.time_to_fire_full_outage.add(Exact::int(g)), g);
    let stop = fired_by.max(start + ceil_to(Exact::int(a.short.seconds), g));
    let still = stop + before(a.reset_time, g);
    let resolved = stop + floor_to(a.reset_time.add(Exact::int(g)), g);
    let name = format!(
        "{}: a full outage from {} fires it by its time to fire on a full outage; once the outage stops, it \
         resolves within its reset time",
        PairKey::of(a).describe(),
        dur(start),
    );
    Some((
        name,
        Plan {
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
fn quiet(case: &SloCase, g: u64) -> Option<(String, Plan)> {
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
    Some((
        name,
        Plan {
            phases: vec![(0, Burn::Ratio(ratio))],
            checks,
        },
    ))
}

/// No series at all: every absent alert fires once its `for` has passed, not one interval before, and no
/// burn-rate alert fires.
fn no_data<'c>(cases: &'c [SloCase], g: u64) -> TestGroup<'c> {
    let mut tests = Checks::new();
    for c in cases {
        let fires = ceil_to(Exact::int(c.absent_for.seconds), g);
        if fires >= g {
            tests.insert((fires - g, &c.absent_alert), Vec::new());
        }
        let absent = ExpAlert {
            exp_labels: &c.absent_labels,
            exp_annotations: Cow::Borrowed(&c.absent_annotations),
        };
        tests.insert((fires, &c.absent_alert), vec![absent]);
        tests.insert((fires, &c.burn_alert), Vec::new());
    }
    TestGroup {
        name: "no data: every SLI's absent alert fires after its `for`, no burn-rate alert fires"
            .into(),
        interval: dur(g),
        input_series: Vec::new(),
        alert_rule_test: alert_tests(tests),
    }
}

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

/// The tests of one scenario: its SLOs go into as few tests as their series allow, each SLO into the first
/// test whose SLOs' queries select none of its series and whose series its queries do not select.
fn scenario<'c>(
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
struct Lane<'c, 's> {
    parts: Vec<(&'c SloCase<'s>, String, Plan)>,
    /// Sample name to the parts that query it.
    read: HashMap<&'c str, Vec<usize>>,
    /// Sample name to the parts fed a series of it.
    written: HashMap<&'c str, Vec<usize>>,
}

impl<'c, 's> Lane<'c, 's> {
    /// Whether `case` conflicts with none of the lane's SLOs.
    fn admits(&self, case: &SloCase) -> bool {
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

    fn push(&mut self, case: &'c SloCase<'s>, name: String, plan: Plan) {
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
fn test_group<'c>(parts: &[(&'c SloCase, String, Plan)], g: u64) -> Result<TestGroup<'c>> {
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
const NUDGES: u64 = 4;

/// Expected alerts by time and alert name.
type Checks<'c> = BTreeMap<(u64, &'c str), Vec<ExpAlert<'c>>>;

/// One SLO's series and checks in a test of `steps` steps.
fn part<'c>(
    case: &'c SloCase,
    plan: &Plan,
    steps: u64,
    g: u64,
    nudge: u64,
) -> Result<(Vec<InputSeries<'c>>, Checks<'c>)> {
    let traffic = Traffic::new(plan, steps, nudge);
    let offset = traffic
        .total
        .checked_mul(case.longest_window.seconds.div_ceil(g));
    let offset =
        offset.context("the objective needs more test traffic than 64-bit counters hold")?;
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
struct Traffic {
    total: u64,
    bad: Vec<u64>,
}

impl Traffic {
    fn new(plan: &Plan, steps: u64, nudge: u64) -> Traffic {
        // Enough events per step that the smallest burn has MIN_BAD_EVENTS bad ones.
        let mut total: u64 = MIN_BAD_EVENTS;
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

    fn increment(&self, role: Role, step: usize) -> u64 {
        match role {
            Role::Bad => self.bad[step],
            Role::Good => self.total - self.bad[step],
            Role::Total => self.total,
        }
    }

    /// promtool's expanding notation: `start`, then `a+bxn` for each run of equal increments.
    fn values(&self, role: Role, offset: u64) -> String {
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
    fn ratio(&self, prefix: &[u64], window: u64, g: u64, i: usize) -> Option<f64> {
        let first = i.saturating_sub((window / g) as usize);
        (first < i)
            .then(|| (prefix[i] - prefix[first]) as f64 / (self.total * (i - first) as u64) as f64)
    }
}

/// The burn-rate pairs firing at each step, with the alert's value, replaying the recording rules, the alert
/// conditions and `for`; a ratio within [`TOLERANCE`] of its threshold counts as over it when `edge` is set.
fn replay(case: &SloCase, traffic: &Traffic, g: u64, edge: bool) -> Vec<Vec<(usize, f64)>> {
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
fn firing_alerts<'c>(case: &'c SloCase, firing: &[(usize, f64)]) -> Result<Vec<ExpAlert<'c>>> {
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
    use crate::model::{lower, SourceFile};

    /// Two SLOs on one counter whose errors each select `test` and one more value of the open label `route`.
    fn two_routes() -> Service {
        let text = r#"version = 1

[tiers.standard]
objective = 99.9

[service]
name = "app"
tier = "standard"
team = "web"
runbook_base_url = "https://runbooks.example.com/app"
selector = { job = "app" }

[labels.route]
help = "Route."
max_values = 10

[metrics.requests]
type = "counter"
help = "Requests."
labels = ["route"]

[slos.first]
description = "First."
ratio.errors = { metric = "requests", match = { route = ["test", "test1"] } }
ratio.total = { metric = "requests" }

[slos.second]
description = "Second."
ratio.errors = { metric = "requests", match = { route = ["test", "test2"] } }
ratio.total = { metric = "requests" }
"#;
        let files = [SourceFile {
            path: "slos/app.toml".into(),
            text: text.into(),
        }];
        let mut model = lower(&files).unwrap_or_else(|_| panic!("the spec is valid"));
        model.services.remove(0)
    }

    #[test]
    fn an_open_label_takes_the_first_value_fewest_other_slos_select() {
        let service = two_routes();
        let queries: Vec<Vec<Query>> = service
            .slos
            .iter()
            .map(|slo| queries(&service, slo).expect("queries"))
            .collect();
        let uses = Uses::new(&queries);
        let values = |own: usize| Values {
            service: &service,
            uses: &uses,
            own: &queries[own],
        };
        let pick = |own: usize, fits: fn(&str) -> bool| values(own).pick("route", None, fits);
        // The other SLO selects `test` and `test2`: `test1` is free.
        assert_eq!(pick(0, |_| true).as_deref(), Some("test1"));
        // Every candidate but `test2` is taken by `first`; not fitting it, the used ones go in their order.
        assert_eq!(pick(1, |_| true).as_deref(), Some("test2"));
        assert_eq!(pick(1, |v| v != "test2").as_deref(), Some("test"));
        assert_eq!(pick(1, |v| v.len() > 5), None);
        // A matcher's values go by use too, earlier first among equals.
        let matcher = vec!["test".to_string(), "test2".to_string(), "test9".to_string()];
        assert_eq!(
            values(0).pick("route", Some(&matcher), |_| true).as_deref(),
            Some("test9")
        );
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
    fn times_round_to_the_grid() {
        let x = Exact::new(3_461_538, 1_000); // 3461.538 s
        assert_eq!(floor_to(x, 60), 3_420);
        assert_eq!(before(x, 60), 3_420);
        assert_eq!(ceil_to(x, 60), 3_480);
        assert_eq!(before(Exact::int(120), 60), 60);
        assert_eq!(ceil_to(Exact::int(120), 60), 120);
        assert_eq!(dur(0), "0s");
        assert_eq!(dur(3_780), "1h3m");
        assert_eq!(dur(91_800), "25h30m");
        assert_eq!(dur(45), "45s");
    }

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
