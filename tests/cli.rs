//! The `slogen` binary end to end: exit codes, atomic writes, drift detection, determinism.

#[path = "common/binary.rs"]
mod binary;

use binary::{files as tree, root, scratch, slogen, text};

#[test]
fn committed_generated_tree_is_up_to_date() {
    let out = slogen(&["check"], root());
    assert_eq!(
        out.status.code(),
        Some(0),
        "slogen check failed:\n{}",
        text(&out.stderr)
    );
}

#[test]
fn generate_is_deterministic() {
    let dir = scratch();
    let first = slogen(&["generate", "--out", "a"], dir.path());
    let second = slogen(&["generate", "--out", "b"], dir.path());
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    let (a, b) = (tree(&dir.path().join("a")), tree(&dir.path().join("b")));
    assert!(
        a.len() >= 6,
        "expected a full output tree, got {} files",
        a.len()
    );
    assert_eq!(a, b);
    for (path, bytes) in &a {
        assert!(
            bytes.ends_with(b"\n") && !bytes.ends_with(b"\n\n"),
            "{path}: one trailing newline"
        );
        assert!(!bytes.contains(&b'\r'), "{path}: LF only");
    }
    let again = slogen(&["generate", "--out", "a"], dir.path());
    assert!(
        text(&again.stdout).contains(" 0 written"),
        "{}",
        text(&again.stdout)
    );
}

#[test]
fn check_reports_hand_edits_missing_and_orphan_files() {
    let dir = scratch();
    assert_eq!(slogen(&["generate"], dir.path()).status.code(), Some(0));
    assert_eq!(slogen(&["check"], dir.path()).status.code(), Some(0));

    let rules = dir.path().join("generated/backend/rules.yml");
    let original = std::fs::read_to_string(&rules).unwrap();
    std::fs::write(
        &rules,
        original.replacen("groups:", "groups: # hand edit\n#", 1),
    )
    .unwrap();
    let out = slogen(&["check"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("stale: backend/rules.yml"), "{err}");
    assert!(
        err.contains("--- a/backend/rules.yml") && err.contains("+++ b/backend/rules.yml"),
        "{err}"
    );
    assert!(err.contains("-groups: # hand edit"), "{err}");

    std::fs::remove_file(dir.path().join("generated/backend/dashboard.json")).unwrap();
    std::fs::write(dir.path().join("generated/backend/extra.yml"), "x: 1\n").unwrap();
    let err = text(&slogen(&["check"], dir.path()).stderr);
    assert!(err.contains("missing: backend/dashboard.json"), "{err}");
    assert!(
        err.contains("foreign (not written by slogen; `generate` leaves it, remove it by hand): backend/extra.yml"),
        "{err}"
    );

    let out = slogen(&["generate"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("note: left alone (slogen did not write it): backend/extra.yml"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read(dir.path().join("generated/backend/extra.yml")).unwrap(),
        b"x: 1\n",
        "a file slogen did not write is never removed"
    );
    std::fs::remove_file(dir.path().join("generated/backend/extra.yml")).unwrap();
    assert_eq!(slogen(&["check"], dir.path()).status.code(), Some(0));
}

#[test]
fn invalid_input_exits_1_and_leaves_generated_untouched() {
    let dir = scratch();
    assert_eq!(slogen(&["generate"], dir.path()).status.code(), Some(0));
    let before = tree(&dir.path().join("generated"));
    let spec = dir.path().join("slos/backend.toml");
    let broken = std::fs::read_to_string(&spec).unwrap().replacen(
        "version = 1",
        "version = 1\nbogus_key = 3",
        1,
    );
    std::fs::write(&spec, broken).unwrap();
    let out = slogen(&["generate"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("slos/backend.toml:"),
        "diagnostic names file:line:col:\n{err}"
    );
    assert!(err.contains("unknown key `bogus_key`"), "{err}");
    assert!(err.contains("help: "), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(tree(&dir.path().join("generated")), before);
}

#[test]
fn usage_errors_exit_2_and_help_shows_examples() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(slogen(&["frobnicate"], dir.path()).status.code(), Some(2));
    assert_eq!(
        slogen(&["generate", "--nope"], dir.path()).status.code(),
        Some(2)
    );
    let help = slogen(&["--help"], dir.path());
    assert_eq!(help.status.code(), Some(0));
    assert!(text(&help.stdout).contains("Examples:"));
}

#[test]
fn missing_spec_dir_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = slogen(&["validate", "--slos", "nowhere"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot read spec directory nowhere"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn schema_command_prints_draft07_schema_matching_the_committed_file() {
    let out = slogen(&["schema"], root());
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert!(schema["properties"]["metrics"].is_object());
    assert_eq!(
        text(&out.stdout),
        std::fs::read_to_string(root().join("generated/slogen.schema.json")).unwrap()
    );
}

#[test]
fn every_spec_file_points_at_the_schema() {
    for entry in std::fs::read_dir(root().join("slos")).unwrap() {
        let path = entry.unwrap().path();
        let first = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        assert_eq!(
            first,
            "#:schema ../generated/slogen.schema.json",
            "{}",
            path.display()
        );
    }
}

#[test]
fn a_file_that_is_not_utf8_gets_a_position_at_its_first_invalid_byte() {
    let dir = scratch();
    let spec = dir.path().join("slos/backend.toml");
    let mut bytes = std::fs::read(&spec).unwrap();
    let at = bytes.windows(9).position(|w| w == b"[service]").unwrap();
    let line = 1 + bytes[..at].iter().filter(|b| **b == b'\n').count();
    bytes.splice(at + 3..at + 3, [0xff, b'x']);
    std::fs::write(&spec, bytes).unwrap();
    std::fs::write(dir.path().join("slos/other.toml"), b"version = 1\n\xc3").unwrap();
    let out = slogen(&["validate"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("┌─ slos/backend.toml:{line}:4")),
        "{err}"
    );
    assert!(err.contains("byte 0xFF is not valid UTF-8"), "{err}");
    assert!(
        err.contains("┌─ slos/other.toml:2:1"),
        "every file is checked:\n{err}"
    );
    assert!(err.contains("byte 0xC3 is not valid UTF-8"), "{err}");
    assert!(err.contains("help: TOML files are UTF-8"), "{err}");
    assert!(
        err.ends_with("error: 2 problems found; nothing was written\n"),
        "{err}"
    );
}
