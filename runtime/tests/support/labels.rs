//! Label values the exposition tests record with and expect. Include it next to the example module
//! (`contract/example_metrics.rs`, as `example_metrics`): `#[path = "support/labels.rs"] mod labels;`.

#![allow(dead_code)]

use slogen_runtime::le_value;

use crate::example_metrics::{HttpRequestDurationLabels, HttpRequestsLabels, Method, Status};

/// The labels of one `http_requests` series, from positional arguments so a recording fits on one line.
pub fn requests(method: Method, route: &str, status: Status) -> HttpRequestsLabels<'_> {
    HttpRequestsLabels {
        method,
        route,
        status,
    }
}

/// The labels of one `http_request_duration` series.
pub fn durations(method: Method, route: &str) -> HttpRequestDurationLabels<'_> {
    HttpRequestDurationLabels { method, route }
}

/// The `le` values of a histogram with `bounds`, in order, as the encoders write them: each bound as
/// [`le_value`] spells it (checked against literal spellings in `exposition.rs`), then `+Inf`.
pub fn le_values(bounds: &[f64]) -> Vec<String> {
    bounds
        .iter()
        .map(|bound| le_value(*bound))
        .chain(["+Inf".to_owned()])
        .collect()
}
