//! What the import writes for each service and SLO, and how the model's view of the first lowering
//! changes it.

use std::collections::BTreeMap;

use super::super::annotations as key;
use super::super::check::{At, Problems};
use super::super::queries::QuerySli;
use super::super::read::Ratio;
use super::super::resolve::{Draft, Group, Row};
use super::is_file_name;
use super::windows::{policy, rows_of, sorted_keys};
use crate::model::lower::{Problem, DEFAULT_SLO_WINDOW};
use crate::model::promql::{sli_error_rate, sli_error_ratio, sli_event_rate};
use crate::model::rules::DISPLAY_WINDOW;
use crate::model::{self, Model, Severity};

/// How one SLO is written.
#[derive(Debug)]
pub(super) struct SloPlan<'o> {
    pub(super) draft: &'o Draft<'o>,
    /// The SLI table of a slogen export, while its queries are the ones the model builds.
    pub(super) annotated_sli: Option<toml::Table>,
    /// The SLI as query SLI, when its queries convert.
    pub(super) queries: Option<QuerySli>,
    /// Problems converting the queries, reported when the SLI is written as queries.
    pub(super) query_problems: Vec<Problem>,
    /// The rest of the SLO table (`slogen.dev/slo`).
    pub(super) rest: toml::Table,
    pub(super) objective: bool,
    pub(super) window: bool,
    pub(super) page: Option<bool>,
    pub(super) ticket: Option<bool>,
}

/// How one service file is written.
#[derive(Debug)]
pub(super) struct Plan<'o> {
    pub(super) group: &'o Group<'o>,
    pub(super) file: String,
    /// The spec text of a slogen export, and where it is.
    pub(super) spec: Option<(String, At)>,
    pub(super) slos: Vec<SloPlan<'o>>,
    /// The policy the conditions describe, by severity.
    pub(super) rows: BTreeMap<Severity, Vec<Row>>,
    /// Write the derived rows instead of the text's `alert_windows`.
    pub(super) rewrite_windows: bool,
}

impl<'o> Plan<'o> {
    pub(super) fn new(group: &'o Group<'o>, p: &mut Problems) -> Option<Plan<'o>> {
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
    pub(super) fn adjust(&mut self, model: &Model, p: &mut Problems) {
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
    pub(super) fn verify(&self, model: &Model, p: &mut Problems) {
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
