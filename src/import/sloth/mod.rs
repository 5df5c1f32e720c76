//! `slogen import sloth`: Sloth's `prometheus/v1` specs, its Kubernetes `PrometheusServiceLevel` and its
//! `AlertWindows` (`sloth.slok.dev/v1`) → one slogen spec per service.
//!
//! The imported alerts behave as Sloth's: the same windows and burn-rate factors, no `for`, no low-traffic guard,
//! the same alert name, labels and annotations (Sloth's default `title` and `summary` rendered for the SLO, as
//! slogen's SLO annotations are static). What has no slogen equivalent (SLI plugins, SLO plugin chains, per-SLO
//! labels, rule group intervals) is an error at its place in the file.

mod slo;
pub mod windows;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use codespan_reporting::diagnostic::{Diagnostic, Label};

use super::read::NodeExt as _;
use super::{ImportedService, Problems, Sourced, StringMap};
use crate::conventions;
use crate::model::lower::{Problem, SourceFile};
use crate::model::Duration;
use crate::yaml::{self, Node};
use windows::Windows;

/// Sloth's SLO period when none is given, as its `--default-slo-period`.
pub const DEFAULT_PERIOD: &str = "30d";

/// What the two spellings of a Sloth SLO group call their keys.
#[derive(Debug, Clone, Copy)]
struct Dialect {
    /// Kubernetes CRD (camelCase keys) rather than `prometheus/v1` (snake_case).
    k8s: bool,
}

impl Dialect {
    fn key(self, snake: &'static str, camel: &'static str) -> &'static str {
        if self.k8s {
            camel
        } else {
            snake
        }
    }
}

/// A Sloth SLO group (one service) found in the inputs, before windows are chosen.
struct Group<'n> {
    file: usize,
    dialect: Dialect,
    /// The map holding `service`, `labels`, `slos`.
    body: &'n Node,
    /// How the header names the document.
    what: String,
}

/// Imports every Sloth document in `inputs` for the SLO period `period` (`30d` when `None`), checking the specs
/// that would be written into `out_dir`; the error is the rendered diagnostics.
pub fn import(
    inputs: &[SourceFile],
    period: Option<&str>,
    out_dir: &Path,
) -> Result<super::Imported, String> {
    let services = read(inputs, period)?;
    super::check(inputs, &services, out_dir)
}

/// Reads every Sloth document in `inputs` into services, in name order, without checking them with the model.
pub fn read(inputs: &[SourceFile], period: Option<&str>) -> Result<Vec<ImportedService>, String> {
    let period_text = period.unwrap_or(DEFAULT_PERIOD);
    let Some(period) = windows::prometheus_duration(period_text)
        .filter(|s| *s > 0)
        .map(|seconds| Duration { seconds })
    else {
        return Err(format!(
            "error: `--slo-period {period_text}` is not a duration\nhelp: give Sloth's SLO period as a Prometheus duration, e.g. `30d` or `28d`\n"
        ));
    };
    let (docs, mut file_problems): (Vec<Vec<Node>>, Vec<Problems>) = inputs
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut p = Problems::new(i);
            let docs = match yaml::parse(&f.text) {
                Ok(parsed) => {
                    for r in parsed.repeated {
                        p.duplicate(r.again, r.first, &format!("key `{}`", r.key));
                    }
                    parsed.docs
                }
                Err(e) => {
                    p.error(
                        e.at..e.at,
                        "invalid YAML",
                        e.message,
                        "fix the YAML syntax; Sloth could not read this file either",
                    );
                    Vec::new()
                }
            };
            (docs, p)
        })
        .unzip();
    let mut groups = Vec::new();
    let mut catalog: Vec<Windows> = Vec::new();
    for (file, docs) in docs.iter().enumerate() {
        for doc in docs.iter().filter(|d| !d.is_null()) {
            let p = &mut file_problems[file];
            classify(file, &inputs[file].path, doc, p, &mut groups, &mut catalog);
        }
    }
    let mut problems: Vec<Problem> = file_problems.into_iter().flat_map(|p| p.list).collect();
    let windows = choose_windows(catalog, period, period_text, &mut problems);
    let mut services = Vec::new();
    if let Some(windows) = &windows {
        for g in &groups {
            let mut p = Problems::new(g.file);
            if let Some(s) = slo::service(g, windows, &inputs[g.file], &mut p) {
                services.push(s);
            }
            problems.extend(p.list);
        }
    }
    duplicate_services(&services, &mut problems);
    if !problems.is_empty() {
        sort(&mut problems);
        return Err(crate::diagnostics::render(inputs, &problems));
    }
    if services.is_empty() {
        return Err("error: no Sloth SLO specs in the input files (only AlertWindows); nothing was written\nhelp: pass the `prometheus/v1` or `PrometheusServiceLevel` files too\n".into());
    }
    services.sort_by(|a, b| a.name.value.cmp(&b.name.value));
    Ok(services)
}

/// Sorts problems by file and position, as the model does.
fn sort(problems: &mut [Problem]) {
    problems.sort_by_key(|d| {
        d.labels
            .first()
            .map(|l| (l.file_id, l.range.start))
            .unwrap_or((usize::MAX, 0))
    });
}

/// Files one document as an SLO group or alert windows, or reports what it is not.
fn classify<'n>(
    file: usize,
    path: &str,
    doc: &'n Node,
    p: &mut Problems,
    groups: &mut Vec<Group<'n>>,
    catalog: &mut Vec<Windows>,
) {
    let yaml::Kind::Map(entries) = &doc.kind else {
        p.error(doc.head(), "not a Sloth document", format!("found {}", doc.shape()), "a Sloth spec is a mapping with `version: prometheus/v1`, or `apiVersion: sloth.slok.dev/v1` and a `kind`");
        return;
    };
    let get = |k: &str| entries.iter().find(|(key, _)| key.text() == k);
    if let Some((key, version)) = get("version") {
        if version.text() == "prometheus/v1" {
            groups.push(Group {
                file,
                dialect: Dialect { k8s: false },
                body: doc,
                what: format!("{path} (Sloth `prometheus/v1`)"),
            });
        } else {
            p.error(version.head(), format!("unsupported Sloth spec version `{}`", version.text()), "not `prometheus/v1`", "slogen imports Sloth's `prometheus/v1` specs, its `sloth.slok.dev/v1` Kubernetes resources and `AlertWindows`; for OpenSLO use `slogen import openslo`");
            let _ = key;
        }
        return;
    }
    let Some((api_key, api)) = get("apiVersion") else {
        p.error(doc.span.start..doc.span.start, "not a Sloth document", "no `version` or `apiVersion`", "a Sloth spec starts with `version: \"prometheus/v1\"`, a Kubernetes one with `apiVersion: sloth.slok.dev/v1`");
        return;
    };
    if api.text() != "sloth.slok.dev/v1" {
        p.error(
            api.head(),
            format!("unsupported apiVersion `{}`", api.text()),
            "not a Sloth resource",
            "slogen imports `sloth.slok.dev/v1` resources; for OpenSLO use `slogen import openslo`",
        );
        return;
    }
    let kind = get("kind").map(|(_, k)| k);
    let mut f = match doc.fields(p, "the document") {
        Some(f) => f,
        None => return,
    };
    let _ = f.take("apiVersion");
    let _ = f.take("kind");
    let metadata = f.take("metadata");
    let _ = f.take("status");
    let spec = f.take_entry("spec");
    f.finish(p, &["apiVersion", "kind", "metadata", "spec", "status"]);
    let Some((spec_key, spec)) = spec else {
        p.error(
            api_key.head(),
            "Sloth resource without `spec`",
            "no spec",
            "add the resource's `spec:`",
        );
        return;
    };
    match kind.map(Node::text) {
        Some("PrometheusServiceLevel") => {
            let name = metadata
                .and_then(|m| match &m.kind {
                    yaml::Kind::Map(e) => {
                        let v = |k: &str| {
                            e.iter()
                                .find(|(key, _)| key.text() == k)
                                .map(|(_, v)| v.text().to_string())
                        };
                        Some(match (v("namespace"), v("name")) {
                            (Some(ns), Some(n)) => format!(" `{ns}/{n}`"),
                            (None, Some(n)) => format!(" `{n}`"),
                            _ => String::new(),
                        })
                    }
                    _ => None,
                })
                .unwrap_or_default();
            groups.push(Group {
                file,
                dialect: Dialect { k8s: true },
                body: spec,
                what: format!("{path} (Sloth `PrometheusServiceLevel`{name})"),
            });
        }
        Some("AlertWindows") => {
            if let Some(w) = windows::read(file, spec_key.head(), spec, p) {
                catalog.push(w);
            }
        }
        other => {
            let span = kind.map_or(api.head(), |k| k.head());
            p.error(
                span,
                format!("unsupported Sloth kind `{}`", other.unwrap_or("")),
                "not imported",
                "slogen imports `PrometheusServiceLevel` and `AlertWindows`",
            );
        }
    }
}

/// Sloth's windows for `period`: from the `AlertWindows` given (which then replace the built-in catalog, as in
/// Sloth), else the built-in 30d or 28d ones.
fn choose_windows(
    catalog: Vec<Windows>,
    period: Duration,
    period_text: &str,
    problems: &mut Vec<Problem>,
) -> Option<Windows> {
    let mut seen: BTreeMap<Duration, (usize, Range<usize>)> = BTreeMap::new();
    for w in &catalog {
        let Some((file, span)) = &w.defined_at else {
            continue;
        };
        if let Some((f0, s0)) = seen.get(&w.period) {
            problems.push(
                Diagnostic::error()
                    .with_message(format!(
                        "two AlertWindows for the SLO period {}",
                        w.period.promql()
                    ))
                    .with_labels(vec![
                        Label::primary(*file, span.clone()).with_message("defined again here"),
                        Label::secondary(*f0, s0.clone()).with_message("first defined here"),
                    ])
                    .with_notes(vec![
                        "help: Sloth refuses this too: keep one AlertWindows per period".into(),
                    ]),
            );
        } else {
            seen.insert(w.period, (*file, span.clone()));
        }
    }
    let custom = !catalog.is_empty();
    let all = if custom { catalog } else { windows::builtin() };
    if let Some(w) = all.iter().find(|w| w.period == period) {
        return Some(w.clone());
    }
    let have: Vec<String> = all.iter().map(|w| w.period.promql()).collect();
    match all.first().and_then(|w| w.defined_at.clone()) {
        Some((file, span)) => problems.push(
            Diagnostic::error()
                .with_message(format!("no AlertWindows for the SLO period {period_text}"))
                .with_labels(vec![Label::primary(file, span).with_message(format!("windows for {}", have.join(", ")))])
                .with_notes(vec![format!(
                    "help: AlertWindows given to the import replace Sloth's built-in 30d and 28d windows, as in Sloth; pass `--slo-period {}`, or AlertWindows for {period_text}",
                    have[0]
                )]),
        ),
        None => problems.push(Diagnostic::error().with_message(format!(
            "Sloth has no built-in alert windows for the SLO period {period_text} (only 30d and 28d)"
        )).with_notes(vec!["help: pass the AlertWindows file Sloth used for this period along with the specs".into()])),
    }
    None
}

/// A service name that two documents use: slogen keeps one spec (and one file) per service.
fn duplicate_services(services: &[ImportedService], problems: &mut Vec<Problem>) {
    let mut first: BTreeMap<&str, &ImportedService> = BTreeMap::new();
    for s in services {
        match first.get(s.name.value.as_str()) {
            Some(f) => problems.push(
                Diagnostic::error()
                    .with_message(format!("service `{}` is imported twice", s.name.value))
                    .with_labels(vec![
                        Label::primary(s.file, s.origin.clone()).with_message("again here"),
                        Label::secondary(f.file, f.origin.clone()).with_message("first here"),
                    ])
                    .with_notes(vec!["help: slogen keeps one spec per service: merge the two documents' SLOs into one, or rename one service".into()]),
            ),
            None => {
                first.insert(&s.name.value, s);
            }
        }
    }
}

/// A number written in the input, as text slogen reads exactly (`99.9` stays `99.9`).
fn number(node: &Node, p: &mut Problems, what: &str) -> Option<String> {
    let text = node.string(p, what)?;
    let t = text.trim();
    let decimal = |s: &str| {
        let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
        !int.is_empty()
            && int.chars().all(|c| c.is_ascii_digit())
            && !frac.is_empty()
            && frac.chars().all(|c| c.is_ascii_digit())
    };
    if decimal(t) {
        return Some(t.to_string());
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Some(v.to_string()),
        _ => {
            p.error(
                node.head(),
                format!("{what} `{text}` is not a number"),
                "not a number",
                "write a decimal number such as `99.9`",
            );
            None
        }
    }
}

/// A label or annotation map of the input, each value keeping its place.
fn string_map(node: Option<&Node>, p: &mut Problems, what: &str) -> StringMap {
    node.map(|n| {
        n.string_map(p, what)
            .into_iter()
            .map(|(k, (v, span))| (k, Sourced::at(v, span)))
            .collect()
    })
    .unwrap_or_default()
}

/// Reports a Sloth feature slogen has no equivalent for, when the document uses it.
fn unsupported(node: Option<(&Node, &Node)>, p: &mut Problems, what: &str, help: &str) {
    if let Some((key, value)) = node {
        let empty = match &value.kind {
            yaml::Kind::Map(e) => e.is_empty(),
            yaml::Kind::Seq(s) => s.is_empty(),
            yaml::Kind::Scalar { .. } => value.is_null(),
        };
        if !empty {
            p.error(
                key.head(),
                format!("{what} cannot be imported"),
                "no slogen equivalent",
                help,
            );
        }
    }
}

/// Sloth's SLO id and names as its rules print them, for annotation texts rendered from its templates.
struct SlothNames<'a> {
    service: &'a str,
    slo: &'a str,
    labels: &'a StringMap,
}

impl SlothNames<'_> {
    /// The text Sloth's alert would show: `{{$labels.X}}` of the labels every SLO series carries replaced by
    /// their values; other template actions are kept for the model to judge.
    fn render(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                rest = &rest[start..];
                break;
            };
            let action = after[..end].trim();
            let value = action
                .strip_prefix("$labels.")
                .and_then(|label| self.value(label));
            match value {
                Some(v) => out.push_str(&v),
                None => out.push_str(&rest[start..start + 2 + end + 2]),
            }
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        out
    }

    fn value(&self, label: &str) -> Option<String> {
        match label {
            "sloth_service" => Some(self.service.to_string()),
            "sloth_slo" => Some(self.slo.to_string()),
            "sloth_id" => Some(format!("{}-{}", self.service, self.slo)),
            other => self.labels.get(other).map(|v| v.value.clone()),
        }
    }
}

/// A name of the input in slogen's snake_case; reported when nothing is left of it.
fn snake(node: &Node, text: &str, p: &mut Problems, what: &str) -> Option<String> {
    let name = conventions::snake_case(text);
    if name.is_empty() {
        p.error(
            node.head(),
            format!("{what} `{text}` has no letters or digits"),
            "no name left",
            "give it a name of letters, digits, `-` or `_`",
        );
        return None;
    }
    Some(name)
}
