//! Where the integration tests find their specs, and how they turn a spec directory into the model. Every test
//! crate includes this module with `mod common;`; the helpers only some crates need are sibling files that
//! those crates include with `#[path]` (`spec_dirs.rs`, `inline.rs`, `promtool.rs`), so a crate compiles only
//! helpers it calls and dead-code warnings stay meaningful.

use std::path::{Path, PathBuf};

use slogen::model::Model;

/// The repository root: `slos/` and `tests/fixtures/` are found from here whatever directory the test runs in.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every directory under `tests/fixtures/<kind>/` (`valid` or `invalid`), sorted so tests run them in a
/// stable order; a missing `kind` fails the test rather than checking nothing.
pub fn fixture_dirs(kind: &str) -> Vec<PathBuf> {
    let fixtures = root().join("tests/fixtures").join(kind);
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&fixtures)
        .unwrap_or_else(|e| panic!("{}: {e}", fixtures.display()))
        .map(|e| e.expect("readable fixture entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// The model of the spec directory `dir`; a directory that does not lower fails the test with the diagnostics
/// a user would see, which say what is wrong and where.
pub fn lower(dir: &Path) -> Model {
    let files = slogen::load::spec_dir(dir)
        .unwrap_or_else(|e| panic!("cannot load {}: {e:#}", dir.display()));
    slogen::model::lower(&files).unwrap_or_else(|problems| {
        panic!(
            "{} does not lower:\n{}",
            dir.display(),
            slogen::diagnostics::render(&files, &problems)
        )
    })
}
