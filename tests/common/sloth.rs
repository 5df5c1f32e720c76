//! The `slogen` binary and Sloth's reference data, for the tests of `slogen import sloth`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root, whatever folder the test runs in.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Sloth's examples (`examples/`) and the rules Sloth generated from them (`_gen/`), beside the repository in
/// `../shared` and never copied into it; a missing folder fails the test rather than checking nothing.
pub fn sloth_dir() -> PathBuf {
    let dir = root().join("../shared/peers/sloth");
    assert!(
        dir.join("examples").is_dir() && dir.join("_gen").is_dir(),
        "{} is missing: Sloth's examples and generated rules are the test's input and reference",
        dir.display()
    );
    dir
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
