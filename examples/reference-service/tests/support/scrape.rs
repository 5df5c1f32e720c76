//! A text exposition parsed into samples, for tests that read the reference service's `/metrics`.
//!
//! Include it with `#[path = "support/scrape.rs"] mod scrape;`.

#![allow(dead_code)]

use std::collections::BTreeMap;

/// One sample of a text exposition.
#[derive(Clone, Debug)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A scrape, parsed.
pub struct Scrape {
    pub text: String,
    pub samples: Vec<Sample>,
}

impl Scrape {
    pub fn parse(text: String) -> Self {
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(parse_sample)
            .collect();
        Scrape { text, samples }
    }

    pub fn named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Sample> + 's {
        self.samples
            .iter()
            .filter(move |sample| sample.name == name)
    }

    /// The series `name` with exactly `labels`, if exposed.
    pub fn find<'s>(&'s self, name: &'s str, labels: &[(&str, &str)]) -> Option<&'s Sample> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|&(label, value)| (label.to_owned(), value.to_owned()))
            .collect();
        self.named(name).find(move |sample| sample.labels == wanted)
    }

    /// The value of the series `name` with exactly `labels`; fails with the exposition if it is absent.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.find(name, labels)
            .unwrap_or_else(|| panic!("no series {name}{labels:?} in:\n{}", self.text))
            .value
    }

    /// Whether the series `name` with exactly `labels` is absent: an open-label series never recorded
    /// into is not exposed at all.
    pub fn absent(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.find(name, labels).is_none()
    }
}

/// Parses `name{label="value",...} value` (labels optional), undoing the exposition's escapes.
pub fn parse_sample(line: &str) -> Sample {
    let name_end = line.find(['{', ' ']).expect("a sample has a value");
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(mut body) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = body.strip_prefix('}') {
                rest = after;
                break;
            }
            let (label, quoted) = body
                .strip_prefix(',')
                .unwrap_or(body)
                .split_once("=\"")
                .expect("label=\"value\"");
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                let (at, c) = chars.next().expect("a terminated label value");
                match c {
                    '\\' => match chars.next().expect("an escaped character").1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    '"' => break at + 1,
                    other => value.push(other),
                }
            };
            labels.insert(label.to_owned(), value);
            body = &quoted[end..];
        }
    }
    let value = rest
        .split_whitespace()
        .next()
        .expect("a sample value")
        .parse()
        .expect("a numeric sample value");
    Sample {
        name: line[..name_end].to_owned(),
        labels,
        value,
    }
}
