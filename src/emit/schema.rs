//! The JSON Schema (draft-07) of the spec format, for taplo / Even Better TOML completion and checks.

use anyhow::Result;

use crate::spec::SpecFile;

/// The schema as pretty JSON with a trailing newline.
pub fn emit() -> Result<String> {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<SpecFile>();
    Ok(serde_json::to_string_pretty(&schema)? + "\n")
}
