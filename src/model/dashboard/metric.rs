//! Panels over raw series: one per metric, titled in words and described by its help text, and the spec's
//! hand-written panels as written.

use super::{aggregate, base, query, timeseries, Panel, PanelQuery, Tone};
use crate::conventions::title_words;
use crate::model::{ExtraPanel, Metric, MetricKind, Service};

/// Latency quantiles charted for a histogram, with their legend.
const QUANTILES: [(&str, &str); 3] = [("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99")];

/// One panel charting a metric of the service, broken down by its `group_by` labels, over the series its
/// selector (the service's, or an external metric's own) and the dashboard variables select.
pub(super) fn metric_panel(service: &Service, metric: &Metric) -> Panel {
    let selector =
        super::overview::raw_selector(service, &metric.selector, service.dashboard.variables.len());
    let by = &metric.group_by;
    let legend_labels: Vec<String> = by.iter().map(|l| format!("{{{{{l}}}}}")).collect();
    let legend_labels = legend_labels.join(" ");
    let by_words = breakdown_words(by.iter().map(|l| lower_first(&title_words(l))).collect());
    let breakdown =
        breakdown_words(by.iter().map(|l| format!("`{l}`")).collect()).replacen(" by", ", by", 1);
    let single_legend = || {
        if by.is_empty() {
            metric.name.clone()
        } else {
            legend_labels.clone()
        }
    };
    let help = metric.help.trim().trim_end_matches('.');
    let words = title_words(&metric.name);
    let (queries, unit, description, title) = match metric.kind {
        MetricKind::Counter => {
            let sample = metric.sample_name();
            (
                vec![query(
                    sum_by(by, &format!("rate({sample}{selector}[$__rate_interval])")),
                    single_legend(),
                )],
                rate_unit(metric),
                format!("{help}. Per-second rate of `{sample}`{breakdown}."),
                format!("{words} per second"),
            )
        }
        MetricKind::Gauge if is_timestamp(metric) => {
            let sample = metric.sample_name();
            let moment = title_words(metric.name.trim_end_matches("_timestamp"));
            (
                vec![query(
                    format!(
                        "time() - {}",
                        aggregate("max", by, &format!("{sample}{selector}"))
                    ),
                    single_legend(),
                )],
                "s".into(),
                format!(
                    "{help}. Time elapsed since the latest of these moments (`{sample}`){breakdown}."
                ),
                format!("Time since {}", lower_first(&moment)),
            )
        }
        MetricKind::Gauge => {
            let sample = metric.sample_name();
            let summed = if by.is_empty() {
                " over every series".to_string()
            } else {
                breakdown.replacen(", by", " by", 1)
            };
            (
                vec![query(
                    sum_by(by, &format!("{sample}{selector}")),
                    single_legend(),
                )],
                value_unit(metric.unit.as_deref()),
                format!("{help}. Current value of `{sample}`, summed{summed}."),
                words,
            )
        }
        MetricKind::Histogram => {
            let mut le_by = vec!["le".to_string()];
            le_by.extend(by.iter().cloned());
            let series = metric.histogram_series("bucket");
            let buckets = sum_by(
                &le_by,
                &format!("rate({series}{selector}[$__rate_interval])"),
            );
            let queries = QUANTILES
                .iter()
                .map(|(q, name)| {
                    let legend = if by.is_empty() {
                        (*name).to_string()
                    } else {
                        format!("{name} {legend_labels}")
                    };
                    query(format!("histogram_quantile({q}, {buckets})"), legend)
                })
                .collect();
            (
                queries,
                value_unit(metric.unit.as_deref()),
                format!(
                    "{help}. 50th, 95th and 99th percentiles from the buckets of `{series}`{breakdown}."
                ),
                format!("{words} percentiles"),
            )
        }
    };
    timeseries(
        metric
            .title
            .clone()
            .unwrap_or_else(|| format!("{title}{by_words}")),
        description,
        unit,
        queries,
        vec![base(Tone::Good)],
        false,
    )
}

/// ` by a`, ` by a and b`, ` by a, b and c`, or nothing.
fn breakdown_words(labels: Vec<String>) -> String {
    match labels.as_slice() {
        [] => String::new(),
        [one] => format!(" by {one}"),
        [init @ .., last] => format!(" by {} and {last}", init.join(", ")),
    }
}

/// Lower-cases the first letter unless the first word is an acronym (`Job last success` → `job last
/// success`, `HTTP request` stays).
fn lower_first(text: &str) -> String {
    let first_word = text.split(' ').next().unwrap_or_default();
    let mut chars = text.chars();
    match chars.next() {
        Some(_) if first_word.chars().skip(1).any(|c| c.is_ascii_uppercase()) => text.to_string(),
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// `sum by (a, b) (inner)`, or `sum(inner)` when there is nothing to break down by.
fn sum_by(labels: &[String], inner: &str) -> String {
    aggregate("sum", labels, inner)
}

/// A gauge holding Unix time (`*_timestamp_seconds`, the Prometheus convention): charted as the age of the
/// latest moment, since neither a sum of timestamps nor a timestamp drawn as a duration means anything.
fn is_timestamp(metric: &Metric) -> bool {
    metric.name.ends_with("_timestamp") && metric.unit.as_deref() == Some("seconds")
}

/// The Grafana unit of a per-second rate of a counter.
fn rate_unit(metric: &Metric) -> String {
    let name = metric.name.as_str();
    match metric.unit.as_deref() {
        Some("bytes") => "Bps".into(),
        Some(other) => format!("suffix: {other}/s"),
        None if name.contains("request") && !name.contains("error") && !name.contains("fail") => {
            "reqps".into()
        }
        None => "ops".into(),
    }
}

/// The Grafana unit of a value in a metric's base unit.
fn value_unit(unit: Option<&str>) -> String {
    match unit {
        Some("seconds") => "s".into(),
        Some("milliseconds") => "ms".into(),
        Some("bytes") => "bytes".into(),
        Some("ratio") => "percentunit".into(),
        Some("percent") => "percent".into(),
        Some("celsius") => "celsius".into(),
        Some(other) => format!("suffix: {other}"),
        None => "short".into(),
    }
}

/// A hand-written panel from the spec, its queries as written: slogen does not rewrite PromQL it did not
/// generate, so the spec writes `$__rate_interval` and the variables' matchers itself (lowering checks them).
pub(super) fn extra_panel(panel: &ExtraPanel) -> Panel {
    timeseries(
        panel.title.clone(),
        panel.description.clone(),
        panel.unit.clone(),
        panel
            .queries
            .iter()
            .map(|(expr, legend)| PanelQuery {
                expr: expr.clone(),
                legend: legend.clone(),
            })
            .collect(),
        vec![base(Tone::Good)],
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_service;

    #[test]
    fn a_title_reads_as_words_and_keeps_acronyms_after_time_since() {
        assert_eq!(lower_first("Job last success"), "job last success");
        assert_eq!(lower_first("HTTP request"), "HTTP request");
        assert_eq!(lower_first("gRPC call"), "gRPC call");
        assert_eq!(
            breakdown_words(vec!["a".into(), "b".into(), "c".into()]),
            " by a, b and c"
        );
    }

    #[test]
    fn metric_panels_are_titled_from_the_name_or_the_spec() {
        let service = test_service(
            r#"[labels.db_operation]
help = "Statement kind."
values = ["select", "insert"]

[metrics.db_query_duration]
type = "histogram"
help = "Statement latency."
unit = "seconds"
labels = ["db_operation"]
buckets = [0.1, 1]
group_by = ["db_operation"]

[metrics.backup_last_success_timestamp]
type = "gauge"
help = "When the backup last succeeded."
unit = "seconds"

[metrics.grpc_calls]
type = "counter"
help = "Calls served."
title = "Calls we answered"
"#,
        );
        let titles: Vec<String> = service
            .metrics
            .iter()
            .map(|m| metric_panel(&service, m).title)
            .collect();
        assert_eq!(
            titles,
            [
                "Time since backup last success",
                "DB query duration percentiles by DB operation",
                "Calls we answered",
            ]
        );
    }
}
