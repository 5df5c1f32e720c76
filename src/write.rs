//! Writing outputs: each changed file goes to a temporary file and is renamed into place; `check` compares
//! instead and reports drift as unified diffs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::emit::Output;

/// What `write` did, for the CLI's summary line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Files created or changed.
    pub written: Vec<String>,
    /// Files left as they were.
    pub unchanged: usize,
    /// Orphan files removed.
    pub removed: Vec<String>,
}

/// Writes every output under `dir`, touching only files whose contents change, and removes files that slogen
/// no longer generates. All contents are computed before this runs, so bad input never reaches the disk.
pub fn write(dir: &Path, outputs: &[Output]) -> Result<WriteSummary> {
    let mut summary = WriteSummary::default();
    for output in outputs {
        let path = dir.join(&output.path);
        if std::fs::read(&path).ok().as_deref() == Some(output.contents.as_bytes()) {
            summary.unchanged += 1;
            continue;
        }
        let parent = path.parent().unwrap_or(dir);
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        let tmp = parent.join(format!(".{}.slogen-tmp", file_name(&path)));
        std::fs::write(&tmp, &output.contents)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path)
            .with_context(|| format!("cannot move {} into place", path.display()))?;
        summary.written.push(output.path.clone());
    }
    for orphan in orphans(dir, outputs)? {
        std::fs::remove_file(dir.join(&orphan))
            .with_context(|| format!("cannot remove orphan {orphan}"))?;
        summary.removed.push(orphan);
    }
    remove_empty_dirs(dir)?;
    Ok(summary)
}

/// One way the directory differs from what would be generated.
#[derive(Debug, PartialEq, Eq)]
pub enum Drift {
    /// The file should exist and does not.
    Missing(String),
    /// The file differs; the unified diff from disk to expected.
    Stale(String, String),
    /// The file exists but slogen does not generate it.
    Orphan(String),
}

/// Compares `dir` with the outputs without writing anything.
pub fn check(dir: &Path, outputs: &[Output]) -> Result<Vec<Drift>> {
    let mut drift = Vec::new();
    for output in outputs {
        let path = dir.join(&output.path);
        match std::fs::read(&path) {
            Err(_) => drift.push(Drift::Missing(output.path.clone())),
            Ok(bytes) if bytes == output.contents.as_bytes() => {}
            Ok(bytes) => {
                let on_disk = String::from_utf8_lossy(&bytes);
                let diff =
                    similar::TextDiff::from_lines(on_disk.as_ref(), output.contents.as_str())
                        .unified_diff()
                        .context_radius(3)
                        .header(&format!("a/{}", output.path), &format!("b/{}", output.path))
                        .to_string();
                drift.push(Drift::Stale(output.path.clone(), diff));
            }
        }
    }
    drift.extend(orphans(dir, outputs)?.into_iter().map(Drift::Orphan));
    Ok(drift)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Files under `dir` that no output names, as `/`-separated relative paths.
fn orphans(dir: &Path, outputs: &[Output]) -> Result<Vec<String>> {
    let expected: BTreeSet<&str> = outputs.iter().map(|o| o.path.as_str()).collect();
    let mut found = Vec::new();
    if dir.exists() {
        walk(dir, &mut found)?;
    }
    let mut orphans: Vec<String> = found
        .into_iter()
        .filter_map(|p| {
            p.strip_prefix(dir)
                .ok()
                .map(|r| r.to_string_lossy().replace('\\', "/"))
        })
        .filter(|p| !expected.contains(p.as_str()))
        .collect();
    orphans.sort();
    Ok(orphans)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn remove_empty_dirs(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            remove_empty_dirs(&path)?;
            if std::fs::read_dir(&path)?.next().is_none() {
                std::fs::remove_dir(&path)?;
            }
        }
    }
    Ok(())
}
