//! Importers: other tools' SLO files → slogen's TOML, a pipeline beside `spec` → `model`.
//!
//! Each importer reads its format into an [`ImportedService`] (slogen's concepts, each value remembering where
//! in the input it came from), [`toml_out`] writes that as a spec file, and [`sloth::import`] lowers the
//! written specs with [`crate::model::lower()`] before anything touches the disk, pointing every problem back at the input
//! file. [`write_new`] then creates the files, all or none, never replacing one.

mod read;
pub mod sloth;
pub mod toml_out;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use codespan_reporting::diagnostic::{Diagnostic, Label, LabelStyle};

use crate::model::lower::{Problem, SourceFile};

/// The problems found in one input file (by its index in the import's file list).
#[derive(Debug)]
pub struct Problems {
    file: usize,
    /// Every problem, in the order found.
    pub list: Vec<Problem>,
}

impl Problems {
    /// An empty list for input file `file`.
    pub fn new(file: usize) -> Problems {
        Problems {
            file,
            list: Vec::new(),
        }
    }

    /// Reports a problem at `span`: what is wrong, a label on the spot, and how to fix it.
    pub fn error(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        label: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.list.push(
            Diagnostic::error()
                .with_message(message.into())
                .with_labels(vec![
                    Label::primary(self.file, span).with_message(label.into())
                ])
                .with_notes(vec![format!("help: {}", help.into())]),
        );
    }

    /// Reports a name written twice.
    pub fn duplicate(&mut self, again: Range<usize>, first: Range<usize>, what: &str) {
        self.list.push(
            Diagnostic::error()
                .with_message(format!("duplicate {what}"))
                .with_labels(vec![
                    Label::primary(self.file, again).with_message("written again here"),
                    Label::secondary(self.file, first).with_message("first written here"),
                ])
                .with_notes(vec!["help: remove one of them".into()]),
        );
    }
}

/// A value for the spec and the input bytes it came from (`None`: slogen chose it), so that a problem the
/// model finds in the value points at the input.
#[derive(Debug, Clone)]
pub struct Sourced<T> {
    /// The value written to the spec.
    pub value: T,
    /// Where it came from in the service's input file.
    pub origin: Option<Range<usize>>,
}

impl<T> Sourced<T> {
    /// A value read from `origin`.
    pub fn at(value: T, origin: Range<usize>) -> Self {
        Sourced {
            value,
            origin: Some(origin),
        }
    }
}

/// Labels or annotations, sorted by name.
pub type StringMap = BTreeMap<String, Sourced<String>>;

/// One service to write as one spec file, in slogen's terms.
#[derive(Debug)]
pub struct ImportedService {
    /// Input file the service comes from (index into the import's files).
    pub file: usize,
    /// Where the service is named in the input: problems without a closer origin point here.
    pub origin: Range<usize>,
    /// Comment lines under the `#:schema` line: where it came from and what the import chose.
    pub header: Vec<String>,
    /// Service name (snake_case).
    pub name: Sourced<String>,
    /// The tier the file defines for the service.
    pub tier: String,
    /// The tier's objective: the first SLO's.
    pub tier_objective: String,
    /// The owning team, and a comment saying where it came from.
    pub team: (Sourced<String>, String),
    /// Runbook base URL, and a comment when the input had none.
    pub runbook_base_url: (String, String),
    /// Labels on every rule and alert.
    pub labels: StringMap,
    /// Comment over the alert windows: where they came from.
    pub windows_note: String,
    /// The burn-rate policy.
    pub alert_windows: Vec<AlertWindow>,
    /// The SLOs, in input order.
    pub slos: Vec<ImportedSlo>,
}

/// One `[[service.alert_windows]]` row.
#[derive(Debug, Clone)]
pub struct AlertWindow {
    /// `page` or `ticket`.
    pub severity: &'static str,
    /// Long window, e.g. `1h`.
    pub long: Sourced<String>,
    /// Short window, e.g. `5m`.
    pub short: Sourced<String>,
    /// Budget share in percent, as written in the input.
    pub budget_percent: Sourced<String>,
}

/// One SLO.
#[derive(Debug)]
pub struct ImportedSlo {
    /// SLO name (snake_case).
    pub name: Sourced<String>,
    /// Comment lines above the SLO: the input's comments and its original name.
    pub comments: Vec<String>,
    /// What the SLO promises.
    pub description: Sourced<String>,
    /// Objective in percent, as written in the input.
    pub objective: Sourced<String>,
    /// SLO window, e.g. `30d`.
    pub window: String,
    /// The indicator.
    pub sli: ImportedSli,
    /// Alerting settings.
    pub alerting: ImportedAlerting,
}

/// A query SLI.
#[derive(Debug)]
pub enum ImportedSli {
    /// Bad and all events, each a query with a `{{.window}}` placeholder.
    Events {
        /// Bad events per second.
        errors: Sourced<String>,
        /// All events per second.
        total: Sourced<String>,
    },
    /// An error ratio query with a `{{.window}}` placeholder.
    Raw {
        /// The error ratio.
        error_ratio: Sourced<String>,
    },
}

/// `[slos.X.alerting]`.
#[derive(Debug, Default)]
pub struct ImportedAlerting {
    /// Burn-rate alert name, when the input named it.
    pub name: Option<Sourced<String>>,
    /// Page alerts on (`Some(false)` written when off).
    pub page: Option<Sourced<bool>>,
    /// Ticket alerts on.
    pub ticket: Option<Sourced<bool>>,
    /// Runbook URL.
    pub runbook: Option<Sourced<String>>,
    /// Labels on both severities.
    pub labels: StringMap,
    /// Annotations on both severities.
    pub annotations: StringMap,
    /// Labels on page alerts only.
    pub page_labels: StringMap,
    /// Annotations on page alerts only.
    pub page_annotations: StringMap,
    /// Labels on ticket alerts only.
    pub ticket_labels: StringMap,
    /// Annotations on ticket alerts only.
    pub ticket_annotations: StringMap,
    /// Comment over the alerting table.
    pub note: Option<String>,
}

/// The spec files of an import, checked by the model, ready to write.
#[derive(Debug)]
pub struct Imported {
    /// File name and TOML text, in service name order.
    pub files: Vec<(String, String)>,
}

/// Writes the services as spec files named for `out_dir` and lowers them with the model; every problem points at
/// the input (`inputs`), or the rendered diagnostics are the error.
pub fn check(
    inputs: &[SourceFile],
    services: &[ImportedService],
    out_dir: &Path,
) -> Result<Imported, String> {
    let mut specs = Vec::new();
    let mut maps = Vec::new();
    for s in services {
        let (text, map) = toml_out::render(s);
        let name = crate::conventions::imported_spec_file(&s.name.value);
        specs.push(SourceFile {
            path: out_dir.join(&name).display().to_string(),
            text,
        });
        maps.push(map);
    }
    match crate::model::lower(&specs) {
        Ok(_) => Ok(Imported {
            files: services
                .iter()
                .zip(specs)
                .map(|(s, f)| {
                    (
                        crate::conventions::imported_spec_file(&s.name.value),
                        f.text,
                    )
                })
                .collect(),
        }),
        Err(problems) => {
            let moved: Vec<Problem> = problems
                .into_iter()
                .map(|p| back_to_input(p, services, &specs, &maps))
                .collect();
            Err(crate::diagnostics::render(inputs, &moved))
        }
    }
}

/// Moves a problem found in a written spec onto the input value it came from, keeping the spec line as a note.
fn back_to_input(
    mut p: Problem,
    services: &[ImportedService],
    specs: &[SourceFile],
    maps: &[toml_out::OriginMap],
) -> Problem {
    let mut notes = Vec::new();
    for label in &mut p.labels {
        let (spec, service, map) = (
            &specs[label.file_id],
            &services[label.file_id],
            &maps[label.file_id],
        );
        if label.style == LabelStyle::Primary {
            let line_start = spec.text[..label.range.start.min(spec.text.len())]
                .rfind('\n')
                .map_or(0, |i| i + 1);
            let line_end = spec.text[line_start..]
                .find('\n')
                .map_or(spec.text.len(), |i| line_start + i);
            notes.push(format!(
                "note: in the imported spec: `{}`",
                spec.text[line_start..line_end].trim()
            ));
        }
        label.range = map
            .origin_of(&label.range)
            .unwrap_or_else(|| service.origin.clone());
        label.file_id = service.file;
    }
    notes.append(&mut p.notes);
    p.notes = notes;
    p
}

/// Creates `files` in `dir` (made if missing), never replacing anything: when any file exists, nothing is
/// written; when a write fails, the files this call created are removed again. Returns the paths written.
pub fn write_new(dir: &Path, files: &[(String, String)]) -> Result<Vec<PathBuf>> {
    let existing: Vec<String> = files
        .iter()
        .map(|(name, _)| dir.join(name))
        .filter(|p| std::fs::symlink_metadata(p).is_ok())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        bail!(
            "refusing to overwrite {}; nothing was written\nhelp: import into an empty folder, or move the existing files away",
            existing.join(", ")
        );
    }
    let made_dir = std::fs::symlink_metadata(dir).is_err();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        let result = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| {
                written.push(path.clone());
                f.write_all(text.as_bytes())?;
                f.sync_all()
            });
        if let Err(e) = result {
            for p in &written {
                let _ = std::fs::remove_file(p);
            }
            if made_dir {
                let _ = std::fs::remove_dir(dir);
            }
            return Err(e)
                .with_context(|| format!("cannot write {}; nothing was written", path.display()));
        }
    }
    Ok(written)
}
