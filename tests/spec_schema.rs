//! The JSON Schema that editors use (via `#:schema`) accepts every valid spec and rejects unknown keys, so
//! editor checks and `slogen validate` agree.

#[expect(
    dead_code,
    reason = "this test reads the spec files as TOML and never lowers them with `common::lower`"
)]
mod common;
#[path = "common/spec_dirs.rs"]
mod spec_dirs;

use std::path::PathBuf;

fn spec_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for (_, dir) in spec_dirs::all() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn validator() -> jsonschema::Validator {
    let schema: serde_json::Value =
        serde_json::from_str(&slogen::emit::schema::emit().unwrap()).unwrap();
    jsonschema::draft7::new(&schema).expect("the emitted schema is valid draft-07")
}

#[test]
fn every_valid_spec_file_passes_the_schema() {
    let validator = validator();
    let files = spec_files();
    assert!(files.len() >= 6, "found only {} spec files", files.len());
    for path in files {
        let value: serde_json::Value =
            toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
}

#[test]
fn schema_rejects_unknown_keys_and_wrong_types() {
    let validator = validator();
    let unknown: serde_json::Value = toml::from_str("version = 1\nbogus = 1\n").unwrap();
    assert!(!validator.is_valid(&unknown));
    let wrong: serde_json::Value =
        toml::from_str("version = 1\n[metrics.x]\ntype = \"counter\"\nhelp = 3\n").unwrap();
    assert!(!validator.is_valid(&wrong));
    let kind: serde_json::Value =
        toml::from_str("version = 1\n[metrics.x]\ntype = \"summary\"\nhelp = \"h\"\n").unwrap();
    assert!(!validator.is_valid(&kind));
}
