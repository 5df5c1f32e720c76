//! `slogen import openslo`: OpenSLO files to spec files, checked by lowering them with the model.
//!
//! A slogen export imports back through its annotations: the service file's text, the shared files, each
//! SLO's SLI and the rest of its table. OpenSLO's own fields win where they disagree (an edited target,
//! window, query or condition). Another tool's files become one spec file per service, with query SLIs and
//! the alert windows their burn-rate conditions describe. The spec is lowered twice: once with every value
//! explicit, then without the values its tiers and defaults already give.

mod plan;
mod windows;
mod write;

use std::collections::BTreeMap;
use std::ops::Range;

use super::annotations as key;
use super::check::{At, Problems};
use super::read::{self, Objects};
use super::render::{Origin, Writer};
use super::resolve::{resolve, Group};
use crate::model::lower::Problem;
use crate::model::{self, Model, SourceFile};
use crate::yaml;
use plan::Plan;

/// Imports `inputs`; the spec files to write (name, text), or the rendered problems. `shown_dir` names the
/// output folder in diagnostics and in the paths the model sees.
pub fn import(inputs: &[SourceFile], shown_dir: &str) -> Result<Vec<(String, String)>, String> {
    let mut p = Problems::default();
    let mut objects = Objects::default();
    for (id, f) in inputs.iter().enumerate() {
        match yaml::parse(&f.text) {
            Ok(parsed) => {
                let at = |span| At { file: id, span };
                for r in &parsed.repeated {
                    p.repeated_key(&at(r.again.clone()), &at(r.first.clone()), &r.key);
                }
                for d in &parsed.docs {
                    read::document(id, d, &mut objects, &mut p);
                }
            }
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
pub(super) fn is_file_name(name: &str) -> bool {
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
                let (_, text, writer, shared) = &files[label.file_id];
                let origin = match (writer, shared) {
                    (Some(w), _) => w.origin_of(&label.range).cloned(),
                    (None, Some(at)) => Some(Origin {
                        range: 0..text.len(),
                        at: (*at).clone(),
                        block: Some((text.clone(), 0)),
                    }),
                    (None, None) => None,
                };
                match origin {
                    Some(o) => {
                        let yaml = &inputs[o.at.file].text;
                        label.range = in_block(yaml, &o, &label.range, text)
                            .unwrap_or_else(|| o.at.span.clone());
                        label.file_id = o.at.file;
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

/// The YAML bytes of `range` (of the written `toml`) when its origin is a literal block annotation copied
/// unchanged: each line of the annotation is a line of the YAML, indented as the block's first line.
fn in_block(yaml: &str, o: &Origin, range: &Range<usize>, toml: &str) -> Option<Range<usize>> {
    let (annotation, from) = o.block.as_ref()?;
    let first_line = yaml[..o.at.span.start].rfind('\n').map_or(0, |i| i + 1);
    let indent = o.at.span.start - first_line;
    let place = |at: usize| -> Option<usize> {
        let offset = from + at.checked_sub(o.range.start)?;
        let before = annotation.get(..offset)?;
        let line = before.matches('\n').count();
        let col = offset - before.rfind('\n').map_or(0, |i| i + 1);
        let mut start = first_line;
        for _ in 0..line {
            start += yaml[start..].find('\n')? + 1;
        }
        Some(start + indent + col)
    };
    let mapped = place(range.start)?..place(range.end)?;
    (yaml.get(mapped.clone())? == toml.get(range.clone())?).then_some(mapped)
}
