//! Query SLIs, as Sloth writes them: PromQL with a `{{.window}}` placeholder where each recorded window goes
//! (`events`: an errors and a total query; `raw`: an error-ratio query), split at the placeholders, and the
//! shape of a query the generated rule tests know how to feed.

use std::ops::Range;
use std::time::Duration as StdDuration;

use promql_parser::parser::Expr;

use super::promql::{braces, Matcher};
use super::promql_check::Declared;
use super::Duration;

/// Sloth's placeholder for the range of each recorded window.
pub const PLACEHOLDER: &str = "{{.window}}";

/// A PromQL query with `{{.window}}` placeholders, split where they stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowQuery {
    /// The text around the placeholders: the query over a window is these joined by the window.
    parts: Vec<String>,
    /// Where each part starts in the text as written, to point back into it.
    starts: Vec<usize>,
}

impl WindowQuery {
    /// The query over `window` (`5m`, `1h`, …), as the recording rules read it.
    pub fn at(&self, window: Duration) -> String {
        self.parts.join(&window.promql()).trim().to_string()
    }

    /// The query as written, every placeholder spelled `{{.window}}`.
    pub fn written(&self) -> String {
        self.shown(PLACEHOLDER)
    }

    /// The query with `name` for each placeholder, e.g. `<window>` in the docs.
    pub fn shown(&self, name: &str) -> String {
        self.parts.join(name).trim().to_string()
    }

    /// The untrimmed query with `fill` in each placeholder, and a map from its offsets back to the text as
    /// written (an offset inside a filled-in window maps to its placeholder's start).
    pub(crate) fn filled(&self, fill: &str) -> (String, impl Fn(usize) -> usize + '_) {
        let text = self.parts.join(fill);
        let fill_len = fill.len();
        let back = move |mut at: usize| {
            for (part, &start) in self.parts.iter().zip(&self.starts) {
                if at <= part.len() {
                    return start + at;
                }
                at -= part.len();
                if at < fill_len {
                    return start + part.len();
                }
                at -= fill_len;
            }
            self.starts.last().copied().unwrap_or(0)
        };
        (text, back)
    }
}

/// A mistake in the placeholders of a query, at a byte range of its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceholderProblem {
    /// Where, within the query text.
    pub span: Range<usize>,
    /// What is wrong.
    pub message: String,
    /// Under the snippet.
    pub label: String,
    /// How to fix it.
    pub hint: String,
}

/// Splits `text` at its `{{.window}}` placeholders; spaces and Go's trim markers inside the braces are
/// allowed (`{{ .window }}`, `{{- .window -}}`), as Sloth's Go templates allow them. Every other action, an
/// unclosed `{{` and a query without a placeholder are problems.
pub fn split(text: &str) -> Result<WindowQuery, Vec<PlaceholderProblem>> {
    let mut parts = Vec::new();
    let mut starts = vec![0];
    let mut problems = Vec::new();
    let mut from = 0;
    let mut search = 0;
    while let Some(open) = text[search..].find("{{").map(|i| search + i) {
        let Some(close) = text[open + 2..].find("}}").map(|i| open + 2 + i + 2) else {
            problems.push(PlaceholderProblem {
                span: open..open + 2,
                message: "unclosed `{{` in the query".into(),
                label: "no `}}` after this".into(),
                hint: format!("write the window placeholder as `{PLACEHOLDER}`"),
            });
            break;
        };
        let action = text[open + 2..close - 2]
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        if action == ".window" {
            parts.push(text[from..open].to_string());
            starts.push(close);
            from = close;
        } else {
            problems.push(PlaceholderProblem {
                span: open..close,
                message: format!("unknown placeholder `{}`", &text[open..close]),
                label: "not `{{.window}}`".into(),
                hint: format!(
                    "a query SLI has one placeholder, `{PLACEHOLDER}`, the range of each window slogen records \
                     (as in Sloth); write the rest of the query as plain PromQL"
                ),
            });
        }
        search = close;
    }
    parts.push(text[from..].to_string());
    if problems.is_empty() && parts.len() == 1 {
        problems.push(PlaceholderProblem {
            span: 0..text.len(),
            message: format!("the query has no `{PLACEHOLDER}`"),
            label: "no window placeholder".into(),
            hint: format!(
                "write `[{PLACEHOLDER}]` where the range goes, e.g. `sum(rate(x_total[{PLACEHOLDER}]))`: slogen \
                 records the SLI over several windows"
            ),
        });
    }
    if problems.is_empty() {
        Ok(WindowQuery { parts, starts })
    } else {
        Err(problems)
    }
}

/// Where in `text` a PromQL lexer error is, found as the shortest prefix that fails with the same message;
/// `None` for errors only the whole text shows (most parser errors) or texts too long to search.
pub(crate) fn lexer_error_offset(text: &str, message: &str) -> Option<usize> {
    /// Each prefix is lexed from the start: beyond this the search is not worth its quadratic cost.
    const LONGEST: usize = 2_000;
    if text.len() > LONGEST {
        return None;
    }
    (1..text.len())
        .filter(|&end| text.is_char_boundary(end))
        .find(|&end| matches!(promql_parser::parser::lexer(&text[..end]), Err(e) if e == message))
        .map(|end| {
            // The prefix ends just after the offending character.
            let mut at = end - 1;
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            at
        })
}

/// Every vector selector in `expr`, also those of range selectors, in the order written.
pub(crate) fn selectors<'e>(
    expr: &'e Expr,
    out: &mut Vec<&'e promql_parser::parser::VectorSelector>,
) {
    match expr {
        Expr::VectorSelector(vs) => out.push(vs),
        Expr::MatrixSelector(ms) => out.push(&ms.vs),
        Expr::Call(c) => c.args.args.iter().for_each(|a| selectors(a, out)),
        Expr::Aggregate(a) => {
            selectors(&a.expr, out);
            if let Some(p) = &a.param {
                selectors(p, out);
            }
        }
        Expr::Unary(u) => selectors(&u.expr, out),
        Expr::Binary(b) => {
            selectors(&b.lhs, out);
            selectors(&b.rhs, out);
        }
        Expr::Paren(p) => selectors(&p.expr, out),
        Expr::Subquery(s) => selectors(&s.expr, out),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// A vector selector read from a query: its sample name and matchers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesSelector {
    /// The sample name.
    pub name: String,
    /// Its label matchers, in the order written.
    pub matchers: Vec<Matcher>,
    /// The declared metric that exposes the sample, if any.
    pub metric: Option<String>,
}

impl SeriesSelector {
    /// `name{matchers}` as PromQL.
    pub fn promql(&self) -> String {
        format!("{}{}", self.name, braces(&self.matchers))
    }
}

/// How the generated rule tests feed a query SLI: which series count bad, good and all events. Only queries
/// of the shape `sum(rate(<selector>[{{.window}}]))` (and, for `raw`, their quotient) read fed counters in a
/// way the tests can replay exactly; any other query is left out of the tests, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryFeed {
    /// Bad events over all events: `sum(rate(errors[w]))` and `sum(rate(total[w]))`.
    ErrorsOverTotal {
        /// The bad events' series.
        errors: SeriesSelector,
        /// Every event's series.
        total: SeriesSelector,
    },
    /// One minus good events over all events: `1 - (sum(rate(good[w])) / sum(rate(total[w])))`.
    GoodOverTotal {
        /// The good events' series.
        good: SeriesSelector,
        /// Every event's series.
        total: SeriesSelector,
    },
    /// Not a shape the tests can feed: why.
    Unfed(String),
}

/// The shape the rule tests feed, for the docs.
const RATE_SUM: &str = "sum(rate(<selector>[<window>]))";

/// The feed of an `events` SLI whose queries, parsed with `window` in their placeholders, are `errors` and
/// `total`.
pub(crate) fn events_feed(
    errors: &Expr,
    total: &Expr,
    window: StdDuration,
    declared: &Declared,
) -> QueryFeed {
    match (
        rate_sum(errors, window, declared),
        rate_sum(total, window, declared),
    ) {
        (Some(errors), Some(total)) => QueryFeed::ErrorsOverTotal { errors, total },
        (None, _) => QueryFeed::Unfed(format!("its `errors` query is not `{RATE_SUM}`")),
        (_, None) => QueryFeed::Unfed(format!("its `total` query is not `{RATE_SUM}`")),
    }
}

/// The feed of a `raw` SLI whose error-ratio query, parsed with `window` in its placeholders, is `expr`.
pub(crate) fn raw_feed(expr: &Expr, window: StdDuration, declared: &Declared) -> QueryFeed {
    let unfed = || {
        QueryFeed::Unfed(format!(
            "its `error_ratio` query is neither `errors / total` nor `1 - (good / total)` over `{RATE_SUM}` \
             queries"
        ))
    };
    let expr = unparen(expr);
    let Expr::Binary(b) = expr else {
        return unfed();
    };
    if !plain(b) {
        return unfed();
    }
    match b.op.to_string().as_str() {
        "/" => match (
            rate_sum(&b.lhs, window, declared),
            rate_sum(&b.rhs, window, declared),
        ) {
            (Some(errors), Some(total)) => QueryFeed::ErrorsOverTotal { errors, total },
            _ => unfed(),
        },
        "-" => {
            let one = matches!(unparen(&b.lhs), Expr::NumberLiteral(n) if n.val == 1.0);
            let Expr::Binary(ratio) = unparen(&b.rhs) else {
                return unfed();
            };
            if !one || !plain(ratio) || ratio.op.to_string() != "/" {
                return unfed();
            }
            match (
                rate_sum(&ratio.lhs, window, declared),
                rate_sum(&ratio.rhs, window, declared),
            ) {
                (Some(good), Some(total)) => QueryFeed::GoodOverTotal { good, total },
                _ => unfed(),
            }
        }
        _ => unfed(),
    }
}

/// A binary operation without `bool`, `on`, `ignoring` or group modifiers.
fn plain(b: &promql_parser::parser::BinaryExpr) -> bool {
    b.modifier
        .as_ref()
        .is_none_or(|m| m.matching.is_none() && !m.return_bool)
}

fn unparen(mut expr: &Expr) -> &Expr {
    while let Expr::Paren(p) = expr {
        expr = &p.expr;
    }
    expr
}

/// The selector of `sum(rate(<selector>[window]))` (parentheses allowed, no grouping, offset or `@`).
fn rate_sum(expr: &Expr, window: StdDuration, declared: &Declared) -> Option<SeriesSelector> {
    let Expr::Aggregate(sum) = unparen(expr) else {
        return None;
    };
    let grouped = match &sum.modifier {
        None => false,
        Some(promql_parser::parser::LabelModifier::Include(l)) => !l.labels.is_empty(),
        Some(promql_parser::parser::LabelModifier::Exclude(_)) => true,
    };
    if sum.op.to_string() != "sum" || sum.param.is_some() || grouped {
        return None;
    }
    let Expr::Call(call) = unparen(&sum.expr) else {
        return None;
    };
    let [arg] = call.args.args.as_slice() else {
        return None;
    };
    let Expr::MatrixSelector(ms) = arg.as_ref() else {
        return None;
    };
    let vs = &ms.vs;
    if call.func.name != "rate"
        || ms.range != window
        || vs.offset.is_some()
        || vs.at.is_some()
        || !vs.matchers.or_matchers.is_empty()
    {
        return None;
    }
    let name = vs.name.clone()?;
    Some(SeriesSelector {
        metric: declared.metric_exposing(&name).map(|m| m.name.clone()),
        matchers: vs
            .matchers
            .matchers
            .iter()
            .filter(|m| m.name != "__name__")
            .map(Matcher::parsed)
            .collect(),
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_split_the_query_and_map_offsets_back() {
        let q = split("sum(rate(x[{{ .window }}])) / sum(rate(y[{{.window}}]))").expect("valid");
        assert_eq!(
            q.at(Duration { seconds: 300 }),
            "sum(rate(x[5m])) / sum(rate(y[5m]))"
        );
        assert_eq!(
            q.written(),
            "sum(rate(x[{{.window}}])) / sum(rate(y[{{.window}}]))"
        );
        let (text, back) = q.filled("1h");
        assert_eq!(text, "sum(rate(x[1h])) / sum(rate(y[1h]))");
        // `/` is at 17 in the filled text and at 28 as written; inside a window maps to its placeholder.
        assert_eq!(back(17), 28);
        assert_eq!(back(12), 11);
        assert_eq!(back(0), 0);
    }

    #[test]
    fn placeholder_mistakes_are_positioned() {
        let spans = |text: &str| -> Vec<(Range<usize>, String)> {
            split(text)
                .expect_err(text)
                .into_iter()
                .map(|p| (p.span, p.message))
                .collect()
        };
        assert_eq!(
            spans("rate(x[5m])"),
            [(0..11, "the query has no `{{.window}}`".to_string())]
        );
        assert_eq!(
            spans("rate(x[{{.windw}}])"),
            [(7..17, "unknown placeholder `{{.windw}}`".to_string())]
        );
        assert_eq!(
            spans("rate(x[{{.window]])"),
            [(7..9, "unclosed `{{` in the query".to_string())]
        );
    }

    /// The feed of a query over a window of 60 s, against a service declaring the counter `requests`.
    fn feed(raw: bool, queries: [&str; 2]) -> QueryFeed {
        let service = crate::model::test_service(
            "[metrics.requests]\ntype = \"counter\"\nhelp = \"Requests.\"\n",
        );
        let declared = Declared::new(&service);
        let window = StdDuration::from_secs(60);
        let parse = |q: &str| promql_parser::parser::parse(q).expect("valid PromQL");
        if raw {
            raw_feed(&parse(queries[0]), window, &declared)
        } else {
            events_feed(&parse(queries[0]), &parse(queries[1]), window, &declared)
        }
    }

    #[test]
    fn rate_sums_are_fed_and_other_shapes_are_left_out_with_the_reason() {
        let errors = r#"sum(rate(requests_total{code=~"5.."}[1m]))"#;
        let total = "sum(rate(requests_total[1m]))";
        let QueryFeed::ErrorsOverTotal {
            errors: e,
            total: t,
        } = feed(false, [errors, total])
        else {
            panic!("events of rate sums are fed");
        };
        assert_eq!(e.promql(), r#"requests_total{code=~"5.."}"#);
        assert_eq!(
            (t.name.as_str(), t.metric.as_deref()),
            ("requests_total", Some("requests"))
        );
        let ratio = format!("({errors}) / {total}");
        assert!(matches!(
            feed(true, [&ratio, ""]),
            QueryFeed::ErrorsOverTotal { .. }
        ));
        let good =
            r#"1 - (sum(rate(requests_total{code!~"5.."}[1m])) / sum(rate(other_total[1m])))"#;
        let QueryFeed::GoodOverTotal { good: g, total: t } = feed(true, [good, ""]) else {
            panic!("one minus good over total is fed");
        };
        assert_eq!((g.metric.as_deref(), t.metric), (Some("requests"), None));
        for (raw, queries, why) in [
            // Another range than the placeholder's, a grouping, `increase`, an offset.
            (
                false,
                [r#"sum(rate(requests_total[5m]))"#, total],
                "`errors` query",
            ),
            (
                false,
                [errors, "sum by (code) (rate(requests_total[1m]))"],
                "`total` query",
            ),
            (
                false,
                [errors, "sum(increase(requests_total[1m]))"],
                "`total` query",
            ),
            (
                false,
                [errors, "sum(rate(requests_total[1m] offset 1h))"],
                "`total` query",
            ),
            (
                true,
                ["1 - sum(rate(a_total[1m]))", ""],
                "`error_ratio` query",
            ),
            (
                true,
                [&format!("2 - ({errors} / {total})"), ""],
                "`error_ratio` query",
            ),
        ] {
            match feed(raw, queries) {
                QueryFeed::Unfed(reason) => assert!(reason.contains(why), "{reason}"),
                fed => panic!("{queries:?} is fed: {fed:?}"),
            }
        }
    }

    #[test]
    fn lexer_errors_are_found_by_prefix() {
        let text = "sum(rate(x{a=\"b\"}[5m])) @@ 1";
        let e = promql_parser::parser::parse(text).expect_err("invalid");
        assert!(lexer_error_offset(text, &e).is_some() || e == "invalid promql query");
        let text = "sum(rate(x[5m]) # y";
        let e = promql_parser::parser::parse(text).expect_err("invalid");
        assert_eq!(e, "unclosed left parenthesis");
        // The first prefix with an unclosed parenthesis ends at the one never closed.
        assert_eq!(lexer_error_offset(text, &e), Some(3));
        let text = "rate(x[5m]) ^ $y";
        let e = promql_parser::parser::parse(text).expect_err("invalid");
        assert_eq!(lexer_error_offset(text, &e), Some(14));
    }
}
