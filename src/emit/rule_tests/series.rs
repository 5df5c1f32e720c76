//! The synthetic input series of an SLO: which sample names and label values feed its SLI queries, chosen so
//! that several SLOs can share a test without feeding each other's queries.

use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Context, Result};

use crate::model::{bounds, promql, LabelValues, Metric, Selector, Service, Sli, Slo};

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

/// A vector selector an SLI reads: sample name and the values each label may take.
#[derive(Debug, Clone)]
pub(super) struct Query {
    pub(super) name: String,
    pub(super) matchers: BTreeMap<String, Vec<String>>,
}

impl Query {
    /// The selector of `metric` that the SLI query prints, with the same matchers.
    pub(super) fn new(
        service: &Service,
        metric: &str,
        selector: &Selector,
        le: Option<&Vec<String>>,
    ) -> Query {
        let mut own = selector.matchers.clone();
        if let Some(le) = le {
            own.insert("le".into(), le.clone());
        }
        Query {
            name: metric.to_string(),
            matchers: promql::matchers(service, &own)
                .into_iter()
                .map(|m| (m.label, m.values))
                .collect(),
        }
    }

    pub(super) fn selects(&self, feed: &Feed) -> bool {
        feed.name == self.name
            && self
                .matchers
                .iter()
                .all(|(k, values)| feed.labels.get(k).is_some_and(|v| values.contains(v)))
    }
}

/// The queries an SLO's SLI reads: errors and total, or the threshold bucket and the count.
pub(super) fn queries(service: &Service, slo: &Slo) -> Result<Vec<Query>> {
    Ok(match &slo.sli {
        Sli::Ratio { errors, total } => vec![
            Query::new(
                service,
                &metric(service, slo, &errors.metric)?.sample_name(),
                errors,
                None,
            ),
            Query::new(
                service,
                &metric(service, slo, &total.metric)?.sample_name(),
                total,
                None,
            ),
        ],
        Sli::Latency { histogram, le, .. } => {
            let m = metric(service, slo, &histogram.metric)?;
            vec![
                Query::new(service, &m.histogram_series("bucket"), histogram, Some(le)),
                Query::new(service, &m.histogram_series("count"), histogram, None),
            ]
        }
    })
}

pub(super) fn metric<'a>(service: &'a Service, slo: &Slo, name: &str) -> Result<&'a Metric> {
    service
        .find_metric(name)
        .with_context(|| format!("{}: unknown metric {name}", slo.id))
}

/// The series one SLO is fed, with label values its queries (`own`) select and, where there is a choice,
/// ones other SLOs' queries (`uses` less `own`) do not, so that more SLOs can share a test.
pub(super) fn feeds(service: &Service, slo: &Slo, own: &[Query], uses: &Uses) -> Result<Vec<Feed>> {
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
                    bound: None,
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
        Sli::Latency {
            histogram,
            threshold,
            ..
        } => {
            let m = metric(service, slo, &histogram.metric)?;
            let base = values.feed(
                m,
                &own[0].name,
                |l| histogram.matchers.get(l).cloned(),
                Role::Good,
            );
            let mut good = base.clone();
            good.labels
                .insert("le".into(), bounds::prometheus3(*threshold));
            good.bound = Some(*threshold);
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
pub(super) fn both(a: Option<&Vec<String>>, b: Option<&Vec<String>>) -> Option<Vec<String>> {
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
pub(super) struct Uses<'q> {
    /// Label to value to the number of queries whose matcher on the label allows the value.
    pub(super) counts: HashMap<&'q str, HashMap<&'q str, usize>>,
    /// Every SLO's queries, counted.
    pub(super) queries: usize,
}

impl<'q> Uses<'q> {
    pub(super) fn new(queries: &'q [Vec<Query>]) -> Uses<'q> {
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
    pub(super) fn pick(
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
    pub(super) fn feed(
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
            bound: None,
        }
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
}
