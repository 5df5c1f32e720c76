//! Label-matcher regexes as Prometheus runs them: RE2 syntax (Go's `regexp`), anchored as `^(?:…)$`.
//!
//! Rust's regex syntax is close to RE2: neither has look-around or backreferences. [`check`] parses a pattern
//! with `regex-syntax` and then rejects what Rust accepts and RE2 does not (nested classes and class set
//! operations, the `x`, `u` and `R` flags, `(?<name>…)` groups that Prometheus 2's Go rejects, word-boundary
//! forms beyond `\b` and `\B`, repeat counts over 1000), so a pattern that passes compiles in Prometheus.
//! [`examples`] gives label values a pattern matches, for the series the rule tests feed.

use std::ops::Range;

use regex_syntax::ast::{self, AssertionKind, Ast, ClassSetItem, Flag, FlagsItemKind, GroupKind};
use regex_syntax::hir::{Class, Hir, HirKind};

/// Go's largest repeat count: `a{1001}` does not compile in RE2.
const MAX_REPEAT: u32 = 1000;

/// How many example values [`examples`] gives at most.
const MAX_EXAMPLES: usize = 8;

/// Characters tried first when an example needs one character of a class: readable label values.
const READABLE: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-./:";

/// Why a pattern does not compile under Prometheus's RE2 rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexProblem {
    /// Byte range of the mistake within the pattern.
    pub span: Range<usize>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

fn problem(span: &ast::Span, message: impl Into<String>, hint: impl Into<String>) -> RegexProblem {
    RegexProblem {
        span: span.start.offset..span.end.offset.max(span.start.offset + 1),
        message: message.into(),
        hint: hint.into(),
    }
}

/// Checks that `pattern` compiles as a Prometheus label-matcher regex (RE2, anchored).
pub fn check(pattern: &str) -> Result<(), RegexProblem> {
    let parsed = ast::parse::Parser::new().parse(pattern).map_err(|e| {
        let repeat = matches!(
            e.kind(),
            ast::ErrorKind::RepetitionCountDecimalEmpty
                | ast::ErrorKind::RepetitionCountUnclosed
                | ast::ErrorKind::RepetitionMissing
        );
        problem(
            e.span(),
            format!("invalid regex: {}", e.kind()),
            if repeat {
                "a literal `{` is written `\\{`; a repeat is `{n}`, `{n,}` or `{n,m}`"
            } else {
                "Prometheus matches labels with RE2 regexes (no look-around or backreferences); fix the pattern"
            },
        )
    })?;
    ast::visit(&parsed, Re2)?;
    regex_syntax::hir::translate::Translator::new()
        .translate(pattern, &parsed)
        .map_err(|e| {
            problem(
                e.span(),
                format!("invalid regex: {}", e.kind()),
                "fix the pattern; Prometheus matches labels with RE2 regexes",
            )
        })?;
    if anchored(pattern).is_none() {
        return Err(RegexProblem {
            span: 0..pattern.len().max(1),
            message: "the regex is too large to compile".into(),
            hint: "simplify the pattern: fewer or smaller repeats".into(),
        });
    }
    Ok(())
}

/// The pattern compiled as Prometheus 2 anchors it, for matching label values; `None` if it does not compile.
pub fn anchored(pattern: &str) -> Option<regex::Regex> {
    regex::Regex::new(&format!("^(?:{pattern})$")).ok()
}

/// Up to `MAX_EXAMPLES` distinct label values the (anchored) pattern matches, non-empty ones first: one per
/// alternative, with readable characters for classes and the fewest repeats.
pub fn examples(pattern: &str) -> Vec<String> {
    let (Ok(hir), Some(re)) = (
        regex_syntax::Parser::new().parse(pattern),
        anchored(pattern),
    ) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for candidate in generate(&hir) {
        if re.is_match(&candidate) && !out.contains(&candidate) {
            out.push(candidate);
        }
    }
    out.sort_by_key(String::is_empty);
    out
}

/// Candidate strings for a HIR node; not every one matches (look-arounds are ignored), [`examples`] filters.
fn generate(hir: &Hir) -> Vec<String> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => vec![String::new()],
        HirKind::Literal(literal) => vec![String::from_utf8_lossy(&literal.0).into_owned()],
        HirKind::Class(Class::Unicode(class)) => {
            let inside = |c: char| {
                class
                    .ranges()
                    .iter()
                    .any(|r| r.start() <= c && c <= r.end())
            };
            READABLE
                .chars()
                .find(|c| inside(*c))
                .or_else(|| class.ranges().first().map(|r| r.start()))
                .map(|c| vec![c.to_string()])
                .unwrap_or_default()
        }
        HirKind::Class(Class::Bytes(class)) => {
            let inside = |b: u8| {
                class
                    .ranges()
                    .iter()
                    .any(|r| r.start() <= b && b <= r.end())
            };
            READABLE
                .bytes()
                .find(|b| inside(*b))
                .map(|b| vec![char::from(b).to_string()])
                .unwrap_or_default()
        }
        HirKind::Repetition(rep) => {
            let once = generate(&rep.sub);
            if rep.min == 0 {
                let mut out = once;
                out.truncate(MAX_EXAMPLES - 1);
                out.push(String::new());
                out
            } else {
                let times = rep.min.min(MAX_REPEAT) as usize;
                once.iter().map(|s| s.repeat(times)).collect()
            }
        }
        HirKind::Capture(capture) => generate(&capture.sub),
        HirKind::Concat(parts) => {
            let mut out = vec![String::new()];
            for part in parts {
                let next = generate(part);
                out = out
                    .iter()
                    .flat_map(|prefix| next.iter().map(move |s| format!("{prefix}{s}")))
                    .take(MAX_EXAMPLES)
                    .collect();
            }
            out
        }
        HirKind::Alternation(branches) => branches
            .iter()
            .flat_map(generate)
            .take(MAX_EXAMPLES * 2)
            .collect(),
    }
}

/// Rejects what Rust's regex syntax has and RE2 lacks.
struct Re2;

impl ast::Visitor for Re2 {
    type Output = ();
    type Err = RegexProblem;

    fn finish(self) -> Result<(), RegexProblem> {
        Ok(())
    }

    fn visit_pre(&mut self, ast: &Ast) -> Result<(), RegexProblem> {
        match ast {
            Ast::Flags(set) => flags(&set.flags),
            Ast::Group(group) => match &group.kind {
                GroupKind::CaptureName {
                    starts_with_p: false,
                    name,
                } => Err(problem(
                    &group.span,
                    format!("named group `(?<{}>…)`", name.name),
                    format!(
                        "Prometheus 2's Go regexp knows only `(?P<{}>…)`; a label matcher needs no name: \
                         write `(…)` or `(?:…)`",
                        name.name
                    ),
                )),
                GroupKind::NonCapturing(f) => flags(f),
                _ => Ok(()),
            },
            Ast::Assertion(a) => match a.kind {
                AssertionKind::StartLine
                | AssertionKind::EndLine
                | AssertionKind::StartText
                | AssertionKind::EndText
                | AssertionKind::WordBoundary
                | AssertionKind::NotWordBoundary => Ok(()),
                _ => Err(problem(
                    &a.span,
                    "word-boundary assertion that RE2 does not have",
                    "RE2 knows `\\b` and `\\B` only",
                )),
            },
            Ast::Repetition(r) => {
                let counts = match r.op.kind {
                    ast::RepetitionKind::Range(ast::RepetitionRange::Exactly(n))
                    | ast::RepetitionKind::Range(ast::RepetitionRange::AtLeast(n)) => [n, 0],
                    ast::RepetitionKind::Range(ast::RepetitionRange::Bounded(m, n)) => [m, n],
                    _ => [0, 0],
                };
                if counts.iter().any(|c| *c > MAX_REPEAT) {
                    return Err(problem(
                        &r.op.span,
                        format!("repeat count over {MAX_REPEAT}"),
                        format!("RE2 allows at most {MAX_REPEAT} repeats"),
                    ));
                }
                Ok(())
            }
            Ast::ClassUnicode(c) if matches!(c.kind, ast::ClassUnicodeKind::NamedValue { .. }) => {
                Err(problem(
                    &c.span,
                    "Unicode class with a property value (`\\p{name=value}`)",
                    "RE2 knows `\\pL` and `\\p{Name}` only",
                ))
            }
            _ => Ok(()),
        }
    }

    fn visit_class_set_item_pre(&mut self, item: &ClassSetItem) -> Result<(), RegexProblem> {
        match item {
            ClassSetItem::Bracketed(inner) => Err(problem(
                &inner.span,
                "nested character class",
                "RE2 reads `[` inside a class as a literal `[`: write it `\\[`, or merge the classes",
            )),
            ClassSetItem::Unicode(c) if matches!(c.kind, ast::ClassUnicodeKind::NamedValue { .. }) => {
                Err(problem(
                    &c.span,
                    "Unicode class with a property value (`\\p{name=value}`)",
                    "RE2 knows `\\pL` and `\\p{Name}` only",
                ))
            }
            _ => Ok(()),
        }
    }

    fn visit_class_set_binary_op_pre(
        &mut self,
        op: &ast::ClassSetBinaryOp,
    ) -> Result<(), RegexProblem> {
        Err(problem(
            &op.span,
            "character class set operation (`&&`, `--` or `~~`)",
            "RE2 has no class set operations: list the characters the class keeps",
        ))
    }
}

/// RE2's flags are `i`, `m`, `s` and `U`.
fn flags(flags: &ast::Flags) -> Result<(), RegexProblem> {
    for item in &flags.items {
        if let FlagsItemKind::Flag(f @ (Flag::Unicode | Flag::CRLF | Flag::IgnoreWhitespace)) =
            item.kind
        {
            let letter = match f {
                Flag::Unicode => 'u',
                Flag::CRLF => 'R',
                _ => 'x',
            };
            return Err(problem(
                &item.span,
                format!("regex flag `{letter}` that RE2 does not have"),
                "RE2's flags are `i`, `m`, `s` and `U`",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn re2_patterns_pass_and_rust_only_syntax_is_rejected_with_its_position() {
        for fine in [
            "5..|429",
            "(5..|429)",
            "(?i)get|post",
            "[a-z]+\\.example\\.com",
            "",
            "(?P<code>5..)",
            "\\bx\\B",
            "a{2,1000}",
        ] {
            assert_eq!(check(fine), Ok(()), "{fine}");
        }
        let span = |p: &str| check(p).expect_err(p).span;
        assert_eq!(span("(?<code>5..)"), 0..12);
        assert_eq!(span("[a[b]]"), 2..5);
        assert_eq!(span("[a-z&&[^aeiou]]"), 1..14);
        assert_eq!(span("(?x)a b"), 2..3);
        assert_eq!(span("a{1001}"), 1..7);
        assert_eq!(span("\\<word"), 0..2);
        assert_eq!(span("a(?=b)"), 1..4);
        assert_eq!(span("(a)\\1"), 3..5);
        assert!(check("a{b}").expect_err("braces").hint.contains("\\{"));
    }

    #[test]
    fn examples_match_the_anchored_pattern_one_per_alternative() {
        assert_eq!(examples("5..|429"), ["500", "429"]);
        assert_eq!(examples("(5..|429)"), ["500", "429"]);
        assert_eq!(examples("GET|POST"), ["GET", "POST"]);
        assert_eq!(examples("a\\.b"), ["a.b"]);
        assert_eq!(examples("x?"), ["x", ""]);
        assert_eq!(examples("[^0-9]+"), ["a"]);
        assert!(examples("a(").is_empty());
    }
}
