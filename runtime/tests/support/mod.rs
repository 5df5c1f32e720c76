//! Runs the real `promtool` on an exposition.

use std::io::Write as _;
use std::process::{Command, Stdio};

/// What `promtool check metrics` said about an exposition.
struct PromtoolReport {
    /// The exit code: 0 clean, 1 unparsable, 3 lint findings.
    code: i32,
    /// The lint findings (or the parse error), one per line, sorted.
    findings: Vec<String>,
}

/// Writes `exposition` to a temporary file and feeds it to `promtool check metrics`.
fn promtool_check_metrics(exposition: &str) -> PromtoolReport {
    let mut file = tempfile::NamedTempFile::new().expect("create a temporary file");
    file.write_all(exposition.as_bytes())
        .expect("write the exposition");
    let input = file.reopen().expect("reopen the exposition");
    let output = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
    {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
            "promtool is not on PATH: install Debian's `prometheus` package (apt-get install prometheus), \
             which provides /usr/bin/promtool"
        ),
        Err(error) => panic!("cannot run promtool: {error}"),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut findings: Vec<String> = text.lines().map(str::to_owned).collect();
    findings.sort();
    PromtoolReport {
        code: output.status.code().expect("promtool exited normally"),
        findings,
    }
}

/// Asserts that promtool parses `exposition` and finds nothing wrong except what it reports for every
/// OpenMetrics counter: promtool 2.42 lints the classic text format, where the `_total` samples of a counter
/// whose `# HELP`/`# TYPE` name the family without `_total` look like a separate family without help.
pub fn assert_promtool_accepts(exposition: &str, counters: &[&str]) {
    let report = promtool_check_metrics(exposition);
    let mut expected: Vec<String> = counters
        .iter()
        .map(|counter| format!("{counter}_total no help text"))
        .collect();
    expected.sort();
    let expected_code = if expected.is_empty() { 0 } else { 3 };
    assert_eq!(
        (report.code, &report.findings),
        (expected_code, &expected),
        "promtool check metrics on:\n{exposition}"
    );
}
