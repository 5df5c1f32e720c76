//! Writes spec TOML and remembers which OpenSLO value each written value came from, so that a problem the
//! model finds in the imported spec is reported at its place in the YAML.

use std::ops::Range;

use super::check::At;

/// TOML text being written, with the origin of its values.
#[derive(Debug, Default)]
pub struct Writer {
    /// The text.
    pub text: String,
    /// Byte ranges of the text and where their values came from.
    pub origins: Vec<Origin>,
}

/// Where a range of the written text came from.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The range in the written text.
    pub range: Range<usize>,
    /// The YAML value it came from.
    pub at: At,
    /// For text copied from a block annotation: the annotation's text and where in it the copy starts, so
    /// that a place in the copy maps to its line and column in the YAML.
    pub block: Option<(String, usize)>,
}

impl Writer {
    /// Appends text as is.
    pub fn raw(&mut self, text: &str) {
        self.text.push_str(text);
    }

    /// Appends `annotation[from..from + text.len()]`, the text of the annotation at `at`, or other text
    /// (`from` None) that came from it as a whole.
    pub fn raw_from(&mut self, text: &str, at: &At, block: Option<(&str, usize)>) {
        let start = self.text.len();
        self.text.push_str(text);
        self.origins.push(Origin {
            range: start..self.text.len(),
            at: at.clone(),
            block: block.map(|(t, from)| (t.to_string(), from)),
        });
    }

    /// `key = value` with an already formatted TOML value, and its origin.
    pub fn value(&mut self, key: &str, value: &str, at: Option<&At>) {
        self.text.push_str(&bare_or_quoted(key));
        self.text.push_str(" = ");
        let start = self.text.len();
        self.text.push_str(value);
        if let Some(at) = at {
            self.origins.push(Origin {
                range: start..self.text.len(),
                at: at.clone(),
                block: None,
            });
        }
        self.text.push('\n');
    }

    /// `key = "text"`.
    pub fn string(&mut self, key: &str, text: &str, at: Option<&At>) {
        self.value(key, &string(text), at);
    }

    /// `# text`, one line per line of text.
    pub fn comment(&mut self, text: &str) {
        for line in text.lines() {
            self.text.push_str("# ");
            self.text.push_str(line.trim_end());
            self.text.push('\n');
        }
    }

    /// Every `key = value` of a table, in its order: the values of sub-tables written inline.
    pub fn table(&mut self, table: &toml::Table, at: Option<&At>) {
        for (k, v) in table {
            self.value(k, &v.to_string(), at);
        }
    }

    /// Where a byte of the text came from: the narrowest recorded range holding it.
    pub fn origin_of(&self, range: &Range<usize>) -> Option<&Origin> {
        self.origins
            .iter()
            .filter(|o| o.range.start <= range.start && range.start <= o.range.end)
            .min_by_key(|o| o.range.end - o.range.start)
    }
}

/// A TOML basic string.
pub fn string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// A key bare when TOML allows it, else quoted.
pub fn bare_or_quoted(key: &str) -> String {
    if !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        key.to_string()
    } else {
        string(key)
    }
}

/// A percentage as a TOML float (`99.0`, `99.95`): the model reads the decimal text as written.
pub fn float(text: &str) -> String {
    if text.contains('.') {
        text.to_string()
    } else {
        format!("{text}.0")
    }
}
