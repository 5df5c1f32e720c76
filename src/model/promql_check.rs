//! Checks hand-written PromQL against the declared metrics: counters are rated, gauges are not, and every
//! label matcher names a label the metric has.

use promql_parser::parser::Expr;

use super::{MetricKind, Service};

/// One misuse found in an expression.
pub struct Misuse {
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

/// Walks `expr` and appends every misuse of a declared metric to `out`.
pub fn metric_misuse(expr: &Expr, service: &Service, out: &mut Vec<Misuse>) {
    walk(expr, service, Use::Level, out);
}

fn walk(expr: &Expr, service: &Service, usage: Use, out: &mut Vec<Misuse>) {
    match expr {
        Expr::Aggregate(a) => {
            walk(&a.expr, service, usage, out);
            if let Some(p) = &a.param {
                walk(p, service, Use::Any, out);
            }
        }
        Expr::Unary(u) => walk(&u.expr, service, usage, out),
        Expr::Binary(b) => {
            walk(&b.lhs, service, usage, out);
            walk(&b.rhs, service, usage, out);
        }
        Expr::Paren(p) => walk(&p.expr, service, usage, out),
        Expr::Subquery(s) => walk(&s.expr, service, usage, out),
        Expr::VectorSelector(vs) => selector(vs, service, usage, out),
        Expr::MatrixSelector(ms) => selector(&ms.vs, service, usage, out),
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
                walk(arg, service, inner, out);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

fn selector(
    vs: &promql_parser::parser::VectorSelector,
    service: &Service,
    usage: Use,
    out: &mut Vec<Misuse>,
) {
    let Some(name) = &vs.name else { return };
    let Some((metric, cumulative)) = service.metrics.iter().find_map(|m| match m.kind {
        MetricKind::Histogram if m.exposed_names().contains(name) => Some((m, true)),
        MetricKind::Counter if &m.sample_name() == name => Some((m, true)),
        MetricKind::Gauge if &m.sample_name() == name => Some((m, false)),
        _ => None,
    }) else {
        lookalike(name, service, out);
        return;
    };
    let what = match metric.kind {
        MetricKind::Histogram => "a histogram series",
        _ => "a counter",
    };
    match (cumulative, usage) {
        (true, Use::Level) => out.push(Misuse {
            message: format!("counter used as a gauge: `{name}` is read as a level"),
            label: format!("`{name}` is {what} and only ever goes up"),
            hint: format!("wrap it in `rate({name}[5m])` or `increase(...)`"),
        }),
        (false, Use::Rate) => out.push(Misuse {
            message: format!("gauge used as a counter: `{name}` is inside rate()/increase()"),
            label: format!("`{name}` is a gauge"),
            hint: "read a gauge directly, or use `deriv()` / `delta()` for its change".into(),
        }),
        _ => {}
    }
    for m in &vs.matchers.matchers {
        let known = metric.labels.contains(&m.name)
            || service.selector.contains_key(&m.name)
            || matches!(m.name.as_str(), "job" | "instance" | "__name__")
            || (m.name == "le" && name.ends_with("_bucket"));
        if known && matches!(m.op, promql_parser::label::MatchOp::Equal) {
            let closed = service
                .label_defs
                .get(&m.name)
                .and_then(|l| match &l.values {
                    super::LabelValues::Closed(values) => Some(values),
                    super::LabelValues::Open { .. } => None,
                });
            if let Some(values) = closed.filter(|v| !v.iter().any(|c| c.value == m.value)) {
                let list: Vec<&str> = values.iter().map(|v| v.value.as_str()).collect();
                out.push(Misuse {
                    message: format!("`{}` is not a value of label `{}`", m.value, m.name),
                    label: "never matches".into(),
                    hint: format!("allowed: {}", list.join(", ")),
                });
            }
        }
        if !known {
            out.push(Misuse {
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
fn lookalike(name: &str, service: &Service, out: &mut Vec<Misuse>) {
    let found = service.metrics.iter().find(|m| {
        name == m.name
            || name == m.family_name()
            || name.starts_with(&format!("{}_", m.family_name()))
    });
    if let Some(metric) = found {
        out.push(Misuse {
            message: format!(
                "`{name}` is not a series that metric `{}` exposes",
                metric.name
            ),
            label: "matches nothing".into(),
            hint: format!("exposed names: {}", metric.exposed_names().join(", ")),
        });
    }
}
