//! Block YAML for the rules and rule-test files, byte for byte what serde_norway writes, in a fraction of
//! its time.
//!
//! serde_norway goes through libyaml's event emitter, which was most of the generator's time on large specs
//! (the rule tests of 1,000 services are 65 MB of YAML). This serializer builds a small tree and writes it
//! in serde_norway's layout (two-space indent, sequences in mappings not indented, `{}`/`[]` when empty). A
//! string takes serde_norway's style: plain when libyaml allows it and it would not read back as another
//! type, else single-quoted. The rare string that needs double quotes or a block (a line break, a control
//! character) is written by serde_norway itself. A test compares every generated YAML file with
//! serde_norway's output.

mod tree;

use std::fmt::Display;

use serde::ser::{self, Serialize};

/// Serializes `value` as a YAML document, as `serde_norway::to_string` would.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    let node = value.serialize(tree::Tree)?;
    let mut out = String::new();
    match &node {
        Node::Map(entries) if !entries.is_empty() => write_map(&mut out, entries, 0, false),
        Node::Seq(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        other => {
            write_inline(&mut out, other, 0);
            out.push('\n');
        }
    }
    Ok(out)
}

/// What cannot be written: a type outside the subset the generated files use.
#[derive(Debug)]
pub struct Error(String);

impl Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// A YAML node.
#[derive(Debug)]
enum Node {
    /// A string, styled when written.
    Str(String),
    /// A number or boolean, written as is.
    Plain(String),
    /// `null`.
    Null,
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

fn spaces(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// The entries of a mapping at `indent`; the first on the current line when `inline` (a sequence item).
fn write_map(out: &mut String, entries: &[(String, Node)], indent: usize, inline: bool) {
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 || !inline {
            spaces(out, indent);
        }
        write_str(out, key, indent);
        out.push(':');
        match value {
            Node::Map(m) if !m.is_empty() => {
                out.push('\n');
                write_map(out, m, indent + 2, false);
            }
            Node::Seq(s) if !s.is_empty() => {
                out.push('\n');
                write_seq(out, s, indent);
            }
            other => {
                out.push(' ');
                write_inline(out, other, indent);
                out.push('\n');
            }
        }
    }
}

/// The items of a sequence at `indent`, each after `- `.
fn write_seq(out: &mut String, items: &[Node], indent: usize) {
    for item in items {
        spaces(out, indent);
        out.push_str("- ");
        match item {
            Node::Map(m) if !m.is_empty() => write_map(out, m, indent + 2, true),
            Node::Seq(s) if !s.is_empty() => {
                // A sequence in a sequence starts on the item's line, as libyaml writes it.
                let mut nested = String::new();
                write_seq(&mut nested, s, indent + 2);
                out.push_str(nested.trim_start());
            }
            other => {
                write_inline(out, other, indent);
                out.push('\n');
            }
        }
    }
}

/// A scalar or an empty collection after `key: ` or `- `.
fn write_inline(out: &mut String, node: &Node, indent: usize) {
    match node {
        Node::Str(s) => write_str(out, s, indent),
        Node::Plain(p) => out.push_str(p),
        Node::Null => out.push_str("null"),
        Node::Seq(_) => out.push_str("[]"),
        Node::Map(_) => out.push_str("{}"),
    }
}

/// A string in serde_norway's style; `indent` is that of the line holding it, for block scalars.
fn write_str(out: &mut String, s: &str, indent: usize) {
    match style(s) {
        Style::Plain => out.push_str(s),
        Style::SingleQuoted => {
            out.push('\'');
            let mut parts = s.split('\'');
            if let Some(first) = parts.next() {
                out.push_str(first);
            }
            for part in parts {
                out.push_str("''");
                out.push_str(part);
            }
            out.push('\'');
        }
        Style::Other => {
            // Double-quoted or a literal block: serde_norway writes it, indented under the line holding it.
            let written = serde_norway::to_string(s).unwrap_or_else(|_| format!("{s:?}"));
            let written = written.trim_end_matches('\n');
            let mut lines = written.split('\n');
            if let Some(first) = lines.next() {
                out.push_str(first);
            }
            for line in lines {
                out.push('\n');
                if !line.is_empty() {
                    spaces(out, indent);
                }
                out.push_str(line);
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Style {
    Plain,
    SingleQuoted,
    /// Double-quoted or literal: left to serde_norway.
    Other,
}

/// libyaml's choice for a string serde_norway writes in its plain style unless it would read back as a
/// null, boolean or number (then single-quoted): plain where libyaml's analysis allows a block plain
/// scalar, single-quoted where only quotes do, and anything with a line break or a character libyaml does
/// not print is left to serde_norway.
fn style(s: &str) -> Style {
    let printable_ascii = s.bytes().all(|b| (0x20..0x7F).contains(&b));
    if !printable_ascii && s.chars().any(|c| c == '\n' || !printable(c)) {
        return Style::Other;
    }
    if s.is_empty() || reads_as_other_type(s) || !block_plain_allowed(s) {
        Style::SingleQuoted
    } else {
        Style::Plain
    }
}

/// libyaml's printable characters (`IS_PRINTABLE`, with the byte-order mark excluded as it does).
fn printable(c: char) -> bool {
    matches!(c as u32, 0x0A | 0x20..=0x7E | 0x85 | 0xA0..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
        && c != '\u{FEFF}'
}

fn blank(c: Option<char>) -> bool {
    matches!(
        c,
        None | Some(' ' | '\t' | '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
    )
}

/// libyaml's `block_plain_allowed` for a string without line breaks or special characters.
fn block_plain_allowed(s: &str) -> bool {
    if s.starts_with(' ') || s.ends_with(' ') || s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    let mut preceded_by_blank = true;
    let mut chars = s.chars().peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        let followed_by_blank = blank(chars.peek().copied());
        if std::mem::take(&mut first) {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                return false;
            }
            if matches!(c, '?' | ':' | '-') && followed_by_blank {
                return false;
            }
        } else if (c == ':' && followed_by_blank) || (c == '#' && preceded_by_blank) {
            return false;
        }
        preceded_by_blank = blank(Some(c));
    }
    true
}

/// Whether serde_norway would read `s` back as a null, boolean or number, which it then quotes.
fn reads_as_other_type(s: &str) -> bool {
    // Nulls, booleans and numbers start with one of these; most strings (names, PromQL) do not.
    if !s.starts_with(|c: char| c.is_ascii_digit() || "+-.~nNtTfF".contains(c)) {
        return false;
    }
    matches!(
        s,
        "~" | "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
    ) || digits_but_not_number(s)
        || unsigned_int(s)
        || negative_int(s)
        || float(s)
}

fn digits_but_not_number(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    s.len() > 1 && s.starts_with('0') && s[1..].bytes().all(|b| b.is_ascii_digit())
}

fn radix_int(rest: &str, radix: u32, negative: bool) -> bool {
    if rest.starts_with(['+', '-']) {
        return false;
    }
    if negative {
        i128::from_str_radix(&format!("-{rest}"), radix).is_ok()
    } else {
        u128::from_str_radix(rest, radix).is_ok()
    }
}

fn unsigned_int(s: &str) -> bool {
    let unpositive = s.strip_prefix('+').unwrap_or(s);
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = unpositive.strip_prefix(prefix) {
            if radix_int(rest, radix, false) {
                return true;
            }
        }
    }
    !unpositive.starts_with(['+', '-'])
        && !digits_but_not_number(s)
        && unpositive.parse::<u128>().is_ok()
}

fn negative_int(s: &str) -> bool {
    for (prefix, radix) in [("-0x", 16), ("-0o", 8), ("-0b", 2)] {
        if let Some(rest) = s.strip_prefix(prefix) {
            if radix_int(rest, radix, true) {
                return true;
            }
        }
    }
    !digits_but_not_number(s) && s.parse::<i128>().is_ok()
}

fn float(s: &str) -> bool {
    let unpositive = match s.strip_prefix('+') {
        Some(rest) if rest.starts_with(['+', '-']) => return false,
        Some(rest) => rest,
        None => s,
    };
    matches!(unpositive, ".inf" | ".Inf" | ".INF")
        || matches!(s, "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN")
        || unpositive.parse::<f64>().is_ok_and(f64::is_finite)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// Strings of every style, in a map, a sequence and nested, written exactly as serde_norway writes them.
    #[test]
    fn strings_of_every_style_match_serde_norway() {
        let strings = [
            "plain",
            "",
            "true",
            "null",
            "~",
            "12",
            "-3",
            "0x1F",
            "1e5",
            "1.5",
            ".inf",
            "007",
            "+1",
            "a: b",
            "a:b",
            "#x",
            "a #b",
            "a#b",
            "- x",
            "-x",
            "? x",
            ":x",
            "x:",
            "---x",
            "...",
            " lead",
            "trail ",
            "it's",
            "'q'",
            "\"dq\"",
            "{a}",
            "[a]",
            "a, b",
            "line\nbreak",
            "tab\there",
            "bell\u{7}",
            "two\nlines\n",
            "ünïcode",
            "emoji 😀",
            "%x",
            "@x",
            "`x",
            "|x",
            ">x",
            "!x",
            "&x",
            "*x",
            "1h",
            "slo:sli_error:ratio_rate5m{sloth_id=\"a\"} > 0.001 and ignoring (sloth_window) b",
            "{{ $value | humanizePercentage }}",
            "0.0144",
            "99.9",
            "5e-05",
            "1e+06",
            "+Inf",
        ];
        for s in strings {
            let map = BTreeMap::from([("key", s)]);
            assert_eq!(
                to_string(&map).unwrap(),
                serde_norway::to_string(&map).unwrap(),
                "{s:?} in a map"
            );
            let nested = BTreeMap::from([("outer", vec![BTreeMap::from([("a", s), ("b", s)])])]);
            assert_eq!(
                to_string(&nested).unwrap(),
                serde_norway::to_string(&nested).unwrap(),
                "{s:?} nested"
            );
            let seq = vec![s, s];
            assert_eq!(
                to_string(&seq).unwrap(),
                serde_norway::to_string(&seq).unwrap(),
                "{s:?} in a sequence"
            );
        }
    }

    #[test]
    fn empty_collections_and_numbers_match_serde_norway() {
        #[derive(serde::Serialize)]
        struct S {
            empty_seq: Vec<String>,
            empty_map: BTreeMap<String, String>,
            n: u64,
            maybe: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            skipped: Option<String>,
            deep: Vec<Vec<u32>>,
        }
        let s = S {
            empty_seq: vec![],
            empty_map: BTreeMap::new(),
            n: 42,
            maybe: None,
            skipped: None,
            deep: vec![vec![1, 2], vec![]],
        };
        assert_eq!(to_string(&s).unwrap(), serde_norway::to_string(&s).unwrap());
    }

    /// Every YAML file generated for `slos/` and the valid fixtures, read back and written again by both
    /// serializers, is byte for byte the file itself.
    #[test]
    fn every_generated_yaml_file_is_what_serde_norway_writes() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut dirs = vec![root.join("slos")];
        let fixtures = root.join("tests/fixtures/valid");
        let mut found: Vec<_> = std::fs::read_dir(&fixtures)
            .expect("fixtures")
            .map(|e| e.expect("entry").path())
            .collect();
        found.sort();
        dirs.extend(found);
        let mut checked = 0;
        for dir in dirs {
            let files = crate::load::spec_dir(&dir).expect("load");
            let model = crate::model::lower(&files).unwrap_or_else(|_| panic!("{}", dir.display()));
            for output in crate::emit::emit_all(&model).expect("emit") {
                if !output.path.ends_with(".yml") {
                    continue;
                }
                let body: String = output
                    .contents
                    .lines()
                    // Comments: the header, and the Alertmanager snippet's note above its receivers.
                    .filter(|l| !l.starts_with('#'))
                    .map(|l| format!("{l}\n"))
                    .collect();
                let value: serde_norway::Value = serde_norway::from_str(&body).expect("parses");
                assert_eq!(
                    serde_norway::to_string(&value).unwrap(),
                    body,
                    "{}",
                    output.path
                );
                assert_eq!(to_string(&value).unwrap(), body, "{}", output.path);
                checked += 1;
            }
        }
        assert!(checked > 20, "only {checked} YAML files");
    }
}
