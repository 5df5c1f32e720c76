//! The spec directories the checks that cover "every spec we have" walk.

use std::path::PathBuf;

use crate::common::{fixture_dirs, root};

/// `slos/` and every valid fixture directory in order, each with its directory name, which failure messages
/// and scratch directories use.
pub fn all() -> Vec<(String, PathBuf)> {
    std::iter::once(root().join("slos"))
        .chain(fixture_dirs("valid"))
        .map(|dir| {
            let name = dir
                .file_name()
                .expect("a spec directory has a name")
                .to_string_lossy()
                .into_owned();
            (name, dir)
        })
        .collect()
}
