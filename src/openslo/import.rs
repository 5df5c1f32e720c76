//! `slogen import openslo`: OpenSLO files to spec files, checked by lowering them with the model.
//!
//! A slogen export imports back through its annotations: the service file's text, the shared files, each
//! SLO's SLI and the rest of its table. OpenSLO's own fields win where they disagree (an edited target,
//! window, query or condition). Another tool's files become one spec file per service, with query SLIs and
//! the alert windows their burn-rate conditions describe. The spec is lowered twice: once with every value
//! explicit, then without the values its tiers and defaults already give.

use std::collections::BTreeMap;
use std::ops::Mul as _;

use super::annotations as key;
use super::check::{At, Problems};
use super::read::{self, Objects, Ratio};
use super::render::{float, Writer};
use super::resolve::{resolve, Draft, Group, Row};
use super::{queries, yaml};
use crate::conventions;
use crate::model::lower::{Problem, BURN_RATE_WINDOWS, DEFAULT_SLO_WINDOW};
use crate::model::promql::{sli_error_rate, sli_error_ratio, sli_event_rate};
use crate::model::rules::DISPLAY_WINDOW;
use crate::model::{self, Exact, Model, Severity, SourceFile};

/// Imports `inputs`; the spec files to write (name, text), or the rendered problems. `shown_dir` names the
/// output folder in diagnostics and in the paths the model sees.
pub fn import(inputs: &[SourceFile], shown_dir: &str) -> Result<Vec<(String, String)>, String> {
    let mut p = Problems::default();
    let mut objects = Objects::default();
    for (id, f) in inputs.iter().enumerate() {
        match yaml::parse(&f.text) {
            Ok(docs) => docs
                .iter()
                .for_each(|d| read::document(id, d, &mut objects, &mut p)),
            Err(e) => p.error(
                &At {
                    file: id,
                    span: e.at..e.at,
                },
                format!("YAML syntax error: {}", e.message),
                "here",
                "fix the YAML syntax",
            ),
        }
    }
    let groups = resolve(&objects, &mut p);
    if groups.is_empty() && p.list.is_empty() {
        p.error(
            &At {
                file: 0,
                span: 0..0,
            },
            "no SLO in the files given",
            "nothing to import",
            "give the files that hold the OpenSLO `SLO` objects",
        );
    }
    let fail = |p: Problems| crate::diagnostics::render(inputs, &p.sorted());
    if !p.list.is_empty() {
        return Err(fail(p));
    }
    let mut plans: Vec<Plan<'_>> = groups.iter().filter_map(|g| Plan::new(g, &mut p)).collect();
    let shared = shared_files(&groups, &mut p);
    check_names(&plans, &shared, &mut p);
    if !p.list.is_empty() {
        return Err(fail(p));
    }
    // Pass one: everything explicit; what the model makes of it decides what stays explicit.
    let model = lower(inputs, shown_dir, &plans, &shared)?;
    for plan in &mut plans {
        plan.adjust(&model, &mut p);
    }
    if !p.list.is_empty() {
        return Err(fail(p));
    }
    let model = lower(inputs, shown_dir, &plans, &shared)?;
    for plan in &plans {
        plan.verify(&model, &mut p);
    }
    if !p.list.is_empty() {
        return Err(fail(p));
    }
    let mut out: Vec<(String, String)> = plans
        .iter()
        .map(|pl| (pl.file.clone(), pl.render().text))
        .collect();
    out.extend(shared.into_iter().map(|(name, (text, _))| (name, text)));
    out.sort();
    Ok(out)
}

/// How one SLO is written.
#[derive(Debug)]
struct SloPlan<'o> {
    draft: &'o Draft<'o>,
    /// The SLI table of a slogen export, while its queries are the ones the model builds.
    annotated_sli: Option<toml::Table>,
    /// The SLI as query SLI, when its queries convert.
    queries: Option<QuerySli>,
    /// Problems converting the queries, reported when the SLI is written as queries.
    query_problems: Vec<Problem>,
    /// The rest of the SLO table (`slogen.dev/slo`).
    rest: toml::Table,
    objective: bool,
    window: bool,
    page: Option<bool>,
    ticket: Option<bool>,
}

/// How one service file is written.
#[derive(Debug)]
struct Plan<'o> {
    group: &'o Group<'o>,
    file: String,
    /// The spec text of a slogen export, and where it is.
    spec: Option<(String, At)>,
    slos: Vec<SloPlan<'o>>,
    /// The policy the conditions describe, by severity.
    rows: BTreeMap<Severity, Vec<Row>>,
    /// Write the derived rows instead of the text's `alert_windows`.
    rewrite_windows: bool,
}

impl<'o> Plan<'o> {
    fn new(group: &'o Group<'o>, p: &mut Problems) -> Option<Plan<'o>> {
        let meta = group.service.map(|s| &s.meta);
        let spec = meta.and_then(|m| m.annotation(key::SPEC)).cloned();
        let file = match meta.and_then(|m| m.annotation(key::FILE)) {
            Some((f, at)) if is_file_name(f) => f.clone(),
            Some((f, at)) => {
                p.error(at, format!("`{f}` is not a spec file name"), "not `<name>.toml`", "the annotation names the file the service was exported from, e.g. `backend.toml`");
                return None;
            }
            None => format!("{}.toml", group.name),
        };
        let mut slos = Vec::new();
        for draft in &group.slos {
            let m = &draft.slo.meta;
            let parse = |k: &str, p: &mut Problems| match m.annotation(k) {
                Some((text, at)) => match key::parse_inline(text) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        p.error(at, format!("annotation `{k}` is not an inline TOML table: {e}"), "not TOML", "write it as slogen exports it, e.g. `{ tier = \"critical\" }`, or remove it");
                        None
                    }
                },
                None => None,
            };
            let mut qp = Problems::default();
            let queries = QuerySli::new(draft, &mut qp);
            let annotated_sli = parse(key::SLI, p);
            if annotated_sli.is_none() {
                p.list.append(&mut qp.list);
            }
            slos.push(SloPlan {
                draft,
                queries,
                query_problems: qp.list,
                annotated_sli,
                rest: parse(key::SLO, p).unwrap_or_default(),
                objective: true,
                window: true,
                page: None,
                ticket: None,
            });
        }
        let rows = policy(group, p)?;
        for s in &mut slos {
            s.page = Some(s.draft.rows.iter().any(|r| r.severity == Severity::Page));
            s.ticket = Some(s.draft.rows.iter().any(|r| r.severity == Severity::Ticket));
        }
        Some(Plan {
            group,
            file,
            rewrite_windows: spec.is_none(),
            spec,
            slos,
            rows,
        })
    }

    /// After the first lowering: queries the export's SLI no longer builds become a query SLI, conditions the
    /// text's windows no longer give rewrite them, and values the tier or default already gives are left out.
    fn adjust(&mut self, model: &Model, p: &mut Problems) {
        let Some(service) = model.services.iter().find(|s| s.name == self.group.name) else {
            return;
        };
        for s in &mut self.slos {
            let Some(slo) = service.slos.iter().find(|m| m.name == s.draft.name) else {
                continue;
            };
            if s.annotated_sli.is_some() && !same_queries(s.draft, service, slo) {
                s.annotated_sli = None;
                p.list.append(&mut s.query_problems);
            }
            if rows_of(slo) != sorted_keys(&s.draft.rows) {
                self.rewrite_windows = true;
            }
            if let Some(tier) = model.tiers.iter().find(|t| t.name == slo.tier) {
                s.objective = s.draft.slo.objective.0 != tier.objective;
                s.page = s.page.filter(|p| *p != tier.page);
                s.ticket = s.ticket.filter(|t| *t != tier.ticket);
            }
            s.window = slo.window.seconds != DEFAULT_SLO_WINDOW.seconds;
        }
    }

    /// After the last lowering: the model's alerts are the conditions', or the conditions cannot be written.
    fn verify(&self, model: &Model, p: &mut Problems) {
        let Some(service) = model.services.iter().find(|s| s.name == self.group.name) else {
            return;
        };
        for s in &self.slos {
            let Some(slo) = service.slos.iter().find(|m| m.name == s.draft.name) else {
                continue;
            };
            if rows_of(slo) != sorted_keys(&s.draft.rows) {
                let at = s.draft.rows.first().map_or(&s.draft.slo.meta.at, |r| &r.at);
                p.error(at, format!("the burn-rate conditions of SLO `{}` cannot be written as slogen alert windows", s.draft.name), "conditions", "slogen's alert windows belong to the service; give its SLOs matching conditions");
            }
        }
    }

    fn render(&self) -> Writer {
        let mut w = Writer::default();
        let slos = self.render_slos();
        match &self.spec {
            Some((text, at)) => {
                let text = if self.rewrite_windows {
                    self.rewritten_windows(text)
                } else {
                    text.clone()
                };
                let (before, after) = match text.find(key::SLOS_MARK) {
                    Some(i) => (&text[..i], &text[i + key::SLOS_MARK.len()..]),
                    None => (text.as_str(), ""),
                };
                w.raw_from(before, at);
                if !before.is_empty()
                    && !before.ends_with("\n\n")
                    && !slos.text.is_empty()
                    && after.is_empty()
                {
                    w.raw("\n");
                }
                append(&mut w, slos);
                w.raw_from(after, at);
            }
            None => {
                self.render_service(&mut w);
                append(&mut w, slos);
            }
        }
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
        for row in self.rows.values().flatten() {
            if let Some(note) = &row.note {
                w.comment(note);
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
        let Some(cut) = super::cut::cut(text, |p| {
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

    /// The `[slos.*]` tables.
    fn render_slos(&self) -> Writer {
        let mut w = Writer::default();
        for s in &self.slos {
            let d = s.draft;
            let o = d.slo;
            let head = format!("slos.{}", d.name);
            if self.spec.is_none() {
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
        }
        w
    }
}

/// Appends another writer's text and origins.
fn append(w: &mut Writer, other: Writer) {
    let base = w.text.len();
    w.text.push_str(&other.text);
    w.origins.extend(
        other
            .origins
            .into_iter()
            .map(|(r, at)| (r.start + base..r.end + base, at)),
    );
}

/// An SLI from the OpenSLO queries: `events` (bad, or total minus good, over total) or `raw`.
#[derive(Debug)]
enum QuerySli {
    /// `[…events]`: error and total queries.
    Events {
        errors: (String, At),
        total: (String, At),
        /// The fixed range the queries read before.
        replaced: Option<String>,
    },
    /// `[…raw]`: an error ratio.
    Raw { error_ratio: (String, At) },
}

impl QuerySli {
    /// Converts the SLI's queries; problems go to `p`.
    fn new(d: &Draft<'_>, p: &mut Problems) -> Option<QuerySli> {
        let counter = matches!(d.sli.metric, Ratio::Events { counter: true, .. });
        let mut conv = |q: &read::Query| {
            queries::convert(&q.query, counter, &q.at, p).map(|c| (c, q.at.clone()))
        };
        match &d.sli.metric {
            Ratio::Events {
                good, bad, total, ..
            } => {
                let total = conv(total);
                let errors = match (bad, good) {
                    (Some(b), _) => conv(b),
                    (None, Some(g)) => conv(g).map(|(c, at)| {
                        let t = total
                            .as_ref()
                            .map_or(String::new(), |(t, _)| t.query.clone());
                        let query = format!("({t}) - ({})", c.query);
                        (queries::Converted { query, ..c }, at)
                    }),
                    (None, None) => None,
                };
                let ((e, e_at), (t, t_at)) = (errors?, total?);
                Some(QuerySli::Events {
                    replaced: e.replaced.or(t.replaced),
                    errors: (e.query, e_at),
                    total: (t.query, t_at),
                })
            }
            Ratio::Raw { failure, raw } => {
                let (c, at) = conv(raw)?;
                let q = if *failure {
                    c.query
                } else {
                    format!("1 - ({})", c.query)
                };
                Some(QuerySli::Raw {
                    error_ratio: (q, at),
                })
            }
        }
    }

    fn render(&self, w: &mut Writer, head: &str) {
        match self {
            QuerySli::Events {
                errors,
                total,
                replaced,
            } => {
                if let Some(r) = replaced {
                    w.comment(&format!(
                        "The OpenSLO queries read `[{r}]`; here each alert window reads its own range."
                    ));
                }
                w.raw(&format!("[{head}.events]\n"));
                w.string("errors", &errors.0, Some(&errors.1));
                w.string("total", &total.0, Some(&total.1));
            }
            QuerySli::Raw { error_ratio } => {
                w.raw(&format!("[{head}.raw]\n"));
                w.string("error_ratio", &error_ratio.0, Some(&error_ratio.1));
            }
        }
    }
}

/// The SLO's bad and total queries are the ones the model builds for it.
fn same_queries(d: &Draft<'_>, service: &model::Service, slo: &model::Slo) -> bool {
    match &d.sli.metric {
        Ratio::Events {
            bad: Some(bad),
            good: None,
            total,
            ..
        } => {
            Some(bad.query.trim().to_string()) == sli_error_rate(service, slo, DISPLAY_WINDOW)
                && Some(total.query.trim().to_string())
                    == sli_event_rate(service, slo, DISPLAY_WINDOW)
        }
        Ratio::Raw { failure: true, raw } => {
            !slo.sli.counts_events()
                && raw.query.trim() == sli_error_ratio(service, slo, DISPLAY_WINDOW)
        }
        _ => false,
    }
}

type RowKey = (
    Severity,
    model::Duration,
    model::Duration,
    Exact,
    model::Duration,
);

fn rows_of(slo: &model::Slo) -> Vec<RowKey> {
    let mut out: Vec<RowKey> = slo
        .burn_rate_alerts
        .iter()
        .map(|a| {
            (
                a.severity,
                a.long,
                a.short,
                a.budget_share.mul(Exact::int(100)),
                a.for_,
            )
        })
        .collect();
    out.sort_by_key(|k| (k.0, k.1, k.2, k.4));
    out.dedup();
    out
}

fn sorted_keys(rows: &[Row]) -> Vec<RowKey> {
    let mut out: Vec<RowKey> = rows.iter().map(Row::key).collect();
    out.sort_by_key(|k| (k.0, k.1, k.2, k.4));
    out.dedup();
    out
}

/// The service's policy from its SLOs' conditions: every SLO that has a severity's conditions has the same.
fn policy(group: &Group<'_>, p: &mut Problems) -> Option<BTreeMap<Severity, Vec<Row>>> {
    let mut out: BTreeMap<Severity, (Vec<RowKey>, Vec<Row>, &str)> = BTreeMap::new();
    let mut ok = true;
    for d in &group.slos {
        for severity in [Severity::Page, Severity::Ticket] {
            let rows: Vec<Row> = d
                .rows
                .iter()
                .filter(|r| r.severity == severity)
                .cloned()
                .collect();
            if rows.is_empty() {
                continue;
            }
            let keys = sorted_keys(&rows);
            match out.get(&severity) {
                Some((first, _, other)) if *first != keys => {
                    let window = |n: &str| {
                        group
                            .slos
                            .iter()
                            .find(|d| d.name == n)
                            .map_or(String::new(), |d| {
                                model::Duration {
                                    seconds: d.slo.window.0,
                                }
                                .promql()
                            })
                    };
                    let (mine, theirs) = (window(&d.name), window(other));
                    let hint = if mine == theirs {
                        format!("slogen's burn-rate windows belong to the service: give every SLO of `{}` that alerts with this severity the same lookbackWindow, alertAfter and threshold", group.name)
                    } else {
                        format!("slogen's burn-rate windows belong to the service and spend a share of each SLO's budget: over windows of {mine} and {theirs} the same threshold spends different shares; give the SLOs one window, or thresholds in proportion to their windows")
                    };
                    p.error(
                        &rows[0].at,
                        format!(
                            "SLO `{}` has other {} conditions than SLO `{other}`",
                            d.name,
                            conventions::severity_name(severity)
                        ),
                        "differs",
                        hint,
                    );
                    ok = false;
                }
                Some(_) => {}
                None => {
                    let mut unique = rows.clone();
                    unique.sort_by_key(|r| (r.long, r.short, r.for_));
                    unique.dedup_by_key(|r| r.key());
                    out.insert(severity, (keys, unique, &d.name));
                }
            }
        }
    }
    ok.then(|| out.into_iter().map(|(s, (_, rows, _))| (s, rows)).collect())
}

/// The `alert_windows` rows of a spec text by severity, as tables; the default policy's when it has none.
fn old_rows(text: &str) -> BTreeMap<Severity, Vec<toml::Table>> {
    let mut out: BTreeMap<Severity, Vec<toml::Table>> = BTreeMap::new();
    let table: toml::Table = toml::from_str(text).unwrap_or_default();
    let rows = table
        .get("service")
        .and_then(|s| s.get("alert_windows"))
        .and_then(|a| a.as_array());
    match rows {
        Some(rows) => {
            for r in rows.iter().filter_map(|r| r.as_table()) {
                let severity = match r.get("severity").and_then(|s| s.as_str()) {
                    Some("page") => Severity::Page,
                    _ => Severity::Ticket,
                };
                out.entry(severity).or_default().push(r.clone());
            }
        }
        None => {
            for r in BURN_RATE_WINDOWS {
                let mut t = toml::Table::new();
                t.insert(
                    "severity".into(),
                    conventions::severity_name(r.severity).into(),
                );
                t.insert("long".into(), r.long.promql().into());
                t.insert("short".into(), r.short.promql().into());
                let percent = r.budget_share.mul(Exact::int(100)).to_string();
                t.insert(
                    "budget_percent".into(),
                    toml::Value::Integer(percent.parse().unwrap_or(1)),
                );
                t.insert("for".into(), r.for_.promql().into());
                out.entry(r.severity).or_default().push(t);
            }
        }
    }
    out
}

/// The shared files of every exported service (tiers, output defaults); one text per name.
fn shared_files(groups: &[Group<'_>], p: &mut Problems) -> BTreeMap<String, (String, At)> {
    let mut out: BTreeMap<String, (String, At)> = BTreeMap::new();
    for s in groups.iter().filter_map(|g| g.service) {
        for (k, (text, at)) in &s.meta.annotations {
            let Some(name) = key::shared_file_name(k) else {
                continue;
            };
            if !is_file_name(name) {
                p.error(
                    at,
                    format!("`{name}` is not a spec file name"),
                    "not `<name>.toml`",
                    "the annotation key names a file, e.g. `slogen.dev/shared.tiers.toml`",
                );
                continue;
            }
            match out.get(name) {
                Some((first, first_at)) if first != text => {
                    p.duplicate(at, first_at, "shared file with other contents,", name);
                }
                Some(_) => {}
                None => {
                    out.insert(name.to_string(), (text.clone(), at.clone()));
                }
            }
        }
    }
    out
}

fn check_names(plans: &[Plan<'_>], shared: &BTreeMap<String, (String, At)>, p: &mut Problems) {
    let mut seen: BTreeMap<&str, &At> = BTreeMap::new();
    for plan in plans {
        let at = &plan.group.at;
        if let Some(first) = seen
            .get(plan.file.as_str())
            .copied()
            .or_else(|| shared.get(&plan.file).map(|(_, at)| at))
        {
            p.duplicate(at, first, "spec file", &plan.file);
        }
        seen.insert(&plan.file, at);
    }
}

/// `<name>.toml`, a plain file name.
fn is_file_name(name: &str) -> bool {
    name.ends_with(".toml")
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
}

/// Lowers the planned files; on problems, renders them at their OpenSLO place where known, else in the
/// spec text that would have been written.
fn lower(
    inputs: &[SourceFile],
    shown_dir: &str,
    plans: &[Plan<'_>],
    shared: &BTreeMap<String, (String, At)>,
) -> Result<Model, String> {
    let writers: Vec<Writer> = plans.iter().map(Plan::render).collect();
    let mut files: Vec<(String, String, Option<&Writer>, Option<&At>)> = plans
        .iter()
        .zip(&writers)
        .map(|(pl, w)| (pl.file.clone(), w.text.clone(), Some(w), None))
        .collect();
    files.extend(
        shared
            .iter()
            .map(|(n, (t, at))| (n.clone(), t.clone(), None, Some(at))),
    );
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let sources: Vec<SourceFile> = files
        .iter()
        .map(|(n, t, _, _)| SourceFile {
            path: format!("{shown_dir}/{n}"),
            text: t.clone(),
        })
        .collect();
    let problems = match model::lower(&sources) {
        Ok(m) => return Ok(m),
        Err(problems) => problems,
    };
    let mut all: Vec<SourceFile> = inputs.to_vec();
    all.extend(sources.iter().map(|s| SourceFile {
        path: format!("{} (imported, not written)", s.path),
        text: s.text.clone(),
    }));
    let mut mapped: Vec<Problem> = problems
        .into_iter()
        .map(|mut d| {
            for label in &mut d.labels {
                let (_, _, writer, block) = &files[label.file_id];
                match writer.and_then(|w| w.origin_of(&label.range)).or(*block) {
                    Some(at) => {
                        label.file_id = at.file;
                        label.range = at.span.clone();
                    }
                    None => label.file_id += inputs.len(),
                }
            }
            d
        })
        .collect();
    // A value written twice (a tier's objective taken from an SLO's) is one problem at its OpenSLO place.
    let mut seen = Vec::new();
    mapped.retain(|d| {
        let labels: Vec<_> = d
            .labels
            .iter()
            .map(|l| (l.file_id, l.range.clone()))
            .collect();
        let key = format!("{}{labels:?}", d.message);
        let new = !seen.contains(&key);
        seen.push(key);
        new
    });
    Err(crate::diagnostics::render(&all, &mapped))
}
