//! Reads one spec file section by section and entry by entry, so that one wrong key or type does not stop the
//! checking of everything else in the file.
//!
//! The file is parsed once into a spanned TOML document; each top-level key, and each entry of the named
//! sections (`[tiers]`, `[labels]`, `[metrics]`, `[slos]`, `[alerts]`), is deserialized on its own. An entry
//! with a shape error is retried without the offending key, so that every wrong key of a table is reported.
//! An entry with any shape error is kept by name in [`Broken`]: it is defined, only with errors, and nothing
//! that refers to it reports it as unknown. `[service]` and `[dashboard]` are checked without their wrong keys.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use super::{Name, SpecFile};

/// A mistake in the shape of a file: TOML syntax, an unknown key, a wrong type, a missing key.
#[derive(Debug, Clone)]
pub struct ShapeError {
    /// Where it is, as a byte range of the file.
    pub span: Range<usize>,
    /// What is wrong.
    pub message: String,
    /// What is expected there, shown under the snippet.
    pub label: String,
    /// How to fix it.
    pub hint: String,
}

/// Names defined in a file whose definitions have shape errors: they exist, so references to them are fine.
#[derive(Debug, Default, Clone)]
pub struct Broken {
    /// Tiers.
    pub tiers: Vec<String>,
    /// Labels.
    pub labels: Vec<String>,
    /// Metrics.
    pub metrics: Vec<String>,
    /// SLOs.
    pub slos: Vec<String>,
    /// Threshold alerts.
    pub alerts: Vec<String>,
    /// The `[service]` table is there but could not be read.
    pub service: Option<Range<usize>>,
    /// Keys of `[service]` left out for their shape errors (the rest of it was read): what depends on them,
    /// such as the burn-rate policy of `alert_windows`, is not checked against a default.
    pub service_keys: Vec<String>,
}

/// What reading one file gave.
#[derive(Debug)]
pub struct ReadFile {
    /// The entries that have their shape; `None` when the TOML syntax is wrong (nothing of it is trusted).
    pub spec: Option<SpecFile>,
    /// Definitions that exist but could not be read.
    pub broken: Broken,
    /// Every shape error, in file order.
    pub errors: Vec<ShapeError>,
}

/// Most keys one entry may lose to shape errors before it is given up as broken.
const MAX_RETRIES: usize = 32;

/// Reads a spec file; see the module documentation.
pub fn read(text: &str) -> ReadFile {
    let (root, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        let mut errors: Vec<ShapeError> = syntax.iter().map(from_toml).collect();
        // Recovery after a syntax error guesses, and its further reports are mostly that guess: keep the
        // first. Duplicate keys leave the syntax intact; keep the first in each table (a table header given
        // twice also makes every key under it a duplicate).
        errors.sort_by_key(|e| e.span.start);
        let mut kept: Vec<ShapeError> = Vec::new();
        for e in errors {
            let duplicate = e.message == "duplicate key";
            let table = header_above(text, e.span.start);
            let follow_on = kept.iter().any(|k| {
                k.message != "duplicate key"
                    || (duplicate
                        && (header_above(text, k.span.start) == table
                            || line_start(text, k.span.start) == table))
            }) || (!duplicate && kept.iter().any(|k| k.message == "duplicate key"));
            if !follow_on {
                kept.push(e);
            }
        }
        let errors = kept;
        return ReadFile {
            spec: None,
            broken: Broken::default(),
            errors,
        };
    }
    let mut r = Reader {
        text,
        ..Reader::default()
    };
    let mut spec = SpecFile {
        version: Spanned::new(0..0, 1),
        tiers: BTreeMap::new(),
        service: None,
        labels: BTreeMap::new(),
        metrics: BTreeMap::new(),
        slos: BTreeMap::new(),
        alerts: BTreeMap::new(),
        dashboard: None,
        outputs: None,
    };
    let mut has_version = false;
    for (key, value) in root.into_inner() {
        let key_span = key.span();
        match key.get_ref().as_ref() {
            "version" => {
                has_version = true;
                if let Some(v) = r.one("version", value) {
                    spec.version = v;
                }
            }
            "tiers" => r.entries("tiers", value, &mut spec.tiers, |b| &mut b.tiers),
            "labels" => r.entries("labels", value, &mut spec.labels, |b| &mut b.labels),
            "metrics" => r.entries("metrics", value, &mut spec.metrics, |b| &mut b.metrics),
            "slos" => r.entries("slos", value, &mut spec.slos, |b| &mut b.slos),
            "alerts" => r.entries("alerts", value, &mut spec.alerts, |b| &mut b.alerts),
            "service" => {
                let span = value.span();
                spec.service = r.one("service", value);
                r.broken.service_keys = std::mem::take(&mut r.dropped);
                if spec.service.is_none() {
                    r.broken.service = Some(span);
                }
            }
            "dashboard" => {
                spec.dashboard = r.one("dashboard", value);
                // Without a dropped key (a panel list) the row order would name rows no panel is in.
                if !std::mem::take(&mut r.dropped).is_empty() {
                    spec.dashboard = None;
                }
            }
            "outputs" => spec.outputs = r.one("outputs", value),
            other => r.errors.push(ShapeError {
                span: key_span,
                message: format!("unknown key `{other}`"),
                label:
                    "expected one of `version`, `tiers`, `service`, `labels`, `metrics`, `slos`, \
                        `alerts`, `dashboard`, `outputs`"
                        .into(),
                hint: UNKNOWN_KEY_HINT.into(),
            }),
        }
    }
    let misspelled_top_level = r
        .errors
        .iter()
        .any(|e| e.message.starts_with("unknown key"));
    if !has_version && !misspelled_top_level {
        r.errors.push(ShapeError {
            span: 0..0,
            message: "missing key `version`".into(),
            label: "in this file".into(),
            hint: "start the file with `version = 1`".into(),
        });
    }
    r.errors.sort_by_key(|e| e.span.start);
    ReadFile {
        spec: Some(spec),
        broken: r.broken,
        errors: r.errors,
    }
}

/// The byte offset where the line holding `at` starts.
fn line_start(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    text.as_bytes()[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1)
}

/// The offset of the closest table header line (`[...]`) at or above `at`, or 0.
fn header_above(text: &str, at: usize) -> usize {
    let mut line = line_start(text, at);
    loop {
        if text[line..].trim_start().starts_with('[') || line == 0 {
            return line;
        }
        line = line_start(text, line - 1);
    }
}

const UNKNOWN_KEY_HINT: &str =
    "remove the key or fix its spelling; `slogen schema` prints every allowed key";

#[derive(Default)]
struct Reader<'t> {
    text: &'t str,
    /// Keys the last successful [`Reader::one`] dropped for their shape errors.
    dropped: Vec<String>,
    broken: Broken,
    errors: Vec<ShapeError>,
}

impl Reader<'_> {
    /// Reads every entry of a section table into `out`; entries that do not read go to `broken`.
    fn entries<T: DeserializeOwned>(
        &mut self,
        section: &str,
        value: Spanned<DeValue<'_>>,
        out: &mut BTreeMap<Name, Spanned<T>>,
        broken: impl Fn(&mut Broken) -> &mut Vec<String>,
    ) {
        let span = value.span();
        let DeValue::Table(table) = value.into_inner() else {
            self.errors.push(ShapeError {
                span,
                message: format!("`{section}` must be a table of named entries"),
                label: "expected a table".into(),
                hint: format!("write each entry as a `[{section}.<name>]` table"),
            });
            return;
        };
        for (key, value) in table {
            let name = Spanned::new(key.span(), key.get_ref().to_string());
            let path = format!("{section}.{}", key.get_ref());
            // An entry read only after dropping keys is still broken: what it would say without them (no
            // labels, a default window) would make follow-on errors elsewhere.
            let before = self.errors.len();
            match self.one::<Spanned<T>>(&path, value) {
                Some(entry) if self.errors.len() == before => {
                    out.insert(name, entry);
                }
                _ => broken(&mut self.broken).push(name.into_inner()),
            }
        }
    }

    /// Reads one value, dropping keys with shape errors (each reported) until the rest reads or a required
    /// key is missing; `None` when it cannot be read at all.
    fn one<T: DeserializeOwned>(&mut self, path: &str, value: Spanned<DeValue<'_>>) -> Option<T> {
        let mut value = value;
        if let Some(e) = list_of_tables(self.text, path, &value) {
            self.errors.push(e);
            return None;
        }
        let mut removed: Vec<String> = Vec::new();
        let mut removed_unknown = false;
        let mut previous_unknown = false;
        for _ in 0..MAX_RETRIES {
            let error = match T::deserialize(ValueDeserializer::from(value.clone())) {
                Ok(read) => {
                    self.dropped = removed;
                    return Some(read);
                }
                Err(e) => e,
            };
            let shape = from_toml(&error);
            // A key dropped for a wrong type is now missing: that is the same mistake, already reported. So
            // is a missing key in a table that had an unknown one: most likely its misspelling.
            let missing = error.message().starts_with("missing field");
            if removed
                .iter()
                .any(|k| error.message().contains(&format!("missing field `{k}`")))
                || (missing && removed_unknown)
            {
                return None;
            }
            let span = shape.span.clone();
            let unknown = shape.message.starts_with("unknown key");
            removed_unknown |= unknown;
            // Unknown keys of one table in a row are one mistake (often a lost table header): one error.
            match self
                .errors
                .last_mut()
                .filter(|_| previous_unknown && unknown)
            {
                Some(last) if last.label == shape.label => {
                    let key = shape.message.trim_start_matches("unknown key ");
                    let keys = last
                        .message
                        .trim_start_matches("unknown keys ")
                        .trim_start_matches("unknown key ");
                    last.message = format!("unknown keys {keys}, {key}");
                }
                _ => self.errors.push(shape),
            }
            previous_unknown = unknown;
            // Nothing to drop for a missing key: dropping the table that misses it would hide it.
            if missing {
                return None;
            }
            match remove_at(&mut value, &span) {
                Some(key) => removed.push(key),
                None => return None,
            }
        }
        None
    }
}

/// Keys that hold lists of tables; any other `[[...]]` header writes a list where the format has one table.
const LISTS_OF_TABLES: &[&str] = &[
    "service.alert_windows",
    "dashboard.panels",
    "dashboard.panels.queries",
];

/// A `[[header]]` (a list of tables) where one table is expected, said in the user's terms, anywhere in
/// `value`; `path` is the dotted key of `value`.
fn list_of_tables(text: &str, path: &str, value: &Spanned<DeValue<'_>>) -> Option<ShapeError> {
    match value.get_ref() {
        DeValue::Array(items) => {
            let all_tables = !items.is_empty() && items.iter().all(|i| i.get_ref().is_table());
            let header = text.get(value.span()).is_some_and(|t| t.starts_with("[["));
            if all_tables && header && !LISTS_OF_TABLES.contains(&path) {
                return Some(ShapeError {
                    span: value.span(),
                    message: format!(
                        "`{path}` is written as a list of tables (`[[{path}]]`), but it is one table"
                    ),
                    label: "double brackets".into(),
                    hint: format!("write the header with single brackets: `[{path}]`, once"),
                });
            }
            items.iter().find_map(|i| list_of_tables(text, path, i))
        }
        DeValue::Table(table) => table.iter().find_map(|(k, v)| {
            let path = format!("{path}.{}", k.get_ref());
            // Entries of the named sections are keyed by name: `metrics.x` is checked as `metrics`' entry.
            list_of_tables(text, &path, v)
        }),
        _ => None,
    }
}

/// Removes the innermost table entry whose key or value holds `span`; returns its key, or `None` when the
/// span is the value itself (a missing key or a wrong type of the whole value).
fn remove_at(value: &mut Spanned<DeValue<'_>>, span: &Range<usize>) -> Option<String> {
    let DeValue::Table(table) = value.get_mut() else {
        return None;
    };
    remove_in(table, span)
}

fn remove_in(table: &mut DeTable<'_>, span: &Range<usize>) -> Option<String> {
    // A table written under a `[header]` spans only its header, not its keys; but a table's keys always come
    // after its own key, so the entry holding `span` is the last one whose key starts at or before it.
    let key = table
        .keys()
        .filter(|k| k.span().start <= span.start)
        .max_by_key(|k| k.span().start)
        .cloned()?;
    let on_key = key.span().start <= span.start && span.end <= key.span().end;
    let inner = table.get_mut(&key)?;
    if inner.span() != *span && !on_key {
        if let DeValue::Table(t) = inner.get_mut() {
            if let Some(found) = remove_in(t, span) {
                return Some(found);
            }
        }
    }
    table.remove(&key);
    Some(key.get_ref().to_string())
}

/// A TOML or serde error, with its message in the user's terms and a hint.
fn from_toml(e: &toml::de::Error) -> ShapeError {
    let raw = e.message().trim();
    let first = raw.lines().next().unwrap_or_default();
    let message = first
        .replace("unknown field", "unknown key")
        .replace("missing field", "missing key")
        .replace("invalid type: map", "invalid type: table")
        .replace("invalid type: sequence", "invalid type: array")
        .replace("expected a sequence", "expected an array")
        .replace("expected a map", "expected a table")
        .replace("unknown variant", "unknown value");
    let message = struct_names_as_tables(&message);
    // `unknown key `x`, expected one of …`: the mistake above, what is expected under the snippet.
    let (message, label) = match message.split_once(", expected") {
        Some((what, expected)) => (what.to_string(), format!("expected{expected}")),
        None if first.starts_with("missing field") => (message, "in this table".to_string()),
        None if first.starts_with("duplicate key") => (message, "defined again here".to_string()),
        None => (message.clone(), message),
    };
    let hint = if first.starts_with("unknown field") {
        UNKNOWN_KEY_HINT
    } else if first.starts_with("missing field") {
        "add the missing key to this table"
    } else if first.starts_with("duplicate key") {
        "a key may appear once per table: remove or rename the second one"
    } else if first.starts_with("invalid type") || first.starts_with("unknown variant") {
        "change the value to the expected type; `slogen schema` describes each key"
    } else {
        "fix the TOML syntax at this position"
    };
    ShapeError {
        span: e.span().unwrap_or(0..0),
        message,
        label,
        hint: hint.into(),
    }
}

/// `expected struct MetricSpec` says nothing to someone writing TOML: it means a table.
fn struct_names_as_tables(message: &str) -> String {
    match message.find("expected struct ") {
        Some(at) => format!("{}expected a table", &message[..at]),
        None => message.to_string(),
    }
}
