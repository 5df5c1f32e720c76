//! Query SLIs (`events`, `raw`): their `{{.window}}` placeholders, their PromQL (parsed with a window in the
//! placeholders), the metrics they read, their regexes, and the shape the rule tests can feed.

use std::ops::Range;
use std::time::Duration as StdDuration;

use promql_parser::parser::value::ValueType;
use promql_parser::parser::Expr;

use super::inner::inside;
use super::*;
use crate::model::query::{self, WindowQuery};

/// What a placeholder is replaced with to check a query: a window no spec writes by hand, so that the rule
/// tests' shape check knows which ranges are the placeholder's.
const CHECK_WINDOW: &str = "7919s";
const CHECK_WINDOW_SECONDS: u64 = 7919;

impl Lowering<'_> {
    /// A Sloth `events` SLI; `guarded` says whether its alerts count events for `min_events`.
    pub(super) fn lower_events(
        &mut self,
        file: usize,
        declared: &Declared,
        spec: &spec::EventsSliSpec,
        guarded: bool,
    ) -> Option<Sli> {
        let errors = self.window_query(file, declared, &spec.errors, "errors");
        let total = self.window_query(file, declared, &spec.total, "total");
        let ((errors, errors_ast), (total, total_ast)) = (errors?, total?);
        if errors.written() == total.written() {
            self.error(
                file,
                spec.errors.span(),
                "the `errors` query is the `total` query",
                "no event could be good",
                "select only the bad events in `errors`, e.g. with `code=~\"5..\"`",
            );
            return None;
        }
        if guarded && calls(&total_ast, "increase") {
            self.error(
                file,
                spec.total.span(),
                "the `total` query counts events with `increase()`",
                "read as events per second",
                "write it with `rate()`, as Sloth's `events` queries are: the low-traffic guard multiplies it by \
                 the window; or set `min_events = 0`",
            );
            return None;
        }
        let feed = query::events_feed(&errors_ast, &total_ast, check_window(), declared);
        Some(Sli::Events {
            errors,
            total,
            feed,
        })
    }

    /// A Sloth `raw` SLI.
    pub(super) fn lower_raw(
        &mut self,
        file: usize,
        declared: &Declared,
        spec: &spec::RawSliSpec,
    ) -> Option<Sli> {
        let (error_ratio, ast) =
            self.window_query(file, declared, &spec.error_ratio, "error_ratio")?;
        let feed = query::raw_feed(&ast, check_window(), declared);
        Some(Sli::Raw { error_ratio, feed })
    }

    /// Checks one query: its placeholders, its PromQL with a window in them (an instant vector, counters
    /// rated, gauges not, labels declared on known metrics, regexes RE2), pointing inside the string where
    /// it can; `None` after reporting a problem.
    fn window_query(
        &mut self,
        file: usize,
        declared: &Declared,
        text: &Spanned<String>,
        role: &str,
    ) -> Option<(WindowQuery, Expr)> {
        let file_text = self.files[file].text.as_str();
        let query = match query::split(text.get_ref()) {
            Ok(q) => q,
            Err(problems) => {
                for p in problems {
                    let span = inside(file_text, text, p.span);
                    self.error(file, span, p.message, p.label, p.hint);
                }
                return None;
            }
        };
        let (filled, back) = query.filled(CHECK_WINDOW);
        let parsed = promql_parser::parser::parse(&filled).map_err(|e| {
            let span = query::lexer_error_offset(&filled, &e)
                .map(|at| inside(file_text, text, back(at)..back(at) + 1));
            (e, span)
        });
        drop(back);
        let ast = match parsed {
            Ok(ast) => ast,
            Err((e, span)) => {
                let span = span.unwrap_or(text.span());
                self.error(
                    file,
                    span,
                    format!("invalid PromQL in the `{role}` query"),
                    e,
                    "fix the expression; `{{.window}}` stands for a range such as `5m`",
                );
                return None;
            }
        };
        if ast.value_type() != ValueType::Vector {
            self.error(
                file,
                text.span(),
                format!(
                    "the `{role}` query returns a {}, not an instant vector",
                    ast.value_type()
                ),
                "an SLI is recorded per window",
                "return series, e.g. `sum(rate(x_total[{{.window}}]))`",
            );
            return None;
        }
        // A selector or a regex is pointed at where the query first spells it, if it spells it as parsed.
        let at = |found: Option<usize>, len: usize, within: Range<usize>| match found {
            Some(o) => inside(file_text, text, o + within.start..o + within.end.min(len)),
            None => text.span(),
        };
        let mut ok = self.metric_use(
            file,
            |name| at(find_name(text.get_ref(), name), name.len(), 0..name.len()),
            &ast,
            declared,
        );
        let mut selectors = Vec::new();
        query::selectors(&ast, &mut selectors);
        for vs in selectors {
            for m in &vs.matchers.matchers {
                if let promql_parser::label::MatchOp::Re(_)
                | promql_parser::label::MatchOp::NotRe(_) = m.op
                {
                    if let Err(p) = crate::model::regex::check(&m.value) {
                        self.error(
                            file,
                            at(text.get_ref().find(&m.value), m.value.len(), p.span.clone()),
                            format!(
                                "the regex of `{}` in the `{role}` query does not compile in Prometheus: {}",
                                m.name, p.message
                            ),
                            format!("`{}`", m.value),
                            p.hint,
                        );
                        ok = false;
                    }
                }
            }
        }
        ok.then_some((query, ast))
    }
}

/// Where `name` is first written in `text` as a whole metric name, not part of a longer one.
fn find_name(text: &str, name: &str) -> Option<usize> {
    let part =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    text.match_indices(name).map(|(i, _)| i).find(|&i| {
        !part(text[..i].chars().next_back()) && !part(text[i + name.len()..].chars().next())
    })
}

fn check_window() -> StdDuration {
    StdDuration::from_secs(CHECK_WINDOW_SECONDS)
}

/// Whether `expr` calls the function `name` anywhere.
fn calls(expr: &Expr, name: &str) -> bool {
    match expr {
        Expr::Call(c) => c.func.name == name || c.args.args.iter().any(|a| calls(a, name)),
        Expr::Aggregate(a) => {
            calls(&a.expr, name) || a.param.as_ref().is_some_and(|p| calls(p, name))
        }
        Expr::Unary(u) => calls(&u.expr, name),
        Expr::Binary(b) => calls(&b.lhs, name) || calls(&b.rhs, name),
        Expr::Paren(p) => calls(&p.expr, name),
        Expr::Subquery(s) => calls(&s.expr, name),
        _ => false,
    }
}
