//! `slogen export openslo` and `slogen import openslo` through the binary: an export of `slos/`, of every
//! valid fixture and of `tests/fixtures/openslo/round_trip/` imports back to the same spec files, byte for
//! byte, so their generated outputs are byte-identical too; an edited SLO is rendered from its new values
//! while the others keep their text; the export follows
//! OpenSLO v1's rules; another tool's OpenSLO files import to rules promtool accepts; every unsupported
//! feature is an error at its `file:line:col` that writes nothing; an existing file is never replaced.

#[path = "common/binary.rs"]
mod binary;
mod common;
#[path = "common/promtool.rs"]
mod promtool;
#[path = "common/spec_dirs.rs"]
mod spec_dirs;

use std::path::{Path, PathBuf};

use binary::{copy_specs, files, slogen, text, tree};
use serde::Deserialize as _;

/// The OpenSLO fixtures.
fn fixtures(kind: &str) -> PathBuf {
    common::root().join("tests/fixtures/openslo").join(kind)
}

/// The `*.yaml` files of a folder, sorted, as arguments.
fn yaml_files(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| p.display().to_string())
        .collect();
    out.sort();
    out
}

/// Runs the binary and fails the test with its output unless it exits 0.
fn ok(args: &[&str], cwd: &Path) -> String {
    let out = slogen(args, cwd);
    assert_eq!(
        out.status.code(),
        Some(0),
        "slogen {args:?} failed:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Exports `slos/` of `dir` into `dir/exp` and imports it into `dir/imp/slos` (the same folder name, so
/// that the generated headers, which name it, match too).
fn round_trip(dir: &Path) {
    ok(&["export", "openslo", "--out", "exp"], dir);
    let exported = yaml_files(&dir.join("exp"));
    let mut args = vec!["import", "openslo"];
    args.extend(exported.iter().map(String::as_str));
    args.extend(["--out", "imp/slos"]);
    ok(&args, dir);
}

#[test]
fn export_then_import_gives_back_the_spec_files_and_their_outputs() {
    let extra = std::fs::read_dir(fixtures("round_trip"))
        .expect("round-trip fixtures")
        .map(|e| e.expect("entry").path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p));
    for (name, spec) in spec_dirs::all().into_iter().chain(extra) {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_specs(&spec, &dir.path().join("slos"));
        round_trip(dir.path());
        let names = |d: &Path| -> Vec<String> { files(d).into_iter().map(|(p, _)| p).collect() };
        assert_eq!(
            names(&dir.path().join("slos")),
            names(&dir.path().join("imp/slos")),
            "{name}: the imported spec files are named as the originals"
        );
        for ((path, original), (_, imported)) in files(&dir.path().join("slos"))
            .iter()
            .zip(&files(&dir.path().join("imp/slos")))
        {
            assert!(
                original == imported,
                "{name}: {path} differs after export and import:\n{}",
                similar::TextDiff::from_lines(&text(original), &text(imported)).unified_diff()
            );
        }
        let (before, after) = (
            common::lower(&dir.path().join("slos")),
            common::lower(&dir.path().join("imp/slos")),
        );
        assert_eq!(
            before.services.len(),
            after.services.len(),
            "{name}: the same services"
        );
        ok(&["generate", "--out", "a"], dir.path());
        ok(
            &["generate", "--slos", "imp/slos", "--out", "b"],
            dir.path(),
        );
        let (a, b) = (files(&dir.path().join("a")), files(&dir.path().join("b")));
        assert!(
            a.len() >= 6,
            "{name}: a full output tree, got {} files",
            a.len()
        );
        assert_eq!(a.len(), b.len(), "{name}: the same files");
        for ((pa, ba), (pb, bb)) in a.iter().zip(&b) {
            assert_eq!(pa, pb, "{name}: the same files");
            assert!(
                ba == bb,
                "{name}: {pa} differs after export and import:\n{}",
                similar::TextDiff::from_lines(&text(ba), &text(bb)).unified_diff()
            );
        }
    }
}

#[test]
fn exported_objects_follow_openslo_v1() {
    let dir = binary::scratch();
    ok(&["export", "openslo", "--out", "exp"], dir.path());
    let again = ok(&["export", "openslo", "--out", "exp"], dir.path());
    assert!(
        again.contains(" 0 written"),
        "a second export changes nothing: {again}"
    );
    let dns = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    };
    let mut slos = 0;
    for file in yaml_files(&dir.path().join("exp")) {
        let yaml = std::fs::read_to_string(&file).expect("read export");
        assert!(
            yaml.starts_with("# Generated by slogen from slos/"),
            "{file}"
        );
        for doc in serde_norway::Deserializer::from_str(&yaml) {
            let v = serde_norway::Value::deserialize(doc).expect("YAML");
            assert_eq!(v["apiVersion"].as_str(), Some("openslo/v1"));
            assert!(
                dns(v["metadata"]["name"].as_str().unwrap_or_default()),
                "{v:?}"
            );
            let spec = &v["spec"];
            if v["kind"].as_str() != Some("SLO") {
                assert_eq!(v["kind"].as_str(), Some("Service"));
                continue;
            }
            slos += 1;
            assert_eq!(spec["budgetingMethod"].as_str(), Some("Occurrences"));
            assert!(spec["description"]
                .as_str()
                .is_some_and(|d| d.chars().count() <= 1050));
            let windows = spec["timeWindow"].as_sequence().expect("timeWindow");
            assert_eq!(windows.len(), 1);
            assert_eq!(windows[0]["isRolling"].as_bool(), Some(true));
            let objectives = spec["objectives"].as_sequence().expect("objectives");
            assert_eq!(objectives.len(), 1);
            let target = objectives[0]["target"].as_f64().expect("target");
            assert!((0.0..1.0).contains(&target));
            let ratio = &spec["indicator"]["spec"]["ratioMetric"];
            let source = if ratio["raw"].is_mapping() {
                &ratio["raw"]
            } else {
                &ratio["bad"]
            };
            assert_eq!(source["metricSource"]["type"].as_str(), Some("Prometheus"));
            for policy in spec["alertPolicies"].as_sequence().into_iter().flatten() {
                assert_eq!(policy["kind"].as_str(), Some("AlertPolicy"));
                let conditions = policy["spec"]["conditions"]
                    .as_sequence()
                    .expect("conditions");
                assert_eq!(conditions.len(), 1, "one condition per policy");
                let c = &conditions[0]["spec"]["condition"];
                assert_eq!(c["kind"].as_str(), Some("burnrate"));
                assert_eq!(c["op"].as_str(), Some("gte"));
                assert!(c["threshold"].as_f64().is_some_and(|t| t > 0.0));
                assert!(!policy["spec"]["notificationTargets"]
                    .as_sequence()
                    .expect("targets")
                    .is_empty());
            }
        }
    }
    assert_eq!(slos, 7, "one SLO object per SLO of slos/");
}

#[test]
fn a_third_party_file_imports_to_rules_promtool_accepts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = vec!["import".to_string(), "openslo".into()];
    args.extend(yaml_files(&fixtures("third_party")));
    args.extend(["--out".into(), "slos".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&args, dir.path());
    let spec = std::fs::read_to_string(dir.path().join("slos/web.toml")).expect("web.toml");
    for expected in [
        "team = \"frontend\"",
        "errors = 'sum(rate(http_requests_total{job=\"web\",code=~\"5..\"}[{{.window}}]))'",
        "budget_percent = 2\nfor = \"2m\"",
        "severity = \"ticket\"\nlong = \"3d\"\nshort = \"6h\"\nbudget_percent = 10\nfor = \"1h\"",
        "objective = 99.0",
    ] {
        assert!(
            spec.contains(expected),
            "web.toml lacks {expected:?}:\n{spec}"
        );
    }
    ok(&["generate", "--out", "gen"], dir.path());
    let rules = dir.path().join("gen/web/rules.yml");
    let check = promtool::run(&["check", "rules", "--lint=all"], &[&rules]);
    assert!(check.status.success(), "{}", promtool::text(&check));
    let tests: Vec<PathBuf> = files(&dir.path().join("gen/web"))
        .into_iter()
        .filter(|(p, _)| p.ends_with(".test.yml"))
        .map(|(p, _)| dir.path().join("gen/web").join(p))
        .collect();
    assert!(!tests.is_empty(), "rule tests are generated");
    let run = promtool::run(&["test", "rules"], &tests);
    assert!(run.status.success(), "{}", promtool::text(&run));
}

#[test]
fn each_unsupported_feature_is_a_positioned_error_that_writes_nothing() {
    let cases = yaml_files(&fixtures("invalid"));
    assert!(
        cases.len() >= 20,
        "expected the invalid OpenSLO fixtures, found {}",
        cases.len()
    );
    for case in cases {
        let yaml = std::fs::read_to_string(&case).expect("read fixture");
        let expect = yaml
            .lines()
            .nth(1)
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{case}: second line is `# expect: LINE:COL message`"));
        let (position, message) = expect.split_once(' ').expect("position and message");
        let dir = tempfile::tempdir().expect("temp dir");
        let out = slogen(&["import", "openslo", &case, "--out", "slos"], dir.path());
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{case}:\n{stderr}");
        assert!(
            stderr.contains(&format!("{case}:{position}")),
            "{case}: expected the error at {position}:\n{stderr}"
        );
        assert!(
            stderr.contains(message),
            "{case}: expected {message:?}:\n{stderr}"
        );
        assert!(
            stderr.contains("help: "),
            "{case}: says how to fix it:\n{stderr}"
        );
        assert!(tree(dir.path()).is_empty(), "{case}: nothing is written");
    }
}

#[test]
fn import_never_replaces_a_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("slos")).expect("mkdir");
    std::fs::write(dir.path().join("slos/web.toml"), "# mine\n").expect("write");
    let before = tree(dir.path());
    let mut args = vec!["import".to_string(), "openslo".into()];
    args.extend(yaml_files(&fixtures("third_party")));
    args.extend(["--out".into(), "slos".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = slogen(&args, dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("refusing to overwrite"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(tree(dir.path()), before, "nothing is written or replaced");
}

#[test]
fn edited_openslo_values_win_over_the_annotations() {
    let dir = binary::scratch();
    ok(&["export", "openslo", "--out", "exp"], dir.path());
    let path = dir.path().join("exp/backend.yaml");
    let yaml = std::fs::read_to_string(&path).expect("export");
    let edited = yaml
        .replacen("target: 0.9995", "target: 0.9993", 1)
        .replacen(
        "query: sum(rate(http_requests_total{job=\"backend\",status=\"5xx\"}[5m])) or vector(0)",
        "query: sum(rate(http_requests_total{job=\"backend\",status=~\"5..\"}[5m]))",
        1,
    );
    assert_ne!(edited, yaml, "the export has the values the test edits");
    std::fs::write(&path, edited).expect("edit");
    ok(
        &["import", "openslo", "exp/backend.yaml", "--out", "imp/slos"],
        dir.path(),
    );
    let spec =
        std::fs::read_to_string(dir.path().join("imp/slos/backend.toml")).expect("backend.toml");
    assert!(
        spec.contains("objective = 99.93"),
        "the edited target:\n{spec}"
    );
    assert!(
        spec.contains("[slos.api_availability.events]\nerrors = 'sum(rate(http_requests_total{job=\"backend\",status=~\"5..\"}[{{.window}}]))'"),
        "the edited query, as a query SLI:\n{spec}"
    );
    let original =
        std::fs::read_to_string(dir.path().join("slos/backend.toml")).expect("backend.toml");
    // An SLO's lines as the spec wrote them: its header, its sub-tables, and their keys and comments.
    let unedited = |name: &str| {
        let own = |line: &str| {
            line.starts_with(&format!("[slos.{name}]"))
                || line.starts_with(&format!("[slos.{name}."))
        };
        let mut text = String::new();
        for line in original.lines().skip_while(|l| !own(l)) {
            if line.starts_with('[') && !own(line) {
                break;
            }
            text.push_str(line);
            text.push('\n');
        }
        assert!(!text.is_empty(), "{name} is in slos/backend.toml");
        text.trim_end().to_owned()
    };
    for name in ["api_latency", "cache_hit_ratio", "job_success"] {
        assert!(
            spec.contains(&unedited(name)),
            "{name} is not edited: its text comes back as written\n{}",
            unedited(name)
        );
    }
    assert!(
        !spec.contains("# a ticket once the 30 days' budget is spent"),
        "the edited SLO is rendered from its values, without the comment inside its table:\n{spec}"
    );
    ok(
        &["generate", "--slos", "imp/slos", "--out", "gen"],
        dir.path(),
    );
}

#[test]
fn invalid_fixture_diagnostics() {
    for case in yaml_files(&fixtures("invalid")) {
        let name = Path::new(&case)
            .file_stem()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        let input = slogen::model::SourceFile {
            path: format!("tests/fixtures/openslo/invalid/{name}.yaml"),
            text: std::fs::read_to_string(&case).expect("read fixture"),
        };
        let rendered = slogen::openslo::import(&[input], "slos")
            .expect_err(&format!("{name} was imported but is invalid"));
        insta::assert_snapshot!(format!("openslo_invalid_{name}"), rendered);
    }
}

#[test]
fn a_mistake_inside_an_exported_spec_text_is_reported_at_its_yaml_line() {
    let dir = binary::scratch();
    ok(&["export", "openslo", "--out", "exp"], dir.path());
    let path = dir.path().join("exp/backend.yaml");
    let yaml = std::fs::read_to_string(&path).expect("export");
    let (from, to) = (
        "      values = [\"GET\", \"POST\"",
        "      values = [\"GET\", \"GET\"",
    );
    let line = yaml
        .lines()
        .position(|l| l.starts_with(from))
        .expect("the method label")
        + 1;
    std::fs::write(&path, yaml.replacen(from, to, 1)).expect("edit");
    let out = slogen(
        &["import", "openslo", "exp/backend.yaml", "--out", "imp"],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("duplicate label value `GET`"), "{stderr}");
    assert!(
        stderr.contains(&format!("exp/backend.yaml:{line}:24")),
        "line {line}:\n{stderr}"
    );
    assert!(!dir.path().join("imp").exists(), "nothing is written");
}
