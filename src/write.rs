//! Writing outputs: every changed file goes to a unique temporary file first, and only when all of them are
//! written are they renamed into place; `check` compares instead and reports drift as unified diffs.
//!
//! slogen writes, replaces and removes only files it wrote itself ([`owned`] decides which folder it may use
//! and what it owns there). Concurrent runs on the same specs end with one complete output: temp names are
//! unique and skipped by every walk, and a folder an output needs is never removed.

pub mod owned;

use std::collections::BTreeSet;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{anyhow, bail, Context, Result};

use crate::emit::Output;
use owned::{Kind, OutDir, MANIFEST, TEMP_PREFIX};

/// What `write` did, for the CLI's summary line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Files created or changed.
    pub written: Vec<String>,
    /// Files left as they were.
    pub unchanged: usize,
    /// Files slogen wrote before and no longer generates, removed.
    pub removed: Vec<String>,
    /// Files slogen did not write, left alone.
    pub foreign: Vec<String>,
}

/// The outputs plus the manifest that lists them all (itself included), sorted by path.
fn with_manifest(outputs: &[Output]) -> Vec<Output> {
    let mut paths: BTreeSet<&str> = outputs.iter().map(|o| o.path.as_str()).collect();
    paths.insert(MANIFEST);
    let manifest = Output {
        path: MANIFEST.into(),
        contents: owned::manifest(&paths),
    };
    let mut all: Vec<Output> = outputs
        .iter()
        .filter(|o| o.path != MANIFEST)
        .cloned()
        .chain(std::iter::once(manifest))
        .collect();
    all.sort_by(|a, b| a.path.cmp(&b.path));
    all
}

/// Writes every output (and the manifest) under `out`, touching only files whose contents change, and
/// removes the files slogen wrote before and no longer generates. All contents are computed before this
/// runs, so bad input never reaches the disk; `slos` is the spec folder, which `out` must not hold.
pub fn write(out: &Path, slos: &Path, outputs: &[Output]) -> Result<WriteSummary> {
    let outputs = with_manifest(outputs);
    let dir = owned::open(out, slos, &outputs)?;
    let paths: BTreeSet<&str> = outputs.iter().map(|o| o.path.as_str()).collect();
    let mut summary = WriteSummary {
        foreign: dir.foreign(&paths),
        ..WriteSummary::default()
    };
    let mut staged = Staged::default();
    if let Err(e) = stage(&dir, &outputs, &mut staged, &mut summary) {
        staged.abandon();
        return Err(e.context(format!(
            "cannot write {}; nothing in it was replaced",
            dir.shown.display()
        )));
    }
    let files = std::mem::take(&mut staged.files);
    let temps: Vec<PathBuf> = files.iter().map(|(tmp, _, _)| tmp.clone()).collect();
    let result = commit(&dir, files, &paths, &mut summary);
    if result.is_err() {
        // Moved files are gone from their temporary names already; the rest must not stay behind.
        for tmp in temps {
            let _ = std::fs::remove_file(tmp);
        }
    }
    result.map(|()| summary)
}

/// Moves the staged files into place and removes orphans, in the order that keeps the manifest on disk
/// listing every file of slogen's there, so a concurrent run never takes one for a file it did not write:
/// 1. when new paths appear, the manifest claims them first (with the orphans still listed, if any);
/// 2. the outputs are renamed into place;
/// 3. orphans and the folders they leave empty are removed;
/// 4. the final manifest is renamed into place.
fn commit(
    dir: &OutDir,
    mut files: Vec<(PathBuf, PathBuf, String)>,
    paths: &BTreeSet<&str>,
    summary: &mut WriteSummary,
) -> Result<()> {
    let mut manifest: Vec<_> = files
        .iter()
        .position(|(_, _, rel)| rel == MANIFEST)
        .map(|i| files.remove(i))
        .into_iter()
        .collect();
    let orphans: Vec<&String> = dir
        .owned
        .iter()
        .filter(|p| !paths.contains(p.as_str()))
        .collect();
    if !manifest.is_empty() && paths.iter().any(|p| !dir.owned.contains(*p)) {
        if orphans.is_empty() {
            place(&manifest.split_off(0), summary)?;
        } else {
            let mut claim = paths.clone();
            claim.extend(dir.owned.iter().map(String::as_str));
            let tmp = create_temp(&dir.root, owned::manifest(&claim).as_bytes())
                .context("cannot write the manifest")?;
            let interim = [(tmp, dir.root.join(MANIFEST), String::new())];
            if let Err(e) = place(&interim, summary) {
                let _ = std::fs::remove_file(&interim[0].0);
                return Err(e);
            }
        }
    }
    place(&files, summary)?;
    for orphan in orphans {
        if remove_orphan(&dir.root, orphan)? {
            summary.removed.push(orphan.clone());
        }
    }
    remove_emptied_dirs(&dir.root, &summary.removed, paths);
    place(&manifest, summary)
}

/// Renames staged files into place in order (an empty relative path is an interim manifest, not counted).
fn place(files: &[(PathBuf, PathBuf, String)], summary: &mut WriteSummary) -> Result<()> {
    for (tmp, target, rel) in files {
        std::fs::rename(tmp, target)
            .with_context(|| format!("cannot move {} into place", target.display()))?;
        if !rel.is_empty() {
            summary.written.push(rel.clone());
        }
    }
    Ok(())
}

/// Temporary files written so far, and folders created for them.
#[derive(Default)]
struct Staged {
    /// (temporary file, target, relative path).
    files: Vec<(PathBuf, PathBuf, String)>,
    created_dirs: Vec<PathBuf>,
}

impl Staged {
    /// Removes every temporary file and every folder created for them that is still empty: a failed run
    /// leaves the previous output as it was.
    fn abandon(&mut self) {
        for (tmp, _, _) in self.files.drain(..) {
            let _ = std::fs::remove_file(tmp);
        }
        for dir in self.created_dirs.drain(..).rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Writes each changed output to a temporary file beside its target.
fn stage(
    dir: &OutDir,
    outputs: &[Output],
    staged: &mut Staged,
    summary: &mut WriteSummary,
) -> Result<()> {
    for output in outputs {
        let parent = ensure_parent(&dir.root, &output.path, staged)?;
        let target = dir.root.join(&output.path);
        match owned::kind(&target).with_context(|| format!("cannot inspect {}", target.display()))? {
            Some(Kind::File)
                if std::fs::read(&target).ok().as_deref() == Some(output.contents.as_bytes()) =>
            {
                summary.unchanged += 1;
                continue;
            }
            Some(Kind::File) | None => {}
            Some(Kind::Symlink) => bail!(
                "{} is a symlink where slogen writes `{}`\n  = help: slogen never writes through symlinks; remove the link",
                target.display(),
                output.path
            ),
            Some(_) => bail!(
                "{} is in the way of the file `{}`: it is not a regular file, and slogen did not write it\n  = help: move it away and run again",
                target.display(),
                output.path
            ),
        }
        let tmp = write_temp(dir, output, parent, staged)?;
        staged.files.push((tmp, target, output.path.clone()));
    }
    Ok(())
}

/// Writes one temporary file into `parent`. When a concurrent run removes a folder that was just created (it
/// emptied it of its own orphans), the folder is created again.
fn write_temp(
    dir: &OutDir,
    output: &Output,
    parent: PathBuf,
    staged: &mut Staged,
) -> Result<PathBuf> {
    let mut parent = parent;
    let mut attempts = 0;
    loop {
        match create_temp(&parent, output.contents.as_bytes()) {
            Ok(tmp) => return Ok(tmp),
            Err(e) if e.kind() == ErrorKind::NotFound && attempts < 5 => {
                attempts += 1;
                parent = ensure_parent(&dir.root, &output.path, staged)?;
            }
            Err(e) => {
                return Err(anyhow!(e).context(format!("cannot write into {}", parent.display())))
            }
        }
    }
}

/// Creates the folders above `rel` inside `root`, one by one, refusing a symlink or a file in the way.
fn ensure_parent(root: &Path, rel: &str, staged: &mut Staged) -> Result<PathBuf> {
    if owned::kind(root)?.is_none() {
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create {}", root.display()))?;
    }
    let mut dir = root.to_path_buf();
    let Some((folders, _)) = rel.rsplit_once('/') else {
        return Ok(dir);
    };
    for part in folders.split('/') {
        dir.push(part);
        match owned::kind(&dir).with_context(|| format!("cannot inspect {}", dir.display()))? {
            Some(Kind::Dir) => {}
            None => match std::fs::create_dir(&dir) {
                Ok(()) => staged.created_dirs.push(dir.clone()),
                Err(e)
                    if e.kind() == ErrorKind::AlreadyExists
                        && owned::kind(&dir)? == Some(Kind::Dir) => {}
                Err(e) => return Err(anyhow!(e).context(format!("cannot create {}", dir.display()))),
            },
            Some(Kind::Symlink) => bail!(
                "{} is a symlink where slogen needs a folder for `{rel}`\n  = help: slogen never writes through symlinks; remove the link",
                dir.display()
            ),
            Some(_) => bail!(
                "{} is in the way of the folder slogen needs for `{rel}`: it is not a folder, and slogen did not write it\n  = help: move it away and run again",
                dir.display()
            ),
        }
    }
    Ok(dir)
}

/// Process-wide counter that, with the process id, makes temp names unique.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Creates a new temporary file in `dir` (never opening an existing file, nor a symlink) holding `bytes`.
fn create_temp(dir: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    loop {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{TEMP_PREFIX}{}.{n}", std::process::id()));
        let mut file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        if let Err(e) = file.write_all(bytes) {
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        return Ok(path);
    }
}

/// Removes one file slogen wrote and no longer generates, unless something other than a regular file inside
/// real folders is there now (that is not slogen's to remove). True when it was removed.
fn remove_orphan(root: &Path, rel: &str) -> Result<bool> {
    let mut path = root.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        let want = if i + 1 == parts.len() {
            Kind::File
        } else {
            Kind::Dir
        };
        if owned::kind(&path)? != Some(want) {
            return Ok(false);
        }
    }
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(anyhow!(e).context(format!("cannot remove {}", path.display()))),
    }
}

/// Removes the folders that held removed files and are now empty, deepest first; never one an output needs
/// (a concurrent run may be writing into it) and never a non-empty one.
fn remove_emptied_dirs(root: &Path, removed: &[String], outputs: &BTreeSet<&str>) {
    let mut dirs = BTreeSet::new();
    for rel in removed {
        let mut rest = rel.as_str();
        while let Some((parent, _)) = rest.rsplit_once('/') {
            dirs.insert(parent.to_string());
            rest = parent;
        }
    }
    for dir in dirs.iter().rev() {
        let needed = outputs.iter().any(|o| {
            o.strip_prefix(dir.as_str())
                .is_some_and(|r| r.starts_with('/'))
        });
        let path = root.join(dir);
        if !needed && owned::kind(&path).ok().flatten() == Some(Kind::Dir) {
            let _ = std::fs::remove_dir(path);
        }
    }
}

/// One way the directory differs from what would be generated.
#[derive(Debug, PartialEq, Eq)]
pub enum Drift {
    /// The file should exist and does not.
    Missing(String),
    /// The file differs; the unified diff from disk to expected.
    Stale(String, String),
    /// Something other than a regular file is where the output goes.
    NotAFile(String),
    /// slogen wrote the file and no longer generates it; `generate` removes it.
    Orphan(String),
    /// slogen did not write the file; `generate` leaves it, so it must be removed by hand.
    Foreign(String),
}

/// Compares `out` with the outputs (and the manifest) without writing anything; refuses the same folders
/// `write` refuses.
pub fn check(out: &Path, slos: &Path, outputs: &[Output]) -> Result<Vec<Drift>> {
    let outputs = with_manifest(outputs);
    let dir = owned::open(out, slos, &outputs)?;
    let paths: BTreeSet<&str> = outputs.iter().map(|o| o.path.as_str()).collect();
    let mut drift = Vec::new();
    for output in &outputs {
        let path = dir.root.join(&output.path);
        match owned::kind(&path)? {
            None => drift.push(Drift::Missing(output.path.clone())),
            Some(Kind::File) => {
                let bytes = std::fs::read(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                if bytes != output.contents.as_bytes() {
                    let diff = diff(&output.path, &bytes, &output.contents);
                    drift.push(Drift::Stale(output.path.clone(), diff));
                }
            }
            Some(_) => drift.push(Drift::NotAFile(output.path.clone())),
        }
    }
    for orphan in dir.owned.iter().filter(|p| !paths.contains(p.as_str())) {
        if dir.entries.contains_key(orphan) {
            drift.push(Drift::Orphan(orphan.clone()));
        }
    }
    drift.extend(dir.foreign(&paths).into_iter().map(Drift::Foreign));
    Ok(drift)
}

/// The unified diff from what is on disk to what slogen generates.
fn diff(path: &str, on_disk: &[u8], expected: &str) -> String {
    let on_disk = String::from_utf8_lossy(on_disk);
    similar::TextDiff::from_lines(on_disk.as_ref(), expected)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}
