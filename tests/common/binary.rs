//! The real `slogen` binary, run in scratch folders, and snapshots of folders to prove what it touched.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (`slos/`, `tests/fixtures/`), whatever folder the test runs in.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary built for this test run with `args` in `cwd`.
pub fn slogen(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slogen"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run slogen")
}

/// Standard output or error as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A temp folder holding a copy of `slos/`, so tests may break it and write beside it.
pub fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_specs(&root().join("slos"), &dir.path().join("slos"));
    dir
}

/// Copies the `*.toml` files of `from` into a new folder `to`.
pub fn copy_specs(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create spec folder");
    for entry in std::fs::read_dir(from).expect("read spec folder") {
        let path = entry.expect("spec entry").path();
        std::fs::copy(&path, to.join(path.file_name().expect("file name"))).expect("copy spec");
    }
}

/// What a folder holds, for before/after comparisons: every entry (relative path) with its bytes for a
/// file, its target for a symlink, and nothing for a folder. Symlinks are never followed.
pub fn tree(dir: &Path) -> Vec<(String, Entry)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read folder") {
            let p = entry.expect("entry").path();
            let rel = p
                .strip_prefix(dir)
                .expect("inside")
                .to_string_lossy()
                .into_owned();
            let meta = std::fs::symlink_metadata(&p).expect("metadata");
            let e = if meta.file_type().is_symlink() {
                Entry::Link(std::fs::read_link(&p).expect("link"))
            } else if meta.is_dir() {
                stack.push(p);
                Entry::Dir
            } else {
                Entry::File(std::fs::read(&p).expect("read file"))
            };
            out.push((rel, e));
        }
    }
    out.sort();
    out
}

/// One entry of a [`tree`].
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Entry {
    /// A folder.
    Dir,
    /// A regular file and its bytes.
    File(Vec<u8>),
    /// A symlink and where it points.
    Link(PathBuf),
}

/// The files of a [`tree`] only, without folders, for comparing generated outputs.
pub fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    tree(dir)
        .into_iter()
        .filter_map(|(p, e)| match e {
            Entry::File(bytes) => Some((p, bytes)),
            _ => None,
        })
        .collect()
}
