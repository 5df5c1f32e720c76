//! Output ownership, on the real file system with the real binary: slogen refuses output folders that are not
//! its own, writes and removes only files it wrote, never follows a symlink, survives concurrent runs, and a
//! failed write leaves the previous output complete.

#[path = "common/binary.rs"]
mod binary;

use std::path::Path;

use binary::{copy_specs, files, root, scratch, slogen, text, tree};

/// Runs `args` in `cwd`, expecting exit 1 and an error containing every one of `needles`.
fn refused(args: &[&str], cwd: &Path, needles: &[&str]) {
    let out = slogen(args, cwd);
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?} must be refused:\n{err}"
    );
    for needle in needles {
        assert!(
            err.contains(needle),
            "{args:?}: expected {needle:?} in:\n{err}"
        );
    }
    assert!(
        err.contains("= help: "),
        "the refusal says how to fix it:\n{err}"
    );
}

fn ok(args: &[&str], cwd: &Path) -> String {
    let out = slogen(args, cwd);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?} failed:\n{}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// A second service, `billing`, whose files sort after `backend`'s.
fn add_billing(specs: &Path) {
    std::fs::copy(
        root().join("tests/fixtures/valid/multi_service/billing.toml"),
        specs.join("billing.toml"),
    )
    .expect("copy billing.toml");
}

#[test]
fn out_dot_in_a_checkout_is_refused_and_nothing_is_touched() {
    let dir = scratch();
    let repo = dir.path();
    std::fs::create_dir(repo.join(".git")).unwrap();
    std::fs::write(repo.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(repo.join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
    std::fs::create_dir(repo.join("src")).unwrap();
    std::fs::write(repo.join("src/lib.rs"), "// mine\n").unwrap();
    let before = tree(repo);
    refused(
        &["generate", "--out", "."],
        repo,
        &["refusing to use `.` as the output folder", "spec folder"],
    );
    refused(
        &["check", "--out", "."],
        repo,
        &["refusing to use `.` as the output folder"],
    );

    // Specs elsewhere: `.` is still a project root.
    let specs = tempfile::tempdir().unwrap();
    copy_specs(&repo.join("slos"), specs.path());
    let specs_arg = specs.path().to_str().unwrap();
    refused(
        &["generate", "--slos", specs_arg, "--out", "."],
        repo,
        &["it is a project root (it holds `.git`)"],
    );
    std::fs::remove_dir_all(repo.join(".git")).unwrap();
    refused(
        &["generate", "--slos", specs_arg, "--out", "."],
        repo,
        &["it is a project root (it holds `Cargo.toml`)"],
    );
    std::fs::create_dir(repo.join(".git")).unwrap();
    std::fs::write(repo.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    // A folder above the current one holds the checkout.
    refused(
        &["generate", "--slos", specs_arg, "--out", ".."],
        &repo.join("src"),
        &["it contains the current folder"],
    );
    assert_eq!(tree(repo), before, "a refused run touches nothing");
}

#[test]
fn the_spec_folder_or_a_folder_holding_it_is_refused() {
    let dir = scratch();
    let before = tree(dir.path());
    refused(
        &["generate", "--out", "slos"],
        dir.path(),
        &["it is the spec folder"],
    );
    refused(
        &["generate", "--out", "./slos/"],
        dir.path(),
        &["it is the spec folder"],
    );
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    refused(
        &["generate", "--slos", "../slos", "--out", ".."],
        &dir.path().join("sub"),
        &["it contains the spec folder"],
    );
    std::fs::remove_dir(dir.path().join("sub")).unwrap();
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn a_folder_of_user_files_is_refused_listing_them() {
    let dir = scratch();
    let docs = dir.path().join("docs");
    std::fs::create_dir_all(docs.join("backend")).unwrap();
    std::fs::write(docs.join("notes.txt"), "mine\n").unwrap();
    // A user's file where slogen writes an output, without slogen's header: not adopted, not replaced.
    std::fs::write(docs.join("README.md"), "# Our docs\n").unwrap();
    std::fs::write(docs.join("backend/rules.yml"), "groups: []\n").unwrap();
    let before = tree(dir.path());
    refused(
        &["generate", "--out", "docs"],
        dir.path(),
        &[
            "it holds 3 file(s) slogen did not write: `README.md`, `backend/rules.yml`, `notes.txt`",
            "move these files away",
        ],
    );
    refused(&["check", "--out", "docs"], dir.path(), &["`notes.txt`"]);
    assert_eq!(tree(dir.path()), before);

    // A file given as the output folder.
    refused(
        &["generate", "--out", "docs/notes.txt"],
        dir.path(),
        &["it is not a folder"],
    );
}

#[test]
fn a_folder_generated_before_manifests_is_adopted_only_when_it_holds_only_outputs() {
    let dir = scratch();
    ok(&["generate"], dir.path());
    let generated = dir.path().join("generated");
    let manifest = std::fs::read_to_string(generated.join(".slogen-manifest")).unwrap();
    assert!(manifest.starts_with("# Generated by slogen. Do not edit.\n"));
    let listed: Vec<&str> = manifest.lines().filter(|l| !l.starts_with('#')).collect();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "the manifest is sorted");
    let on_disk: Vec<String> = files(&generated).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        listed, on_disk,
        "the manifest lists exactly the generated files, itself included"
    );

    // Today's committed `generated/` has no manifest and an older file: adopted, replaced, manifest added.
    std::fs::remove_file(generated.join(".slogen-manifest")).unwrap();
    std::fs::write(
        generated.join("backend/README.md"),
        "<!-- Generated by slogen from slos/backend.toml. Do not edit. -->\nold\n",
    )
    .unwrap();
    let check = slogen(&["check"], dir.path());
    assert_eq!(check.status.code(), Some(1));
    assert!(text(&check.stderr).contains("missing: .slogen-manifest"));
    assert!(text(&check.stderr).contains("stale: backend/README.md"));
    ok(&["generate"], dir.path());
    ok(&["check"], dir.path());

    // A manifest-less folder with one foreign file is not slogen's.
    std::fs::remove_file(generated.join(".slogen-manifest")).unwrap();
    std::fs::write(generated.join("backend/extra.yml"), "x: 1\n").unwrap();
    let before = tree(&generated);
    refused(&["generate"], dir.path(), &["`backend/extra.yml`"]);
    assert_eq!(tree(&generated), before);
}

#[test]
fn a_hand_edited_manifest_is_never_trusted_with_deletions() {
    let dir = scratch();
    ok(&["generate"], dir.path());
    std::fs::write(dir.path().join("precious.txt"), "keep\n").unwrap();
    let manifest = dir.path().join("generated/.slogen-manifest");
    let text_before = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, format!("{text_before}../precious.txt\n")).unwrap();
    let before = tree(dir.path());
    // The added entry is the manifest's last line.
    let line = text_before.lines().count() + 1;
    refused(
        &["generate"],
        dir.path(),
        &[&format!(
            "generated/.slogen-manifest:{line}:1: `../precious.txt` is not a path inside the output folder"
        )],
    );
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn files_slogen_no_longer_generates_are_removed_with_their_emptied_folders() {
    let dir = scratch();
    add_billing(&dir.path().join("slos"));
    ok(&["generate"], dir.path());
    assert!(dir.path().join("generated/billing/rules.yml").is_file());
    std::fs::write(dir.path().join("generated/billing/mine.txt"), "mine\n").unwrap();
    std::fs::remove_file(dir.path().join("slos/billing.toml")).unwrap();
    let out = ok(&["generate"], dir.path());
    assert!(out.contains(" removed"), "{out}");
    let left: Vec<String> = files(&dir.path().join("generated/billing"))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(left, ["mine.txt"], "only the user's file stays");
    std::fs::remove_file(dir.path().join("generated/billing/mine.txt")).unwrap();
    add_billing(&dir.path().join("slos"));
    ok(&["generate"], dir.path());
    std::fs::remove_file(dir.path().join("slos/billing.toml")).unwrap();
    ok(&["generate"], dir.path());
    assert!(
        !dir.path().join("generated/billing").exists(),
        "a folder emptied of slogen's files goes too"
    );
    ok(&["check"], dir.path());
}

#[cfg(unix)]
#[test]
fn symlinks_are_never_followed() {
    use std::os::unix::fs::symlink;
    let dir = scratch();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("rules.yml"), "outside\n").unwrap();
    std::fs::write(outside.path().join("README.md"), "outside\n").unwrap();
    let outside_before = tree(outside.path());
    add_billing(&dir.path().join("slos"));
    ok(&["generate"], dir.path());
    let generated = dir.path().join("generated");

    // A link to a folder outside: left alone, never walked; orphans next to it are removed, nothing outside.
    symlink(outside.path(), generated.join("elsewhere")).unwrap();
    std::fs::remove_file(dir.path().join("slos/billing.toml")).unwrap();
    let out = slogen(&["generate"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("left alone (slogen did not write it): elsewhere"));
    assert!(!generated.join("billing").exists());
    let check = slogen(&["check"], dir.path());
    assert!(text(&check.stderr).contains("foreign (not written by slogen"));
    std::fs::remove_file(generated.join("elsewhere")).unwrap();
    assert_eq!(tree(outside.path()), outside_before);

    // An output folder replaced by a link to outside: an error, nothing written through it.
    add_billing(&dir.path().join("slos"));
    ok(&["generate"], dir.path());
    std::fs::remove_dir_all(generated.join("billing")).unwrap();
    symlink(outside.path(), generated.join("billing")).unwrap();
    let before = tree(dir.path());
    let out = slogen(&["generate"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is a symlink where slogen needs a folder for `billing/"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(tree(outside.path()), outside_before);
    assert_eq!(tree(dir.path()), before);
    std::fs::remove_file(generated.join("billing")).unwrap();
    ok(&["generate"], dir.path());

    // An output file replaced by a link to a file outside: an error, the target untouched.
    std::fs::remove_file(generated.join("billing/rules.yml")).unwrap();
    symlink(
        outside.path().join("rules.yml"),
        generated.join("billing/rules.yml"),
    )
    .unwrap();
    refused(&["generate"], dir.path(), &["`billing/rules.yml`"]);
    assert_eq!(tree(outside.path()), outside_before);

    // The output folder itself a link: refused.
    let linked = dir.path().join("linked");
    symlink(outside.path(), &linked).unwrap();
    refused(
        &["generate", "--out", "linked"],
        dir.path(),
        &["it is a symlink"],
    );
    assert_eq!(tree(outside.path()), outside_before);
}

#[test]
fn twenty_concurrent_generates_all_succeed_with_identical_output() {
    let dir = scratch();
    let reference = dir.path().join("reference");
    let run_20 = |dir: &Path| {
        let children: Vec<_> = (0..20)
            .map(|_| {
                std::process::Command::new(env!("CARGO_BIN_EXE_slogen"))
                    .args(["generate"])
                    .current_dir(dir)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn slogen")
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().expect("wait");
            assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
            assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
        }
    };
    let same_as_reference = |dir: &Path| {
        std::fs::remove_dir_all(&reference).ok();
        ok(&["generate", "--out", "reference"], dir);
        let got = files(&dir.join("generated"));
        assert_eq!(got, files(&reference), "byte-identical to a single run");
        assert!(
            got.iter().all(|(p, _)| !p.contains(".slogen-tmp")),
            "no temp file left"
        );
        ok(&["check"], dir);
    };
    // Into a folder that does not exist yet.
    run_20(dir.path());
    same_as_reference(dir.path());
    // Adding a service over an existing output.
    add_billing(&dir.path().join("slos"));
    run_20(dir.path());
    same_as_reference(dir.path());
    // Removing it: every run removes the same orphans and their folder.
    std::fs::remove_file(dir.path().join("slos/billing.toml")).unwrap();
    run_20(dir.path());
    same_as_reference(dir.path());
    assert!(!dir.path().join("generated/billing").exists());
}

/// Changes `backend`'s outputs (its description is on the dashboard, its team on every rule and in the docs)
/// and adds `billing`, whose files are written after `backend`'s, so the failures below come after
/// `backend`'s new files were staged.
fn change_specs(specs: &Path) {
    let spec = specs.join("backend.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    let changed = text
        .replacen("description = \"", "description = \"Changed. ", 1)
        .replacen("team = \"platform\"", "team = \"core\"", 1);
    assert_ne!(text, changed);
    std::fs::write(&spec, changed).unwrap();
    add_billing(specs);
}

#[test]
fn a_failed_write_leaves_the_previous_output_complete() {
    let dir = scratch();
    ok(&["generate"], dir.path());
    change_specs(&dir.path().join("slos"));
    // What a successful run would write: `backend`'s files do change.
    ok(&["generate", "--out", "expected"], dir.path());
    let generated = dir.path().join("generated");
    for file in [
        "backend/README.md",
        "backend/rules.yml",
        "backend/dashboard.json",
    ] {
        let old = std::fs::read(generated.join(file)).unwrap();
        let new = std::fs::read(dir.path().join("expected").join(file)).unwrap();
        assert!(old != new, "{file} would change");
    }

    // A file where a folder must go (`billing/`): slogen did not write it, so it stays, and the run fails.
    std::fs::write(generated.join("billing"), "mine\n").unwrap();
    let before = tree(&generated);
    let out = slogen(&["generate"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("is in the way of the folder slogen needs for `billing/")
            && err.contains("nothing in it was replaced"),
        "{err}"
    );
    assert_eq!(
        tree(&generated),
        before,
        "no output replaced, no temp file left"
    );
    std::fs::remove_file(generated.join("billing")).unwrap();

    // A folder where a file must go (`billing/rules.yml`), after other files were staged.
    std::fs::create_dir_all(generated.join("billing/rules.yml")).unwrap();
    let before = tree(&generated);
    let out = slogen(&["generate"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is in the way of the file `billing/rules.yml`"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        tree(&generated),
        before,
        "no output replaced, no temp file left"
    );

    std::fs::remove_dir_all(generated.join("billing")).unwrap();
    ok(&["generate"], dir.path());
    assert_eq!(files(&generated), files(&dir.path().join("expected")));
}
