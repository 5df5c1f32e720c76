//! The synthetic input series of an SLO: which sample names and label values feed its SLI queries, chosen so
//! that several SLOs can share a test without feeding each other's queries.

use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Context, Result};

use ::regex::Regex;

use crate::model::promql::{self, MatchOp, Matcher};
use crate::model::query::{QueryFeed, SeriesSelector};
use crate::model::{bounds, regex, LabelMatch, LabelValues, Metric, Selector, Service, Sli, Slo};

/// Value of an open label in the fed series.
const OPEN_VALUE: &str = "test";

/// How a fed series moves with each step's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// Counts the bad events.
    Bad,
    /// Counts the good events.
    Good,
    /// Counts all events.
    Total,
}

/// How the `le` of a bucket series is written: as Prometheus 3 stores every bound, or as the Go client
/// writes it and Prometheus 2 stores it. Tests feed both, so the SLI is shown to match either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Spelling {
    /// `1.0`, `5e-05`, `1e+06`.
    Prometheus3,
    /// `1`, `5e-05`, `1e+06`.
    GoClient,
}

/// One synthetic series.
#[derive(Debug, Clone)]
pub(super) struct Feed {
    pub(super) name: String,
    pub(super) labels: BTreeMap<String, String>,
    pub(super) role: Role,
    /// The bucket bound of a bucket series, whose `le` is written in the test's spelling.
    pub(super) bound: Option<f64>,
}

impl Feed {
    pub(super) fn series(&self, spelling: Spelling) -> String {
        let le = self.bound.map(|b| match spelling {
            Spelling::Prometheus3 => bounds::prometheus3(b),
            Spelling::GoClient => bounds::go(b),
        });
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| {
                let v = if k == "le" {
                    le.as_ref().unwrap_or(v)
                } else {
                    v
                };
                format!("{k}={}", promql::quote(v))
            })
            .collect();
        format!("{}{{{}}}", self.name, labels.join(","))
    }
}

/// One label matcher of a query, with the values it offers fed series and its regex compiled.
#[derive(Debug, Clone)]
pub(super) struct Check {
    pub(super) label: String,
    op: MatchOp,
    value: String,
    regex: Option<Regex>,
    /// Values it keeps, tried first for a fed series: a value list's own values, an equality's value, a
    /// regex's examples; none for `!=` and `!~`.
    candidates: Vec<String>,
    /// Values a `!=` or `!~` drops: its value, its regex's examples; tried first for a series it must not
    /// select.
    dropped: Vec<String>,
}

impl Check {
    /// The check of `matcher`; `values` are the values of a matcher written as a list, in the spec's order.
    fn new(matcher: &Matcher, values: Option<&[String]>) -> Result<Check> {
        let regex = match matcher.op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                regex::anchored(&matcher.value)
                    .with_context(|| format!("the regex `{}` does not compile", matcher.value))?,
            ),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        let candidates = match (matcher.op, values) {
            (MatchOp::Equal | MatchOp::Regex, Some(values)) => values.to_vec(),
            (MatchOp::Equal, None) => vec![matcher.value.clone()],
            (MatchOp::Regex, None) => regex::examples(&matcher.value),
            (MatchOp::NotEqual | MatchOp::NotRegex, _) => Vec::new(),
        };
        let dropped = match (matcher.op, values) {
            (MatchOp::NotEqual | MatchOp::NotRegex, Some(values)) => values.to_vec(),
            (MatchOp::NotEqual, None) => vec![matcher.value.clone()],
            (MatchOp::NotRegex, None) => regex::examples(&matcher.value),
            (MatchOp::Equal | MatchOp::Regex, _) => Vec::new(),
        };
        Ok(Check {
            label: matcher.label.clone(),
            op: matcher.op,
            value: matcher.value.clone(),
            regex,
            candidates,
            dropped,
        })
    }

    /// Whether a series whose label has `value` (empty when it has not the label) passes.
    pub(super) fn matches(&self, value: &str) -> bool {
        let regex = || self.regex.as_ref().is_some_and(|r| r.is_match(value));
        match self.op {
            MatchOp::Equal => value == self.value,
            MatchOp::NotEqual => value != self.value,
            MatchOp::Regex => regex(),
            MatchOp::NotRegex => !regex(),
        }
    }

    fn is_positive(&self) -> bool {
        self.op.is_positive()
    }
}

/// A vector selector an SLI reads: sample name and its label matchers.
#[derive(Debug, Clone)]
pub(super) struct Query {
    pub(super) name: String,
    pub(super) checks: Vec<Check>,
}

impl Query {
    /// The selector of a declared metric's series `sample` that an SLI query prints, with the same matchers.
    fn of_selector(
        metric: &Metric,
        sample: &str,
        selector: &Selector,
        le: Option<&Vec<String>>,
    ) -> Result<Query> {
        let mut own = selector.matchers.clone();
        if let Some(le) = le {
            own.insert("le".into(), LabelMatch::Values(le.clone()));
        }
        let checks = promql::matchers(&metric.selector, &own)
            .iter()
            .map(|m| Check::new(m, own.get(&m.label).and_then(LabelMatch::listed)))
            .collect::<Result<_>>()?;
        Ok(Query {
            name: sample.to_string(),
            checks,
        })
    }

    /// The selector of a query SLI's series.
    fn of_series(series: &SeriesSelector) -> Result<Query> {
        Ok(Query {
            name: series.name.clone(),
            checks: series
                .matchers
                .iter()
                .map(|m| Check::new(m, None))
                .collect::<Result<_>>()?,
        })
    }

    pub(super) fn selects(&self, feed: &Feed) -> bool {
        feed.name == self.name
            && self
                .checks
                .iter()
                .all(|c| c.matches(feed.labels.get(&c.label).map_or("", String::as_str)))
    }

    /// Its checks on `label`.
    fn on<'q>(&'q self, label: &'q str) -> impl Iterator<Item = &'q Check> + 'q {
        self.checks.iter().filter(move |c| c.label == label)
    }
}

/// The queries an SLO's SLI reads: errors and total, the threshold bucket and the count, or a query SLI's
/// good or bad events and total; `Err` with the reason when the tests cannot feed a query SLI.
pub(super) fn queries(service: &Service, slo: &Slo) -> Result<Result<Vec<Query>, String>> {
    Ok(Ok(match &slo.sli {
        Sli::Ratio { errors, total } => {
            let (em, tm) = (
                metric(service, slo, &errors.metric)?,
                metric(service, slo, &total.metric)?,
            );
            vec![
                Query::of_selector(em, &em.sample_name(), errors, None)?,
                Query::of_selector(tm, &tm.sample_name(), total, None)?,
            ]
        }
        Sli::Latency { histogram, le, .. } => {
            let m = metric(service, slo, &histogram.metric)?;
            vec![
                Query::of_selector(m, &m.histogram_series("bucket"), histogram, Some(le))?,
                Query::of_selector(m, &m.histogram_series("count"), histogram, None)?,
            ]
        }
        Sli::Events { feed, .. } | Sli::Raw { feed, .. } => match feed {
            QueryFeed::ErrorsOverTotal { errors: a, total }
            | QueryFeed::GoodOverTotal { good: a, total } => {
                vec![Query::of_series(a)?, Query::of_series(total)?]
            }
            QueryFeed::Unfed(why) => return Ok(Err(why.clone())),
        },
    }))
}

pub(super) fn metric<'a>(service: &'a Service, slo: &Slo, name: &str) -> Result<&'a Metric> {
    service
        .find_metric(name)
        .with_context(|| format!("{}: unknown metric {name}", slo.id))
}

/// The labels a fed series of sample `name` carries: the declared metric's (if `metric` names one), then
/// every other label one of `queries` reading `name` matches on.
fn labels_of(
    service: &Service,
    metric: Option<&str>,
    name: &str,
    queries: &[Query],
) -> Vec<String> {
    let mut labels: Vec<String> = metric
        .and_then(|m| service.find_metric(m))
        .map(|m| m.labels.clone())
        .unwrap_or_default();
    for c in queries
        .iter()
        .filter(|q| q.name == name)
        .flat_map(|q| &q.checks)
    {
        if !labels.contains(&c.label) {
            labels.push(c.label.clone());
        }
    }
    labels
}

/// The series one SLO is fed, with label values its queries (`own`) select and, where there is a choice,
/// ones other SLOs' queries (`uses` less `own`) do not, so that more SLOs can share a test.
pub(super) fn feeds(service: &Service, slo: &Slo, own: &[Query], uses: &Uses) -> Result<Vec<Feed>> {
    let values = Values { service, uses, own };
    let (primary, total) = (&own[0], &own[1]);
    match &slo.sli {
        Sli::Ratio { errors, total: t } => {
            let labels = labels_of(service, Some(&errors.metric), &primary.name, own);
            let total_labels = labels_of(service, Some(&t.metric), &total.name, own);
            values.pair(slo, (primary, &labels), (total, &total_labels), Role::Bad)
        }
        Sli::Events { feed, .. } | Sli::Raw { feed, .. } => {
            let (role, a, t) = match feed {
                QueryFeed::ErrorsOverTotal { errors, total } => (Role::Bad, errors, total),
                QueryFeed::GoodOverTotal { good, total } => (Role::Good, good, total),
                QueryFeed::Unfed(why) => bail!("{}: {why}", slo.id),
            };
            let labels = labels_of(service, a.metric.as_deref(), &primary.name, own);
            let total_labels = labels_of(service, t.metric.as_deref(), &total.name, own);
            values.pair(slo, (primary, &labels), (total, &total_labels), role)
        }
        Sli::Latency {
            histogram,
            threshold,
            ..
        } => {
            let (bucket, count) = (primary, total);
            let labels = labels_of(service, Some(&histogram.metric), &count.name, own);
            let base = values.feed(&bucket.name, &labels, count, None, Role::Good);
            let mut good = base.clone();
            good.labels
                .insert("le".into(), bounds::prometheus3(*threshold));
            good.bound = Some(*threshold);
            let mut all = base.clone();
            all.labels.insert("le".into(), "+Inf".into());
            all.role = Role::Total;
            let mut counted = base;
            counted.name = count.name.clone();
            counted.role = Role::Total;
            Ok(vec![good, all, counted])
        }
    }
}

/// How many SLI queries select each value of each label, counted once for the whole service so that an SLO
/// can prefer values other SLOs' queries do not select without scanning them.
pub(super) struct Uses<'q> {
    /// Label to value to the number of queries whose matcher on the label offers the value.
    pub(super) counts: HashMap<&'q str, HashMap<&'q str, usize>>,
    /// Every SLO's queries, counted.
    pub(super) queries: usize,
}

impl<'q> Uses<'q> {
    pub(super) fn new(queries: &'q [Vec<Query>]) -> Uses<'q> {
        let mut counts: HashMap<&str, HashMap<&str, usize>> = HashMap::new();
        // A matcher offers each value once (lowering dedups value lists), so a query counts once per value.
        for c in queries
            .iter()
            .flatten()
            .flat_map(|q| &q.checks)
            .filter(|c| c.is_positive())
        {
            let counts = counts.entry(&c.label).or_default();
            for v in &c.candidates {
                *counts.entry(v).or_default() += 1;
            }
        }
        Uses {
            counts,
            queries: queries.iter().map(Vec::len).sum(),
        }
    }

    pub(super) fn count(&self, label: &str, value: &str) -> usize {
        self.counts
            .get(label)
            .and_then(|values| values.get(value))
            .copied()
            .unwrap_or(0)
    }
}

/// Picks label values for fed series.
pub(super) struct Values<'a> {
    pub(super) service: &'a Service,
    /// Every SLO's queries: values other SLOs' queries select are the last choice.
    pub(super) uses: &'a Uses<'a>,
    /// The fed SLO's own queries, which do not count against a value.
    pub(super) own: &'a [Query],
}

impl Values<'_> {
    /// How many other SLOs' queries select `value` of `label`.
    pub(super) fn used(&self, label: &str, value: &str) -> usize {
        let own = self
            .own
            .iter()
            .filter(|q| {
                q.on(label)
                    .any(|c| c.is_positive() && c.candidates.iter().any(|v| v == value))
            })
            .count();
        self.uses.count(label, value).saturating_sub(own)
    }

    /// The first value that `fits` of those `checks` on a label keep, fewest other SLOs' queries selecting it
    /// first, earlier first among equals: the first keeping check's values, else a closed label's declared
    /// values, else for an open label [`OPEN_VALUE`], `test1`, `test2`, … up to one more than the other SLOs'
    /// queries.
    pub(super) fn pick(
        &self,
        label: &str,
        checks: &[&Check],
        fits: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let keeps = |v: &str| checks.iter().all(|c| c.matches(v));
        let mut values: Vec<String> = match (
            checks.iter().find(|c| c.is_positive()),
            self.service.label_defs.get(label).map(|l| &l.values),
        ) {
            (Some(check), _) => check
                .candidates
                .iter()
                .filter(|v| keeps(v))
                .cloned()
                .collect(),
            (None, Some(LabelValues::Closed(values))) => values
                .iter()
                .map(|v| v.value.clone())
                .filter(|v| keeps(v))
                .collect(),
            (None, _) => {
                let open = (0..=self.uses.queries.saturating_sub(self.own.len())).map(|i| {
                    if i == 0 {
                        OPEN_VALUE.to_string()
                    } else {
                        format!("{OPEN_VALUE}{i}")
                    }
                });
                // An unused value comes before every used one: the first that fits is the pick, and is near
                // the front, as few values are used. Only when none fits are the used ones ranked.
                if let Some(unused) = open
                    .clone()
                    .find(|v| self.used(label, v) == 0 && keeps(v) && fits(v))
                {
                    return Some(unused);
                }
                open.filter(|v| keeps(v)).collect()
            }
        };
        values.sort_by_key(|v| self.used(label, v));
        values.into_iter().find(|v| fits(v))
    }

    /// A series named `name` with every one of `labels` set to a value the checks of `own` on it keep, and
    /// those of `also` too where a value keeps both.
    pub(super) fn feed(
        &self,
        name: &str,
        labels: &[String],
        own: &Query,
        also: Option<&Query>,
        role: Role,
    ) -> Feed {
        let mut set = BTreeMap::new();
        for l in labels {
            let mine: Vec<&Check> = own.on(l).collect();
            let mut both = mine.clone();
            both.extend(also.into_iter().flat_map(|q| q.on(l)));
            let value = self
                .pick(l, &both, |_| true)
                .or_else(|| self.pick(l, &mine, |_| true))
                .unwrap_or_else(|| OPEN_VALUE.to_string());
            set.insert(l.clone(), value);
        }
        Feed {
            name: name.to_string(),
            labels: set,
            role,
            bound: None,
        }
    }

    /// The series of a ratio of a `primary` query (bad or good events, as `role` says) and a `total` one, each
    /// with the labels its series carry: a series `primary` and `total` select, and one only `total` selects
    /// (of the same sample name, the other events; else all events).
    fn pair(
        &self,
        slo: &Slo,
        (primary, labels): (&Query, &[String]),
        (total, total_labels): (&Query, &[String]),
        role: Role,
    ) -> Result<Vec<Feed>> {
        let also = (primary.name == total.name).then_some(total);
        let first = self.feed(&primary.name, labels, primary, also, role);
        let other = if total.selects(&first) {
            // The other events of the same series differ in one label the primary query restricts.
            let complement = if role == Role::Bad {
                Role::Good
            } else {
                Role::Bad
            };
            let other_labels = labels
                .iter()
                .find_map(|l| {
                    let mine: Vec<&Check> = primary.on(l).collect();
                    if mine.is_empty() {
                        return None;
                    }
                    let allowed: Vec<&Check> = total.on(l).collect();
                    let outside = |v: &str| {
                        !mine.iter().all(|c| c.matches(v)) && allowed.iter().all(|c| c.matches(v))
                    };
                    // What a `!=` or `!~` of the primary drops is the likeliest value outside it.
                    let mut dropped: Vec<&String> = mine
                        .iter()
                        .flat_map(|c| &c.dropped)
                        .filter(|v| outside(v))
                        .collect();
                    dropped.sort_by_key(|v| self.used(l, v));
                    let value = match dropped.first() {
                        Some(v) => (*v).clone(),
                        None => self.pick(l, &allowed, outside)?,
                    };
                    let mut labels = first.labels.clone();
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
                name: first.name.clone(),
                labels: other_labels,
                role: complement,
                bound: None,
            }
        } else {
            self.feed(&total.name, total_labels, total, None, Role::Total)
        };
        if !primary.selects(&first) || !total.selects(&other) || primary.selects(&other) {
            bail!("{}: cannot build series for its selectors", slo.id);
        }
        Ok(vec![first, other])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two SLOs on one counter whose errors each select `test` and one more value of the open label `route`.
    fn two_routes() -> Service {
        crate::emit::rule_tests::tests::service(
            r#"[slos.first]
description = "First."
ratio.errors = { metric = "requests", match = { route = ["test", "test1"] } }
ratio.total = { metric = "requests" }

[slos.second]
description = "Second."
ratio.errors = { metric = "requests", match = { route = ["test", "test2"] } }
ratio.total = { metric = "requests" }
"#,
        )
    }

    #[test]
    fn an_open_label_takes_the_first_value_fewest_other_slos_select() {
        let service = two_routes();
        let queries: Vec<Vec<Query>> = service
            .slos
            .iter()
            .map(|slo| queries(&service, slo).expect("queries").expect("fed"))
            .collect();
        let uses = Uses::new(&queries);
        let values = |own: usize| Values {
            service: &service,
            uses: &uses,
            own: &queries[own],
        };
        let pick = |own: usize, fits: fn(&str) -> bool| values(own).pick("route", &[], fits);
        // The other SLO selects `test` and `test2`: `test1` is free.
        assert_eq!(pick(0, |_| true).as_deref(), Some("test1"));
        // Every candidate but `test2` is taken by `first`; not fitting it, the used ones go in their order.
        assert_eq!(pick(1, |_| true).as_deref(), Some("test2"));
        assert_eq!(pick(1, |v| v != "test2").as_deref(), Some("test"));
        assert_eq!(pick(1, |v| v.len() > 5), None);
        // A matcher's values go by use too, earlier first among equals.
        let values_list = vec!["test".to_string(), "test2".to_string(), "test9".to_string()];
        let matcher = Matcher::any_of("route", &values_list, false);
        let check = Check::new(&matcher, Some(&values_list)).expect("check");
        assert_eq!(
            values(0).pick("route", &[&check], |_| true).as_deref(),
            Some("test9")
        );
        // A negative check drops what it matches from the open values.
        let not_test1 = Check::new(
            &Matcher::any_of("route", &["test1".to_string()], true),
            None,
        )
        .expect("check");
        assert_eq!(
            values(0).pick("route", &[&not_test1], |_| true).as_deref(),
            Some("test")
        );
    }
}
