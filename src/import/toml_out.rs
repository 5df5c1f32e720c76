//! Writes an [`ImportedService`] as a slogen spec file, remembering which input bytes each line came from.
//!
//! Text is built by hand rather than serialised: a spec file is read by people, so it keeps comments (where the
//! values came from, the input's own comments) and the layout of `slos/`. Strings are written as TOML literal
//! strings where that is exact (PromQL keeps its `"` unescaped) and as basic strings otherwise.

use std::ops::Range;

use super::{ImportedService, ImportedSli, Sourced, StringMap};
use crate::conventions;

/// Spec byte ranges and the input byte ranges they were written from.
#[derive(Debug, Default)]
pub struct OriginMap(Vec<(Range<usize>, Range<usize>)>);

impl OriginMap {
    /// The input range of the innermost written range holding `spec`'s start.
    pub fn origin_of(&self, spec: &Range<usize>) -> Option<Range<usize>> {
        self.0
            .iter()
            .filter(|(r, _)| r.start <= spec.start && spec.start < r.end.max(r.start + 1))
            .min_by_key(|(r, _)| r.end - r.start)
            .map(|(_, origin)| origin.clone())
    }
}

/// Longest inline table kept on one line; longer maps become a table of their own.
const INLINE_WIDTH: usize = 100;

/// Comment lines wrap before this width (a longer word, such as a path, stays whole).
const COMMENT_WIDTH: usize = 110;

struct Out {
    text: String,
    map: OriginMap,
}

impl Out {
    fn line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
    }

    /// `# ` lines, wrapped at [`COMMENT_WIDTH`] between words.
    fn comment(&mut self, comment: &str) {
        for line in comment.lines() {
            let mut current = String::from("#");
            for word in line.split(' ') {
                if current.len() > 1 && current.len() + 1 + word.len() > COMMENT_WIDTH {
                    self.line(&current);
                    current = String::from("#");
                }
                current.push(' ');
                current.push_str(word);
            }
            self.line(current.trim_end());
        }
    }

    /// Writes a line, mapping it to `origin`.
    fn mapped(&mut self, line: &str, origin: &Option<Range<usize>>) {
        let start = self.text.len();
        self.line(line);
        if let Some(o) = origin {
            self.map.0.push((start..self.text.len() - 1, o.clone()));
        }
    }

    fn key_value(&mut self, key: &str, value: &str, origin: &Option<Range<usize>>, note: &str) {
        let line = if note.is_empty() {
            format!("{} = {value}", key_name(key))
        } else {
            format!("{} = {value}  # {note}", key_name(key))
        };
        self.mapped(&line, origin);
    }

    fn string(&mut self, key: &str, value: &Sourced<String>) {
        self.key_value(key, &toml_string(&value.value), &value.origin, "");
    }

    /// `key = { a = "x", b = "y" }`, each entry mapped to its input; `None` when too wide for one line.
    fn inline_map(&mut self, key: &str, map: &StringMap) -> bool {
        let entries: Vec<String> = map
            .iter()
            .map(|(k, v)| format!("{} = {}", key_name(k), toml_string(&v.value)))
            .collect();
        let line = format!("{} = {{ {} }}", key_name(key), entries.join(", "));
        if line.len() > INLINE_WIDTH || line.contains('\n') {
            return false;
        }
        let mut at = self.text.len() + key_name(key).len() + 5;
        for (entry, (_, v)) in entries.iter().zip(map) {
            if let Some(o) = &v.origin {
                self.map.0.push((at..at + entry.len(), o.clone()));
            }
            at += entry.len() + 2;
        }
        self.line(&line);
        true
    }

    /// A map as `[header]` and one line per entry.
    fn map_table(&mut self, header: &str, map: &StringMap) {
        self.line("");
        self.line(&format!("[{header}]"));
        for (k, v) in map {
            self.string(k, v);
        }
    }
}

/// The spec file text of one service, and where its lines came from.
pub fn render(s: &ImportedService) -> (String, OriginMap) {
    let mut o = Out {
        text: String::new(),
        map: OriginMap::default(),
    };
    o.line(conventions::IMPORTED_SCHEMA_LINE);
    for line in &s.header {
        o.comment(line);
    }
    o.line("version = 1");
    o.line("");
    o.mapped(&format!("[tiers.{}]", key_name(&s.tier)), &s.name.origin);
    o.line(&format!("objective = {}", s.tier_objective));
    o.line(&format!(
        "description = {}",
        toml_string(&format!(
            "Imported service {}: every SLO sets its own objective.",
            s.name.value
        ))
    ));
    o.line("min_events = 0  # no low-traffic guard, as the imported alerts had none");
    o.line("");
    o.line("[service]");
    o.string("name", &s.name);
    o.line(&format!("tier = {}", toml_string(&s.tier)));
    let (team, team_note) = &s.team;
    o.key_value("team", &toml_string(&team.value), &team.origin, team_note);
    let (runbook, runbook_note) = &s.runbook_base_url;
    o.key_value(
        "runbook_base_url",
        &toml_string(runbook),
        &None,
        runbook_note,
    );
    let long_labels = !s.labels.is_empty() && !o.inline_map("labels", &s.labels);
    if long_labels {
        o.map_table("service.labels", &s.labels);
    }
    o.line("");
    o.comment(&s.windows_note);
    for (i, w) in s.alert_windows.iter().enumerate() {
        if i > 0 {
            o.line("");
        }
        o.line("[[service.alert_windows]]");
        o.line(&format!("severity = {}", toml_string(w.severity)));
        o.string("long", &w.long);
        o.string("short", &w.short);
        o.key_value(
            "budget_percent",
            &w.budget_percent.value,
            &w.budget_percent.origin,
            "",
        );
    }
    for slo in &s.slos {
        let table = format!("slos.{}", key_name(&slo.name.value));
        o.line("");
        for c in &slo.comments {
            o.comment(c);
        }
        o.mapped(&format!("[{table}]"), &slo.name.origin);
        o.string("description", &slo.description);
        o.key_value("objective", &slo.objective.value, &slo.objective.origin, "");
        o.line(&format!("window = {}", toml_string(&slo.window)));
        match &slo.sli {
            ImportedSli::Events { errors, total } => {
                o.mapped(&format!("[{table}.events]"), &errors.origin);
                o.string("errors", errors);
                o.string("total", total);
            }
            ImportedSli::Raw { error_ratio } => {
                o.mapped(&format!("[{table}.raw]"), &error_ratio.origin);
                o.string("error_ratio", error_ratio);
            }
        }
        alerting(&mut o, &table, slo);
    }
    (o.text, o.map)
}

fn alerting(o: &mut Out, table: &str, slo: &super::ImportedSlo) {
    let a = &slo.alerting;
    let maps: [(&str, &StringMap); 6] = [
        ("labels", &a.labels),
        ("annotations", &a.annotations),
        ("page_labels", &a.page_labels),
        ("page_annotations", &a.page_annotations),
        ("ticket_labels", &a.ticket_labels),
        ("ticket_annotations", &a.ticket_annotations),
    ];
    let empty = a.name.is_none()
        && a.page.is_none()
        && a.ticket.is_none()
        && a.runbook.is_none()
        && maps.iter().all(|(_, m)| m.is_empty());
    if empty {
        return;
    }
    o.line("");
    if let Some(note) = &a.note {
        o.comment(note);
    }
    o.line(&format!("[{table}.alerting]"));
    if let Some(name) = &a.name {
        o.string("name", name);
    }
    for (key, on) in [("page", &a.page), ("ticket", &a.ticket)] {
        if let Some(on) = on {
            o.key_value(key, &on.value.to_string(), &on.origin, "");
        }
    }
    if let Some(r) = &a.runbook {
        o.string("runbook", r);
    }
    let mut tables = Vec::new();
    for (key, map) in maps {
        if !map.is_empty() && !o.inline_map(key, map) {
            tables.push((key, map));
        }
    }
    for (key, map) in tables {
        o.map_table(&format!("{table}.alerting.{key}"), map);
    }
}

/// A bare key when TOML allows one, else a quoted key.
fn key_name(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_string()
    } else {
        toml::Value::String(key.to_string()).to_string()
    }
}

/// A TOML string holding exactly `s`, as people write them: `"…"` when nothing needs escaping, a literal
/// string (`'…'`, or `'''…'''` over lines) for text with `"` or `\` such as PromQL, else escapes.
pub fn toml_string(s: &str) -> String {
    let printable = |c: char| c == '\t' || !c.is_control();
    if s.chars().all(|c| printable(c) && c != '"' && c != '\\') {
        return format!("\"{s}\"");
    }
    if s.chars().all(|c| printable(c) && c != '\'') {
        return format!("'{s}'");
    }
    let multi_ok = s.contains('\n')
        && !s.contains("'''")
        && !s.ends_with('\'')
        && s.chars().all(|c| c == '\n' || printable(c));
    if multi_ok {
        // A newline right after the opening delimiter is trimmed by TOML, so the text starts on its own line.
        return format!("'''\n{s}'''");
    }
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::{toml_string, OriginMap};

    #[test]
    fn strings_read_back_exactly() {
        for s in [
            "plain",
            "",
            r#"sum(rate(x{code=~"5.."}[{{.window}}]))"#,
            "it's",
            r#"both ' and ""#,
            "a\nmulti-line\nquery\n",
            "lines with ' quote\nand more",
            "ends with quote'\nx'",
            "has ''' inside\nyes",
            "tab\there",
            "control \u{7} bell",
            "back\\slash",
            "crlf\r\nline",
        ] {
            let written = toml_string(s);
            let parsed: toml::Table = toml::from_str(&format!("v = {written}"))
                .unwrap_or_else(|e| panic!("{written}: {e}"));
            assert_eq!(parsed["v"].as_str(), Some(s), "{written}");
        }
        assert_eq!(toml_string("myservice"), "\"myservice\"");
        assert_eq!(toml_string(r#"up{job="a"}"#), r#"'up{job="a"}'"#);
    }

    #[test]
    fn the_innermost_written_range_wins() {
        let map = OriginMap(vec![(0..50, 100..110), (10..20, 200..205)]);
        assert_eq!(map.origin_of(&(12..13)), Some(200..205));
        assert_eq!(map.origin_of(&(30..31)), Some(100..110));
        assert_eq!(map.origin_of(&(60..61)), None);
    }
}
