//! Every generated Rust module is already in rustfmt's layout, so a service can keep it in a crate whose CI
//! runs `cargo fmt --check` without `#[rustfmt::skip]`. Checked with the real rustfmt on every spec we have.

mod common;
#[path = "common/spec_dirs.rs"]
mod spec_dirs;

use std::process::Command;

#[test]
fn rustfmt_leaves_every_generated_module_alone() {
    let dirs = spec_dirs::all().into_iter().map(|(_, dir)| dir).chain([
        common::root().join("runtime/tests/contract"),
        common::root().join("examples/reference-service/tests/e2e/slos"),
    ]);
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let mut checked = 0;
    for dir in dirs {
        let model = common::lower(&dir);
        for service in &model.services {
            let source = slogen::emit::rust::emit(service).expect("the module renders");
            let path = scratch.path().join(format!("{}.rs", service.name));
            std::fs::write(&path, &source).expect("write the module");
            let output = Command::new("rustfmt")
                .args(["--check", "--edition", "2021"])
                .arg(&path)
                .output()
                .expect("rustfmt runs (rustup component add rustfmt)");
            assert!(
                output.status.success(),
                "rustfmt would change the module of `{}` ({}):\n{}{}",
                service.name,
                dir.display(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} modules checked");
}
