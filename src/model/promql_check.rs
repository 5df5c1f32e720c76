//! Checks hand-written PromQL against the declared metrics: counters are rated, gauges are not, and every
//! label matcher names a label the metric has.

use std::collections::HashMap;

use promql_parser::parser::Expr;

use super::{Metric, MetricKind, Service};

/// One misuse found in an expression.
pub struct Misuse {
    /// The metric name of the selector it is about, as written.
    pub selector: String,
    /// What is wrong.
    pub message: String,
    /// The label under the snippet.
    pub label: String,
    /// How to fix it.
    pub hint: String,
}

/// Functions that want a counter's range: using a gauge inside them is a bug.
const COUNTER_FUNCTIONS: &[&str] = &["rate", "irate", "increase", "resets"];
/// Functions that accept any type and do not read the value as a level.
const ANY_TYPE_FUNCTIONS: &[&str] = &[
    "absent",
    "absent_over_time",
    "present_over_time",
    "count_over_time",
    "timestamp",
    "changes",
    "last_over_time",
];

/// How the surrounding expression reads the selector's values.
#[derive(Clone, Copy, PartialEq)]
enum Use {
    /// Read as a level (comparison, arithmetic, `avg_over_time`, …).
    Level,
    /// Inside `rate()` and friends.
    Rate,
    /// Type does not matter.
    Any,
}

/// A service's metrics by the names a query may use for them, indexed once per service: checking a selector
/// must not scan every metric, or checking the alerts and panels of a large service is quadratic.
pub struct Declared<'s> {
    service: &'s Service,
    /// Exposed sample name to the first metric (in name order) that exposes it.
    exposed: HashMap<String, usize>,
    /// Family name (base name and unit) to the first metric that has it.
    families: HashMap<String, usize>,
}

impl<'s> Declared<'s> {
    /// Indexes the metrics of `service`.
    pub fn new(service: &'s Service) -> Declared<'s> {
        let mut exposed = HashMap::new();
        let mut families = HashMap::new();
        for (i, m) in service.metrics.iter().enumerate() {
            for name in m.exposed_names() {
                exposed.entry(name).or_insert(i);
            }
            families.entry(m.family_name()).or_insert(i);
        }
        Declared {
            service,
            exposed,
            families,
        }
    }

    /// The service whose metrics these are.
    pub fn service(&self) -> &'s Service {
        self.service
    }

    /// The first metric that exposes the sample `name`.
    pub(crate) fn metric_exposing(&self, name: &str) -> Option<&'s Metric> {
        self.exposed.get(name).map(|&i| &self.service.metrics[i])
    }

    /// The first metric that `name` is one suffix away from: its base name, its family name, or the family
    /// name followed by `_` and anything.
    fn lookalike(&self, name: &str) -> Option<&'s Metric> {
        let metrics = &self.service.metrics;
        let by_name = metrics.binary_search_by(|m| m.name.as_str().cmp(name)).ok();
        let by_family = name
            .match_indices('_')
            .map(|(i, _)| &name[..i])
            .chain([name])
            .filter_map(|family| self.families.get(family).copied());
        by_name
            .into_iter()
            .chain(by_family)
            .min()
            .map(|i| &metrics[i])
    }
}

/// Walks `expr` and appends every misuse of a declared metric to `out`.
pub fn metric_misuse(expr: &Expr, declared: &Declared, out: &mut Vec<Misuse>) {
    walk(expr, declared, Use::Level, out);
}

fn walk(expr: &Expr, declared: &Declared, usage: Use, out: &mut Vec<Misuse>) {
    match expr {
        Expr::Aggregate(a) => {
            walk(&a.expr, declared, usage, out);
            if let Some(p) = &a.param {
                walk(p, declared, Use::Any, out);
            }
        }
        Expr::Unary(u) => walk(&u.expr, declared, usage, out),
        Expr::Binary(b) => {
            walk(&b.lhs, declared, usage, out);
            walk(&b.rhs, declared, usage, out);
        }
        Expr::Paren(p) => walk(&p.expr, declared, usage, out),
        Expr::Subquery(s) => walk(&s.expr, declared, usage, out),
        Expr::VectorSelector(vs) => selector(vs, declared, usage, out),
        Expr::MatrixSelector(ms) => selector(&ms.vs, declared, usage, out),
        Expr::Call(call) => {
            let name = call.func.name;
            let inner = if COUNTER_FUNCTIONS.contains(&name) {
                Use::Rate
            } else if ANY_TYPE_FUNCTIONS.contains(&name) {
                Use::Any
            } else if name == "histogram_quantile" {
                usage
            } else {
                Use::Level
            };
            for arg in &call.args.args {
                walk(arg, declared, inner, out);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

fn selector(
    vs: &promql_parser::parser::VectorSelector,
    declared: &Declared,
    usage: Use,
    out: &mut Vec<Misuse>,
) {
    let Some(name) = &vs.name else { return };
    let service = declared.service;
    let Some(metric) = declared.metric_exposing(name) else {
        lookalike(name, declared, out);
        return;
    };
    let cumulative = metric.kind != MetricKind::Gauge;
    let what = match metric.kind {
        MetricKind::Histogram => "a histogram series",
        _ => "a counter",
    };
    match (cumulative, usage) {
        (true, Use::Level) => out.push(Misuse {
            selector: name.to_string(),
            message: format!("counter used as a gauge: `{name}` is read as a level"),
            label: format!("`{name}` is {what} and only ever goes up"),
            hint: format!("wrap it in `rate({name}[5m])` or `increase(...)`"),
        }),
        (false, Use::Rate) => out.push(Misuse {
            selector: name.to_string(),
            message: format!("gauge used as a counter: `{name}` is inside rate()/increase()"),
            label: format!("`{name}` is a gauge"),
            hint: "read a gauge directly, or use `deriv()` / `delta()` for its change".into(),
        }),
        _ => {}
    }
    for m in &vs.matchers.matchers {
        let known = metric.labels.contains(&m.name)
            || metric.selector.contains_key(&m.name)
            || service.selector.contains_key(&m.name)
            || matches!(m.name.as_str(), "job" | "instance" | "__name__")
            || (m.name == "le" && name.ends_with("_bucket"));
        if known && matches!(m.op, promql_parser::label::MatchOp::Equal) {
            let closed = service
                .label_defs
                .get(&m.name)
                .and_then(|l| match &l.values {
                    super::LabelValues::Closed(values) => Some(values),
                    super::LabelValues::Open { .. } | super::LabelValues::Unlimited => None,
                });
            if let Some(values) = closed.filter(|v| !v.iter().any(|c| c.value == m.value)) {
                let list: Vec<&str> = values.iter().map(|v| v.value.as_str()).collect();
                out.push(Misuse {
                    selector: name.to_string(),
                    message: format!("`{}` is not a value of label `{}`", m.value, m.name),
                    label: "never matches".into(),
                    hint: format!("allowed: {}", list.join(", ")),
                });
            }
        }
        if !known {
            out.push(Misuse {
                selector: name.to_string(),
                message: format!(
                    "label `{}` is not declared on metric `{}`",
                    m.name, metric.name
                ),
                label: "unknown label".into(),
                hint: if metric.labels.is_empty() {
                    format!("`{}` has no labels", metric.name)
                } else {
                    format!("known labels: {}", metric.labels.join(", "))
                },
            });
        }
    }
}

/// A name that is not exposed but is one suffix away from a declared metric (`http_requests` for
/// `http_requests_total`, `x_seconds` for a histogram) is a typo that would silently match nothing.
fn lookalike(name: &str, declared: &Declared, out: &mut Vec<Misuse>) {
    if let Some(metric) = declared.lookalike(name) {
        out.push(Misuse {
            selector: name.to_string(),
            message: format!(
                "`{name}` is not a series that metric `{}` exposes",
                metric.name
            ),
            label: "matches nothing".into(),
            hint: format!("exposed names: {}", metric.exposed_names().join(", ")),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Metrics whose names overlap: `http` is a prefix of the others' families, `jobs` has a unit.
    fn service() -> Service {
        crate::model::test_service(
            r#"[metrics.http]
type = "gauge"
help = "Requests in flight."

[metrics.http_requests]
type = "counter"
help = "Requests served."

[metrics.http_request_duration]
type = "histogram"
help = "Request latency."
unit = "seconds"
buckets = [0.1, 1]

[metrics.jobs]
type = "counter"
help = "Time spent on jobs."
unit = "seconds"
"#,
        )
    }

    fn misuse(service: &Service, expr: &str) -> Vec<String> {
        let ast = promql_parser::parser::parse(expr).expect("valid PromQL");
        let mut out = Vec::new();
        metric_misuse(&ast, &Declared::new(service), &mut out);
        out.into_iter().map(|m| m.message).collect()
    }

    #[test]
    fn selectors_resolve_by_exposed_name_and_near_misses_name_the_first_metric_they_resemble() {
        let service = service();
        for fine in [
            "rate(jobs_seconds_total[5m])",
            "rate(http_request_duration_seconds_bucket[5m])",
            "http > 10",
            "up == 0",
        ] {
            assert_eq!(misuse(&service, fine), Vec::<String>::new(), "{fine}");
        }
        assert_eq!(
            misuse(&service, "http_request_duration_seconds_count > 1"),
            ["counter used as a gauge: `http_request_duration_seconds_count` is read as a level"]
        );
        assert_eq!(
            misuse(&service, "rate(http[5m])"),
            ["gauge used as a counter: `http` is inside rate()/increase()"]
        );
        // `http_` starts the name: the gauge `http`, first in name order, wins over the counter it names.
        assert_eq!(
            misuse(&service, "rate(http_requests[5m])"),
            ["`http_requests` is not a series that metric `http` exposes"]
        );
        for (name, metric) in [
            ("jobs", "jobs"),
            ("jobs_seconds", "jobs"),
            ("jobs_seconds_count", "jobs"),
        ] {
            assert_eq!(
                misuse(&service, &format!("rate({name}[5m])")),
                [format!(
                    "`{name}` is not a series that metric `{metric}` exposes"
                )]
            );
        }
    }
}
