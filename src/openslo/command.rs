//! The `export openslo` and `import openslo` commands: arguments, reading, writing, messages.

use std::path::PathBuf;

use clap::Args;

use crate::cli::{build, Outcome};

/// Arguments of `export openslo`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Directory of `*.toml` spec files.
    #[arg(long, default_value = "slos")]
    pub slos: PathBuf,
    /// Directory to write `<service>.yaml` into, owned by slogen as `generate`'s output folder is (it lists
    /// what it wrote in `.slogen-manifest` and replaces or removes only those files).
    #[arg(long)]
    pub out: PathBuf,
}

/// Arguments of `import openslo`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// OpenSLO v1 YAML files, each with one or more documents; objects may refer to objects in other files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Folder to write the spec files into (created if missing); an existing file is never replaced.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `export openslo`.
pub fn export_command(args: &ExportArgs) -> Outcome {
    let model = match build(&args.slos) {
        Ok(m) => m,
        Err(e) => return Outcome::fail(e),
    };
    // `build` read the same files; read again for their text (it keeps only the model).
    let files = match crate::load::spec_dir(&args.slos) {
        Ok(f) => f,
        Err(e) => return Outcome::fail(format!("error: {e:#}\n")),
    };
    let outputs = match super::export(&files, &model) {
        Ok(o) => o,
        Err(e) => return Outcome::fail(format!("error: cannot export: {e:#}\n")),
    };
    match crate::write::write(&args.out, &args.slos, &outputs) {
        Ok(summary) => Outcome::written(
            &format!(
                "exported {} service(s) to {}",
                outputs.len(),
                args.out.display()
            ),
            &summary,
        ),
        Err(e) => Outcome::fail(format!("error: {e:#}\n")),
    }
}

/// Runs `import openslo`.
pub fn import_command(args: &ImportArgs) -> Outcome {
    let inputs = match crate::cli::read_inputs(&args.files) {
        Ok(inputs) => inputs,
        Err(failed) => return failed,
    };
    let shown = args
        .out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| args.out.display().to_string());
    let files = match super::import(&inputs, &shown) {
        Ok(f) => f,
        Err(e) => return Outcome::fail(e),
    };
    match crate::import::write_new(&args.out, &files) {
        Ok(paths) => Outcome {
            stdout: format!(
                "imported {} file(s) into {}: {}\nnext: `slogen generate --slos {}`\n",
                paths.len(),
                args.out.display(),
                crate::cli::path_list(&paths),
                args.out.display()
            ),
            ..Outcome::default()
        },
        Err(e) => Outcome::fail(format!("error: {e:#}\n")),
    }
}
