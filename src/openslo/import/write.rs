//! The spec text of a service: another tool's header, tier and service, or a slogen export's text; its
//! alert windows; its SLO tables.

use std::collections::BTreeSet;
use std::ops::{Mul as _, Range};

use super::super::annotations as key;
use super::super::check::At;
use super::super::render::{float, Writer};
use super::super::resolve::Row;
use super::plan::{Plan, SloPlan};
use super::windows::old_rows;
use crate::conventions;
use crate::model::lower::BURN_RATE_WINDOWS;
use crate::model::{self, Exact};

impl Plan<'_> {
    pub(super) fn render(&self) -> Writer {
        let mut w = Writer::default();
        let Some((text, at)) = &self.spec else {
            self.render_service(&mut w);
            append(&mut w, self.render_slos(|_| true));
            return w;
        };
        let text = if self.rewrite_windows {
            self.rewritten_windows(text)
        } else {
            text.clone()
        };
        let whole = !self.rewrite_windows;
        let marks = slo_marks(&text);
        let named: BTreeSet<&str> = marks
            .iter()
            .flat_map(|(_, names)| names.iter().flatten().copied())
            .collect();
        // At the first plain mark (or the end, without one), every SLO no later mark names: the file's own
        // first run, and SLOs added in OpenSLO.
        let mut unnamed_placed = false;
        let mut from = 0;
        for (line, names) in &marks {
            let slos = match names {
                Some(names) => self.render_slos(|name| names.contains(&name)),
                None if !unnamed_placed => {
                    unnamed_placed = true;
                    self.render_slos(|name| !named.contains(name))
                }
                None => Writer::default(),
            };
            place(
                &mut w,
                (&text, at, whole),
                from..line.start,
                slos,
                &text[line.end..],
            );
            from = line.end;
        }
        let rest = if unnamed_placed {
            Writer::default()
        } else {
            self.render_slos(|name| !named.contains(name))
        };
        place(&mut w, (&text, at, whole), from..text.len(), rest, "");
        w
    }

    /// The header, tier and `[service]` of another tool's service.
    fn render_service(&self, w: &mut Writer) {
        let g = self.group;
        w.raw("#:schema ../generated/slogen.schema.json\nversion = 1\n\n");
        w.comment(&format!(
            "Imported from OpenSLO by `slogen import openslo`: service `{}`.",
            g.name
        ));
        w.raw(&format!("\n[tiers.{}]\n", g.name));
        if let Some(first) = g.slos.first().map(|d| &d.slo.objective) {
            w.value("objective", &float(&first.0.to_string()), Some(&first.1));
        }
        w.string(
            "description",
            "SLOs imported from OpenSLO; each sets its own objective.",
            None,
        );
        w.raw("\n[service]\n");
        w.string("name", &g.name, Some(&g.at));
        w.string("tier", &g.name, None);
        let meta = g.service.map(|s| &s.meta);
        match meta.and_then(|m| m.labels.get("team")) {
            Some(team) => w.string("team", team, None),
            None => {
                w.comment("OpenSLO names no owner: set the team that gets the alerts.");
                w.string("team", "unassigned", None);
            }
        }
        if let Some(s) = g.service.filter(|s| !s.description.is_empty()) {
            w.string("description", &s.description, None);
        }
        w.comment("Set where the runbooks live; each SLO's runbook is `<this>/<slo name>`.");
        w.string(
            "runbook_base_url",
            &format!("https://runbooks.example.com/{}", g.name),
            None,
        );
        if self.rows_differ_from_default() {
            w.raw("\n");
            self.render_rows(w);
        }
        w.raw("\n");
    }

    fn rows_differ_from_default(&self) -> bool {
        let all: Vec<&Row> = self.rows.values().flatten().collect();
        let default: Vec<_> = BURN_RATE_WINDOWS
            .iter()
            .map(|r| {
                (
                    r.severity,
                    r.long,
                    r.short,
                    r.budget_share.mul(Exact::int(100)),
                    r.for_,
                )
            })
            .collect();
        !all.is_empty() && all.iter().map(|r| r.key()).collect::<Vec<_>>() != default
    }

    fn render_rows(&self, w: &mut Writer) {
        for (n, row) in self.rows.values().flatten().enumerate() {
            if n > 0 {
                w.raw("\n");
            }
            for comment in row.description.iter().chain(&row.note) {
                w.comment(comment);
            }
            w.raw("[[service.alert_windows]]\n");
            w.string(
                "severity",
                conventions::severity_name(row.severity),
                Some(&row.at),
            );
            w.string("long", &row.long.promql(), Some(&row.at));
            w.string("short", &row.short.promql(), Some(&row.at));
            w.value("budget_percent", &row.percent.to_string(), Some(&row.at));
            if row.for_.seconds > 0 {
                w.string("for", &row.for_.promql(), Some(&row.at));
            }
        }
    }

    /// The export's text with its `alert_windows` replaced by the rows the conditions describe (severities
    /// no condition has keep the text's rows, or the default policy's).
    fn rewritten_windows(&self, text: &str) -> String {
        let Some(cut) = super::super::cut::cut(text, |p| {
            p.len() >= 2 && p[0] == "service" && p[1] == "alert_windows"
        }) else {
            return text.to_string();
        };
        let mut w = Writer::default();
        w.raw(cut.text.trim_end_matches('\n'));
        w.raw("\n\n");
        let kept = old_rows(text);
        for (severity, rows) in &kept {
            if !self.rows.contains_key(severity) {
                for r in rows {
                    w.raw("[[service.alert_windows]]\n");
                    w.table(r, None);
                }
            }
        }
        self.render_rows(&mut w);
        w.text
    }

    /// The `[slos.*]` tables. An exported SLO comes back as the spec wrote it (its comments and key order
    /// included) when its OpenSLO values still say what that text says; an edited one is rendered again.
    fn render_slos(&self, wanted: impl Fn(&str) -> bool) -> Writer {
        let mut w = Writer::default();
        for s in self.slos.iter().filter(|s| wanted(&s.draft.name)) {
            let rendered = render_slo(s, self.spec.is_none());
            match s.draft.slo.meta.annotation(key::SLO_TEXT) {
                Some((text, at)) if same_tables(text, &rendered.text) => {
                    w.raw_from(text, at, Some((text, 0)));
                    w.raw("\n");
                }
                _ => append(&mut w, rendered),
            }
        }
        w
    }
}

/// The lines of a spec text that stand for SLO tables, with the SLOs they name (`None`: [`key::SLOS_MARK`]).
fn slo_marks(text: &str) -> Vec<(Range<usize>, Option<Vec<&str>>)> {
    let mut marks = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let range = start..start + line.len();
        start = range.end;
        if line == key::SLOS_MARK {
            marks.push((range, None));
        } else if let Some(names) = key::slos_here_names(line) {
            marks.push((range, Some(names)));
        }
    }
    marks
}

/// Appends `segment` of the spec text (the annotation at `at`; `whole` when its offsets still map into the
/// YAML), then `slos`, the tables that stood at its end, before `after`, the rest of the text.
fn place(
    w: &mut Writer,
    (text, at, whole): (&str, &At, bool),
    segment: Range<usize>,
    mut slos: Writer,
    after: &str,
) {
    let before = &text[segment.clone()];
    w.raw_from(before, at, whole.then_some((text, segment.start)));
    if slos.text.is_empty() {
        return;
    }
    if !before.is_empty() && !before.ends_with("\n\n") && after.is_empty() {
        w.raw("\n");
    }
    if after.is_empty() && slos.text.ends_with("\n\n") {
        // The SLOs end the file: no blank line after the last one.
        slos.text.pop();
    }
    append(w, slos);
}

/// Whether two TOML texts hold the same SLO values, whatever their comments, layout and key order, and
/// however they write the windows (`4w` is `28d`).
fn same_tables(a: &str, b: &str) -> bool {
    match (a.parse::<toml::Table>(), b.parse::<toml::Table>()) {
        (Ok(a), Ok(b)) => windows_in_seconds(a) == windows_in_seconds(b),
        _ => false,
    }
}

/// The text with every SLO's `window` as its number of seconds.
fn windows_in_seconds(mut text: toml::Table) -> toml::Table {
    let slos = text
        .get_mut(key::SLOS_TABLE)
        .and_then(toml::Value::as_table_mut);
    for (_, slo) in slos.into_iter().flat_map(|slos| slos.iter_mut()) {
        let window = slo.get_mut("window");
        let seconds = window
            .as_deref()
            .and_then(toml::Value::as_str)
            .and_then(model::Duration::parse)
            .and_then(|d| i64::try_from(d.seconds).ok());
        if let (Some(window), Some(seconds)) = (window, seconds) {
            *window = toml::Value::Integer(seconds);
        }
    }
    text
}

/// One `[slos.*]` table rendered from its OpenSLO values and annotations; `foreign` for another tool's SLO,
/// which gets a comment naming it.
fn render_slo(s: &SloPlan, foreign: bool) -> Writer {
    let mut w = Writer::default();
    let d = s.draft;
    let o = d.slo;
    let head = format!("slos.{}", d.name);
    if foreign {
        w.comment(&format!(
            "OpenSLO SLO `{}`{}.",
            o.meta.name,
            o.meta
                .display_name
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ));
    }
    w.raw(&format!("[{head}]\n"));
    let description = o
        .meta
        .annotation(key::DESCRIPTION)
        .or(o.description.as_ref())
        .map(|(d, _)| d.clone())
        .or_else(|| o.meta.display_name.clone())
        .unwrap_or_else(|| d.name.replace('_', " "));
    w.string(
        "description",
        &description,
        o.description.as_ref().map(|(_, at)| at),
    );
    let (tables, values): (Vec<_>, Vec<_>) = s.rest.iter().partition(|(_, v)| v.is_table());
    let at = o.meta.annotation(key::SLO).map(|(_, at)| at);
    for (k, v) in values {
        w.value(k, &v.to_string(), at);
    }
    if s.objective {
        w.value(
            "objective",
            &float(&o.objective.0.to_string()),
            Some(&o.objective.1),
        );
    }
    if s.window {
        let window = o
            .meta
            .annotation(key::WINDOW)
            .and_then(|(t, _)| model::Duration::parse(t))
            .filter(|d| d.seconds.div_ceil(60) * 60 == o.window.0)
            .map_or_else(
                || {
                    model::Duration {
                        seconds: o.window.0,
                    }
                    .promql()
                },
                |d| d.promql(),
            );
        w.string("window", &window, Some(&o.window.1));
    }
    match &s.annotated_sli {
        Some(sli) => {
            let at = o.meta.annotation(key::SLI).map(|(_, at)| at);
            for (kind, table) in sli {
                w.raw(&format!("[{head}.{kind}]\n"));
                if let toml::Value::Table(t) = table {
                    w.table(t, at);
                }
            }
        }
        None => {
            if let Some(d) = &s.draft.sli.description {
                w.comment(&format!("SLI: {d}"));
            }
            if let Some(q) = &s.queries {
                q.render(&mut w, &head);
            }
        }
    }
    let alerting = tables.iter().find(|(k, _)| k.as_str() == "alerting");
    if s.page.is_some() || s.ticket.is_some() || alerting.is_some() {
        w.raw(&format!("[{head}.alerting]\n"));
        if let Some(page) = s.page {
            w.value("page", &page.to_string(), None);
        }
        if let Some(ticket) = s.ticket {
            w.value("ticket", &ticket.to_string(), None);
        }
        if let Some((_, toml::Value::Table(t))) = alerting {
            w.table(t, at);
        }
    }
    for (k, v) in tables.iter().filter(|(k, _)| k.as_str() != "alerting") {
        w.raw(&format!("[{head}.{k}]\n"));
        if let toml::Value::Table(t) = v {
            w.table(t, at);
        }
    }
    w.raw("\n");
    w
}

/// Appends another writer's text and origins.
fn append(w: &mut Writer, other: Writer) {
    let base = w.text.len();
    w.text.push_str(&other.text);
    w.origins.extend(other.origins.into_iter().map(|mut o| {
        o.range = o.range.start + base..o.range.end + base;
        o
    }));
}
