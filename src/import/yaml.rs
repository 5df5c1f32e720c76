//! YAML documents as trees of nodes that know their place in the file, so every import error is `file:line:col`.
//!
//! Built from `saphyr-parser` events rather than a serde deserializer: the importers need the position of every
//! key and value (serde's YAML errors have one only for syntax), and a repeated key is an error here instead of
//! silently keeping the last one.

use std::collections::BTreeMap;
use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::Problems;

/// One YAML node and the bytes of the file it was read from.
#[derive(Debug, Clone)]
pub struct Node {
    /// Byte range in the file: the scalar's text, or from a collection's start to its end.
    pub span: Range<usize>,
    /// What the node holds.
    pub kind: Kind,
}

/// The shape of a node.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A mapping, its entries in file order.
    Map(Vec<(Node, Node)>),
    /// A sequence.
    Seq(Vec<Node>),
    /// A scalar as written (quotes removed, escapes resolved), and whether it was written without quotes.
    Scalar {
        /// The text of the scalar.
        text: String,
        /// Plain (unquoted, not a block scalar): only then `~`, `null` and an empty value mean null.
        plain: bool,
    },
}

impl Node {
    /// Null (`~`, `null` or nothing after a key): an omitted value.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A word for the node's shape, for "expected …, found …" messages.
    pub fn shape(&self) -> &'static str {
        match &self.kind {
            Kind::Map(_) => "a mapping",
            Kind::Seq(_) => "a list",
            Kind::Scalar { .. } if self.is_null() => "nothing",
            Kind::Scalar { .. } => "a scalar",
        }
    }

    /// The scalar's text, or an error naming what was expected.
    pub fn string(&self, problems: &mut Problems, what: &str) -> Option<String> {
        match &self.kind {
            Kind::Scalar { text, .. } if !self.is_null() => Some(text.clone()),
            _ => {
                problems.error(
                    self.span.clone(),
                    format!("{what} must be a string"),
                    format!("found {}", self.shape()),
                    "write it as a quoted string",
                );
                None
            }
        }
    }

    /// A boolean (`true` or `false`), or an error.
    pub fn boolean(&self, problems: &mut Problems, what: &str) -> Option<bool> {
        match &self.kind {
            Kind::Scalar { text, plain: true } if text == "true" => Some(true),
            Kind::Scalar { text, plain: true } if text == "false" => Some(false),
            _ => {
                problems.error(
                    self.span.clone(),
                    format!("{what} must be `true` or `false`"),
                    "not a boolean",
                    "write `true` or `false` without quotes",
                );
                None
            }
        }
    }

    /// A sequence's items, or an error (null reads as an empty list).
    pub fn items(&self, problems: &mut Problems, what: &str) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(items) => Some(items),
            _ if self.is_null() => Some(&[]),
            _ => {
                problems.error(
                    self.span.clone(),
                    format!("{what} must be a list"),
                    format!("found {}", self.shape()),
                    "write one `- ` item per line",
                );
                None
            }
        }
    }

    /// A mapping's fields, to be taken one by one and then checked for unknown keys; null reads as empty.
    pub fn fields<'n>(&'n self, problems: &mut Problems, what: &str) -> Option<Fields<'n>> {
        let entries: &[(Node, Node)] = match &self.kind {
            Kind::Map(entries) => entries,
            _ if self.is_null() => &[],
            _ => {
                problems.error(
                    self.span.clone(),
                    format!("{what} must be a mapping"),
                    format!("found {}", self.shape()),
                    "write `key: value` lines indented under it",
                );
                return None;
            }
        };
        Some(Fields {
            what: what.to_string(),
            entries,
            taken: vec![false; entries.len()],
        })
    }

    /// A mapping of strings to strings (labels, annotations), sorted by key; entries with errors are left out.
    pub fn string_map(
        &self,
        problems: &mut Problems,
        what: &str,
    ) -> BTreeMap<String, (String, Range<usize>)> {
        let mut out = BTreeMap::new();
        let Some(fields) = self.fields(problems, what) else {
            return out;
        };
        for (key, value) in fields.entries {
            let (Some(k), Some(v)) = (
                key.string(problems, &format!("a key of {what}")),
                value.string(problems, &format!("`{}` in {what}", key.text())),
            ) else {
                continue;
            };
            out.insert(k, (v, value.span.clone()));
        }
        out
    }

    /// The scalar text, or empty for collections (for messages only).
    pub fn text(&self) -> &str {
        match &self.kind {
            Kind::Scalar { text, .. } => text,
            _ => "",
        }
    }
}

/// The entries of one mapping, taken by key; keys never taken are reported by [`Fields::finish`].
pub struct Fields<'n> {
    what: String,
    entries: &'n [(Node, Node)],
    taken: Vec<bool>,
}

impl<'n> Fields<'n> {
    /// The value of `key` (its key node too), or `None` when absent or null.
    pub fn take_entry(&mut self, key: &str) -> Option<(&'n Node, &'n Node)> {
        let i = self.entries.iter().position(|(k, _)| k.text() == key)?;
        self.taken[i] = true;
        let (k, v) = &self.entries[i];
        (!v.is_null()).then_some((k, v))
    }

    /// The value of `key`, or `None` when absent or null.
    pub fn take(&mut self, key: &str) -> Option<&'n Node> {
        self.take_entry(key).map(|(_, v)| v)
    }

    /// Reports every key not taken as unknown, naming the keys that are known here.
    pub fn finish(self, problems: &mut Problems, known: &[&str]) {
        for ((key, _), taken) in self.entries.iter().zip(self.taken) {
            if !taken {
                let squash = |k: &str| k.replace('_', "").to_ascii_lowercase();
                let help = match known.iter().find(|k| squash(k) == squash(key.text())) {
                    Some(k) => format!("did you mean `{k}`? (this file's format spells it so)"),
                    None => format!("known fields: {}", known.join(", ")),
                };
                problems.error(
                    key.span.clone(),
                    format!("unknown field `{}` in {}", key.text(), self.what),
                    "not a field here",
                    help,
                );
            }
        }
    }
}

/// A syntax error: where, and the parser's message.
#[derive(Debug)]
pub struct SyntaxError {
    /// Byte offset of the error.
    pub at: usize,
    /// What the parser says.
    pub message: String,
}

/// Parses every document of a multi-document YAML text. A repeated key is reported to `problems` and the first
/// value kept.
pub fn parse(text: &str, problems: &mut Problems) -> Result<Vec<Node>, SyntaxError> {
    let bytes = CharToByte::new(text);
    let mut builder = Builder {
        text,
        bytes: &bytes,
        stack: Vec::new(),
        docs: Vec::new(),
        anchors: BTreeMap::new(),
        problems,
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| SyntaxError {
            at: bytes.byte(e.marker().index()),
            message: e.info().to_string(),
        })?;
        builder.event(event, span);
    }
    Ok(builder.docs)
}

/// Character index (what the parser counts) to byte offset (what diagnostics use).
struct CharToByte(Vec<usize>);

impl CharToByte {
    fn new(text: &str) -> CharToByte {
        let mut v: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        v.push(text.len());
        CharToByte(v)
    }

    fn byte(&self, char_index: usize) -> usize {
        self.0
            .get(char_index)
            .copied()
            .unwrap_or(*self.0.last().unwrap_or(&0))
    }

    fn range(&self, span: Span) -> Range<usize> {
        self.byte(span.start.index())..self.byte(span.end.index())
    }
}

/// A collection being read: its start, anchor, and what it holds so far.
struct Open {
    start: usize,
    anchor: usize,
    items: Vec<Node>,
    map: bool,
}

struct Builder<'a, 'p> {
    text: &'a str,
    bytes: &'a CharToByte,
    stack: Vec<Open>,
    docs: Vec<Node>,
    anchors: BTreeMap<usize, Node>,
    problems: &'p mut Problems,
}

impl Builder<'_, '_> {
    fn event(&mut self, event: Event<'_>, span: Span) {
        let range = self.bytes.range(span);
        match event {
            Event::Scalar(text, style, anchor, _) => {
                // A block scalar's span runs to the next key: point at its first line only.
                let first_line = self.text[range.clone()]
                    .find('\n')
                    .map_or(range.end, |i| range.start + i);
                let node = Node {
                    span: range.start..first_line,
                    kind: Kind::Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    },
                };
                self.push(node, anchor);
            }
            Event::Alias(anchor) => {
                if let Some(mut node) = self.anchors.get(&anchor).cloned() {
                    node.span = range;
                    self.push(node, 0);
                }
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                self.stack.push(Open {
                    start: range.start,
                    anchor,
                    items: Vec::new(),
                    map: matches!(event, Event::MappingStart(..)),
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(open) = self.stack.pop() else { return };
                let end = range.end.max(open.start);
                // A block collection starts at its first item; an empty flow one at its bracket.
                let start = open.items.first().map_or(open.start, |n| n.span.start);
                let kind = if open.map {
                    Kind::Map(self.entries(open.items))
                } else {
                    Kind::Seq(open.items)
                };
                let node = Node {
                    span: start..end.max(start),
                    kind,
                };
                self.push(node, open.anchor);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd => {}
        }
    }

    /// Pairs a mapping's items into entries, reporting a key written twice.
    fn entries(&mut self, items: Vec<Node>) -> Vec<(Node, Node)> {
        let mut out: Vec<(Node, Node)> = Vec::new();
        let mut it = items.into_iter();
        while let (Some(key), Some(value)) = (it.next(), it.next()) {
            if let Some((first, _)) = out.iter().find(|(k, _)| k.text() == key.text()) {
                let first = first.span.clone();
                self.problems
                    .duplicate(key.span.clone(), first, &format!("key `{}`", key.text()));
                continue;
            }
            out.push((key, value));
        }
        out
    }

    fn push(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            Some(open) => open.items.push(node),
            None => self.docs.push(node),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{parse, Kind, Node};
    use crate::import::Problems;

    fn map(node: &Node) -> &[(Node, Node)] {
        match &node.kind {
            Kind::Map(e) => e,
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn spans_are_bytes_of_the_text() {
        let text = "é: \"x é\"\nlist:\n  - a: 99.9\n---\nb: ~\n";
        let mut p = Problems::new(0);
        let docs = parse(text, &mut p).unwrap();
        assert_eq!(docs.len(), 2);
        let first = map(&docs[0]);
        assert_eq!(&text[first[0].0.span.clone()], "é");
        assert_eq!(&text[first[0].1.span.clone()], "\"x é\"");
        assert_eq!(first[0].1.text(), "x é");
        let Kind::Seq(items) = &first[1].1.kind else {
            panic!()
        };
        let inner = map(&items[0]);
        assert_eq!(&text[inner[0].1.span.clone()], "99.9");
        assert_eq!(items[0].span.start, text.find("a:").unwrap());
        assert!(map(&docs[1])[0].1.is_null());
        assert!(p.list.is_empty());
    }

    #[test]
    fn a_repeated_key_is_reported_and_the_first_kept() {
        let text = "a: 1\nb: 2\na: 3\n";
        let mut p = Problems::new(0);
        let docs = parse(text, &mut p).unwrap();
        assert_eq!(map(&docs[0]).len(), 2);
        assert_eq!(map(&docs[0])[0].1.text(), "1");
        assert_eq!(p.list.len(), 1);
        assert_eq!(p.list[0].labels[0].range, 10..11);
    }

    #[test]
    fn aliases_read_as_their_anchor_and_syntax_errors_have_a_place() {
        let mut p = Problems::new(0);
        let docs = parse("a: &x {k: v}\nb: *x\n", &mut p).unwrap();
        assert_eq!(map(&map(&docs[0])[1].1)[0].1.text(), "v");
        let e = parse("a: [1\n", &mut p).unwrap_err();
        assert_eq!(e.at, 6);
    }
}
