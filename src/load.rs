//! Reads the spec directory: every `*.toml` file, sorted by name, so the order never depends on the file system.

use std::path::Path;

use anyhow::{Context, Result};

use crate::model::SourceFile;

/// Reads `dir/*.toml` in name order. Paths are shown as `<dir name>/<file>`, so diagnostics and generated
/// headers do not depend on where the checkout lives.
pub fn spec_dir(dir: &Path) -> Result<Vec<SourceFile>> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir)
        .with_context(|| format!("cannot read spec directory {}", dir.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    if paths.is_empty() {
        anyhow::bail!("no *.toml files in {}", dir.display());
    }
    let shown_dir = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(SourceFile {
                path: format!("{shown_dir}/{name}"),
                text,
            })
        })
        .collect()
}
