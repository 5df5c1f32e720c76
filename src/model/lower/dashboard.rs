//! `[dashboard]`: template variables, extra panels and row order.

use promql_parser::label::MatchOp;
use promql_parser::parser::Expr;

use super::*;

/// Grafana's range variables, which a panel query may use where PromQL wants a duration, with the duration the
/// query is checked with in their place.
const RANGE_VARIABLES: [&str; 6] = [
    "${__rate_interval}",
    "$__rate_interval",
    "${__interval}",
    "$__interval",
    "${__range}",
    "$__range",
];

impl Lowering<'_> {
    /// `[dashboard] variables`: label names, each once, that every series of the service carries, so neither
    /// one the service selector already fixes nor a metric's own label.
    pub(super) fn lower_variables(
        &mut self,
        file: usize,
        spec: &SpecFile,
        selector: &BTreeMap<String, String>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = FirstSeen::new();
        for v in spec.dashboard.iter().flat_map(|d| &d.variables) {
            if !self.label_name(file, v, "dashboard variable") {
                continue;
            }
            let name = v.get_ref();
            if let Some(first) = seen.get(name) {
                self.duplicate(
                    file,
                    v.span(),
                    "dashboard variable",
                    name,
                    file,
                    first.clone(),
                );
                continue;
            }
            seen.insert(name.clone(), v.span());
            if let Some(value) = selector.get(name) {
                self.error(
                    file,
                    v.span(),
                    format!("dashboard variable `{name}` is fixed by the service selector"),
                    format!("the selector already matches {name}={}", super::super::promql::quote(value)),
                    format!("remove `{name}` from `variables`, or from `selector` to choose it on the dashboard"),
                );
            } else if spec.labels.keys().any(|l| l.get_ref() == name)
                || matches!(name.as_str(), "le" | "quantile")
            {
                self.error(
                    file,
                    v.span(),
                    format!("dashboard variable `{name}` is a label of some metrics only"),
                    "not on every series",
                    "variables filter by labels every series of the service carries, such as the target labels \
                     `cluster`, `namespace` or `instance`; break a panel down by a metric label with `group_by`",
                );
            } else if name == conventions::DATASOURCE_VARIABLE {
                self.error(
                    file,
                    v.span(),
                    format!("dashboard variable `{name}` clashes with the data source variable"),
                    "name taken",
                    format!(
                        "the dashboard's data source picker is called `{}`; relabel the series' label",
                        conventions::DATASOURCE_VARIABLE
                    ),
                );
            } else {
                out.push(name.clone());
            }
        }
        out
    }

    /// Checks a hand-written panel query: PromQL with Grafana's range variables standing for a duration, and
    /// every selector over raw series (a name without `:`, which recorded series have) matching each variable.
    fn panel_query(
        &mut self,
        file: usize,
        expr: &Spanned<String>,
        declared: &Declared,
        variables: &[String],
    ) -> bool {
        let mut text = expr.get_ref().clone();
        for variable in RANGE_VARIABLES {
            text = text.replace(variable, "5m");
        }
        let checked = Spanned::new(expr.span(), text);
        if !self.promql(file, &checked, declared) {
            return false;
        }
        let Ok(ast) = promql_parser::parser::parse(checked.get_ref()) else {
            return false;
        };
        let mut missing = Vec::new();
        unfiltered(&ast, variables, &mut missing);
        let mut reported = HashSet::new();
        missing.retain(|pair| reported.insert(pair.clone()));
        for (series, variable) in &missing {
            self.error(
                file,
                expr.span(),
                format!("`{series}` ignores the dashboard variable `{variable}`"),
                format!("no {variable}=~\"${variable}\" here"),
                format!(
                    "add {variable}=~\"${variable}\" to every selector over raw series, as the generated panels do, \
                     so the panel follows the dashboard's choice"
                ),
            );
        }
        missing.is_empty()
    }

    pub(super) fn lower_dashboard(
        &mut self,
        file: usize,
        declared: &Declared,
        spec: &SpecFile,
    ) -> Dashboard {
        let service = declared.service();
        let d = spec.dashboard.as_ref();
        let mut extra_panels = Vec::new();
        let panels = d.map(|d| d.panels.as_slice()).unwrap_or_default();
        for p in panels {
            if p.queries.get_ref().is_empty() {
                self.error(
                    file,
                    p.queries.span(),
                    format!("panel `{}` has no queries", p.title),
                    "empty",
                    "add at least one `{ expr = \"...\" }`",
                );
                continue;
            }
            let mut ok = true;
            for q in p.queries.get_ref() {
                ok &= self.panel_query(file, &q.expr, declared, &service.dashboard.variables);
            }
            if ok {
                extra_panels.push(ExtraPanel {
                    title: p.title.clone(),
                    description: p.description.clone(),
                    row: p.row.clone(),
                    unit: p.unit.clone(),
                    queries: p
                        .queries
                        .get_ref()
                        .iter()
                        .map(|q| (q.expr.get_ref().trim().to_string(), q.legend.clone()))
                        .collect(),
                });
            }
        }
        // Rows in the order they first appear in the file, then the SLO row.
        let mut positioned: Vec<(usize, String)> = spec
            .metrics
            .iter()
            .map(|(n, m)| {
                (
                    n.span().start,
                    m.get_ref().row.clone().unwrap_or_else(|| "Metrics".into()),
                )
            })
            .collect();
        positioned.sort();
        let mut rows: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for row in positioned
            .into_iter()
            .map(|(_, r)| r)
            // Every panel's row, also a panel with errors: `row_order` may name it.
            .chain(panels.iter().map(|p| p.row.clone()))
        {
            if seen.insert(row.clone()) {
                rows.push(row);
            }
        }
        if !spec.slos.is_empty() && seen.insert(conventions::SLO_ROW.to_string()) {
            rows.push(conventions::SLO_ROW.to_string());
        }
        // The overview (SLO table, alerts) leads unless `row_order` places it; it exists with something to show.
        let overview = !spec.slos.is_empty() || !spec.alerts.is_empty();
        if overview && seen.insert(conventions::OVERVIEW_ROW.to_string()) {
            rows.insert(0, conventions::OVERVIEW_ROW.to_string());
        }
        let mut row_order = Vec::new();
        let mut placed: HashSet<String> = HashSet::new();
        for r in d.map(|d| d.row_order.as_slice()).unwrap_or_default() {
            if seen.contains(r.get_ref()) {
                if placed.insert(r.get_ref().clone()) {
                    row_order.push(r.get_ref().clone());
                }
            } else {
                self.error(
                    file,
                    r.span(),
                    format!("unknown row `{}`", r.get_ref()),
                    "no panel is in this row",
                    format!("rows: {}", rows.join(", ")),
                );
            }
        }
        let lead_overview = overview && !placed.contains(conventions::OVERVIEW_ROW);
        for r in rows {
            if placed.insert(r.clone()) {
                row_order.push(r);
            }
        }
        if lead_overview {
            if let Some(at) = row_order
                .iter()
                .position(|r| r == conventions::OVERVIEW_ROW)
            {
                let row = row_order.remove(at);
                row_order.insert(0, row);
            }
        }
        Dashboard {
            title: d
                .and_then(|d| d.title.clone())
                .unwrap_or_else(|| format!("{} service level", service.name)),
            row_order,
            extra_panels,
            variables: service.dashboard.variables.clone(),
            rows: Vec::new(),
            templates: Vec::new(),
        }
    }
}

/// Every (series, variable) where a selector over raw series in `expr` does not match the variable with
/// `label=~"$label"` (or `"${label}"`).
fn unfiltered(expr: &Expr, variables: &[String], out: &mut Vec<(String, String)>) {
    match expr {
        Expr::Aggregate(a) => {
            unfiltered(&a.expr, variables, out);
            if let Some(p) = &a.param {
                unfiltered(p, variables, out);
            }
        }
        Expr::Unary(u) => unfiltered(&u.expr, variables, out),
        Expr::Binary(b) => {
            unfiltered(&b.lhs, variables, out);
            unfiltered(&b.rhs, variables, out);
        }
        Expr::Paren(p) => unfiltered(&p.expr, variables, out),
        Expr::Subquery(s) => unfiltered(&s.expr, variables, out),
        Expr::Call(c) => c
            .args
            .args
            .iter()
            .for_each(|a| unfiltered(a, variables, out)),
        Expr::MatrixSelector(m) => selector_unfiltered(&m.vs, variables, out),
        Expr::VectorSelector(v) => selector_unfiltered(v, variables, out),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

fn selector_unfiltered(
    vs: &promql_parser::parser::VectorSelector,
    variables: &[String],
    out: &mut Vec<(String, String)>,
) {
    let name = vs.name.clone().unwrap_or_default();
    // Recorded series (`slo:sli_error:ratio_rate5m`) are sums that drop the labels variables filter by.
    if name.contains(':') {
        return;
    }
    for variable in variables {
        let filtered = vs.matchers.matchers.iter().any(|m| {
            m.name == *variable
                && matches!(m.op, MatchOp::Re(_))
                && (m.value == format!("${variable}") || m.value == format!("${{{variable}}}"))
        });
        if !filtered {
            out.push((name.clone(), variable.clone()));
        }
    }
}
