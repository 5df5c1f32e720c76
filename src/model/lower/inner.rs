//! Positions inside a TOML string: a mistake in a PromQL query or a regex is pointed at within the quotes.

use std::ops::Range;

use toml::Spanned;

/// The file range of bytes `at` of a string value, given the value's raw text in the file (quotes included)
/// and its span; the whole span when the raw text cannot be mapped (a multi-line basic string with a
/// line-ending backslash, say).
pub(super) fn inside(file_text: &str, value: &Spanned<String>, at: Range<usize>) -> Range<usize> {
    let span = value.span();
    let mapped = file_text
        .get(span.clone())
        .and_then(|raw| offsets(raw, value.get_ref()));
    match mapped {
        Some(map) => {
            let start = map[at.start.min(map.len() - 1)];
            let end = map[at.end.min(map.len() - 1)].max(start + 1);
            span.start + start..span.start + end
        }
        None => span,
    }
}

/// For each byte offset of the decoded string (and its end), the offset in `raw`, the string as written in
/// TOML; `None` unless decoding `raw` gives back exactly `decoded`.
fn offsets(raw: &str, decoded: &str) -> Option<Vec<usize>> {
    let (open, literal) = if raw.starts_with("'''") {
        (3, true)
    } else if raw.starts_with("\"\"\"") {
        (3, false)
    } else if raw.starts_with('\'') {
        (1, true)
    } else if raw.starts_with('"') {
        (1, false)
    } else {
        return None;
    };
    let body = &raw[open..raw.len().checked_sub(open)?.max(open)];
    let mut at = open;
    // A newline right after a multi-line opener is not part of the string.
    if open == 3 {
        let skip = if body.starts_with("\r\n") {
            2
        } else {
            usize::from(body.starts_with('\n'))
        };
        at += skip;
    }
    let end = raw.len() - open;
    let bytes = raw.as_bytes();
    let mut map = Vec::with_capacity(decoded.len() + 1);
    let mut out = String::with_capacity(decoded.len());
    while at < end {
        if !literal && bytes[at] == b'\\' {
            let (text, len) = match bytes.get(at + 1)? {
                b'b' => ("\u{8}".to_string(), 2),
                b't' => ("\t".to_string(), 2),
                b'n' => ("\n".to_string(), 2),
                b'f' => ("\u{c}".to_string(), 2),
                b'r' => ("\r".to_string(), 2),
                b'"' => ("\"".to_string(), 2),
                b'\\' => ("\\".to_string(), 2),
                b'e' => ("\u{1b}".to_string(), 2),
                b'u' => (unicode(raw.get(at + 2..at + 6)?)?, 6),
                b'U' => (unicode(raw.get(at + 2..at + 10)?)?, 10),
                _ => return None,
            };
            for _ in 0..text.len() {
                map.push(at);
            }
            out.push_str(&text);
            at += len;
        } else {
            let c = raw[at..].chars().next()?;
            for _ in 0..c.len_utf8() {
                map.push(at);
            }
            out.push(c);
            at += c.len_utf8();
        }
    }
    map.push(at);
    (out == decoded).then_some(map)
}

fn unicode(hex: &str) -> Option<String> {
    char::from_u32(u32::from_str_radix(hex, 16).ok()?).map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_decoded_bytes_to_the_raw_text() {
        assert_eq!(offsets("'ab'", "ab"), Some(vec![1, 2, 3]));
        assert_eq!(offsets(r#""a\"b""#, "a\"b"), Some(vec![1, 2, 4, 5]));
        assert_eq!(offsets("'''\nab'''", "ab"), Some(vec![4, 5, 6]));
        assert_eq!(offsets(r#""\u00e9x""#, "éx"), Some(vec![1, 1, 7, 8]));
        assert_eq!(offsets("\"\"\"a\\\n  b\"\"\"", "ab"), None);
        assert_eq!(offsets("'ab'", "abc"), None);
    }
}
