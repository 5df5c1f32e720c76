//! Which SLOs a client can judge, and how: decided from the model before the run.

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use slogen::model::{LabelMatch, Metric, Selector, Service, Sli};

use crate::config::{usage, Endpoint, UsageError};

/// Labels of an HTTP server metric that a client can tell for each request.
const CLIENT_LABELS: [&str; 3] = ["method", "route", "status"];

/// Reads the spec directory through the generator and picks the service to check: `name`, or the only one.
pub fn load_service(dir: &Path, name: Option<&str>) -> Result<Service, UsageError> {
    let files = match slogen::load::spec_dir(dir) {
        Ok(files) => files,
        Err(e) => return usage(format!("{e:#}")),
    };
    let model = match slogen::model::lower(&files) {
        Ok(model) => model,
        Err(problems) => {
            return usage(format!(
                "the SLO specs are invalid:\n{}",
                slogen::diagnostics::render(&files, &problems).trim_end()
            ))
        }
    };
    let names: Vec<&str> = model.services.iter().map(|s| s.name.as_str()).collect();
    let chosen = match name {
        Some(name) => model.services.iter().find(|s| s.name == name),
        None if model.services.len() == 1 => model.services.first(),
        None => {
            return usage(format!(
                "{} describes several services ({}): pick one with --service",
                dir.display(),
                names.join(", ")
            ))
        }
    };
    match chosen {
        Some(service) => Ok(service.clone()),
        None => usage(format!(
            "no service `{}` in {} (services: {})",
            name.unwrap_or_default(),
            dir.display(),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )),
    }
}

/// How one SLO is judged from the client side, decided before the run.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    /// Responses slower than `threshold` (index `index` in the run's thresholds) are bad.
    Latency {
        threshold: Duration,
        index: usize,
        endpoints: Vec<usize>,
    },
    /// Responses matching the errors selector's status values are bad.
    Ratio {
        /// Endpoints counted in the total, each with whether it also matches the errors selector.
        endpoints: Vec<(usize, bool)>,
        /// Status values the total counts; `None` for all.
        total_status: Option<Vec<String>>,
        /// Status values that make a request bad.
        error_status: Vec<String>,
    },
    /// Not measurable from the client, and why.
    NotMeasured(String),
}

/// Whether a metric is an HTTP server metric: one broken down by route or method.
fn is_http_metric(metric: &Metric) -> bool {
    metric.labels.iter().any(|l| l == "route" || l == "method")
}

/// Whether an axum route template (`/users/{id}`, `/files/{*rest}`) matches a concrete path.
fn route_matches(template: &str, path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let mut wanted = template.split('/');
    let mut given = path.split('/');
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) => {
                let param = (w.starts_with('{') && w.ends_with('}')) || w.starts_with(':');
                if w.starts_with("{*") || w.starts_with('*') {
                    return !g.is_empty();
                }
                if if param { g.is_empty() } else { w != g } {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// The `method` label value the service would record for a method: standard ones as is, the rest `OTHER`.
fn method_label(method: &Method) -> &str {
    match method.as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m,
        _ => "OTHER",
    }
}

/// Whether a response status (or no response, `None`, which counts as a 5xx) is among `values`.
pub(crate) fn status_matches(values: &[String], code: Option<u16>) -> bool {
    let code = code.unwrap_or(500);
    let class = format!("{}xx", code / 100);
    values.iter().any(|v| *v == class || *v == code.to_string())
}

/// The driven endpoints a selector's `method` and `route` matchers keep, or why it cannot be measured.
fn matching_endpoints(
    service: &Service,
    selector: &Selector,
    endpoints: &[Endpoint],
) -> Result<Vec<usize>, String> {
    let Some(metric) = service.find_metric(&selector.metric) else {
        return Err(format!("metric `{}` is not declared", selector.metric));
    };
    if !is_http_metric(metric) {
        return Err(format!(
            "`{}` is not an HTTP server metric (no `route` or `method` label): it is measured inside the service",
            metric.name
        ));
    }
    if let Some(label) = selector
        .matchers
        .keys()
        .find(|l| !CLIENT_LABELS.contains(&l.as_str()))
    {
        return Err(format!(
            "it matches on `{label}`, which a client cannot see"
        ));
    }
    let method = exact(selector, "method")?;
    let route = exact(selector, "route")?;
    Ok(endpoints
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            method.is_none_or(|values| values.iter().any(|v| v == method_label(&e.method)))
                && route.is_none_or(|values| values.iter().any(|t| route_matches(t, &e.path)))
        })
        .map(|(i, _)| i)
        .collect())
}

/// The values a selector lists for `label` (`None`: any), or why it cannot be judged from a client: a regex
/// or a negation, which the load check does not evaluate.
fn exact<'s>(selector: &'s Selector, label: &str) -> Result<Option<&'s Vec<String>>, String> {
    match selector.matchers.get(label) {
        None => Ok(None),
        Some(LabelMatch::Values(values)) => Ok(Some(values)),
        Some(_) => Err(format!(
            "it matches `{label}` with a regex or a negation, which the load check does not evaluate"
        )),
    }
}

/// Decides how each SLO is judged; returns the plans and the latency thresholds the run must count.
pub(crate) fn plan(service: &Service, endpoints: &[Endpoint]) -> (Vec<Plan>, Vec<Duration>) {
    let mut thresholds: Vec<Duration> = Vec::new();
    let plans = service
        .slos
        .iter()
        .map(|slo| match &slo.sli {
            Sli::Latency {
                histogram,
                threshold,
                ..
            } => {
                let matched = match matching_endpoints(service, histogram, endpoints) {
                    Ok(m) => m,
                    Err(reason) => return Plan::NotMeasured(reason),
                };
                let unit = service
                    .metrics
                    .iter()
                    .find(|m| m.name == histogram.metric)
                    .and_then(|m| m.unit.as_deref());
                let threshold = match unit {
                    Some("seconds") => Duration::from_secs_f64(*threshold),
                    Some("milliseconds") => Duration::from_secs_f64(threshold / 1000.0),
                    _ => {
                        return Plan::NotMeasured(format!(
                            "`{}` is not in seconds or milliseconds",
                            histogram.metric
                        ))
                    }
                };
                if matched.is_empty() {
                    return Plan::NotMeasured(no_endpoint(histogram));
                }
                let index = thresholds
                    .iter()
                    .position(|t| *t == threshold)
                    .unwrap_or_else(|| {
                        thresholds.push(threshold);
                        thresholds.len() - 1
                    });
                Plan::Latency {
                    threshold,
                    index,
                    endpoints: matched,
                }
            }
            Sli::Events { .. } | Sli::Raw { .. } => Plan::NotMeasured(
                "a query SLI reads PromQL over series a client cannot see".to_string(),
            ),
            Sli::Ratio { errors, total } => {
                let (in_errors, in_total) = match (
                    matching_endpoints(service, errors, endpoints),
                    matching_endpoints(service, total, endpoints),
                ) {
                    (Ok(e), Ok(t)) => (e, t),
                    (Err(reason), _) | (_, Err(reason)) => return Plan::NotMeasured(reason),
                };
                let (error_status, total_status) =
                    match (exact(errors, "status"), exact(total, "status")) {
                        (Ok(e), Ok(t)) => (e, t),
                        (Err(reason), _) | (_, Err(reason)) => return Plan::NotMeasured(reason),
                    };
                let Some(error_status) = error_status else {
                    return Plan::NotMeasured(
                        "its errors are not told apart by an HTTP `status` matcher".to_string(),
                    );
                };
                if in_total.is_empty() {
                    return Plan::NotMeasured(no_endpoint(total));
                }
                Plan::Ratio {
                    endpoints: in_total
                        .into_iter()
                        .map(|i| (i, in_errors.contains(&i)))
                        .collect(),
                    total_status: total_status.cloned(),
                    error_status: error_status.clone(),
                }
            }
        })
        .collect();
    (plans, thresholds)
}

fn no_endpoint(selector: &Selector) -> String {
    let shown: Vec<String> = selector
        .matchers
        .iter()
        .filter(|(l, _)| *l == "method" || *l == "route")
        .filter_map(|(l, m)| Some(format!("{l} in [{}]", m.listed()?.join(", "))))
        .collect();
    format!(
        "no driven endpoint matches its selector ({})",
        shown.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_templates_match_concrete_paths() {
        assert!(route_matches("/users/{id}", "/users/1"));
        assert!(route_matches("/users/{id}", "/users/1?full=true"));
        assert!(!route_matches("/users/{id}", "/users/"));
        assert!(!route_matches("/users/{id}", "/users/1/posts"));
        assert!(route_matches("/files/{*rest}", "/files/a/b"));
        assert!(route_matches("/health", "/health"));
        assert!(!route_matches("/health", "/healthz"));
    }

    #[test]
    fn statuses_match_by_class_or_code_and_silence_is_a_5xx() {
        let five = vec!["5xx".to_string()];
        assert!(status_matches(&five, Some(503)));
        assert!(!status_matches(&five, Some(404)));
        assert!(status_matches(&five, None));
        assert!(status_matches(&["429".to_string()], Some(429)));
    }
}
