//! Command-line commands. Each returns its output and exit code instead of printing, so tests call them
//! directly.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::model::lower::SourceFile;
use crate::{diagnostics, emit, import, load, model, write};

/// Compiles SLO and metric specs (TOML) into a Rust metrics module, Prometheus rules, Grafana dashboards and docs.
#[derive(Debug, Parser)]
#[command(
    name = "slogen",
    version,
    after_help = "Examples:\n  slogen generate                     # slos/ -> generated/\n  slogen check                        # exit 1 with a diff when generated/ is stale\n  slogen validate --slos fixtures/    # check specs, write nothing\n  slogen schema > slogen.schema.json  # JSON Schema for editor completion\n\nExit codes: 0 ok, 1 invalid input or stale output, 2 usage error."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the specs and (re)write every output.
    Generate(Paths),
    /// Fail with a unified diff when the output directory differs from what `generate` would write.
    Check(Paths),
    /// Validate the specs; write nothing.
    Validate(SpecDir),
    /// Print the JSON Schema of the spec format.
    Schema,
    /// Write the specs in another tool's format.
    #[command(subcommand)]
    Export(Export),
    /// Turn another tool's SLO files into spec files (one per service), written into a folder.
    #[command(subcommand)]
    Import(Import),
}

/// The formats `export` writes.
#[derive(Debug, Subcommand)]
pub enum Export {
    /// OpenSLO v1: one multi-document YAML file per service (written like `generate`'s outputs).
    Openslo(crate::openslo::ExportArgs),
}

/// The formats `import` reads.
#[derive(Debug, Subcommand)]
pub enum Import {
    /// Sloth's `prometheus/v1` specs, `PrometheusServiceLevel` resources and `AlertWindows` (multi-document
    /// YAML); the imported alerts behave as Sloth's.
    Sloth(SlothImport),
    /// OpenSLO v1 (`Service`, `SLO`, `SLI`, `AlertPolicy`, `AlertCondition`, `DataSource`), multi-document YAML.
    Openslo(crate::openslo::ImportArgs),
}

/// Arguments of `import sloth`.
#[derive(Debug, Args)]
pub struct SlothImport {
    /// Sloth YAML files. `AlertWindows` among them replace Sloth's built-in windows, as its
    /// `--slo-period-windows-path` does.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Folder to write `<service>.toml` files into (created if missing); an existing file is never replaced.
    #[arg(long)]
    pub out: PathBuf,
    /// The SLO period Sloth generated with (its `--default-slo-period`).
    #[arg(long, default_value = crate::import::sloth::DEFAULT_PERIOD)]
    pub slo_period: String,
}

/// Where the specs are.
#[derive(Debug, Args)]
pub struct SpecDir {
    /// Directory of `*.toml` spec files.
    #[arg(long, default_value = "slos")]
    pub slos: PathBuf,
}

/// Where the specs are and where outputs go.
#[derive(Debug, Args)]
pub struct Paths {
    /// Directory of `*.toml` spec files.
    #[arg(long, default_value = "slos")]
    pub slos: PathBuf,
    /// Directory of generated files, owned by slogen: it lists what it wrote in `.slogen-manifest` and
    /// replaces or removes only those files.
    #[arg(long, default_value = "generated")]
    pub out: PathBuf,
}

/// What a command printed and how it ended.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Exit status: 0 ok, 1 invalid input or stale output.
    pub code: u8,
}

impl Outcome {
    /// Exit 1 with `stderr`.
    pub fn fail(stderr: String) -> Outcome {
        Outcome {
            stdout: String::new(),
            stderr,
            code: 1,
        }
    }

    /// What a run of [`write::write`] did, after `headline` (e.g. "generated generated/"): the counts, and a
    /// note per file it left alone because it did not write it.
    pub fn written(headline: &str, summary: &write::WriteSummary) -> Outcome {
        Outcome {
            stdout: format!(
                "{headline}: {} written, {} unchanged, {} removed\n",
                summary.written.len(),
                summary.unchanged,
                summary.removed.len()
            ),
            stderr: summary
                .foreign
                .iter()
                .map(|path| format!("note: left alone (slogen did not write it): {path}\n"))
                .collect(),
            code: 0,
        }
    }
}

/// `paths` for a one-line message: displayed, comma-separated.
pub fn path_list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|path| path.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs one command.
pub fn run(cli: &Cli) -> Outcome {
    match &cli.command {
        Command::Generate(p) => generate(p),
        Command::Check(p) => check(p),
        Command::Validate(d) => match build(&d.slos) {
            Ok(model) => Outcome {
                stdout: format!(
                    "ok: {} service(s), {} SLO(s), {} metric(s)\n",
                    model.services.len(),
                    model.services.iter().map(|s| s.slos.len()).sum::<usize>(),
                    model
                        .services
                        .iter()
                        .map(|s| s.metrics.len())
                        .sum::<usize>()
                ),
                ..Outcome::default()
            },
            Err(e) => Outcome::fail(e),
        },
        Command::Import(Import::Sloth(args)) => import_sloth(args),
        Command::Export(Export::Openslo(p)) => crate::openslo::export_command(p),
        Command::Import(Import::Openslo(args)) => crate::openslo::import_command(args),
        Command::Schema => match emit::schema::emit() {
            Ok(s) => Outcome {
                stdout: s,
                ..Outcome::default()
            },
            Err(e) => Outcome::fail(format!("error: {e:#}\n")),
        },
    }
}

/// Loads and lowers the specs; the error is the rendered diagnostics.
pub fn build(slos: &std::path::Path) -> Result<model::Model, String> {
    let files = load::spec_dir(slos).map_err(|e| match e.downcast::<load::NotUtf8>() {
        Ok(bad) => diagnostics::render(&bad.files, &bad.problems),
        Err(e) => format!("error: {e:#}\n"),
    })?;
    model::lower(&files).map_err(|problems| diagnostics::render(&files, &problems))
}

fn outputs(slos: &std::path::Path) -> Result<Vec<emit::Output>, String> {
    let model = build(slos)?;
    emit::emit_all(&model).map_err(|e| format!("error: cannot generate outputs: {e:#}\n"))
}

fn generate(p: &Paths) -> Outcome {
    let outputs = match outputs(&p.slos) {
        Ok(o) => o,
        Err(e) => return Outcome::fail(e),
    };
    match write::write(&p.out, &p.slos, &outputs) {
        Ok(summary) => Outcome::written(&format!("generated {}", p.out.display()), &summary),
        Err(e) => Outcome::fail(format!("error: {e:#}\n")),
    }
}

fn check(p: &Paths) -> Outcome {
    let outputs = match outputs(&p.slos) {
        Ok(o) => o,
        Err(e) => return Outcome::fail(e),
    };
    let drift = match write::check(&p.out, &p.slos, &outputs) {
        Ok(d) => d,
        Err(e) => return Outcome::fail(format!("error: {e:#}\n")),
    };
    if drift.is_empty() {
        return Outcome {
            stdout: format!(
                "{} is up to date ({} files)\n",
                p.out.display(),
                outputs.len() + 1
            ),
            ..Outcome::default()
        };
    }
    let mut err = String::new();
    for d in &drift {
        match d {
            write::Drift::Missing(path) => err.push_str(&format!("missing: {path}\n")),
            write::Drift::Orphan(path) => err.push_str(&format!(
                "orphan (slogen wrote it and no longer generates it; `generate` removes it): {path}\n"
            )),
            write::Drift::Foreign(path) => err.push_str(&format!(
                "foreign (not written by slogen; `generate` leaves it, remove it by hand): {path}\n"
            )),
            write::Drift::NotAFile(path) => err.push_str(&format!(
                "not a regular file (slogen writes a file here; remove what is in the way): {path}\n"
            )),
            write::Drift::Stale(path, diff) => err.push_str(&format!("stale: {path}\n{diff}")),
        }
    }
    err.push_str(&format!(
        "error: {} is out of date with {} ({} file(s)); run `slogen generate` and commit the result\n",
        p.out.display(),
        p.slos.display(),
        drift.len()
    ));
    Outcome::fail(err)
}

fn import_sloth(args: &SlothImport) -> Outcome {
    let inputs = match read_inputs(&args.files) {
        Ok(inputs) => inputs,
        Err(failed) => return failed,
    };
    let imported = match import::sloth::import(&inputs, Some(&args.slo_period), &args.out) {
        Ok(i) => i,
        Err(e) => return Outcome::fail(e),
    };
    match import::write_new(&args.out, &imported.files) {
        Ok(paths) => Outcome {
            stdout: format!(
                "imported {} service(s) from {} file(s): {}\nnext: set `team` and `runbook_base_url` where the files say so, then `slogen generate --slos {}`\n",
                paths.len(),
                inputs.len(),
                path_list(&paths),
                args.out.display()
            ),
            ..Outcome::default()
        },
        Err(e) => Outcome::fail(format!("error: {e:#}\n")),
    }
}

/// Reads another tool's files for an import, or the outcome that says which one could not be read (nothing is
/// written then).
pub(crate) fn read_inputs(files: &[PathBuf]) -> Result<Vec<SourceFile>, Outcome> {
    let mut inputs = Vec::new();
    for path in files {
        match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => inputs.push(SourceFile {
                    path: path.display().to_string(),
                    text,
                }),
                Err(e) => {
                    return Err(Outcome::fail(format!(
                        "error: {} is not UTF-8 (byte {} is invalid); nothing was written\nhelp: save it as UTF-8\n",
                        path.display(),
                        e.utf8_error().valid_up_to()
                    )))
                }
            },
            Err(e) => {
                return Err(Outcome::fail(format!(
                    "error: cannot read {}: {e}; nothing was written\n",
                    path.display()
                )))
            }
        }
    }
    Ok(inputs)
}
