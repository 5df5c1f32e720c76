//! `slogen import sloth` through the binary: every Sloth example without a plugin imports into specs that
//! validate and generate rules promtool accepts (and whose generated rule tests pass); what cannot be imported
//! is a positioned error that writes nothing; existing files are never replaced.
//!
//! Sloth's examples are read from `../shared/peers/sloth/examples` (Apache-2.0, not copied into this repository).

#[path = "common/sloth.rs"]
mod common;
#[path = "common/promtool.rs"]
mod promtool;

use std::path::{Path, PathBuf};

use common::{root, slogen, sloth_dir, text};

/// Sloth's examples and the rules Sloth generated from them.
fn sloth_examples() -> PathBuf {
    sloth_dir().join("examples")
}

/// Every spec example (`*.yml`, not the `windows/` folder), sorted.
fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(sloth_examples())
        .expect("read Sloth examples")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 6,
        "expected Sloth's 6 examples, found {files:?}"
    );
    files
}

/// Whether a Sloth file uses an SLI plugin (then it must be refused, not imported).
fn uses_plugin(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .expect("read example")
        .lines()
        .any(|l| l.trim_start().starts_with("plugin:"))
}

fn import(args: &[&str], cwd: &Path) -> std::process::Output {
    let mut all = vec!["import", "sloth"];
    all.extend_from_slice(args);
    slogen(&all, cwd)
}

#[test]
fn every_example_without_a_plugin_imports_validates_and_generates() {
    let mut imported = 0;
    for example in example_files().iter().filter(|p| !uses_plugin(p)) {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = import(&[example.to_str().unwrap(), "--out", "slos"], dir.path());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{} did not import:\n{}",
            example.display(),
            text(&out.stderr)
        );
        let specs = std::fs::read_dir(dir.path().join("slos")).unwrap().count();
        assert!(specs >= 1, "{}: no spec written", example.display());
        let gen = slogen(
            &["generate", "--slos", "slos", "--out", "generated"],
            dir.path(),
        );
        assert_eq!(
            gen.status.code(),
            Some(0),
            "specs imported from {} do not generate:\n{}",
            example.display(),
            text(&gen.stderr)
        );
        let mut rules = Vec::new();
        let mut tests = Vec::new();
        for service in std::fs::read_dir(dir.path().join("generated")).unwrap() {
            let service = service.unwrap().path();
            if !service.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(&service).unwrap() {
                let f = f.unwrap().path();
                let name = f.file_name().unwrap().to_string_lossy().into_owned();
                if name == "rules.yml" {
                    rules.push(f);
                } else if name.ends_with(".test.yml") {
                    tests.push(f);
                }
            }
        }
        assert_eq!(
            rules.len(),
            specs,
            "{}: one rules file per service",
            example.display()
        );
        let check = promtool::run(&["check", "rules", "--lint=all"], &rules);
        assert!(
            check.status.success(),
            "{}: {}",
            example.display(),
            promtool::text(&check)
        );
        if !tests.is_empty() {
            let run = promtool::run(&["test", "rules"], &tests);
            assert!(
                run.status.success(),
                "{}: {}",
                example.display(),
                promtool::text(&run)
            );
        }
        imported += 1;
    }
    assert_eq!(imported, 6, "every Sloth example without a plugin imports");
}

#[test]
fn imported_spec_of_getting_started_is_stable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = import(
        &[
            "../shared/peers/sloth/examples/getting-started.yml",
            "--out",
            dir.path().join("slos").to_str().unwrap(),
        ],
        root(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let spec = std::fs::read_to_string(dir.path().join("slos/myservice.toml")).unwrap();
    insta::assert_snapshot!("sloth_getting_started", spec);
}

#[test]
fn alert_windows_files_replace_sloths_builtin_windows() {
    let examples = sloth_examples();
    let getting_started = examples.join("getting-started.yml");
    for (windows, period, rows) in [
        (
            "7d.yaml",
            "7d",
            [
                ("1h", "5m", "8"),
                ("6h", "30m", "12.5"),
                ("1d", "2h", "20"),
                ("3d", "6h", "42"),
            ],
        ),
        (
            "custom-30d.yaml",
            "30d",
            [
                ("30m", "2m", "1"),
                ("3h", "15m", "2"),
                ("12h", "1h", "5"),
                ("36h", "3h", "5"),
            ],
        ),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let windows = examples.join("windows").join(windows);
        let out = import(
            &[
                getting_started.to_str().unwrap(),
                windows.to_str().unwrap(),
                "--slo-period",
                period,
                "--out",
                "slos",
            ],
            dir.path(),
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let spec: toml::Value = toml::from_str(
            &std::fs::read_to_string(dir.path().join("slos/myservice.toml")).unwrap(),
        )
        .unwrap();
        let got: Vec<(String, String, String)> = spec["service"]["alert_windows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                (
                    w["long"].as_str().unwrap().to_string(),
                    w["short"].as_str().unwrap().to_string(),
                    w["budget_percent"].to_string(),
                )
            })
            .collect();
        let want: Vec<(String, String, String)> = rows
            .iter()
            .map(|(l, s, b)| (l.to_string(), s.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want, "{}", windows.display());
        assert!(spec["service"]["alert_windows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w.get("for").is_none()));
        assert_eq!(
            spec["slos"]["requests_availability"]["window"].as_str(),
            Some(period)
        );
        let gen = slogen(&["validate", "--slos", "slos"], dir.path());
        assert_eq!(gen.status.code(), Some(0), "{}", text(&gen.stderr));
    }
    // Given AlertWindows replace the built-in catalog, as in Sloth: a period they lack is an error.
    let dir = tempfile::tempdir().expect("temp dir");
    let out = import(
        &[
            getting_started.to_str().unwrap(),
            examples.join("windows/7d.yaml").to_str().unwrap(),
            "--out",
            "slos",
        ],
        dir.path(),
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no AlertWindows for the SLO period 30d"),
        "{err}"
    );
    assert!(
        err.contains("7d.yaml:4:14"),
        "positioned at the sloPeriod: {err}"
    );
    assert!(!dir.path().join("slos").exists(), "nothing written");
}

/// Each invalid fixture: exit 1, nothing written, every diagnostic positioned; the rendering is snapshotted.
#[test]
fn what_cannot_be_imported_is_a_positioned_error() {
    let fixtures = root().join("tests/fixtures/sloth");
    let mut names: Vec<String> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 5, "{names:?}");
    for name in names {
        let dir = tempfile::tempdir().expect("temp dir");
        let out_dir = dir.path().join("slos");
        let path = format!("tests/fixtures/sloth/{name}");
        let out = import(&[&path, "--out", out_dir.to_str().unwrap()], root());
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(!out_dir.exists(), "{name}: nothing may be written");
        let errors = err.lines().filter(|l| l.starts_with("error: ")).count();
        let positions = err
            .lines()
            .filter(|l| l.contains(&format!("{path}:")))
            .count();
        assert!(errors >= 2, "{name}: {err}");
        assert_eq!(
            positions,
            errors - 1,
            "{name}: every error has a file:line:col\n{err}"
        );
        insta::assert_snapshot!(
            format!("sloth_invalid_{}", name.replace(['.', '-'], "_")),
            err
        );
    }
}

#[test]
fn sli_plugins_name_their_line_and_column() {
    let out = import(
        &[
            "tests/fixtures/sloth/sli-plugin.yml",
            "--out",
            "/nonexistent/never",
        ],
        root(),
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("tests/fixtures/sloth/sli-plugin.yml:8:7"),
        "{err}"
    );
    assert!(err.contains("an SLI plugin cannot be imported"), "{err}");
}

#[test]
fn an_existing_file_is_never_replaced_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("temp dir");
    let slos = dir.path().join("slos");
    std::fs::create_dir(&slos).unwrap();
    std::fs::write(slos.join("myservice2.toml"), "mine\n").unwrap();
    let multifile = sloth_examples().join("multifile.yml");
    let out = import(&[multifile.to_str().unwrap(), "--out", "slos"], dir.path());
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("refusing to overwrite"), "{err}");
    assert!(err.contains("myservice2.toml"), "{err}");
    assert_eq!(
        std::fs::read_to_string(slos.join("myservice2.toml")).unwrap(),
        "mine\n"
    );
    assert!(
        !slos.join("myservice.toml").exists(),
        "all or nothing: {err}"
    );
}

#[test]
fn the_same_service_in_two_files_is_refused_with_both_places() {
    let examples = sloth_examples();
    let dir = tempfile::tempdir().expect("temp dir");
    let out = import(
        &[
            examples.join("getting-started.yml").to_str().unwrap(),
            examples.join("k8s-getting-started.yml").to_str().unwrap(),
            "--out",
            "slos",
        ],
        dir.path(),
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("service `myservice` is imported twice"),
        "{err}"
    );
    assert!(err.contains("k8s-getting-started.yml:12:12"), "{err}");
    assert!(err.contains("/getting-started.yml:2:10"), "{err}");
    assert!(!dir.path().join("slos").exists());
}
