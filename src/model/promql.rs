//! PromQL built from the model, in one place, so rules, dashboards and docs print the same query.

use std::collections::BTreeMap;

use super::query::QueryFeed;
use super::{Duration, LabelMatch, MetricKind, Service, Sli, Slo};
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

/// How a label matcher compares a label's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MatchOp {
    /// `=`: equal to the value.
    Equal,
    /// `!=`: not equal to the value.
    NotEqual,
    /// `=~`: matches the value as an anchored RE2 regex.
    Regex,
    /// `!~`: does not match the value as an anchored RE2 regex.
    NotRegex,
}

impl MatchOp {
    /// The operator as PromQL writes it.
    pub fn promql(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }

    /// Whether the matcher keeps what it matches (`=`, `=~`) rather than drops it.
    pub fn is_positive(self) -> bool {
        matches!(self, MatchOp::Equal | MatchOp::Regex)
    }
}

/// One label matcher of a selector: `label="value"`, `label=~"a|b"`, `label!~"re"`, ….
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    /// Label name.
    pub label: String,
    /// How it compares.
    pub op: MatchOp,
    /// The value, or the regex for `=~` and `!~`.
    pub value: String,
}

impl Matcher {
    /// A matcher for one of `values`: `label="v"` for one, `label=~"a|b"` for several, regex-escaped so
    /// each matches only itself; with `negated`, the same with `!=` and `!~`.
    pub fn any_of(label: &str, values: &[String], negated: bool) -> Matcher {
        let (op, value) = match values {
            [one] => (MatchOp::Equal, one.clone()),
            many => {
                let alternatives: Vec<String> = many.iter().map(|v| regex_escape(v)).collect();
                (MatchOp::Regex, alternatives.join("|"))
            }
        };
        let op = match (op, negated) {
            (MatchOp::Equal, true) => MatchOp::NotEqual,
            (MatchOp::Regex, true) => MatchOp::NotRegex,
            (op, _) => op,
        };
        Matcher {
            label: label.to_string(),
            op,
            value,
        }
    }

    /// The matcher as PromQL writes it.
    pub fn promql(&self) -> String {
        format!("{}{}{}", self.label, self.op.promql(), quote(&self.value))
    }

    /// The matcher of a parsed PromQL selector.
    pub fn parsed(m: &promql_parser::label::Matcher) -> Matcher {
        use promql_parser::label::MatchOp as Op;
        Matcher {
            label: m.name.clone(),
            op: match m.op {
                Op::Equal => MatchOp::Equal,
                Op::NotEqual => MatchOp::NotEqual,
                Op::Re(_) => MatchOp::Regex,
                Op::NotRe(_) => MatchOp::NotRegex,
            },
            value: m.value.clone(),
        }
    }
}

/// The matchers of a selector: the metric's selector first (the service's, or an external metric's own;
/// unless the selector restricts the same label), then the selector's own, each label once.
pub fn matchers(
    selector: &BTreeMap<String, String>,
    own: &BTreeMap<String, LabelMatch>,
) -> Vec<Matcher> {
    let mut out: Vec<Matcher> = selector
        .iter()
        .filter(|(k, _)| !own.contains_key(*k))
        .map(|(k, v)| Matcher::any_of(k, std::slice::from_ref(v), false))
        .collect();
    out.extend(own.iter().map(|(label, m)| m.matcher(label)));
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
    selector: &BTreeMap<String, String>,
    own: &BTreeMap<String, LabelMatch>,
) -> String {
    braces(&matchers(selector, own))
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
        label_matchers(&m.selector, &selector.matchers),
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
        own.insert("le".into(), LabelMatch::Values(le.clone()));
    }
    format!(
        "sum({function}({}{}[{}]))",
        m.histogram_series(suffix),
        label_matchers(&m.selector, &own),
        window.promql()
    )
}

/// All events per second over `window` (with `increase` instead of `rate`: events in the window); none for
/// a `raw` SLI, which counts no events.
fn events(service: &Service, slo: &Slo, function: &str, window: Duration) -> Option<String> {
    Some(match &slo.sli {
        Sli::Ratio { total, .. } => counter_sum(service, function, total, window),
        Sli::Latency { histogram, .. } => {
            histogram_sum(service, function, histogram, "count", None, window)
        }
        Sli::Events { total, feed, .. } => match (function, feed) {
            ("rate", _) => total.at(window),
            // The same count as the rate times the window, without the float error of that product, so a
            // guard at exactly `min_events` holds as the rule tests replay it.
            (_, QueryFeed::ErrorsOverTotal { total, .. }) => {
                format!("sum({function}({}[{}]))", total.promql(), window.promql())
            }
            _ => format!("({}) * {}", total.at(window), window.seconds),
        },
        Sli::Raw { .. } => return None,
    })
}

/// Bad events per second over `window`; 0, not "no data", while no error series exists yet: a healthy
/// service may never have exposed one (open labels expose only recorded series). None for a `raw` SLI.
pub fn sli_error_rate(service: &Service, slo: &Slo, window: Duration) -> Option<String> {
    Some(match &slo.sli {
        Sli::Ratio { errors, .. } => format!(
            "{} or vector(0)",
            counter_sum(service, "rate", errors, window)
        ),
        Sli::Latency { histogram, le, .. } => format!(
            "{} - {}",
            events(service, slo, "rate", window)?,
            histogram_sum(service, "rate", histogram, "bucket", Some(le), window)
        ),
        Sli::Events { errors, .. } => format!("({}) or vector(0)", errors.at(window)),
        Sli::Raw { .. } => return None,
    })
}

/// All events per second over `window`; none for a `raw` SLI.
pub fn sli_event_rate(service: &Service, slo: &Slo, window: Duration) -> Option<String> {
    events(service, slo, "rate", window)
}

/// How many events `window` saw, for the low-traffic guard of an alert; none for a `raw` SLI.
pub fn sli_event_increase(service: &Service, slo: &Slo, window: Duration) -> Option<String> {
    events(service, slo, "increase", window)
}

/// The SLO's error ratio over `window`, straight from the raw series: a number while there are events and no
/// sample while there are none (`> 0` drops a zero rate, so 0/0 never makes a NaN that would poison every
/// average over the window later). A `raw` SLI's query is its ratio, as written.
pub fn sli_error_ratio(service: &Service, slo: &Slo, window: Duration) -> String {
    match (
        &slo.sli,
        sli_error_rate(service, slo, window),
        sli_event_rate(service, slo, window),
    ) {
        (Sli::Raw { error_ratio, .. }, _, _) => error_ratio.at(window),
        (Sli::Events { .. }, Some(errors), Some(events)) => {
            format!("({errors}) / (({events}) > 0)")
        }
        (_, Some(errors), Some(events)) => format!("({errors}) / ({events} > 0)"),
        _ => unreachable!("only a raw SLI has no event rate"),
    }
}

/// The expression whose absence means the SLI has no data, and the matchers whose labels `absent()` gives
/// the alert: the series the SLI counts (for a query SLI of a known shape, its total's selector), or else
/// the query SLI's query over `window` (all events, or the ratio), whose labels `absent()` cannot know.
pub fn sli_presence(service: &Service, slo: &Slo, window: Duration) -> (String, Vec<Matcher>) {
    let series =
        |name: String, matchers: Vec<Matcher>| (format!("{name}{}", braces(&matchers)), matchers);
    match &slo.sli {
        Sli::Ratio { total, .. } => {
            let m = service.metric(&total.metric);
            series(m.sample_name(), matchers(&m.selector, &total.matchers))
        }
        Sli::Latency { histogram, .. } => {
            let m = service.metric(&histogram.metric);
            series(
                m.histogram_series("count"),
                matchers(&m.selector, &histogram.matchers),
            )
        }
        Sli::Events {
            feed: QueryFeed::ErrorsOverTotal { total, .. } | QueryFeed::GoodOverTotal { total, .. },
            ..
        }
        | Sli::Raw {
            feed: QueryFeed::ErrorsOverTotal { total, .. } | QueryFeed::GoodOverTotal { total, .. },
            ..
        } => (total.promql(), total.matchers.clone()),
        Sli::Events { total, .. } => (total.at(window), Vec::new()),
        Sli::Raw { error_ratio, .. } => (error_ratio.at(window), Vec::new()),
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
