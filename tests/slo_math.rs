//! SLO math on real traffic, under the real promtool: latency SLIs match every `le` spelling Prometheus 2 and
//! 3 may store; and the generated tests catch rules that turn NaN after a quiet period or page on a handful
//! of failures at low traffic.

mod common;
#[path = "common/inline.rs"]
mod inline;
#[path = "common/promtool.rs"]
mod promtool;

use std::path::Path;

use slogen::emit;
use slogen::model::Model;

const SPEC: &str = r#"version = 1

[tiers.standard]
objective = 99

[service]
name = "spell"
tier = "standard"
team = "web"
runbook_base_url = "https://runbooks.example.com/spell"
selector = { job = "spell" }

[metrics.wait]
type = "histogram"
unit = "seconds"
help = "Waits."
buckets = [0.00005, 1, 1000000]

[slos.tiny]
description = "Waits under 50 µs."
[slos.tiny.latency]
metric = "wait"
threshold = 0.00005

[slos.one]
description = "Waits under a second."
[slos.one.latency]
metric = "wait"
threshold = 1

[slos.huge]
description = "Waits under a million seconds."
[slos.huge.latency]
metric = "wait"
threshold = 1000000
"#;

/// Writes the service's rules and `tests` (a promtool test file's text) into `dir` and runs promtool on them.
fn run_tests(dir: &Path, model: &Model, tests: &str) -> std::process::Output {
    let service = &model.services[0];
    std::fs::write(
        dir.join("rules.yml"),
        emit::prometheus::emit(service).expect("rules"),
    )
    .expect("write rules");
    let path = dir.join("spellings.test.yml");
    std::fs::write(&path, tests).expect("write test");
    promtool::run(&["test", "rules"], &[path])
}

/// Each threshold's bucket fed under every spelling a client or Prometheus 3 writes: in each spelling, half
/// of the events are slower than the threshold, so the SLI records 0.5 whichever spelling the series has.
#[test]
fn latency_slis_match_every_le_spelling_of_their_bound() {
    promtool::require();
    let model = inline::lower(&[("spell.toml", SPEC)]);
    let spellings: [(&str, &[&str]); 3] = [
        ("tiny", &["5e-05", "0.00005"]),
        ("one", &["1", "1.0"]),
        ("huge", &["1e+06", "1000000"]),
    ];
    let tmp = tempfile::tempdir().expect("temp dir");
    for (slo, texts) in spellings {
        for le in texts {
            let tests = format!(
                r#"rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'wait_seconds_bucket{{job="spell",le="{le}"}}'
        values: '0+5x10'
      - series: 'wait_seconds_bucket{{job="spell",le="+Inf"}}'
        values: '0+10x10'
      - series: 'wait_seconds_count{{job="spell"}}'
        values: '0+10x10'
    promql_expr_test:
      - expr: slo:sli_error:ratio_rate5m{{sloth_slo="{slo}"}}
        eval_time: 10m
        exp_samples:
          - labels: 'slo:sli_error:ratio_rate5m{{sloth_id="spell-{slo}",sloth_service="spell",sloth_slo="{slo}",sloth_window="5m",team="web"}}'
            value: 0.5
"#
            );
            let out = run_tests(tmp.path(), &model, &tests);
            assert!(
                out.status.success(),
                "SLO {slo} does not read its bucket written as le=\"{le}\":\n{}",
                promtool::text(&out)
            );
        }
    }
}

/// Runs the generated rule tests of the reference spec against its rules changed by `change` (a text edit of
/// the rules file) and returns promtool's output, or `None` when they still pass.
fn failing_with(change: impl Fn(String) -> String) -> Option<String> {
    let model = common::lower(&common::root().join("slos"));
    let service = &model.services[0];
    let outputs = emit::emit_all(&model).expect("emit");
    let tmp = tempfile::tempdir().expect("temp dir");
    let rules = change(emit::prometheus::emit(service).expect("rules"));
    std::fs::write(tmp.path().join("rules.yml"), rules).expect("write rules");
    let test = outputs
        .iter()
        .find(|o| o.path == format!("{}/rules.test.yml", service.name))
        .expect("the finest test file");
    let path = tmp.path().join("rules.test.yml");
    std::fs::write(&path, &test.contents).expect("write test");
    let out = promtool::run(&["test", "rules"], &[path]);
    (!out.status.success()).then(|| promtool::text(&out))
}

/// Rules whose ratios divide by a zero rate (0/0 = NaN while there is no traffic) and whose SLO window
/// averages those ratios, as Sloth's do, fail the generated quiet-period test: the records stay NaN.
#[test]
fn generated_tests_catch_nan_after_a_quiet_period() {
    promtool::require();
    assert!(
        failing_with(|r| r).is_none(),
        "the rules fail their own tests"
    );
    let failure = failing_with(|rules| {
        rules
            .lines()
            .map(|line| match line.split_once("expr: sum_over_time(slo:sli_errors:rate5m") {
                // The SLO window as the average of the 5m ratios, as Sloth records it.
                Some((indent, rest)) => {
                    let (selector, _) = rest.split_once(") / (").expect("a period record");
                    format!(
                        "{indent}expr: sum_over_time(slo:sli_error:ratio_rate5m{selector}) / ignoring \
                         (sloth_window) count_over_time(slo:sli_error:ratio_rate5m{selector})"
                    )
                }
                // A ratio that divides by a zero rate.
                None => line.replace(" > 0)", ")"),
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
    .expect("the quiet-period test passes against rules that turn NaN while there is no traffic");
    assert!(
        failure.contains("count(slo:sli_error:ratio_rate30d") && failure.contains("got: nil"),
        "another test failed instead:\n{failure}"
    );
}

/// Rules without the low-traffic guard fail the generated low-traffic test: a handful of failures pages.
#[test]
fn generated_tests_catch_a_missing_low_traffic_guard() {
    promtool::require();
    let unguarded = |rules: String| {
        rules
            .lines()
            .map(
                |line| match line.find(" and ignoring (sloth_window) slo:sli_events:increase") {
                    Some(at) => &line[..at],
                    None => line,
                },
            )
            .collect::<Vec<_>>()
            .join("\n")
    };
    let failure = failing_with(unguarded)
        .expect("the low-traffic test passes against rules without the min_events guard");
    assert!(
        failure.contains("page no one"),
        "another test failed instead:\n{failure}"
    );
}

/// In every valid fixture, each latency SLI's bucket matcher lists its bound as Prometheus 3 stores it and as
/// the Go client writes it (which Prometheus 2 stores).
#[test]
fn every_latency_sli_matches_both_majors_spellings() {
    use slogen::model::{bounds, Sli};
    let mut checked = 0;
    for dir in common::fixture_dirs("valid") {
        let model = common::lower(&dir);
        for service in &model.services {
            for slo in &service.slos {
                let Sli::Latency { threshold, .. } = &slo.sli else {
                    continue;
                };
                let expr = &slo.rules.sli_records[0].rule.expr;
                let (_, matcher) = expr.split_once(",le=").expect("an le matcher");
                let listed: Vec<String> = match matcher.strip_prefix('~') {
                    Some(regex) => regex[1..regex[1..].find('"').expect("closing quote") + 1]
                        .split('|')
                        .map(|v| v.replace('\\', ""))
                        .collect(),
                    None => {
                        vec![matcher[1..matcher[1..].find('"').expect("quote") + 1].to_string()]
                    }
                };
                for le in [bounds::prometheus3(*threshold), bounds::go(*threshold)] {
                    assert!(
                        listed.contains(&le),
                        "{}: {} does not match le {le}: {expr}",
                        dir.display(),
                        slo.id
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "no valid fixture has a latency SLO");
}
