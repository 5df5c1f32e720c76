//! What a panel query reads, from its PromQL: the `by` labels of each aggregation and each selected series
//! with its matchers.

use std::collections::{BTreeMap, BTreeSet};

use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr, LabelModifier};

/// What Grafana substitutes for `$__rate_interval`, so the query parses as plain PromQL.
const RATE_INTERVAL: &str = "5m";

/// The `by` labels of each aggregation (empty for a plain `sum(...)`) and the selected series.
#[derive(Default)]
pub struct Query {
    pub grouping: Vec<BTreeSet<String>>,
    pub selectors: Vec<Selector>,
}

/// A selected series: its name, equality matchers and regex matchers.
pub struct Selector {
    pub name: String,
    pub equal: BTreeMap<String, String>,
    pub regex: BTreeMap<String, String>,
}

fn walk(expr: &Expr, out: &mut Query) {
    match expr {
        Expr::Aggregate(a) => {
            match &a.modifier {
                None => out.grouping.push(BTreeSet::new()),
                Some(LabelModifier::Include(by)) => {
                    out.grouping.push(by.labels.iter().cloned().collect())
                }
                Some(LabelModifier::Exclude(_)) => {}
            }
            walk(&a.expr, out);
            if let Some(param) = &a.param {
                walk(param, out);
            }
        }
        Expr::Unary(u) => walk(&u.expr, out),
        Expr::Binary(b) => {
            walk(&b.lhs, out);
            walk(&b.rhs, out);
        }
        Expr::Paren(p) => walk(&p.expr, out),
        Expr::Subquery(s) => walk(&s.expr, out),
        Expr::Call(c) => c.args.args.iter().for_each(|arg| walk(arg, out)),
        Expr::MatrixSelector(m) => walk(&Expr::VectorSelector(m.vs.clone()), out),
        Expr::VectorSelector(v) => {
            let with = |op: fn(&MatchOp) -> bool| {
                v.matchers
                    .matchers
                    .iter()
                    .filter(|m| op(&m.op))
                    .map(|m| (m.name.clone(), m.value.clone()))
                    .collect()
            };
            out.selectors.push(Selector {
                name: v.name.clone().unwrap_or_default(),
                equal: with(|op| *op == MatchOp::Equal),
                regex: with(|op| matches!(op, MatchOp::Re(_))),
            });
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// Parses a panel query, Grafana's `$__rate_interval` read as a fixed range; a query that is not PromQL
/// fails the test.
pub fn parse_query(expr: &str) -> Query {
    let promql = expr.replace("$__rate_interval", RATE_INTERVAL);
    let ast = parser::parse(&promql).unwrap_or_else(|e| panic!("`{expr}` is not PromQL: {e}"));
    let mut query = Query::default();
    walk(&ast, &mut query);
    query
}

/// Every range of a query (`[5m]`, `[$__rate_interval]`) as written.
pub fn ranges(expr: &str) -> Vec<&str> {
    expr.split('[')
        .skip(1)
        .filter_map(|rest| rest.split_once(']').map(|(range, _)| range))
        .collect()
}
