//! The `slogen` command line: a thin layer over [`slogen::run`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = slogen::cli::Cli::parse();
    let outcome = slogen::cli::run(&cli);
    if !outcome.stdout.is_empty() {
        print!("{}", outcome.stdout);
    }
    if !outcome.stderr.is_empty() {
        eprint!("{}", outcome.stderr);
    }
    ExitCode::from(outcome.code)
}
