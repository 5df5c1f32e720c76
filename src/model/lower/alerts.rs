//! `[alerts]`: threshold alerts written as PromQL, and the PromQL checks shared with dashboard panels.

use super::*;

impl Lowering<'_> {
    pub(super) fn lower_alert(
        &mut self,
        file: usize,
        declared: &Declared,
        name: &Name,
        spec: &spec::AlertSpec,
    ) -> Option<ThresholdAlert> {
        let service = declared.service();
        let n = name.get_ref();
        let mut ok = true;
        if !conventions::is_upper_camel(n) {
            self.error(
                file,
                name.span(),
                format!("invalid alert name `{n}`"),
                "not UpperCamelCase",
                format!(
                    "alert names are UpperCamelCase, e.g. `{}`",
                    conventions::upper_camel(n)
                ),
            );
            ok = false;
        }
        ok &= self.promql(file, &spec.expr, declared);
        let for_ = match &spec.for_ {
            None => Duration { seconds: 0 },
            Some(f) => match Duration::parse(f.get_ref()) {
                Some(d) => d,
                None => {
                    self.error(
                        file,
                        f.span(),
                        format!("invalid duration `{}`", f.get_ref()),
                        "not a duration",
                        "write a whole number and one unit: `30s`, `5m`, `1h`, `1d`",
                    );
                    return None;
                }
            },
        };
        let summary = spec.summary.get_ref().trim();
        if summary.is_empty()
            || !summary.ends_with('.')
            || summary.contains("{{")
            || summary.contains('\n')
        {
            self.error(
                file,
                spec.summary.span(),
                format!("summary of alert `{n}` is not one static sentence"),
                "summary",
                "write one static line ending with a period; put `{{ $labels.x }}` and `{{ $value }}` in `description`",
            );
            ok = false;
        }
        if spec.description.get_ref().trim().is_empty() {
            self.error(file, spec.description.span(), format!("alert `{n}` has an empty description"), "description", "say what is happening and what to look at first; templates like `{{ $value }}` work here");
            ok = false;
        }
        if ok {
            if let Ok(ast) = promql_parser::parser::parse(spec.expr.get_ref()) {
                if ast.value_type() != promql_parser::parser::value::ValueType::Vector {
                    self.error(
                        file,
                        spec.expr.span(),
                        format!(
                            "alert `{n}` expression is a {}, not an instant vector",
                            ast.value_type()
                        ),
                        "alerts fire per returned series",
                        "make the expression return series, e.g. `rate(x_total[5m]) > 1`",
                    );
                    ok = false;
                }
            }
        }
        ok.then(|| ThresholdAlert {
            name: n.clone(),
            expr: spec.expr.get_ref().trim().to_string(),
            for_,
            severity: spec.severity,
            summary: spec.summary.get_ref().trim().to_string(),
            description: spec.description.get_ref().trim().to_string(),
            runbook_url: conventions::runbook_url(
                &service.runbook_base_url,
                spec.runbook.as_deref().unwrap_or(n),
            ),
        })
    }

    /// Parses a PromQL expression and checks that counters are rated and gauges are not.
    pub(super) fn promql(
        &mut self,
        file: usize,
        expr: &Spanned<String>,
        declared: &Declared,
    ) -> bool {
        let text = expr.get_ref();
        // The span covers the quotes of a basic string; point inside them.
        let span = expr.span();
        match promql_parser::parser::parse(text) {
            Err(e) => {
                self.error(
                    file,
                    span,
                    "invalid PromQL",
                    e.to_string(),
                    "fix the expression; `promtool` and Prometheus would reject it",
                );
                false
            }
            Ok(ast) => self.metric_use(file, |_| span.clone(), &ast, declared),
        }
    }

    /// Reports every misuse of a declared metric in a parsed expression, at the span `locate` gives for the
    /// selector's name: counters read as levels, gauges rated, labels the metric does not have; true when
    /// there is none.
    pub(super) fn metric_use(
        &mut self,
        file: usize,
        locate: impl Fn(&str) -> Range<usize>,
        ast: &promql_parser::parser::Expr,
        declared: &Declared,
    ) -> bool {
        let mut misuse = Vec::new();
        super::promql_check::metric_misuse(ast, declared, &mut misuse);
        // A metric defined with errors is not in the index: its series are not misuses.
        let broken = &self.broken.metrics;
        misuse.retain(|m| {
            !broken.iter().any(|b| {
                m.selector == *b
                    || m.selector
                        .strip_prefix(b.as_str())
                        .is_some_and(|rest| rest.starts_with('_'))
            })
        });
        for m in &misuse {
            self.error(
                file,
                locate(&m.selector),
                m.message.clone(),
                m.label.clone(),
                m.hint.clone(),
            );
        }
        misuse.is_empty()
    }

    /// Threshold alerts may not take a name an SLO's alerts have, nor an SLO's burn-rate alerts the name of
    /// an absent alert. SLOs may share a burn-rate alert name, as Sloth's specs often do: their alerts differ
    /// in the `slo` label.
    pub(super) fn check_alert_names(&mut self, file: usize, service: &Service, spec: &SpecFile) {
        let absent: HashSet<String> = service
            .slos
            .iter()
            .map(|slo| conventions::slo_absent_alert(&service.name, &slo.name))
            .collect();
        for (name, slo) in &spec.slos {
            let Some(alert) = &slo.get_ref().alerting.name else {
                continue;
            };
            if absent.contains(alert.get_ref()) {
                self.error(
                    file,
                    alert.span(),
                    format!(
                        "the burn-rate alerts of SLO `{}` take the name of an absent alert",
                        name.get_ref()
                    ),
                    "same name as an SLO's absent alert",
                    "choose another name",
                );
            }
        }
        let generated: HashSet<&str> = service
            .slos
            .iter()
            .map(|slo| slo.burn_alert.as_str())
            .chain(absent.iter().map(String::as_str))
            .collect();
        for name in spec.alerts.keys() {
            if generated.contains(name.get_ref().as_str()) {
                self.error(
                    file,
                    name.span(),
                    format!(
                        "alert `{}` clashes with an alert generated for an SLO",
                        name.get_ref()
                    ),
                    "same name",
                    "rename the threshold alert",
                );
            }
        }
    }
}
