//! PromQL built from the model, in one place, so rules, dashboards and docs print the same query.

use std::collections::BTreeMap;

use super::{MetricKind, Service, Sli, Slo};

/// The Sloth-compatible recording rule holding an SLO's error ratio over `window` (`slo:sli_error:ratio_rate5m`).
pub fn sli_error_record(window: &str) -> String {
    format!("slo:sli_error:ratio_rate{window}")
}

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

/// `{job="backend",status=~"4xx|5xx"}`: the service selector first, then the matchers, each label once.
pub fn label_matchers(
    service: &Service,
    matchers: &BTreeMap<String, Vec<String>>,
    extra: &[(&str, &str)],
) -> String {
    let mut parts: Vec<String> = service
        .selector
        .iter()
        .filter(|(k, _)| !matchers.contains_key(*k))
        .map(|(k, v)| format!("{k}={}", quote(v)))
        .collect();
    for (label, values) in matchers {
        match values.as_slice() {
            [one] => parts.push(format!("{label}={}", quote(one))),
            many => {
                let alternatives: Vec<String> = many.iter().map(|v| regex_escape(v)).collect();
                parts.push(format!("{label}=~{}", quote(&alternatives.join("|"))));
            }
        }
    }
    for (k, v) in extra {
        parts.push(format!("{k}={}", quote(v)));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

/// `sum(rate(<sample>{…}[window]))` for a counter selector.
fn counter_rate(service: &Service, selector: &super::Selector, window: &str) -> String {
    let m = service.metric(&selector.metric);
    debug_assert_eq!(m.kind, MetricKind::Counter);
    format!(
        "sum(rate({}{}[{window}]))",
        m.sample_name(),
        label_matchers(service, &selector.matchers, &[])
    )
}

/// The SLO's error ratio over `window`, straight from the raw series.
pub fn sli_error_ratio(service: &Service, slo: &Slo, window: &str) -> String {
    match &slo.sli {
        // `or vector(0)`: a healthy service may never have exposed an error series (open labels expose only
        // recorded series), and the SLI must read 0 then, not "no data".
        Sli::Ratio { errors, total } => format!(
            "({} or vector(0)) / ({})",
            counter_rate(service, errors, window),
            counter_rate(service, total, window)
        ),
        Sli::Latency { histogram, le, .. } => {
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

/// The series whose absence means the SLI has no data.
pub fn sli_presence_selector(service: &Service, slo: &Slo) -> String {
    match &slo.sli {
        Sli::Ratio { total, .. } => format!(
            "{}{}",
            service.metric(&total.metric).sample_name(),
            label_matchers(service, &total.matchers, &[])
        ),
        Sli::Latency { histogram, .. } => format!(
            "{}{}",
            service.metric(&histogram.metric).histogram_series("count"),
            label_matchers(service, &histogram.matchers, &[])
        ),
    }
}

/// `{sloth_id="…",sloth_service="…",sloth_slo="…"}`, the labels that tie an SLO's series together.
pub fn slo_matchers(service: &Service, slo: &Slo) -> String {
    format!(
        "{{sloth_id={},sloth_service={},sloth_slo={}}}",
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
