//! Reading one YAML mapping as an OpenSLO object's fields: required and optional keys, unknown keys
//! reported, scalars typed, every problem at its place.

use super::check::{At, Problems};
use crate::yaml::{Kind, Node};

/// The entries of one mapping being read; [`Fields::finish`] reports the keys nothing asked for.
pub struct Fields<'n> {
    node: &'n Node,
    file: usize,
    what: String,
    asked: Vec<&'static str>,
}

impl<'n> Fields<'n> {
    /// The mapping `node` (`what` names it in messages), or a problem when it is not one.
    pub fn of(node: &'n Node, file: usize, what: &str, p: &mut Problems) -> Option<Fields<'n>> {
        if node.entries().is_none() {
            p.error(
                &At::of(file, node),
                format!("{what} must be a mapping"),
                format!("found {}", node.shape()),
                "write `key: value` lines indented under it",
            );
            return None;
        }
        Some(Fields {
            node,
            file,
            what: what.to_string(),
            asked: Vec::new(),
        })
    }

    /// Where the mapping starts: the place of what is missing from it.
    pub fn at(&self) -> At {
        At::start(self.file, self.node)
    }

    /// The value under `key`, if given (null counts as not given).
    pub fn opt(&mut self, key: &'static str) -> Option<&'n Node> {
        self.asked.push(key);
        self.node.get(key).filter(|v| !v.is_null())
    }

    /// The key node and value under `key`, if given.
    pub fn opt_entry(&mut self, key: &'static str) -> Option<(&'n Node, &'n Node)> {
        self.asked.push(key);
        self.node.entry(key).filter(|(_, v)| !v.is_null())
    }

    /// The value under `key`, or a problem saying it is required.
    pub fn req(&mut self, key: &'static str, p: &mut Problems) -> Option<&'n Node> {
        let v = self.opt(key);
        if v.is_none() {
            let at = self
                .node
                .entry(key)
                .map_or_else(|| self.at(), |(k, _)| At::of(self.file, k));
            p.error(
                &at,
                format!("{} needs `{key}`", self.what),
                format!("`{key}` missing"),
                format!("OpenSLO v1 requires `{key}` here"),
            );
        }
        v
    }

    /// A string under `key`, if given.
    pub fn string(&mut self, key: &'static str, p: &mut Problems) -> Option<(String, At)> {
        let v = self.opt(key)?;
        let what = format!("`{key}`");
        scalar(v, self.file, &what, p).map(|s| (s, At::of(self.file, v)))
    }

    /// A required string.
    pub fn req_string(&mut self, key: &'static str, p: &mut Problems) -> Option<(String, At)> {
        let v = self.req(key, p)?;
        let what = format!("`{key}`");
        scalar(v, self.file, &what, p).map(|s| (s, At::of(self.file, v)))
    }

    /// A boolean under `key` (`false` when not given).
    pub fn boolean(&mut self, key: &'static str, p: &mut Problems) -> bool {
        let Some(v) = self.opt(key) else {
            return false;
        };
        match &v.kind {
            Kind::Scalar { text, plain: true } if text == "true" => true,
            Kind::Scalar { text, plain: true } if text == "false" => false,
            _ => {
                p.error(
                    &At::of(self.file, v),
                    format!("`{key}` must be `true` or `false`"),
                    "not a boolean",
                    "write true or false without quotes",
                );
                false
            }
        }
    }

    /// Reports every key that nothing asked for: OpenSLO v1 has no such field here.
    pub fn finish(self, p: &mut Problems) {
        for (k, _) in self.node.entries().unwrap_or_default() {
            let name = k.scalar().unwrap_or_default();
            if !self.asked.contains(&name) {
                let mut known = self.asked.clone();
                known.sort_unstable();
                known.dedup();
                p.error(
                    &At::of(self.file, k),
                    format!("unknown field `{name}` in {}", self.what),
                    "not an OpenSLO v1 field here",
                    format!("OpenSLO v1 has here: {}", known.join(", ")),
                );
            }
        }
    }
}

/// The text of a scalar, or a problem naming `what`.
pub fn scalar(node: &Node, file: usize, what: &str, p: &mut Problems) -> Option<String> {
    match node.scalar() {
        Some(s) => Some(s.to_string()),
        None => {
            p.error(
                &At::of(file, node),
                format!("{what} must be a string"),
                format!("found {}", node.shape()),
                "write one value on the line",
            );
            None
        }
    }
}

/// The text of a plain number (`14.4`, `2`), or a problem.
pub fn number(node: &Node, file: usize, what: &str, p: &mut Problems) -> Option<String> {
    match &node.kind {
        Kind::Scalar { text, plain: true } if text.parse::<f64>().is_ok_and(f64::is_finite) => {
            Some(text.clone())
        }
        _ => {
            p.error(
                &At::of(file, node),
                format!("{what} must be a number"),
                format!("found {}", node.shape()),
                "write a number without quotes, e.g. 0.999",
            );
            None
        }
    }
}
