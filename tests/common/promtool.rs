//! The real `promtool`, which the rules tests run on what the generator writes.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

const PROMTOOL: &str = "/usr/bin/promtool";

/// Fails the test, with how to install promtool, when it is missing: a test that cannot run it must not pass.
pub fn require() {
    assert!(
        Path::new(PROMTOOL).is_file(),
        "{PROMTOOL} is missing: install Prometheus' tools (`apt-get install prometheus`, or put the promtool \
         binary from a Prometheus release at {PROMTOOL})"
    );
}

/// Runs `promtool <args> <files>` and returns how it exited and what it printed.
pub fn run(args: &[&str], files: &[impl AsRef<OsStr>]) -> Output {
    require();
    Command::new(PROMTOOL)
        .args(args)
        .args(files)
        .output()
        .expect("run promtool")
}

/// What promtool printed, stdout then stderr, for a failure message.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
