//! PromQL built from the model, in one place, so rules, dashboards and docs print the same query.

use std::collections::BTreeMap;

use super::{Duration, MetricKind, Service, Sli, Slo};
use crate::conventions::{SLO_ID_LABEL, SLO_NAME_LABEL, SLO_SERVICE_LABEL};

/// Quotes a PromQL string literal.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Escapes regex metacharacters so that a label value matches only itself inside `=~`.
fn regex_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One label matcher of a selector: `label="value"`, or `label=~"a|b"` for several values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    /// Label name.
    pub label: String,
    /// The values it may take; one means equality.
    pub values: Vec<String>,
}

impl Matcher {
    /// `label="v"` or `label=~"a|b"`, the values regex-escaped so each matches only itself.
    fn promql(&self) -> String {
        match self.values.as_slice() {
            [one] => format!("{}={}", self.label, quote(one)),
            many => {
                let alternatives: Vec<String> = many.iter().map(|v| regex_escape(v)).collect();
                format!("{}=~{}", self.label, quote(&alternatives.join("|")))
            }
        }
    }
}

/// The matchers of a selector: the service selector first (unless the selector restricts the same label),
/// then the selector's own, each label once.
pub fn matchers(service: &Service, own: &BTreeMap<String, Vec<String>>) -> Vec<Matcher> {
    let mut out: Vec<Matcher> = service
        .selector
        .iter()
        .filter(|(k, _)| !own.contains_key(*k))
        .map(|(k, v)| Matcher {
            label: k.clone(),
            values: vec![v.clone()],
        })
        .collect();
    out.extend(own.iter().map(|(label, values)| Matcher {
        label: label.clone(),
        values: values.clone(),
    }));
    out
}

/// `{job="backend",status=~"4xx|5xx"}`, or nothing when there is no matcher.
pub fn braces(matchers: &[Matcher]) -> String {
    if matchers.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = matchers.iter().map(Matcher::promql).collect();
    format!("{{{}}}", parts.join(","))
}

/// [`matchers`] printed in braces.
pub fn label_matchers(service: &Service, own: &BTreeMap<String, Vec<String>>) -> String {
    braces(&matchers(service, own))
}

/// `sum(<function>(<sample>{…}[window]))` over a counter selector.
fn counter_sum(
    service: &Service,
    function: &str,
    selector: &super::Selector,
    window: Duration,
) -> String {
    let m = service.metric(&selector.metric);
    debug_assert_eq!(m.kind, MetricKind::Counter);
    format!(
        "sum({function}({}{}[{}]))",
        m.sample_name(),
        label_matchers(service, &selector.matchers),
        window.promql()
    )
}

/// `sum(<function>(<histogram>_<suffix>{…}[window]))`, restricted to the threshold's bucket with `le`.
fn histogram_sum(
    service: &Service,
    function: &str,
    histogram: &super::Selector,
    suffix: &str,
    le: Option<&Vec<String>>,
    window: Duration,
) -> String {
    let m = service.metric(&histogram.metric);
    let mut own = histogram.matchers.clone();
    if let Some(le) = le {
        own.insert("le".into(), le.clone());
    }
    format!(
        "sum({function}({}{}[{}]))",
        m.histogram_series(suffix),
        label_matchers(service, &own),
        window.promql()
    )
}

/// All events per second over `window` (`increase` instead of `rate`: events in the window).
fn events(service: &Service, slo: &Slo, function: &str, window: Duration) -> String {
    match &slo.sli {
        Sli::Ratio { total, .. } => counter_sum(service, function, total, window),
        Sli::Latency { histogram, .. } => {
            histogram_sum(service, function, histogram, "count", None, window)
        }
    }
}

/// Bad events per second over `window`; 0, not "no data", while no error series exists yet: a healthy
/// service may never have exposed one (open labels expose only recorded series).
pub fn sli_error_rate(service: &Service, slo: &Slo, window: Duration) -> String {
    match &slo.sli {
        Sli::Ratio { errors, .. } => format!(
            "{} or vector(0)",
            counter_sum(service, "rate", errors, window)
        ),
        Sli::Latency { histogram, le, .. } => format!(
            "{} - {}",
            events(service, slo, "rate", window),
            histogram_sum(service, "rate", histogram, "bucket", Some(le), window)
        ),
    }
}

/// All events per second over `window`.
pub fn sli_event_rate(service: &Service, slo: &Slo, window: Duration) -> String {
    events(service, slo, "rate", window)
}

/// How many events `window` saw, for the low-traffic guard of an alert.
pub fn sli_event_increase(service: &Service, slo: &Slo, window: Duration) -> String {
    events(service, slo, "increase", window)
}

/// The SLO's error ratio over `window`, straight from the raw series: a number while there are events and no
/// sample while there are none (`> 0` drops a zero rate, so 0/0 never makes a NaN that would poison every
/// average over the window later).
pub fn sli_error_ratio(service: &Service, slo: &Slo, window: Duration) -> String {
    format!(
        "({}) / ({} > 0)",
        sli_error_rate(service, slo, window),
        sli_event_rate(service, slo, window)
    )
}

/// The series whose absence means the SLI has no data: its sample name and matchers.
pub fn sli_presence(service: &Service, slo: &Slo) -> (String, Vec<Matcher>) {
    match &slo.sli {
        Sli::Ratio { total, .. } => (
            service.metric(&total.metric).sample_name(),
            matchers(service, &total.matchers),
        ),
        Sli::Latency { histogram, .. } => (
            service.metric(&histogram.metric).histogram_series("count"),
            matchers(service, &histogram.matchers),
        ),
    }
}

/// `count(r >= 0 or r < 0)` over a recorded series, selected by every label the rule sets: 1 while the record
/// holds a number, nothing when it holds NaN (which compares false either way) or no sample.
pub fn count_numbers(rule: &super::RecordingRule) -> String {
    let matchers: Vec<String> = rule
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={}", quote(v)))
        .collect();
    let series = format!("{}{{{}}}", rule.record, matchers.join(","));
    format!("count({series} >= 0 or {series} < 0)")
}

/// `{sloth_id="…",sloth_service="…",sloth_slo="…"}`, the labels that tie an SLO's series together.
pub fn slo_matchers(service: &Service, slo: &Slo) -> String {
    format!(
        "{{{SLO_ID_LABEL}={},{SLO_SERVICE_LABEL}={},{SLO_NAME_LABEL}={}}}",
        quote(&slo.id),
        quote(&service.name),
        quote(&slo.name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_quotes_and_backslashes() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(regex_escape("a.b|c"), r"a\.b\|c");
    }
}
