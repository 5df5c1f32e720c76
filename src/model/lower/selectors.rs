//! Selectors of ratio and latency SLIs: the metric they read and the matcher of each label — values, a regex,
//! or a negation — checked against the label's definition (a closed label keeps exact values).

use super::inner::inside;
use super::*;
use crate::model::regex;
use crate::spec::MatchSpec;

impl Lowering<'_> {
    /// A selector of a ratio or latency SLI: a declared metric of the wanted type and its label matchers;
    /// `None` after reporting problems.
    pub(super) fn selector(
        &mut self,
        file: usize,
        service: &Service,
        metric: &Name,
        matchers: &BTreeMap<Name, Spanned<spec::MatchSpec>>,
        want: MetricKind,
        role: &str,
    ) -> Option<Selector> {
        let Some(m) = service.find_metric(metric.get_ref()) else {
            if self.broken.metrics.contains(metric.get_ref()) {
                return None;
            }
            let known: Vec<&str> = service
                .metrics
                .iter()
                .filter(|m| m.kind == want)
                .map(|m| m.name.as_str())
                .collect();
            self.error(
                file,
                metric.span(),
                format!("unknown metric `{}`", metric.get_ref()),
                "not declared under [metrics]",
                format!(
                    "declared {} metrics: {}",
                    format!("{want:?}").to_lowercase(),
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                ),
            );
            return None;
        };
        if m.kind != want {
            let (is, needs) = (
                format!("{:?}", m.kind).to_lowercase(),
                format!("{want:?}").to_lowercase(),
            );
            self.error(
                file,
                metric.span(),
                format!("{role} uses {is} `{}` where a {needs} is needed", m.name),
                format!("this is a {is}"),
                match want {
                    MetricKind::Counter => {
                        "a ratio SLI counts events: point `errors` and `total` at counters"
                            .to_string()
                    }
                    MetricKind::Histogram => {
                        "a latency SLI reads buckets: point `metric` at a histogram".to_string()
                    }
                    MetricKind::Gauge => "use a gauge".to_string(),
                },
            );
            return None;
        }
        let mut out = BTreeMap::new();
        let mut ok = true;
        for (label, spec) in matchers {
            if !m.labels.contains(label.get_ref()) {
                self.unknown_label(file, label, &m.name, m.labels.iter());
                ok = false;
                continue;
            }
            match self.label_match(file, service, label, spec) {
                Some(lm) => {
                    out.insert(label.get_ref().clone(), lm);
                }
                None => ok = false,
            }
        }
        ok.then(|| Selector {
            metric: m.name.clone(),
            matchers: out,
        })
    }

    /// The matcher of one label; `None` after reporting problems.
    fn label_match(
        &mut self,
        file: usize,
        service: &Service,
        label: &Name,
        spec: &Spanned<MatchSpec>,
    ) -> Option<LabelMatch> {
        let l = label.get_ref();
        let closed = match service.label_defs.get(l).map(|d| &d.values) {
            Some(LabelValues::Closed(values)) => Some(values),
            _ => None,
        };
        let table = match spec.get_ref() {
            MatchSpec::Values(values) => {
                let values = Spanned::new(spec.span(), values.clone());
                return self
                    .exact(file, label, &values, closed)
                    .map(LabelMatch::Values);
            }
            MatchSpec::Table(t) => t,
        };
        match (&table.regex, &table.not, &table.not_regex) {
            (Some(re), None, None) => self
                .pattern(file, label, re, closed, false)
                .map(LabelMatch::Regex),
            (None, None, Some(re)) => self
                .pattern(file, label, re, closed, true)
                .map(LabelMatch::NotRegex),
            (None, Some(values), None) => {
                self.exact(file, label, values, closed).map(LabelMatch::Not)
            }
            _ => {
                self.error(
                    file,
                    spec.span(),
                    format!("the matcher of `{l}` needs exactly one of `regex`, `not` and `not_regex`"),
                    "which matcher?",
                    format!(
                        "write one matcher per label, e.g. `{l} = {{ regex = \"5..\" }}` or `{l} = {{ not = \
                         [\"404\"] }}`; a list of values matches any of them"
                    ),
                );
                None
            }
        }
    }

    /// A non-empty list of values, each in a closed label's set; sorted, without duplicates.
    fn exact(
        &mut self,
        file: usize,
        label: &Name,
        values: &Spanned<Vec<String>>,
        closed: Option<&Vec<ClosedValue>>,
    ) -> Option<Vec<String>> {
        if values.get_ref().is_empty() {
            self.error(
                file,
                values.span(),
                "empty matcher",
                "no values",
                "list at least one value",
            );
            return None;
        }
        let mut ok = true;
        if let Some(allowed) = closed {
            for v in values.get_ref() {
                if !allowed.iter().any(|a| &a.value == v) {
                    let list: Vec<&str> = allowed.iter().map(|a| a.value.as_str()).collect();
                    self.error(
                        file,
                        values.span(),
                        format!("`{v}` is not a value of label `{}`", label.get_ref()),
                        "not in the closed set",
                        format!("allowed: {}", list.join(", ")),
                    );
                    ok = false;
                }
            }
        }
        let mut out = values.get_ref().clone();
        out.sort();
        out.dedup();
        ok.then_some(out)
    }

    /// A regex of an open label, checked under Prometheus's RE2 rules with the mistake pointed at inside
    /// the string; on a closed label, an error saying which values to list instead.
    fn pattern(
        &mut self,
        file: usize,
        label: &Name,
        re: &Spanned<String>,
        closed: Option<&Vec<ClosedValue>>,
        negated: bool,
    ) -> Option<String> {
        let l = label.get_ref();
        if let Some(values) = closed {
            let matched: Vec<String> = match regex::anchored(re.get_ref()) {
                Some(compiled) => values
                    .iter()
                    .filter(|v| compiled.is_match(&v.value) != negated)
                    .map(|v| format!("\"{}\"", v.value))
                    .collect(),
                None => Vec::new(),
            };
            self.error(
                file,
                re.span(),
                format!("a regex on closed label `{l}`"),
                "a closed label matches exact values",
                if matched.is_empty() {
                    format!(
                        "list the values to keep, e.g. `{l} = [\"{}\"]`",
                        values[0].value
                    )
                } else {
                    format!("list the values it keeps: `{l} = [{}]`", matched.join(", "))
                },
            );
            return None;
        }
        if let Err(p) = regex::check(re.get_ref()) {
            let span = inside(&self.files[file].text, re, p.span);
            self.error(
                file,
                span,
                format!(
                    "the regex of `{l}` does not compile in Prometheus: {}",
                    p.message
                ),
                "here",
                p.hint,
            );
            return None;
        }
        Some(re.get_ref().clone())
    }
}
