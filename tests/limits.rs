//! The bounds lowering puts on numbers and windows: the most extreme specs it accepts generate every output
//! (no overflow, no internal error), and one step past each bound is a positioned error.

use slogen::{diagnostics, emit, model};

/// A service with one ratio and one latency SLO at `objective` over `window`, with `alert_windows` rows.
fn spec(objective: &str, window: &str, alert_windows: &str) -> String {
    format!(
        r#"version = 1

[tiers.standard]
objective = {objective}

[service]
name = "app"
tier = "standard"
team = "web"
runbook_base_url = "https://runbooks.example.com/app"
{alert_windows}

[labels.status]
help = "Status class."
values = ["2xx", "5xx"]

[metrics.http_requests]
type = "counter"
help = "HTTP requests served."
labels = ["status"]

[metrics.latency]
type = "histogram"
help = "Time to serve a request."
unit = "seconds"
buckets = [0.1, 1]

[slos.availability]
description = "Requests succeed."
window = "{window}"
[slos.availability.ratio]
errors = {{ metric = "http_requests", match = {{ status = ["5xx"] }} }}
total = {{ metric = "http_requests" }}

[slos.fast]
description = "Requests are fast."
window = "{window}"
[slos.fast.latency]
metric = "latency"
threshold = 0.1
"#
    )
}

/// The problems of a spec, rendered, or `None` when it lowers.
fn problems(text: &str) -> Option<String> {
    let files = [model::SourceFile {
        path: "slos/app.toml".into(),
        text: text.into(),
    }];
    model::lower(&files)
        .err()
        .map(|p| diagnostics::render(&files, &p))
}

#[test]
fn the_most_extreme_accepted_specs_generate_every_output() {
    let extreme_rows = r#"alert_windows = [
  { severity = "page", long = "2m", short = "1m", budget_percent = 0.001 },
  { severity = "page", long = "7m", short = "3m", budget_percent = 33.333, for = "1m" },
  { severity = "ticket", long = "366d", short = "366m", budget_percent = 100, for = "366d" },
]"#;
    for (objective, window, rows) in [
        ("99.999999", "30d", ""),
        ("99.999999", "366d", ""),
        ("99.999999", "366d", extreme_rows),
        ("99.993457", "366d", ""),
        ("99.999991", "366d", extreme_rows),
    ] {
        let text = spec(objective, window, rows);
        let files = [model::SourceFile {
            path: "slos/app.toml".into(),
            text: text.clone(),
        }];
        let model = model::lower(&files).unwrap_or_else(|p| {
            panic!(
                "{objective} over {window} is rejected:\n{}",
                diagnostics::render(&files, &p)
            )
        });
        let outputs = emit::emit_all(&model).unwrap_or_else(|e| {
            panic!("{objective} over {window} with {rows:?} does not generate: {e:#}")
        });
        // The rule tests replay every burn-rate alert of both SLOs: the costliest arithmetic there is.
        let tests = outputs.iter().filter(|o| o.path.ends_with(".test.yml"));
        let alerts_tested = tests
            .map(|o| o.contents.matches("exp_alerts").count())
            .sum::<usize>();
        assert!(
            alerts_tested > 0,
            "{objective} over {window}: no rule test checks an alert"
        );
    }
}

#[test]
fn one_step_past_each_bound_is_a_positioned_error() {
    let row = |long: &str, short: &str, percent: &str, for_: &str| {
        format!(
            "alert_windows = [ {{ severity = \"ticket\", long = \"{long}\", short = \"{short}\", \
             budget_percent = {percent}, for = \"{for_}\" }} ]"
        )
    };
    for (text, says) in [
        (
            spec("99.9999999", "30d", ""),
            "has 7 decimal places, more than the 6",
        ),
        (
            spec("99.99999999999999999", "30d", ""),
            "has 17 decimal places",
        ),
        (
            spec("99.999999", "28d", ""),
            "its error-ratio threshold would be",
        ),
        (
            spec("99.9", "30d", &row("1d", "1h", "0.0005", "0s")),
            "has 4 decimal places, more than the 3",
        ),
        (
            spec("99.9", "30d", &row("1d", "59s", "10", "0s")),
            "less than 1/1440 of long window",
        ),
        (
            spec("99.9", "30d", &row("30d", "1m", "10", "0s")),
            "less than 1/1440 of long window",
        ),
        (
            spec("99.9", "30d", &row("1d", "1h", "10", "367d")),
            "is longer than 366d",
        ),
    ] {
        let rendered = problems(&text).unwrap_or_else(|| panic!("accepted:\n{text}"));
        assert!(rendered.contains(says), "expected {says:?} in:\n{rendered}");
        assert!(
            rendered.contains("┌─ slos/app.toml:"),
            "positioned:\n{rendered}"
        );
        let count =
            rendered.matches("\nerror: ").count() + usize::from(rendered.starts_with("error: "));
        assert_eq!(
            rendered.matches(says).count(),
            count - 1,
            "only that mistake, once per SLO it affects:\n{rendered}"
        );
    }
}
