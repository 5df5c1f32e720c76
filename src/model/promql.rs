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
/// then the selector's own, then `extra`, each label once.
pub fn matchers(
    service: &Service,
    own: &BTreeMap<String, Vec<String>>,
    extra: &[(&str, &str)],
) -> Vec<Matcher> {
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
    out.extend(extra.iter().map(|(k, v)| Matcher {
        label: (*k).to_string(),
        values: vec![(*v).to_string()],
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
pub fn label_matchers(
    service: &Service,
    own: &BTreeMap<String, Vec<String>>,
    extra: &[(&str, &str)],
) -> String {
    braces(&matchers(service, own, extra))
}

/// `sum(rate(<sample>{…}[window]))` for a counter selector.
fn counter_rate(service: &Service, selector: &super::Selector, window: Duration) -> String {
    let window = window.promql();
    let m = service.metric(&selector.metric);
    debug_assert_eq!(m.kind, MetricKind::Counter);
    format!(
        "sum(rate({}{}[{window}]))",
        m.sample_name(),
        label_matchers(service, &selector.matchers, &[])
    )
}

/// The SLO's error ratio over `window`, straight from the raw series.
pub fn sli_error_ratio(service: &Service, slo: &Slo, window: Duration) -> String {
    match &slo.sli {
        // `or vector(0)`: a healthy service may never have exposed an error series (open labels expose only
        // recorded series), and the SLI must read 0 then, not "no data".
        Sli::Ratio { errors, total } => format!(
            "({} or vector(0)) / ({})",
            counter_rate(service, errors, window),
            counter_rate(service, total, window)
        ),
        Sli::Latency { histogram, le, .. } => {
            let window = window.promql();
            let m = service.metric(&histogram.metric);
            let all = format!(
                "sum(rate({}{}[{window}]))",
                m.histogram_series("count"),
                label_matchers(service, &histogram.matchers, &[])
            );
            let good = format!(
                "sum(rate({}{}[{window}]))",
                m.histogram_series("bucket"),
                label_matchers(service, &histogram.matchers, &[("le", le)])
            );
            format!("({all} - {good}) / {all}")
        }
    }
}

/// The series whose absence means the SLI has no data: its sample name and matchers.
pub fn sli_presence(service: &Service, slo: &Slo) -> (String, Vec<Matcher>) {
    match &slo.sli {
        Sli::Ratio { total, .. } => (
            service.metric(&total.metric).sample_name(),
            matchers(service, &total.matchers, &[]),
        ),
        Sli::Latency { histogram, .. } => (
            service.metric(&histogram.metric).histogram_series("count"),
            matchers(service, &histogram.matchers, &[]),
        ),
    }
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
