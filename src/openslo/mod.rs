//! OpenSLO v1 both ways: `slogen export openslo` writes one multi-document YAML file per service, and
//! `slogen import openslo` turns OpenSLO files (slogen's own exports or another tool's) back into spec files.
//!
//! What OpenSLO has no field for travels in `slogen.dev/` annotations ([`annotations`]), so that an export
//! imports back to a spec that generates byte-identical outputs. See the README's migration guide for the
//! mapping.

pub mod annotations;
mod check;
mod command;
mod cut;
mod export;
mod fields;
mod import;
pub mod model;
mod queries;
mod read;
mod render;
mod resolve;

pub use command::{export_command, import_command, ExportArgs, ImportArgs};
pub use export::export;
pub use import::import;
