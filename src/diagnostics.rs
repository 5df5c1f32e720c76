//! Renders model problems as `file:line:col` diagnostics with a source snippet, like cargo and rustc.

use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor::NoColor, Config};

use crate::model::lower::Problem;
use crate::model::SourceFile;

/// Renders every problem, in order, as plain text.
pub fn render(files: &[SourceFile], problems: &[Problem]) -> String {
    let mut db = SimpleFiles::new();
    for f in files {
        db.add(f.path.clone(), f.text.clone());
    }
    let mut out = NoColor::new(Vec::new());
    let config = Config::default();
    for problem in problems {
        // Spans come from the same files, so rendering cannot miss one; keep going if it somehow does.
        let _ = term::emit(&mut out, &config, &db, problem);
    }
    let count = problems.len();
    let mut text = String::from_utf8_lossy(&out.into_inner()).into_owned();
    text.push_str(&format!(
        "error: {count} problem{} found; nothing was written\n",
        if count == 1 { "" } else { "s" }
    ));
    text
}
