//! Positioned problems and the value rules of OpenSLO v1 that the reader applies: names, durations, lengths.
//! The rules follow the go-sdk's validation (`pkg/openslo/v1`).

use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic, Label};

use crate::model::lower::Problem;
use crate::yaml::Node;

/// A place in one of the files being imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    /// Index of the file.
    pub file: usize,
    /// Byte range.
    pub span: Range<usize>,
}

impl At {
    /// The place of `node` in `file`: its [`Node::head`], which starts where the node does.
    pub fn of(file: usize, node: &Node) -> At {
        At {
            file,
            span: node.head(),
        }
    }

    /// Where `node` starts in `file`: the place of what is missing from a mapping, a caret rather than a
    /// line that would read as the culprit.
    pub fn start(file: usize, node: &Node) -> At {
        At {
            file,
            span: node.span.start..node.span.start,
        }
    }
}

/// Every problem found, in any file.
#[derive(Debug, Default)]
pub struct Problems {
    /// The problems, in the order found.
    pub list: Vec<Problem>,
}

impl Problems {
    /// Records an error at `at`: what is wrong, a label under the snippet, how to fix it.
    pub fn error(
        &mut self,
        at: &At,
        message: impl Into<String>,
        label: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let hint = hint.into();
        let mut d = Diagnostic::error()
            .with_message(message.into())
            .with_labels(vec![
                Label::primary(at.file, at.span.clone()).with_message(label.into())
            ]);
        if !hint.is_empty() {
            d = d.with_notes(vec![format!("help: {hint}")]);
        }
        self.list.push(d);
    }

    /// Records that `name` is defined twice.
    pub fn duplicate(&mut self, again: &At, first: &At, what: &str, name: &str) {
        let message = format!("duplicate {what} `{name}`");
        self.twice(
            again,
            first,
            message,
            "object names are unique per kind; rename one",
        );
    }

    /// Records a key given twice in one YAML mapping (the first value is the one read).
    pub fn repeated_key(&mut self, again: &At, first: &At, key: &str) {
        let message = format!("duplicate key `{key}`");
        let help = "a mapping holds each key once (YAML tools differ in which value they keep); remove one";
        self.twice(again, first, message, help);
    }

    fn twice(&mut self, again: &At, first: &At, message: String, help: &str) {
        self.list.push(
            Diagnostic::error()
                .with_message(message)
                .with_labels(vec![
                    Label::primary(again.file, again.span.clone())
                        .with_message("defined again here"),
                    Label::secondary(first.file, first.span.clone())
                        .with_message("first defined here"),
                ])
                .with_notes(vec![format!("help: {help}")]),
        );
    }

    /// Sorts by file and position, as every slogen diagnostic list is.
    pub fn sorted(mut self) -> Vec<Problem> {
        self.list.sort_by_key(|d| {
            d.labels
                .first()
                .map(|l| (l.file_id, l.range.start))
                .unwrap_or((usize::MAX, 0))
        });
        self.list
    }
}

/// Is `name` an RFC 1123 label (at most 63 of `[a-z0-9-]`, alphanumeric at both ends), the form of every
/// OpenSLO object name and reference?
pub fn is_dns_label(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Is `key` an annotation key OpenSLO accepts (an optional DNS-subdomain prefix and `/`, then a name of at
/// most 63 of `[-._a-zA-Z0-9]`, alphanumeric at both ends)?
pub fn is_annotation_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| p.len() <= 253 && p.split('.').all(is_dns_label));
    prefix_ok && is_label_key(name)
}

/// Is `key` a label key OpenSLO accepts (at most 63 of `[-._a-zA-Z0-9]`, alphanumeric at both ends)?
pub fn is_label_key(key: &str) -> bool {
    let b = key.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-._".contains(c))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// Seconds in an OpenSLO duration shorthand: a positive integer and one of `m h d w M Q Y` (a month 30 days,
/// a quarter 90, a year 365, as the go-sdk counts them).
pub fn shorthand_seconds(text: &str) -> Option<u64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().ok().filter(|n| *n > 0)?;
    let scale = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        "M" => 30 * 86_400,
        "Q" => 90 * 86_400,
        "Y" => 365 * 86_400,
        _ => return None,
    };
    n.checked_mul(scale)
}

/// The longest `description` OpenSLO allows.
pub const DESCRIPTION_MAX: usize = 1050;

/// The longest `displayName` OpenSLO allows.
pub const DISPLAY_NAME_MAX: usize = 63;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keys_and_durations_follow_the_go_sdk() {
        assert!(is_dns_label("api-availability"));
        assert!(!is_dns_label("api_availability"));
        assert!(!is_dns_label("-a") && !is_dns_label("a-") && !is_dns_label(&"a".repeat(64)));
        assert!(is_annotation_key("slogen.dev/short-window"));
        assert!(is_annotation_key("plain_key.x"));
        assert!(!is_annotation_key("Slogen.dev/x") && !is_annotation_key("a/-x"));
        assert_eq!(shorthand_seconds("30d"), Some(2_592_000));
        assert_eq!(shorthand_seconds("1M"), Some(2_592_000));
        assert_eq!(shorthand_seconds("5s"), None);
        assert_eq!(shorthand_seconds("0m"), None);
        assert_eq!(shorthand_seconds("m"), None);
    }
}
