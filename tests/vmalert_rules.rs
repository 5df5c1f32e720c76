//! The rules files load in a second engine: the real `vmalert -dryRun` (Debian's `victoria-metrics`), which
//! parses every group and expression as MetricsQL and checks the templates, accepts the rules of `slos/`
//! and every valid fixture. `tests/e2e_alerts.rs` of the reference service then evaluates them for real.

mod common;
#[path = "common/spec_dirs.rs"]
mod spec_dirs;

use std::path::Path;
use std::process::{Command, Output};

use slogen::conventions::RULES_FILE;
use slogen::emit;

const VMALERT: &str = "/usr/bin/vmalert";

/// `vmalert -dryRun` on one rules file: parse and validate, then exit.
fn dry_run(rules: &Path) -> Output {
    assert!(
        Path::new(VMALERT).is_file(),
        "{VMALERT} is missing: install VictoriaMetrics (`apt-get install victoria-metrics`)"
    );
    Command::new(VMALERT)
        .arg("-dryRun")
        .arg(format!("-rule={}", rules.display()))
        .arg("-loggerLevel=ERROR")
        .output()
        .expect("run vmalert")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn vmalert_accepts_every_rules_file() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut checked = 0;
    for (name, dir) in spec_dirs::all() {
        for output in emit::emit_all(&common::lower(&dir)).expect("emit") {
            if !output.path.ends_with(&format!("/{RULES_FILE}")) {
                continue;
            }
            let path = tmp
                .path()
                .join(format!("{name}-{}", output.path.replace('/', "-")));
            std::fs::write(&path, &output.contents).expect("write the rules");
            let out = dry_run(&path);
            assert!(
                out.status.success(),
                "{name}/{}: vmalert -dryRun:\n{}",
                output.path,
                text(&out)
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} rules files");
}

/// The dry run is a real check: a rules file with a broken expression is rejected.
#[test]
fn vmalert_rejects_a_broken_rule() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = tmp.path().join("broken.yml");
    std::fs::write(
        &path,
        "groups:\n  - name: broken\n    rules:\n      - alert: Broken\n        expr: rate(x[5m] > 1\n",
    )
    .expect("write the rules");
    let out = dry_run(&path);
    assert!(!out.status.success(), "accepted:\n{}", text(&out));
    assert!(text(&out).contains("Broken"), "{}", text(&out));
}
