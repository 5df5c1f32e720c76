//! Another tool's OpenSLO queries as slogen query SLIs: the range of every rate becomes the `{{.window}}`
//! placeholder, so that each alert window reads its own range.
//!
//! A query may already use the placeholder (as Sloth's do), or one fixed range throughout (`[5m]`), which
//! stands for the SLI's evaluation window in the tool it came from. A `counter: true` query without ranges
//! reads raw counters (`sum(http_requests_total{code="500"})`): every selector becomes a `rate` over the
//! window. Several different ranges, subqueries and gauge queries without ranges are refused with a hint:
//! which range is the window cannot be guessed.

use promql_parser::parser::{parse, Call, Expr, MatrixSelector};

use super::check::{At, Problems};
use super::read::{self, Ratio};
use super::render::Writer;
use super::resolve::Draft;

/// The window placeholder of query SLIs.
pub const WINDOW: &str = "{{.window}}";

/// What converting a query did, for a comment in the imported spec.
#[derive(Debug, Default)]
pub struct Converted {
    /// The query with the placeholder.
    pub query: String,
    /// The fixed range it replaced, if any.
    pub replaced: Option<String>,
}

/// The query with its ranges replaced by the placeholder, or a problem at `at`.
pub fn convert(query: &str, counter: bool, at: &At, p: &mut Problems) -> Option<Converted> {
    let normalized = query
        .replace("{{ .window }}", WINDOW)
        .replace("{{.Window}}", WINDOW);
    let ranges = ranges(&normalized);
    if ranges.is_empty() && normalized.contains(WINDOW) {
        return Some(Converted {
            query: normalized.trim().to_string(),
            replaced: None,
        });
    }
    if ranges.is_empty() {
        if let Some(rated) = counter.then(|| with_rates(&normalized)).flatten() {
            return convert(&rated, false, at, p).map(|c| Converted {
                replaced: None,
                ..c
            });
        }
        p.error(at, "the query reads no range", if counter { "not PromQL" } else { "no `[...]` range, and `counter: false`" }, format!("write the rate the SLI counts, with `{WINDOW}` where the window goes, e.g. `sum(rate(http_requests_total{{code=~\"5..\"}}[{WINDOW}]))`"));
        return None;
    }
    if let Some(sub) = ranges.iter().find(|(_, r)| r.contains(':')) {
        p.error(
            at,
            format!("the query has a subquery `[{}]`", sub.1),
            "subquery",
            format!("write the SLI with plain ranges, using `{WINDOW}` for the window"),
        );
        return None;
    }
    let first = &ranges[0].1;
    if ranges.iter().any(|(_, r)| r != first) {
        let all: Vec<&str> = ranges.iter().map(|(_, r)| r.as_str()).collect();
        p.error(
            at,
            format!("the query reads several ranges ({})", all.join(", ")),
            "which one is the window?",
            format!("write `{WINDOW}` in the range that each alert window should read"),
        );
        return None;
    }
    let mut out = String::with_capacity(normalized.len());
    let mut from = 0;
    for (range, _) in &ranges {
        out.push_str(&normalized[from..range.start]);
        out.push_str(WINDOW);
        from = range.end;
    }
    out.push_str(&normalized[from..]);
    Some(Converted {
        query: out.trim().to_string(),
        replaced: Some(first.clone()),
    })
}

/// The query with every selector read as a counter's rate (`x` → `rate(x[5m])`), printed by the parser.
fn with_rates(query: &str) -> Option<String> {
    let Ok(Expr::Call(rate)) = parse("rate(x[5m])") else {
        return None;
    };
    let mut expr = parse(query).ok()?;
    wrap(&mut expr, &rate);
    Some(expr.to_string())
}

fn wrap(e: &mut Expr, rate: &Call) {
    match e {
        Expr::VectorSelector(vs) => {
            let mut call = rate.clone();
            call.args.args = vec![Box::new(Expr::MatrixSelector(MatrixSelector {
                vs: vs.clone(),
                range: std::time::Duration::from_secs(300),
            }))];
            *e = Expr::Call(call);
        }
        Expr::Aggregate(a) => wrap(&mut a.expr, rate),
        Expr::Binary(b) => {
            wrap(&mut b.lhs, rate);
            wrap(&mut b.rhs, rate);
        }
        Expr::Paren(x) => wrap(&mut x.expr, rate),
        Expr::Unary(u) => wrap(&mut u.expr, rate),
        Expr::Call(c) => c.args.args.iter_mut().for_each(|a| wrap(a, rate)),
        _ => {}
    }
}

/// The byte ranges of the text inside every `[...]` outside string literals and braces, with that text.
fn ranges(query: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let bytes = query.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut braces = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'"' | b'\'' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    if bytes[i] == b'\\' && q != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'{' => braces += 1,
            b'}' => braces = braces.saturating_sub(1),
            b'[' if braces == 0 => {
                if let Some(end) = query[i + 1..].find(']') {
                    let inner = i + 1..i + 1 + end;
                    if &query[inner.clone()] != WINDOW {
                        out.push((inner.clone(), query[inner.clone()].trim().to_string()));
                    }
                    i = inner.end;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// An SLI from the OpenSLO queries: `events` (bad, or total minus good, over total) or `raw`.
#[derive(Debug)]
pub enum QuerySli {
    /// `[…events]`: error and total queries.
    Events {
        errors: (String, At),
        total: (String, At),
        /// The fixed range the queries read before.
        replaced: Option<String>,
    },
    /// `[…raw]`: an error ratio.
    Raw { error_ratio: (String, At) },
}

impl QuerySli {
    /// Converts the SLI's queries; problems go to `p`.
    pub fn new(d: &Draft<'_>, p: &mut Problems) -> Option<QuerySli> {
        let counter = matches!(d.sli.metric, Ratio::Events { counter: true, .. });
        let mut conv =
            |q: &read::Query| convert(&q.query, counter, &q.at, p).map(|c| (c, q.at.clone()));
        match &d.sli.metric {
            Ratio::Events {
                good, bad, total, ..
            } => {
                let total = conv(total);
                let errors = match (bad, good) {
                    (Some(b), _) => conv(b),
                    (None, Some(g)) => conv(g).map(|(c, at)| {
                        let t = total
                            .as_ref()
                            .map_or(String::new(), |(t, _)| t.query.clone());
                        let query = format!("({t}) - ({})", c.query);
                        (Converted { query, ..c }, at)
                    }),
                    (None, None) => None,
                };
                let ((e, e_at), (t, t_at)) = (errors?, total?);
                Some(QuerySli::Events {
                    replaced: e.replaced.or(t.replaced),
                    errors: (e.query, e_at),
                    total: (t.query, t_at),
                })
            }
            Ratio::Raw { failure, raw } => {
                let (c, at) = conv(raw)?;
                let q = if *failure {
                    c.query
                } else {
                    format!("1 - ({})", c.query)
                };
                Some(QuerySli::Raw {
                    error_ratio: (q, at),
                })
            }
        }
    }

    pub fn render(&self, w: &mut Writer, head: &str) {
        match self {
            QuerySli::Events {
                errors,
                total,
                replaced,
            } => {
                if let Some(r) = replaced {
                    w.comment(&format!(
                        "The OpenSLO queries read `[{r}]`; here each alert window reads its own range."
                    ));
                }
                w.raw(&format!("[{head}.events]\n"));
                w.string("errors", &errors.0, Some(&errors.1));
                w.string("total", &total.0, Some(&total.1));
            }
            QuerySli::Raw { error_ratio } => {
                w.raw(&format!("[{head}.raw]\n"));
                w.string("error_ratio", &error_ratio.0, Some(&error_ratio.1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> At {
        At {
            file: 0,
            span: 0..0,
        }
    }

    #[test]
    fn one_fixed_range_becomes_the_placeholder() {
        let mut p = Problems::default();
        let c = convert(
            r#"sum(rate(x{a="[5m]"}[5m])) / sum(rate(y[5m]))"#,
            true,
            &at(),
            &mut p,
        )
        .unwrap();
        assert_eq!(
            c.query,
            r#"sum(rate(x{a="[5m]"}[{{.window}}])) / sum(rate(y[{{.window}}]))"#
        );
        assert_eq!(c.replaced.as_deref(), Some("5m"));
    }

    #[test]
    fn placeholders_stay_and_ambiguous_ranges_are_refused() {
        let mut p = Problems::default();
        let c = convert("sum(rate(x[{{ .window }}]))", false, &at(), &mut p).unwrap();
        assert_eq!(c.query, "sum(rate(x[{{.window}}]))");
        assert!(convert("sum(rate(x[5m])) / sum(rate(y[1h]))", true, &at(), &mut p).is_none());
        assert!(convert("sum(x)", false, &at(), &mut p).is_none());
        assert!(convert("max_over_time(rate(x[5m])[1h:1m])", true, &at(), &mut p).is_none());
        assert_eq!(p.list.len(), 3);
    }

    #[test]
    fn raw_counters_become_rates_over_the_window() {
        let mut p = Problems::default();
        let c = convert(
            r#"sum(http_requests_total{code=~"5.."})"#,
            true,
            &at(),
            &mut p,
        )
        .unwrap();
        assert_eq!(
            c.query,
            r#"sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))"#
        );
        assert!(p.list.is_empty());
    }
}
