//! Multi-document YAML as trees of nodes that know their byte range in the file, so that an OpenSLO value
//! slogen cannot map is reported at its `file:line:col`.
//!
//! Built from `saphyr-parser` events: serde's YAML errors carry a position only for syntax, while the
//! importer must point at valid values it does not support (`budgetingMethod: Timeslices`). A key given
//! twice in one mapping is an error here instead of silently keeping the last.

use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, SpannedEventReceiver};

/// One YAML node.
#[derive(Debug, Clone)]
pub struct Node {
    /// Byte range in the file: the scalar's text, or a collection's first token.
    pub span: Range<usize>,
    /// What it holds.
    pub kind: Kind,
}

/// The shape of a node.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A mapping, entries in file order.
    Map(Vec<(Node, Node)>),
    /// A sequence.
    Seq(Vec<Node>),
    /// A scalar with escapes resolved; `plain` when written without quotes or a block indicator, the only
    /// form in which `null`, `true` or a number is anything but a string.
    Scalar {
        /// Its text.
        text: String,
        /// Written plain.
        plain: bool,
    },
}

impl Node {
    /// `~`, `null` or nothing: an omitted value.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { text, plain: true }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A word for the node's shape, for "expected …, found …".
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
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.scalar() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
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
}

/// A syntax error: where and what.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    /// Byte offset.
    pub at: usize,
    /// The parser's message.
    pub message: String,
}

/// Parses every document of a YAML stream. A repeated key is reported as a syntax error at the repeat.
pub fn parse(text: &str) -> Result<Vec<Node>, SyntaxError> {
    let mut builder = Builder {
        offsets: CharOffsets::new(text),
        stack: Vec::new(),
        docs: Vec::new(),
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, true) {
        return Err(SyntaxError {
            at: builder.offsets.byte(e.marker().index()),
            message: e.info().to_string(),
        });
    }
    match builder.error {
        Some(e) => Err(e),
        None => Ok(builder.docs),
    }
}

/// Char index → byte offset: saphyr counts characters.
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
}

/// A collection being built.
enum Open {
    Map(Range<usize>, Vec<(Node, Node)>, Option<Node>),
    Seq(Range<usize>, Vec<Node>),
}

struct Builder {
    offsets: CharOffsets,
    stack: Vec<Open>,
    docs: Vec<Node>,
    error: Option<SyntaxError>,
}

impl Builder {
    fn span(&self, span: Span) -> Range<usize> {
        self.offsets.byte(span.start.index())..self.offsets.byte(span.end.index())
    }

    /// Adds a finished node to the collection being built, or as a document.
    fn push(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Open::Seq(_, items)) => items.push(node),
            Some(Open::Map(_, entries, key)) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    let repeated = k.scalar().is_some()
                        && entries.iter().any(|(seen, _)| seen.scalar() == k.scalar());
                    if repeated && self.error.is_none() {
                        self.error = Some(SyntaxError {
                            at: k.span.start,
                            message: format!("duplicate key `{}`", k.scalar().unwrap_or_default()),
                        });
                    }
                    entries.push((k, node));
                }
            },
        }
    }
}

impl<'input> SpannedEventReceiver<'input> for Builder {
    fn on_event(&mut self, ev: Event<'input>, span: Span) {
        let range = self.span(span);
        match ev {
            Event::Scalar(text, style, _, _) => self.push(Node {
                span: range,
                kind: Kind::Scalar {
                    text: text.into_owned(),
                    plain: style == ScalarStyle::Plain,
                },
            }),
            Event::SequenceStart(..) => self.stack.push(Open::Seq(range, Vec::new())),
            Event::MappingStart(..) => self.stack.push(Open::Map(range, Vec::new(), None)),
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Open::Seq(span, items)) => Node {
                        span,
                        kind: Kind::Seq(items),
                    },
                    Some(Open::Map(span, entries, _)) => Node {
                        span,
                        kind: Kind::Map(entries),
                    },
                    None => return,
                };
                self.push(node);
            }
            // Anchors are rare in OpenSLO files; an alias stands for nothing here, which the reader reports
            // as a missing or mistyped value at the alias.
            Event::Alias(_) => self.push(Node {
                span: range,
                kind: Kind::Scalar {
                    text: String::new(),
                    plain: true,
                },
            }),
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keys_and_byte_positions() {
        let text = "a: 'é'\nb:\n  - x\n---\nc: {d: 1}\n";
        let docs = parse(text).unwrap();
        assert_eq!(docs.len(), 2);
        let b = docs[0].get("b").unwrap().items().unwrap();
        assert_eq!(&text[b[0].span.clone()], "x");
        let d = docs[1].get("c").unwrap().get("d").unwrap();
        assert_eq!(&text[d.span.clone()], "1");
        assert_eq!(docs[0].get("a").unwrap().scalar(), Some("é"));
    }

    #[test]
    fn a_repeated_key_is_an_error_at_the_repeat() {
        let text = "a: 1\nb: 2\na: 3\n";
        let e = parse(text).unwrap_err();
        assert_eq!(e.at, 10);
        assert!(e.message.contains("duplicate key `a`"), "{}", e.message);
    }
}
