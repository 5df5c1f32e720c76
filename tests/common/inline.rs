//! Specs written inline in a test, where the numbers they pin are next to the assertions.

use slogen::model::Model;

/// The model of the spec files `files` (file name, contents), written into a temporary `slos/` directory so
/// that their sources read `slos/<file name>` as those of a real spec directory do.
pub fn lower(files: &[(&str, &str)]) -> Model {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("slos");
    std::fs::create_dir(&dir).expect("create slos/");
    for (name, contents) in files {
        std::fs::write(dir.join(name), contents).expect("write spec");
    }
    crate::common::lower(&dir)
}
