//! Reads the spec directory: every `*.toml` file, sorted by name, so the order never depends on the file system.

use std::path::Path;

use anyhow::{Context, Result};
use codespan_reporting::diagnostic::{Diagnostic, Label};

use crate::model::lower::Problem;
use crate::model::SourceFile;

/// Spec files that are not UTF-8 (TOML must be), with a positioned problem at the first invalid byte of each.
/// `spec_dir` returns it inside its error so the CLI renders it like every other diagnostic.
#[derive(Debug)]
pub struct NotUtf8 {
    /// Every spec file read, the invalid ones decoded lossily so the snippets show where the bytes are.
    pub files: Vec<SourceFile>,
    /// One problem per file that is not UTF-8, pointing into `files` by index.
    pub problems: Vec<Problem>,
}

/// The rendered diagnostics, so callers that only print the error (such as `slogen-load`) show positions too.
impl std::fmt::Display for NotUtf8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(crate::diagnostics::render(&self.files, &self.problems).trim_end())
    }
}

impl std::error::Error for NotUtf8 {}

/// Reads `dir/*.toml` in name order. Paths are shown as `<dir name>/<file>`, so diagnostics and generated
/// headers do not depend on where the checkout lives. A file that is not UTF-8 makes the error a [`NotUtf8`].
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
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = format!("{shown_dir}/{name}");
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                problems.push(not_utf8(files.len(), e.utf8_error(), e.as_bytes()));
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }
        };
        files.push(SourceFile { path, text });
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(NotUtf8 { files, problems }.into())
    }
}

/// The problem at the first invalid byte. Everything before it is valid, so its offset is the same in the
/// lossily decoded text, where it reads as one `U+FFFD` (3 bytes).
fn not_utf8(file: usize, error: std::str::Utf8Error, bytes: &[u8]) -> Problem {
    let at = error.valid_up_to();
    let shown: Vec<String> = bytes[at..]
        .iter()
        .take(error.error_len().unwrap_or(bytes.len() - at).max(1))
        .map(|b| format!("0x{b:02X}"))
        .collect();
    Diagnostic::error()
        .with_message("the file is not UTF-8 text")
        .with_labels(vec![Label::primary(file, at..at + 3).with_message(format!(
            "byte {} is not valid UTF-8",
            shown.join(" ")
        ))])
        .with_notes(vec![
            "help: TOML files are UTF-8: save the file as UTF-8 (in most editors: \"Save with encoding\"), or remove the byte".into(),
        ])
}
