//! Lowering: parse every spec file, check it, and build the [`Model`] — or return every problem found.
//!
//! One submodule per spec section; each adds its checks to `Lowering`, which collects every problem.

mod alerting;
mod alerts;
mod dashboard;
mod inner;
mod labels;
mod metrics;
mod outputs;
mod percent;
mod query;
mod selectors;
mod service;
mod slos;
mod tiers;

pub(crate) use service::BURN_RATE_WINDOWS;
pub(crate) use slos::DEFAULT_SLO_WINDOW;

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic, Label as DiagLabel};
use toml::Spanned;

use super::promql_check::Declared;
use super::*;
use crate::conventions;
use crate::spec::{self, Name, SpecFile};

/// One spec file as read from disk: the path shown in diagnostics and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as shown to people and in generated headers, e.g. `slos/backend.toml`.
    pub path: String,
    /// File contents.
    pub text: String,
}

/// A problem in the input, pointing at files by their index in the `files` slice given to [`lower()`].
pub type Problem = Diagnostic<usize>;

/// Parses, checks and lowers every file. On failure, returns every problem found, sorted by file and position.
pub fn lower(files: &[SourceFile]) -> Result<Model, Vec<Problem>> {
    let mut cx = Lowering {
        files,
        ..Lowering::default()
    };
    let mut parsed = Vec::new();
    for (id, file) in files.iter().enumerate() {
        let read = spec::read(&file.text);
        for e in read.errors {
            cx.error(id, e.span, e.message, e.label, e.hint);
        }
        cx.broken_tiers.extend(read.broken.tiers.iter().cloned());
        match read.spec {
            Some(spec) => parsed.push((id, spec, read.broken)),
            // Tiers may be defined in the unreadable file: an unknown tier elsewhere may be one of them.
            None => cx.tiers_incomplete = true,
        }
    }
    // The defaults of `[outputs]` live in a file without a service; one such table in all.
    let mut default_outputs: Option<(usize, Spanned<spec::OutputsSpec>)> = None;
    for (id, spec, broken) in &mut parsed {
        cx.check_version(*id, spec);
        cx.collect_tiers(*id, spec);
        if spec.service.is_none() && broken.service.is_none() {
            if let Some(outputs) = spec.outputs.take() {
                match &default_outputs {
                    Some((first, seen)) => {
                        cx.defaults_twice(*id, outputs.span(), *first, seen.span())
                    }
                    None => default_outputs = Some((*id, outputs)),
                }
            }
        }
    }
    let mut services = Vec::new();
    let mut first_service: BTreeMap<String, (usize, Range<usize>)> = BTreeMap::new();
    for (id, spec, broken) in parsed {
        let id = &id;
        cx.broken = broken;
        match &spec.service {
            Some(service) => {
                let name = service.get_ref().name.get_ref().clone();
                if let Some((fid, span)) = first_service.get(&name) {
                    cx.duplicate(
                        *id,
                        service.get_ref().name.span(),
                        "service",
                        &name,
                        *fid,
                        span.clone(),
                    );
                    continue;
                }
                first_service.insert(name, (*id, service.get_ref().name.span()));
                if let Some(mut service) = cx.lower_service(*id, &files[*id].path, &spec) {
                    let layers: Vec<outputs::OutputsLayer<'_>> = spec
                        .outputs
                        .as_ref()
                        .map(|o| (*id, o))
                        .into_iter()
                        .chain(default_outputs.as_ref().map(|(f, o)| (*f, o)))
                        .collect();
                    service.outputs = cx.lower_outputs(&service.name, &layers);
                    services.push(service);
                }
            }
            // A `[service]` that could not be read: its labels and metrics are still checked; its SLOs and
            // alerts need what the service table says.
            None if cx.broken.service.is_some() => {
                let label_defs = cx.lower_labels(*id, &spec);
                cx.lower_metrics(*id, &spec, &label_defs);
            }
            None => cx.reject_orphans(*id, &spec),
        }
    }
    if !cx.problems.is_empty() {
        cx.problems.sort_by_key(|d| {
            d.labels
                .iter()
                .find(|l| l.style == codespan_reporting::diagnostic::LabelStyle::Primary)
                .map(|l| (l.file_id, l.range.start))
                .unwrap_or((usize::MAX, 0))
        });
        return Err(cx.problems);
    }
    services.sort_by(|a, b| a.name.cmp(&b.name));
    let tiers = cx.tiers.into_values().map(|(_, _, tier)| tier).collect();
    Ok(Model { services, tiers })
}

#[derive(Default)]
struct Lowering<'f> {
    /// The files being lowered, for the exact text of numbers.
    files: &'f [SourceFile],
    problems: Vec<Problem>,
    tiers: BTreeMap<String, (usize, Range<usize>, Tier)>,
    /// A file or tier failed to load, so an unknown tier may be that one: don't report it twice.
    tiers_incomplete: bool,
    /// Tiers defined with errors: they exist, so a reference to one is not reported.
    broken_tiers: HashSet<String>,
    /// Names defined with errors in the file being lowered, which references must not report as unknown.
    broken: spec::Broken,
}

/// Where a named thing was first declared, for "first defined here".
type FirstSeen = BTreeMap<String, Range<usize>>;

impl Lowering<'_> {
    pub(super) fn error(
        &mut self,
        file: usize,
        span: Range<usize>,
        message: impl Into<String>,
        label: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let hint = hint.into();
        let mut d = Diagnostic::error()
            .with_message(message.into())
            .with_labels(vec![
                DiagLabel::primary(file, span).with_message(label.into())
            ]);
        if !hint.is_empty() {
            d = d.with_notes(vec![format!("help: {hint}")]);
        }
        self.problems.push(d);
    }

    pub(super) fn duplicate(
        &mut self,
        file: usize,
        span: Range<usize>,
        what: &str,
        name: &str,
        first_file: usize,
        first: Range<usize>,
    ) {
        self.problems.push(
            Diagnostic::error()
                .with_message(format!("duplicate {what} `{name}`"))
                .with_labels(vec![
                    DiagLabel::primary(file, span)
                        .with_message(format!("{what} `{name}` defined again here")),
                    DiagLabel::secondary(first_file, first).with_message("first defined here"),
                ])
                .with_notes(vec![format!(
                    "help: {}",
                    if what.starts_with("label")
                        || what == "alert window"
                        || what == "dashboard variable"
                    {
                        "remove the second one"
                    } else {
                        "rename one of them or merge the two definitions"
                    }
                )]),
        );
    }

    pub(super) fn reject_orphans(&mut self, file: usize, spec: &SpecFile) {
        let first = spec
            .labels
            .keys()
            .chain(spec.metrics.keys())
            .chain(spec.slos.keys())
            .chain(spec.alerts.keys())
            .min_by_key(|n| n.span().start);
        if let Some(name) = first {
            self.error(
                file,
                name.span(),
                "definitions without a service",
                "this belongs to no service",
                "add a `[service]` table (name, tier, team, runbook_base_url) to this file",
            );
        } else if spec.dashboard.is_some() {
            self.error(
                file,
                0..0,
                "a `[dashboard]` table needs a `[service]` in the same file",
                "here",
                "add a `[service]` table",
            );
        }
    }

    /// Parses a duration, or reports it.
    pub(super) fn duration(&mut self, file: usize, text: &Spanned<String>) -> Option<Duration> {
        let parsed = Duration::parse(text.get_ref());
        if parsed.is_none() {
            self.error(
                file,
                text.span(),
                format!("invalid duration `{}`", text.get_ref()),
                "not a duration",
                "write a whole number and one unit: `30s`, `5m`, `1h`, `1d`",
            );
        }
        parsed
    }
}
