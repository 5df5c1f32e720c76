//! Cuts tables out of a spec file's text and puts text back in their place, keeping every other byte:
//! comments, blank lines and key order.
//!
//! The export keeps a service file's text, minus its SLOs, in an annotation of the OpenSLO `Service`; the
//! import puts the SLOs rendered from the OpenSLO objects back where they were. Working on the text (with the
//! TOML parser's token spans) rather than re-serializing keeps what a person wrote, including the order of
//! metrics, which orders the dashboard's rows.

use toml_parser::parser::{parse_document, EventKind};
use toml_parser::Source;

/// One top-level piece of a document: a table header line, or one key-value (under a header or before any).
#[derive(Debug)]
struct Item {
    /// The header's keys, or the key-value's table path and keys (`["service", "alert_windows"]`).
    path: Vec<String>,
    /// A `[table]` or `[[array]]` header.
    header: bool,
    /// Byte offset of its first token.
    start: usize,
    /// Byte offset after its last token (comments and whitespace left out).
    end: usize,
}

/// The header lines and key-values of a document, in order; `None` when it is not valid TOML.
fn items(text: &str) -> Option<Vec<Item>> {
    toml::from_str::<toml::Table>(text).ok()?;
    let source = Source::new(text);
    let tokens = source.lex().into_vec();
    let mut events = Vec::new();
    let mut errors: Vec<toml_parser::ParseError> = Vec::new();
    parse_document(&tokens, &mut |e| events.push(e), &mut errors);
    if !errors.is_empty() {
        return None;
    }
    let mut items: Vec<Item> = Vec::new();
    let mut table: Vec<String> = Vec::new();
    let (mut depth, mut in_header, mut in_key, mut in_value) = (0usize, false, false, false);
    for e in events {
        let span = e.span();
        let key = || {
            let mut out = String::new();
            if let Some(raw) = source.get(span) {
                raw.decode_key(&mut out, &mut ());
            }
            out
        };
        match e.kind() {
            EventKind::StdTableOpen | EventKind::ArrayTableOpen if depth == 0 => {
                in_header = true;
                items.push(Item {
                    path: Vec::new(),
                    header: true,
                    start: span.start(),
                    end: span.end(),
                });
            }
            EventKind::StdTableClose | EventKind::ArrayTableClose if in_header => {
                in_header = false;
                if let Some(item) = items.last_mut() {
                    item.end = span.end();
                    table = item.path.clone();
                }
            }
            EventKind::SimpleKey if in_header => {
                if let Some(item) = items.last_mut() {
                    item.path.push(key());
                }
            }
            EventKind::SimpleKey if depth == 0 && !in_value => {
                if !in_key {
                    in_key = true;
                    let mut path = table.clone();
                    path.push(key());
                    items.push(Item {
                        path,
                        header: false,
                        start: span.start(),
                        end: span.end(),
                    });
                } else if let Some(item) = items.last_mut() {
                    item.path.push(key());
                    item.end = span.end();
                }
            }
            EventKind::KeyValSep if depth == 0 => {
                in_key = false;
                in_value = true;
            }
            EventKind::Newline if depth == 0 => in_value = false,
            EventKind::InlineTableOpen | EventKind::ArrayOpen => depth += 1,
            EventKind::InlineTableClose | EventKind::ArrayClose => {
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
        let significant = !matches!(
            e.kind(),
            EventKind::Whitespace | EventKind::Comment | EventKind::Newline
        );
        if significant && !in_header {
            if let Some(item) = items.last_mut() {
                item.end = item.end.max(span.end());
            }
        }
    }
    Some(items)
}

/// A document with some items removed.
#[derive(Debug)]
pub struct Cut {
    /// The remaining text.
    pub text: String,
    /// Where the first removed run of tables was, in `text`: the place to put their replacement. `None` when
    /// nothing was removed or the first removed item was a key-value before any header, where tables
    /// cannot go.
    pub at: Option<usize>,
}

/// Removes every header and key-value whose path `remove` accepts, with the comment lines directly above a
/// removed header and everything between two removed items. `None` when the text is not valid TOML.
pub fn cut(text: &str, remove: impl Fn(&[String]) -> bool) -> Option<Cut> {
    let items = items(text)?;
    let mut ranges: Vec<(usize, usize, bool)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if !remove(&item.path) {
            continue;
        }
        let start = line_start(text, item.start);
        let end = line_end(text, item.end);
        match ranges.last_mut() {
            // Everything between two removed items (comments, blank lines) goes with them.
            Some(last) if i > 0 && remove(&items[i - 1].path) => last.1 = end,
            _ => {
                let start = if item.header {
                    comments_above(text, start)
                } else {
                    start
                };
                ranges.push((start, end, item.header));
            }
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = None;
    let mut from = 0;
    for (n, &(start, end, header)) in ranges.iter().enumerate() {
        out.push_str(&text[from..start]);
        if n == 0 && header {
            at = Some(out.len());
        }
        from = end;
        // Do not leave two blank lines where one run of tables was.
        if out.is_empty() || out.ends_with("\n\n") {
            while text[from..].starts_with('\n') {
                from += 1;
            }
        }
    }
    out.push_str(&text[from..]);
    Some(Cut { text: out, at })
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// After the newline ending the line that holds `at` (or the end of the text).
fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |i| at + i + 1)
}

/// The start of the comment lines directly above the line starting at `start` (no blank line between).
fn comments_above(text: &str, mut start: usize) -> usize {
    while start > 0 {
        let above = line_start(text, start - 1);
        if text[above..start].trim_start().starts_with('#') {
            start = above;
        } else {
            break;
        }
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"version = 1

[service]
name = "a" # trailing
alert_windows = [
  { severity = "page" },
]
team = "t"

[metrics.x]
type = "counter"

# About the first SLO.
[slos.one]
description = "d"
[slos.one.ratio]
errors = { metric = "x", match = { s = ["5xx"] } }

# Between.
[slos.two]
description = "e"

# Alerts.
[alerts.A]
expr = "up"
"#;

    #[test]
    fn removes_slo_tables_with_their_comments_and_marks_the_place() {
        let cut = cut(FILE, |p| p.first().is_some_and(|k| k == "slos")).unwrap();
        assert!(!cut.text.contains("slos"), "{}", cut.text);
        assert!(!cut.text.contains("first SLO") && !cut.text.contains("Between"));
        assert!(
            cut.text
                .contains("type = \"counter\"\n\n# Alerts.\n[alerts.A]"),
            "{}",
            cut.text
        );
        assert_eq!(&cut.text[cut.at.unwrap()..][..9], "# Alerts.");
        assert!(toml::from_str::<toml::Table>(&cut.text).is_ok());
    }

    #[test]
    fn removes_one_key_value_of_a_table() {
        let cut = cut(FILE, |p| p == ["service", "alert_windows"]).unwrap();
        assert!(
            cut.text.contains("name = \"a\" # trailing\nteam = \"t\"\n"),
            "{}",
            cut.text
        );
        assert_eq!(cut.at, None);
    }

    #[test]
    fn invalid_toml_is_none() {
        assert!(cut("a = ", |_| true).is_none());
    }
}
