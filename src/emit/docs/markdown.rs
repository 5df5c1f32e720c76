//! Markdown building blocks of the docs: inline code, links, table cells, and numbers and durations in words.

use crate::model::{Duration, Exact};

pub(super) fn percent(value: Exact) -> String {
    format!("{value}%")
}

pub(super) fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.into()
}

/// An SLO window in words, in the unit its Prometheus spelling uses: `30 days`, `1 hour`, `90 minutes`.
pub(super) fn window_words(window: &str) -> String {
    let (n, unit) = window.split_at(window.len() - 1);
    let unit = match unit {
        "d" => "day",
        "h" => "hour",
        "m" => "minute",
        _ => "second",
    };
    format!("{n} {unit}{}", if n == "1" { "" } else { "s" })
}

/// `0s` reads as "none" in a table; other durations as Prometheus writes them.
pub(super) fn duration(d: Duration) -> String {
    if d.seconds == 0 {
        "—".into()
    } else {
        d.promql()
    }
}

/// `` `k` = `v` `` pairs, or empty when there are none (the template then leaves the line out).
pub(super) fn pairs(map: &std::collections::BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(k, v)| format!("{} = {}", code(k), code(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn link(text: &str, target: &str) -> String {
    format!("[{text}]({target})")
}

/// An inline code span that survives backticks in its content.
pub(super) fn code(text: &str) -> String {
    let longest_run = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    if longest_run > 0 {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

/// Free text for a paragraph: no trailing spaces on any line, no leading or trailing blank lines.
pub(super) fn prose(text: &str) -> String {
    text.trim()
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Text for a table cell: one line, pipes escaped (GitHub escapes them inside code spans too).
pub(super) fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

pub(super) fn or_dash(text: &str) -> String {
    if text.trim().is_empty() {
        "—".into()
    } else {
        text.to_string()
    }
}

/// A count of seconds for people: `51.8 s` under a minute, `2 min 52 s` under an hour, `2 h 24 min` above,
/// each rounded half up to its last unit.
pub(super) fn human_seconds(seconds: Exact) -> String {
    let tenths = round_half_up(seconds * Exact::int(10));
    if tenths < 600 {
        return if tenths.is_multiple_of(10) {
            format!("{} s", tenths / 10)
        } else {
            format!("{}.{} s", tenths / 10, tenths % 10)
        };
    }
    let whole = round_half_up(seconds);
    if whole < 3600 {
        return match whole % 60 {
            0 => format!("{} min", whole / 60),
            s => format!("{} min {s} s", whole / 60),
        };
    }
    let minutes = round_half_up(seconds / Exact::int(60));
    let parts = [
        (minutes / 1440, "d"),
        (minutes / 60 % 24, "h"),
        (minutes % 60, "min"),
    ];
    parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The nearest whole number, halves rounded up, read off the exact decimal so no float rounding creeps in.
fn round_half_up(value: Exact) -> u128 {
    let text = value.to_string();
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let int: u128 = int
        .parse()
        .expect("Exact prints a plain non-negative decimal");
    match frac.chars().next() {
        Some(d) if d >= '5' => int + 1,
        _ => int,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> String {
        human_seconds(Exact::parse_decimal(text).unwrap())
    }

    #[test]
    fn human_durations_round_to_their_last_unit() {
        assert_eq!(secs("0"), "0 s");
        assert_eq!(secs("51.84"), "51.8 s");
        assert_eq!(secs("51.85"), "51.9 s");
        assert_eq!(secs("59.96"), "1 min");
        assert_eq!(secs("171.84"), "2 min 52 s");
        assert_eq!(secs("295.68"), "4 min 56 s");
        assert_eq!(secs("3720"), "1 h 2 min");
        assert_eq!(secs("8640"), "2 h 24 min");
        assert_eq!(secs("270000"), "3 d 3 h");
        assert_eq!(secs("3599.5"), "1 h");
    }

    #[test]
    fn cells_stay_on_one_line_and_escape_pipes() {
        assert_eq!(cell("a |\n b"), "a \\| b");
        assert_eq!(code("x`y"), "`` x`y ``");
        assert_eq!(code("status"), "`status`");
    }
}
