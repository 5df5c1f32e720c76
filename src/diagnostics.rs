//! Renders model problems as `file:line:col` diagnostics with a source snippet, like cargo and rustc.
//!
//! Snippets show only the lines the labels are on, each cut to a readable width around its labels (`…` marks
//! the cut): a 10 MB line prints about [`WIDTH`] characters, not 10 MB. Line and column numbers stay those of
//! the file.

use std::ops::Range;

use codespan_reporting::files::{Error, Files};
use codespan_reporting::term::{self, termcolor::NoColor, Config};

use crate::model::lower::Problem;
use crate::model::SourceFile;

/// Most bytes of a source line shown in a snippet, around the labels on it.
pub const WIDTH: usize = 120;

/// Bytes of context kept on each side of the labels of a cut line.
const CONTEXT: usize = 40;

const ELLIPSIS: &str = "…";

/// Renders every problem, in order, as plain text.
pub fn render(files: &[SourceFile], problems: &[Problem]) -> String {
    let line_starts: Vec<Vec<usize>> = files
        .iter()
        .map(|f| {
            std::iter::once(0)
                .chain(f.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        })
        .collect();
    let mut out = NoColor::new(Vec::new());
    let config = Config::default();
    for problem in problems {
        let (views, problem) = snippet_views(files, &line_starts, problem);
        // Views hold every label's line, so rendering cannot miss one; keep going if it somehow does.
        let _ = term::emit(&mut out, &config, &views, &problem);
    }
    let count = problems.len();
    let mut text = String::from_utf8_lossy(&out.into_inner()).into_owned();
    text.push_str(&format!(
        "error: {count} problem{} found; nothing was written\n",
        if count == 1 { "" } else { "s" }
    ));
    text
}

/// The lines one problem shows, from every file it points into, and the problem with its labels moved there.
fn snippet_views<'f>(
    files: &'f [SourceFile],
    line_starts: &[Vec<usize>],
    problem: &Problem,
) -> (Views<'f>, Problem) {
    let mut views = Views(files.iter().map(|_| None).collect());
    for (id, file) in files.iter().enumerate() {
        let ranges: Vec<Range<usize>> = problem
            .labels
            .iter()
            .filter(|l| l.file_id == id)
            .map(|l| clamp(&file.text, l.range.clone()))
            .collect();
        if !ranges.is_empty() {
            views.0[id] = Some(View::new(file, &line_starts[id], &ranges));
        }
    }
    let mut moved = problem.clone();
    for label in &mut moved.labels {
        if let Some(view) = &views.0[label.file_id] {
            let range = clamp(&files[label.file_id].text, label.range.clone());
            label.range = view.map(range.start)..view.map(range.end);
        }
    }
    (views, moved)
}

/// A range inside the text, on character boundaries.
fn clamp(text: &str, range: Range<usize>) -> Range<usize> {
    let start = floor_char(text, range.start.min(text.len()));
    let end = floor_char(text, range.end.clamp(start, text.len()));
    start..end
}

fn floor_char(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_char(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

/// One shown line: where its window of the original line sits in the view text.
struct ViewLine {
    /// Line index in the file.
    line: usize,
    /// Byte offset of the line in the file.
    line_start: usize,
    /// The shown window of the line, as byte offsets in the file.
    window: Range<usize>,
    /// Offset of the window's first byte in the view text (after a leading `…`).
    at: usize,
}

/// The shown lines of one file.
struct View<'f> {
    file: &'f SourceFile,
    text: String,
    lines: Vec<ViewLine>,
}

impl<'f> View<'f> {
    fn new(file: &'f SourceFile, starts: &[usize], ranges: &[Range<usize>]) -> View<'f> {
        let line_of = |at: usize| starts.partition_point(|&s| s <= at) - 1;
        let mut shown: Vec<usize> = ranges
            .iter()
            .flat_map(|r| [line_of(r.start), line_of(r.end)])
            .collect();
        shown.sort_unstable();
        shown.dedup();
        // Like codespan, show a single skipped line itself; longer gaps are marked with `·`.
        let singles: Vec<usize> = shown
            .windows(2)
            .filter(|w| w[0] + 2 == w[1])
            .map(|w| w[0] + 1)
            .collect();
        shown.extend(singles);
        shown.sort_unstable();
        let mut view = View {
            file,
            text: String::new(),
            lines: Vec::new(),
        };
        for (n, &line) in shown.iter().enumerate() {
            // Two blank stand-ins for skipped lines, so the snippet marks the gap with `·`.
            if n > 0 && shown[n - 1] + 2 < line {
                for skipped in [shown[n - 1] + 1, shown[n - 1] + 2] {
                    let gap = starts[skipped];
                    view.lines.push(ViewLine {
                        line: skipped,
                        line_start: gap,
                        window: gap..gap,
                        at: view.text.len(),
                    });
                    view.text.push('\n');
                }
            }
            let start = starts[line];
            let end = starts
                .get(line + 1)
                .map_or(file.text.len(), |&next| next - 1);
            let end = if file.text[start..end].ends_with('\r') {
                end - 1
            } else {
                end
            };
            // The labels' extent on this line, then context around it, within the width.
            let marks = ranges
                .iter()
                .flat_map(|r| [r.start, r.end])
                .filter(|&at| at >= start && at <= end);
            let (lo, hi) = marks.fold((end, start), |(lo, hi), at| (lo.min(at), hi.max(at)));
            let (lo, hi) = if lo > hi { (start, start) } else { (lo, hi) };
            let window = if end - start <= WIDTH {
                start..end
            } else {
                let from = lo.saturating_sub(CONTEXT).max(start);
                let to = (hi.max(lo + 1) + CONTEXT)
                    .min(end)
                    .min(from + WIDTH)
                    .max(from);
                floor_char(&file.text, from)..ceil_char(&file.text, to)
            };
            if window.start > start {
                view.text.push_str(ELLIPSIS);
            }
            view.lines.push(ViewLine {
                line,
                line_start: start,
                window: window.clone(),
                at: view.text.len(),
            });
            view.text.push_str(&file.text[window.clone()]);
            if window.end < end {
                view.text.push_str(ELLIPSIS);
            }
            view.text.push('\n');
        }
        view
    }

    /// Where a file offset shows in the view: inside its line's window, or at the window's edge.
    fn map(&self, at: usize) -> usize {
        let i = self
            .lines
            .partition_point(|l| l.line_start <= at)
            .saturating_sub(1);
        let l = &self.lines[i];
        l.at + at.clamp(l.window.start, l.window.end) - l.window.start
    }

    /// The view line holding a view offset.
    fn line_at(&self, at: usize) -> usize {
        self.lines.partition_point(|l| l.at <= at).saturating_sub(1)
    }
}

/// The views of one problem, by file id; `None` for files it does not point into.
struct Views<'f>(Vec<Option<View<'f>>>);

impl Views<'_> {
    fn view(&self, id: usize) -> Result<&View<'_>, Error> {
        self.0
            .get(id)
            .and_then(Option::as_ref)
            .ok_or(Error::FileMissing)
    }
}

impl<'a> Files<'a> for Views<'_> {
    type FileId = usize;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: usize) -> Result<&'a str, Error> {
        Ok(&self.view(id)?.file.path)
    }

    fn source(&'a self, id: usize) -> Result<&'a str, Error> {
        Ok(&self.view(id)?.text)
    }

    fn line_index(&'a self, id: usize, byte_index: usize) -> Result<usize, Error> {
        Ok(self.view(id)?.line_at(byte_index))
    }

    fn line_number(&'a self, id: usize, line_index: usize) -> Result<usize, Error> {
        let view = self.view(id)?;
        Ok(view
            .lines
            .get(line_index)
            .ok_or(Error::LineTooLarge {
                given: line_index,
                max: view.lines.len(),
            })?
            .line
            + 1)
    }

    fn column_number(
        &'a self,
        id: usize,
        line_index: usize,
        byte_index: usize,
    ) -> Result<usize, Error> {
        let view = self.view(id)?;
        let l = view.lines.get(line_index).ok_or(Error::LineTooLarge {
            given: line_index,
            max: view.lines.len(),
        })?;
        let in_file = (l.window.start + byte_index.saturating_sub(l.at)).min(l.window.end);
        let text = &view.file.text;
        Ok(text[l.line_start..floor_char(text, in_file)]
            .chars()
            .count()
            + 1)
    }

    fn line_range(&'a self, id: usize, line_index: usize) -> Result<Range<usize>, Error> {
        let view = self.view(id)?;
        let l = view.lines.get(line_index).ok_or(Error::LineTooLarge {
            given: line_index,
            max: view.lines.len(),
        })?;
        let start = l.at
            - if l.window.start > l.line_start {
                ELLIPSIS.len()
            } else {
                0
            };
        let end = view
            .lines
            .get(line_index + 1)
            .map_or(view.text.len(), |next| {
                next.at
                    - if next.window.start > next.line_start {
                        ELLIPSIS.len()
                    } else {
                        0
                    }
            });
        Ok(start..end)
    }
}

#[cfg(test)]
mod tests {
    use codespan_reporting::diagnostic::{Diagnostic, Label};

    use super::*;

    #[test]
    fn a_ten_megabyte_line_prints_a_short_snippet_with_the_right_column() {
        let mut text = "version = 1\nx = \"".to_string();
        text.push_str(&"a".repeat(5_000_000));
        let at = text.len();
        text.push_str("BAD");
        text.push_str(&"é".repeat(2_500_000));
        text.push_str("\"\n");
        let files = [SourceFile {
            path: "slos/big.toml".into(),
            text,
        }];
        let problem = Diagnostic::error()
            .with_message("bad")
            .with_labels(vec![Label::primary(0, at..at + 3).with_message("here")]);
        let rendered = render(&files, &[problem]);
        assert!(
            rendered.len() < 2_000,
            "{} bytes:\n{rendered}",
            rendered.len()
        );
        assert!(rendered.contains("slos/big.toml:2:5000006"), "{rendered}");
        assert!(rendered.contains("…aaaa"), "{rendered}");
        assert!(rendered.contains("BADéé"), "{rendered}");
        assert!(rendered.contains("^^^ here"), "{rendered}");
    }
}
