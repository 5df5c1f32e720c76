//! YAML documents as trees of nodes that know their bytes in the file, so that every import error is
//! `file:line:col`. Both importers (Sloth, OpenSLO) read their input with [`parse`].
//!
//! Built from `saphyr-parser` events rather than a serde deserializer: an importer must point at valid values
//! it cannot map, and serde's YAML errors have a place only for syntax. A key given twice is listed for the
//! importer to report, where serde would silently keep one of the values.

use std::collections::BTreeMap;
use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// One YAML node and the bytes of the file it was read from.
#[derive(Debug, Clone)]
pub struct Node {
    /// The node's bytes: a scalar's whole text (quotes included), a collection from its first key, `-` or
    /// bracket to its end. Diagnostics point at [`Node::head`].
    pub span: Range<usize>,
    /// Where the first line of `span` ends.
    line_end: usize,
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
    /// A scalar as written (quotes removed, escapes resolved).
    Scalar {
        /// The text of the scalar.
        text: String,
        /// Written plain (no quotes, not a block scalar): only then are `~`, `null`, `true` or a number
        /// anything but a string.
        plain: bool,
    },
}

impl Node {
    /// The first line of [`Node::span`]: what a diagnostic underlines, so that a block scalar or a block
    /// collection gets a one-line label.
    pub fn head(&self) -> Range<usize> {
        self.span.start..self.line_end
    }

    /// Null (`~`, `null` or nothing after a key): an omitted value.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { text, plain: true }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
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

    /// The value under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key node and value under `key` in a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.entries()?
            .iter()
            .find(|(k, _)| k.scalar() == Some(key))
            .map(|(k, v)| (k, v))
    }

    /// The text of a non-null scalar.
    pub fn scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { text, .. } if !self.is_null() => Some(text),
            _ => None,
        }
    }

    /// The items of a sequence.
    pub fn items(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The entries of a mapping.
    pub fn entries(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            Kind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The scalar's text (null's too), or empty for collections: for messages and key lookups.
    pub fn text(&self) -> &str {
        match &self.kind {
            Kind::Scalar { text, .. } => text,
            _ => "",
        }
    }
}

/// A syntax error: where, and the parser's message.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    /// Byte offset of the error.
    pub at: usize,
    /// What the parser says.
    pub message: String,
}

/// A YAML stream as read.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The documents, in file order.
    pub docs: Vec<Node>,
    /// Keys given again in one mapping, in file order; each repeat is left out of its mapping, so the first
    /// value is the one read.
    pub repeated: Vec<Repeated>,
}

/// A key given again in the same mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeated {
    /// The repeat's [`Node::head`].
    pub again: Range<usize>,
    /// The first key's [`Node::head`].
    pub first: Range<usize>,
    /// The key.
    pub key: String,
}

/// Most nodes that aliases may copy in one file: aliases of aliases grow exponentially (a few hundred bytes
/// can stand for billions of nodes), and no SLO file needs this many.
const ALIAS_NODES_MAX: usize = 100_000;

/// Parses every document of a multi-document YAML text. An alias reads as a copy of its anchored node, at
/// the alias's place.
pub fn parse(text: &str) -> Result<Parsed, SyntaxError> {
    let mut builder = Builder {
        text,
        offsets: CharOffsets::new(text),
        stack: Vec::new(),
        anchors: BTreeMap::new(),
        copied: 0,
        parsed: Parsed::default(),
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| SyntaxError {
            at: builder.offsets.byte(e.marker().index()),
            message: e.info().to_string(),
        })?;
        builder.event(event, span)?;
    }
    let mut parsed = builder.parsed;
    parsed.repeated.sort_by_key(|r| r.again.start);
    Ok(parsed)
}

/// Char index → byte offset: saphyr counts characters, diagnostics bytes.
struct CharOffsets {
    /// Byte offset of each char, only for non-ASCII text (ASCII maps one to one).
    table: Option<Vec<usize>>,
    len: usize,
}

impl CharOffsets {
    fn new(text: &str) -> CharOffsets {
        CharOffsets {
            table: (!text.is_ascii()).then(|| text.char_indices().map(|(i, _)| i).collect()),
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.table {
            None => char_index.min(self.len),
            Some(t) => t.get(char_index).copied().unwrap_or(self.len),
        }
    }

    fn range(&self, span: Span) -> Range<usize> {
        self.byte(span.start.index())..self.byte(span.end.index())
    }
}

/// A collection being read.
struct Open {
    /// The start event's bytes: empty at a block collection's first key or `-`; a flow one's bracket.
    start: Range<usize>,
    anchor: usize,
    /// Keys and values alternate in a mapping.
    items: Vec<Node>,
    map: bool,
    /// Nodes in the items, counted for [`ALIAS_NODES_MAX`].
    size: usize,
}

struct Builder<'a> {
    text: &'a str,
    offsets: CharOffsets,
    stack: Vec<Open>,
    /// Anchored nodes and their node counts.
    anchors: BTreeMap<usize, (Node, usize)>,
    /// Nodes copied for aliases so far.
    copied: usize,
    parsed: Parsed,
}

impl Builder<'_> {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), SyntaxError> {
        let range = self.offsets.range(span);
        match event {
            Event::Scalar(text, style, anchor, _) => {
                let kind = Kind::Scalar {
                    text: text.into_owned(),
                    plain: style == ScalarStyle::Plain,
                };
                let node = self.node(range, kind);
                self.push(node, 1, anchor);
            }
            Event::Alias(anchor) => {
                let size = self.anchors.get(&anchor).map_or(1, |(_, size)| *size);
                self.copied += size;
                if self.copied > ALIAS_NODES_MAX {
                    return Err(SyntaxError {
                        at: range.start,
                        message: format!("aliases copy more than {ALIAS_NODES_MAX} nodes"),
                    });
                }
                let kind = match self.anchors.get(&anchor) {
                    Some((node, _)) => node.kind.clone(),
                    // The parser refuses an unknown alias; null keeps keys and values paired regardless.
                    None => Kind::Scalar {
                        text: String::new(),
                        plain: true,
                    },
                };
                let node = self.node(range, kind);
                self.push(node, size, 0);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                self.stack.push(Open {
                    start: range,
                    anchor,
                    items: Vec::new(),
                    map: matches!(event, Event::MappingStart(..)),
                    size: 0,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(open) = self.stack.pop() else {
                    return Ok(());
                };
                // A flow collection ends at its bracket; a block one's end event is at the next token, past
                // blank lines and comments, so it ends with its last item.
                let flow = self
                    .text
                    .get(open.start.clone())
                    .is_some_and(|t| t.starts_with(['[', '{']));
                let end = match open.items.last() {
                    Some(last) if !flow => last.span.end,
                    _ => range.end,
                };
                let span = open.start.start..end.max(open.start.end);
                let kind = if open.map {
                    Kind::Map(self.entries(open.items))
                } else {
                    Kind::Seq(open.items)
                };
                let node = self.node(span, kind);
                self.push(node, open.size + 1, open.anchor);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd => {}
        }
        Ok(())
    }

    /// A node over `span` without trailing blanks: a block scalar's span runs on over the next line's indent.
    fn node(&self, span: Range<usize>, kind: Kind) -> Node {
        let text = self.text.get(span.clone()).unwrap_or_default();
        let end = span.start + text.trim_end().len();
        let line_end = text.find('\n').map_or(end, |i| span.start + i).min(end);
        Node {
            span: span.start..end,
            line_end,
            kind,
        }
    }

    /// Pairs a mapping's items into entries, listing each key given again and keeping the first.
    fn entries(&mut self, items: Vec<Node>) -> Vec<(Node, Node)> {
        let mut out = Vec::with_capacity(items.len() / 2);
        let mut seen: BTreeMap<String, Range<usize>> = BTreeMap::new();
        let mut it = items.into_iter();
        while let (Some(key), Some(value)) = (it.next(), it.next()) {
            if let Some(k) = key.scalar() {
                if let Some(first) = seen.get(k) {
                    self.parsed.repeated.push(Repeated {
                        again: key.head(),
                        first: first.clone(),
                        key: k.to_string(),
                    });
                    continue;
                }
                seen.insert(k.to_string(), key.head());
            }
            out.push((key, value));
        }
        out
    }

    /// Adds a finished node (`size` nodes in all) to the collection being read, or as a document.
    fn push(&mut self, node: Node, size: usize, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            Some(open) => {
                open.items.push(node);
                open.size += size;
            }
            None => self.parsed.docs.push(node),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{parse, Kind, Node, Repeated};

    fn map(node: &Node) -> &[(Node, Node)] {
        node.entries()
            .unwrap_or_else(|| panic!("not a map: {node:?}"))
    }

    #[test]
    fn spans_are_bytes_of_the_text() {
        let text = "é: \"x é\"\nlist:\n  - a: 99.9\n---\nb: ~\n";
        let parsed = parse(text).unwrap();
        let docs = &parsed.docs;
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
        assert!(parsed.repeated.is_empty());
    }

    #[test]
    fn documents_keys_and_byte_positions() {
        let text = "a: 'é'\nb:\n  - x\n---\nc: {d: 1}\n";
        let docs = parse(text).unwrap().docs;
        assert_eq!(docs.len(), 2);
        let b = docs[0].get("b").unwrap().items().unwrap();
        assert_eq!(&text[b[0].span.clone()], "x");
        let c = docs[1].get("c").unwrap();
        assert_eq!(&text[c.span.clone()], "{d: 1}");
        assert_eq!(&text[c.get("d").unwrap().span.clone()], "1");
        assert_eq!(docs[0].get("a").unwrap().scalar(), Some("é"));
    }

    #[test]
    fn a_repeated_key_is_listed_and_the_first_kept() {
        let text = "a: 1\nb: {x: 1, x: 2}\na: 3\n";
        let parsed = parse(text).unwrap();
        let top = map(&parsed.docs[0]);
        assert_eq!(top.len(), 2);
        assert_eq!(top[0].1.text(), "1");
        assert_eq!(map(&top[1].1).len(), 1);
        let repeat = |key: &str, again: usize, first: usize| Repeated {
            again: again..again + 1,
            first: first..first + 1,
            key: key.into(),
        };
        assert_eq!(parsed.repeated, [repeat("x", 15, 9), repeat("a", 21, 0)]);
    }

    #[test]
    fn aliases_read_as_their_anchor_at_the_alias() {
        let text = "a: &x {k: v}\nb: *x\nc: &s one\nd: *s\n";
        let docs = parse(text).unwrap().docs;
        let b = docs[0].get("b").unwrap();
        assert_eq!(b.get("k").unwrap().scalar(), Some("v"));
        assert_eq!(&text[b.span.clone()], "*x");
        let d = docs[0].get("d").unwrap();
        assert_eq!((d.scalar(), &text[d.head()]), (Some("one"), "*s"));
    }

    #[test]
    fn aliases_that_copy_too_much_are_an_error() {
        let mut text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n".to_string();
        for i in 1..6 {
            let items = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{items}]\n"));
        }
        let e = parse(&text).unwrap_err();
        assert!(
            e.message.contains("aliases copy more than"),
            "{}",
            e.message
        );
    }

    #[test]
    fn syntax_errors_have_a_place() {
        assert_eq!(parse("a: [1\n").unwrap_err().at, 6);
    }

    #[test]
    fn the_head_of_a_block_scalar_or_collection_is_its_first_line() {
        let text =
            "q: |\n  sum(x)\n  / sum(y)\nm:\n  a: 1\n  b:\n    - 2\n    - 3\n\n# end\nn: 1\n";
        let docs = parse(text).unwrap().docs;
        let q = docs[0].get("q").unwrap();
        assert_eq!(&text[q.span.clone()], "sum(x)\n  / sum(y)");
        assert_eq!(&text[q.head()], "sum(x)");
        assert_eq!(q.scalar(), Some("sum(x)\n/ sum(y)\n"));
        let m = docs[0].get("m").unwrap();
        assert_eq!(&text[m.span.clone()], "a: 1\n  b:\n    - 2\n    - 3");
        assert_eq!(&text[m.head()], "a: 1");
        let b = m.get("b").unwrap();
        assert_eq!(
            (&text[b.span.clone()], &text[b.head()]),
            ("- 2\n    - 3", "- 2")
        );
        let n = docs[0].get("n").unwrap();
        assert_eq!(&text[n.head()], "1");
    }
}
