//! Checks that every PromQL expression of the generated rules and dashboard finds what it reads in a scrape of
//! the reference service: its series, with the labels it groups or matches by.
//!
//! Include it with `#[path = "support/exposed.rs"] mod exposed;`, beside `reference` and `scrape`.

use std::collections::BTreeSet;

use promql_parser::label::Labels;
use promql_parser::parser::{Expr, LabelModifier, VectorSelector};
use serde_json::Value;
use slogen::model::Service;

use crate::reference::{backend, repository, rule_exprs, selects_service};
use crate::scrape::{Sample, Scrape};

/// Series Prometheus itself attaches to every target; a selector on them is not about the service.
pub const TARGET_SERIES: &[&str] = &[
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// Labels Prometheus adds to every series of a target, absent from the exposition.
pub const TARGET_LABELS: &[&str] = &["job", "instance"];

/// The `backend` service as the generator models it.
pub fn backend_model() -> Service {
    backend(&repository().join("slos"))
}

/// Every PromQL expression of the generated rules and dashboard, with where it came from. Grafana's
/// `$__rate_interval` is replaced by a fixed range so the parser accepts it.
pub fn generated_exprs() -> Vec<(String, String)> {
    let generated = repository().join("generated/backend");
    let mut exprs: Vec<(String, String)> =
        rule_exprs(&std::fs::read_to_string(generated.join("rules.yml")).expect("read rules.yml"))
            .into_iter()
            .map(|(name, expr)| (format!("rules.yml {name}"), expr))
            .collect();
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(generated.join("dashboard.json")).expect("read dashboard.json"),
    )
    .expect("dashboard.json is JSON");
    collect_dashboard_exprs(&dashboard, &mut exprs);
    exprs
        .into_iter()
        .map(|(origin, expr)| (origin, expr.replace("$__rate_interval", "5m")))
        .collect()
}

pub fn collect_dashboard_exprs(value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(expr)) = object.get("expr") {
                let title = object
                    .get("legendFormat")
                    .and_then(Value::as_str)
                    .unwrap_or("a target");
                out.push((format!("dashboard.json {title}"), expr.clone()));
            }
            object
                .values()
                .for_each(|child| collect_dashboard_exprs(child, out));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|child| collect_dashboard_exprs(child, out)),
        _ => {}
    }
}

/// What an expression asks of the scrape: its vector selectors, and the labels it groups or matches by
/// together with the selectors those labels must come from.
#[derive(Default)]
pub struct Demands {
    selectors: Vec<VectorSelector>,
    groupings: Vec<(Vec<String>, Vec<VectorSelector>)>,
}

pub fn demands(expr: &Expr, out: &mut Demands) {
    match expr {
        Expr::Aggregate(aggregate) => {
            demands(&aggregate.expr, out);
            if let Some(param) = &aggregate.param {
                demands(param, out);
            }
            if let Some(LabelModifier::Include(Labels { labels })) = &aggregate.modifier {
                let mut inner = Demands::default();
                demands(&aggregate.expr, &mut inner);
                out.groupings.push((labels.clone(), inner.selectors));
            }
        }
        Expr::Binary(binary) => {
            demands(&binary.lhs, out);
            demands(&binary.rhs, out);
            let on = binary
                .modifier
                .as_ref()
                .and_then(|modifier| modifier.matching.as_ref());
            if let Some(LabelModifier::Include(Labels { labels })) = on {
                for side in [&binary.lhs, &binary.rhs] {
                    let mut inner = Demands::default();
                    demands(side, &mut inner);
                    out.groupings.push((labels.clone(), inner.selectors));
                }
            }
        }
        Expr::Unary(unary) => demands(&unary.expr, out),
        Expr::Paren(paren) => demands(&paren.expr, out),
        Expr::Subquery(subquery) => demands(&subquery.expr, out),
        Expr::VectorSelector(selector) => out.selectors.push(selector.clone()),
        Expr::MatrixSelector(matrix) => out.selectors.push(matrix.vs.clone()),
        Expr::Call(call) => call.args.args.iter().for_each(|arg| demands(arg, out)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// Whether `selector` reads one of the service's own series: it selects the service (the model's
/// selector, e.g. `job="backend"`) and is not a series Prometheus makes up per target.
pub fn is_service_series(selector: &VectorSelector, service: &Service) -> bool {
    let name = selector.name.as_deref().unwrap_or_default();
    selects_service(selector, service) && !TARGET_SERIES.contains(&name)
}

/// Checks one expression against the scrape; returns what is wrong, one line each.
pub fn check_expr(origin: &str, expr: &str, service: &Service, scrape: &Scrape) -> Vec<String> {
    let parsed = match promql_parser::parser::parse(expr) {
        Ok(parsed) => parsed,
        Err(error) => return vec![format!("{origin}: `{expr}` does not parse: {error}")],
    };
    let mut found = Demands::default();
    demands(&parsed, &mut found);
    let mut problems = Vec::new();
    for selector in &found.selectors {
        let name = selector.name.as_deref().unwrap_or_default();
        if !is_service_series(selector, service) {
            // Not the service's: a recording rule's output (`slo:...`) or Prometheus's `up`.
            if !(name.contains(':') || TARGET_SERIES.contains(&name) || name == "ALERTS") {
                problems.push(format!("{origin}: `{name}` does not select the service"));
            }
            continue;
        }
        let series: Vec<&Sample> = scrape.named(name).collect();
        if series.is_empty() {
            problems.push(format!("{origin}: `{name}` is not exposed"));
            continue;
        }
        let matchers: Vec<_> = selector
            .matchers
            .matchers
            .iter()
            .filter(|matcher| !TARGET_LABELS.contains(&matcher.name.as_str()))
            .collect();
        for matcher in &matchers {
            if let Some(sample) = series
                .iter()
                .find(|sample| !sample.labels.contains_key(&matcher.name))
            {
                problems.push(format!(
                    "{origin}: `{name}` has no label `{}` (series {:?})",
                    matcher.name, sample.labels
                ));
            }
        }
        let selected = series.iter().any(|sample| {
            matchers.iter().all(|matcher| {
                sample
                    .labels
                    .get(&matcher.name)
                    .is_some_and(|value| matcher.is_match(value))
            })
        });
        if !selected {
            problems.push(format!(
                "{origin}: no series of `{name}` matches {}",
                selector
                    .matchers
                    .matchers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    for (labels, selectors) in &found.groupings {
        let available: BTreeSet<&str> = selectors
            .iter()
            .filter_map(|selector| selector.name.as_deref())
            .flat_map(|name| scrape.named(name))
            .flat_map(|sample| sample.labels.keys().map(String::as_str))
            .chain(TARGET_LABELS.iter().copied())
            .collect();
        let own = selectors
            .iter()
            .any(|selector| is_service_series(selector, service));
        for label in labels {
            if own && !available.contains(label.as_str()) {
                problems.push(format!(
                    "{origin}: groups by `{label}`, which its series do not have"
                ));
            }
        }
    }
    problems
}
