//! Sloth's YAML values as the importer expects them: each mismatch is a problem at the value's place.

use std::collections::BTreeMap;
use std::ops::Range;

use super::Problems;
use crate::yaml::{Kind, Node};

/// What a value must be, checked on a [`Node`]; a mismatch is reported to `problems` and read as `None`.
pub trait NodeExt {
    /// The scalar's text.
    fn string(&self, problems: &mut Problems, what: &str) -> Option<String>;
    /// A boolean (`true` or `false`).
    fn boolean(&self, problems: &mut Problems, what: &str) -> Option<bool>;
    /// A sequence's items (null reads as an empty list).
    fn list(&self, problems: &mut Problems, what: &str) -> Option<&[Node]>;
    /// A mapping's fields, to be taken one by one and then checked for unknown keys; null reads as empty.
    fn fields<'n>(&'n self, problems: &mut Problems, what: &str) -> Option<Fields<'n>>;
    /// A mapping of strings to strings (labels, annotations), sorted by key, each value with its place;
    /// entries with errors are left out.
    fn string_map(
        &self,
        problems: &mut Problems,
        what: &str,
    ) -> BTreeMap<String, (String, Range<usize>)>;
}

impl NodeExt for Node {
    fn string(&self, problems: &mut Problems, what: &str) -> Option<String> {
        match &self.kind {
            Kind::Scalar { text, .. } if !self.is_null() => Some(text.clone()),
            _ => {
                problems.error(
                    self.head(),
                    format!("{what} must be a string"),
                    format!("found {}", self.shape()),
                    "write it as a quoted string",
                );
                None
            }
        }
    }

    fn boolean(&self, problems: &mut Problems, what: &str) -> Option<bool> {
        match &self.kind {
            Kind::Scalar { text, plain: true } if text == "true" => Some(true),
            Kind::Scalar { text, plain: true } if text == "false" => Some(false),
            _ => {
                problems.error(
                    self.head(),
                    format!("{what} must be `true` or `false`"),
                    "not a boolean",
                    "write `true` or `false` without quotes",
                );
                None
            }
        }
    }

    fn list(&self, problems: &mut Problems, what: &str) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(items) => Some(items),
            _ if self.is_null() => Some(&[]),
            _ => {
                problems.error(
                    self.head(),
                    format!("{what} must be a list"),
                    format!("found {}", self.shape()),
                    "write one `- ` item per line",
                );
                None
            }
        }
    }

    fn fields<'n>(&'n self, problems: &mut Problems, what: &str) -> Option<Fields<'n>> {
        let entries: &[(Node, Node)] = match &self.kind {
            Kind::Map(entries) => entries,
            _ if self.is_null() => &[],
            _ => {
                problems.error(
                    self.head(),
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

    fn string_map(
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
            out.insert(k, (v, value.head()));
        }
        out
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
                    key.head(),
                    format!("unknown field `{}` in {}", key.text(), self.what),
                    "not a field here",
                    help,
                );
            }
        }
    }
}
