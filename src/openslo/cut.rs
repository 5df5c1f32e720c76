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
    /// Where each removed run of tables was, in `text`, in order: the places to put their replacements. A
    /// run that starts with a key-value has none: tables cannot go there.
    pub places: Vec<Place>,
}

/// Where a removed run of tables was.
#[derive(Debug, PartialEq, Eq)]
pub struct Place {
    /// Byte offset in the remaining text.
    pub at: usize,
    /// The paths of the run's table headers, in order.
    pub headers: Vec<Vec<String>>,
}

/// Removes every header and key-value whose path `remove` accepts, with the comment lines directly above a
/// removed header and everything between two removed items. `None` when the text is not valid TOML.
pub fn cut(text: &str, remove: impl Fn(&[String]) -> bool) -> Option<Cut> {
    let items = items(text)?;
    let mut runs: Vec<Run> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if !remove(&item.path) {
            continue;
        }
        let start = line_start(text, item.start);
        let end = line_end(text, item.end);
        match runs.last_mut() {
            // Everything between two removed items (comments, blank lines) goes with them.
            Some(last) if i > 0 && remove(&items[i - 1].path) => {
                last.end = end;
                if let (Some(headers), true) = (&mut last.headers, item.header) {
                    headers.push(item.path.clone());
                }
            }
            _ if item.header => runs.push(Run {
                start: comments_above(text, start),
                end,
                headers: Some(vec![item.path.clone()]),
            }),
            _ => runs.push(Run {
                start,
                end,
                headers: None,
            }),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut places = Vec::new();
    let mut from = 0;
    for run in runs {
        out.push_str(&text[from..run.start]);
        if let Some(headers) = run.headers {
            places.push(Place {
                at: out.len(),
                headers,
            });
        }
        from = run.end;
        // Do not leave two blank lines where one run of tables was.
        if out.is_empty() || out.ends_with("\n\n") {
            while text[from..].starts_with('\n') {
                from += 1;
            }
        }
    }
    out.push_str(&text[from..]);
    Some(Cut { text: out, places })
}

/// The text of the table `[<path>]` and its sub-tables as written, from the comment lines directly above its
/// header to the end of its last line: what [`cut`] removes for it. `None` when the text is not valid TOML or
/// the table is not written with its own header (a dotted key or an inline table under another header).
pub fn table_text<'t>(text: &'t str, path: &[&str]) -> Option<&'t str> {
    let items = items(text)?;
    let inside = |item: &Item| item.path.len() >= path.len() && item.path[..path.len()] == *path;
    let first = items.iter().position(inside)?;
    if !items[first].header || items[first].path != path {
        return None;
    }
    let last = first
        + items[first..]
            .iter()
            .take_while(|&item| inside(item))
            .count()
        - 1;
    let start = comments_above(text, line_start(text, items[first].start));
    Some(&text[start..line_end(text, items[last].end)])
}

/// A run of removed items: its bytes, and its headers when it starts with one.
struct Run {
    start: usize,
    end: usize,
    headers: Option<Vec<Vec<String>>>,
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
        let paths = |paths: &[&str]| -> Vec<Vec<String>> {
            paths
                .iter()
                .map(|p| p.split('.').map(String::from).collect())
                .collect()
        };
        assert_eq!(cut.places.len(), 1);
        assert_eq!(
            cut.places[0].headers,
            paths(&["slos.one", "slos.one.ratio", "slos.two"])
        );
        assert_eq!(&cut.text[cut.places[0].at..][..9], "# Alerts.");
        assert!(toml::from_str::<toml::Table>(&cut.text).is_ok());
    }

    #[test]
    fn each_run_of_removed_tables_has_its_place() {
        let text = "[slos.a]\nx = 1\n\n[alerts.A]\nexpr = \"up\"\n\n[slos.b]\nx = 2\n";
        let cut = cut(text, |p| p.first().is_some_and(|k| k == "slos")).unwrap();
        assert_eq!(cut.text, "[alerts.A]\nexpr = \"up\"\n\n");
        let at: Vec<(usize, &str)> = cut
            .places
            .iter()
            .map(|p| (p.at, p.headers[0][1].as_str()))
            .collect();
        assert_eq!(at, [(0, "a"), (cut.text.len(), "b")]);
    }

    #[test]
    fn removes_one_key_value_of_a_table() {
        let cut = cut(FILE, |p| p == ["service", "alert_windows"]).unwrap();
        assert!(
            cut.text.contains("name = \"a\" # trailing\nteam = \"t\"\n"),
            "{}",
            cut.text
        );
        assert!(cut.places.is_empty());
    }

    #[test]
    fn a_table_text_is_its_header_sub_tables_and_comments_above() {
        assert_eq!(
            table_text(FILE, &["slos", "one"]),
            Some("# About the first SLO.\n[slos.one]\ndescription = \"d\"\n[slos.one.ratio]\nerrors = { metric = \"x\", match = { s = [\"5xx\"] } }\n")
        );
        assert_eq!(
            table_text(FILE, &["slos", "two"]),
            Some("# Between.\n[slos.two]\ndescription = \"e\"\n")
        );
        assert_eq!(table_text(FILE, &["slos", "three"]), None);
        assert_eq!(
            table_text("[slos]\none = { description = \"d\" }\n", &["slos", "one"]),
            None
        );
    }

    #[test]
    fn invalid_toml_is_none() {
        assert!(cut("a = ", |_| true).is_none());
    }
}
