//! The generated `promtool test rules` files, run with the real promtool: they pass against the rules they were
//! generated with, for `slos/` and every valid fixture, and cover every SLO's alerts; and they fail once the
//! rules disagree with the model on a burn-rate threshold or an alert window.

mod common;
#[path = "common/promtool.rs"]
mod promtool;
#[path = "common/spec_dirs.rs"]
mod spec_dirs;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Output as ProcessOutput;

use common::lower;
use slogen::emit::{self, Output};
use slogen::model::query::QueryFeed;
use slogen::model::{Duration, Exact, Model, Severity, Sli};

fn is_rule_test(output: &Output) -> bool {
    output.path.ends_with(".test.yml")
}

fn run_promtool(files: &[PathBuf]) -> ProcessOutput {
    promtool::run(&["test", "rules"], files)
}

/// Every generated test file passes under promtool. The services run two at a time (promtool evaluates every
/// rule at every step, so this is the slow part); their total time is printed.
#[test]
fn generated_rule_tests_pass_under_promtool() {
    promtool::require();
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut services: Vec<(String, Vec<PathBuf>)> = Vec::new();
    for (name, dir) in spec_dirs::all() {
        let outputs = emit::emit_all(&lower(&dir)).expect("emit");
        let out_dir = tmp.path().join(&name);
        slogen::write::write(&out_dir, &dir, &outputs).expect("write outputs");
        let mut by_service: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
        for o in outputs.iter().filter(|o| is_rule_test(o)) {
            let service = o.path.split('/').next().unwrap().to_string();
            by_service
                .entry(format!("{name}/{service}"))
                .or_default()
                .push(out_dir.join(&o.path));
        }
        assert!(!by_service.is_empty(), "{name}: no rule tests generated");
        services.extend(by_service);
    }
    let started = std::time::Instant::now();
    let run = |chunk: &[(String, Vec<PathBuf>)]| {
        chunk
            .iter()
            .map(|(service, files)| {
                let t = std::time::Instant::now();
                let out = run_promtool(files);
                (service.clone(), out, t.elapsed().as_secs_f64())
            })
            .collect::<Vec<_>>()
    };
    let (left, right) = services.split_at(services.len() / 2);
    let results: Vec<(String, ProcessOutput, f64)> = std::thread::scope(|scope| {
        let a = scope.spawn(|| run(left));
        let b = scope.spawn(|| run(right));
        let mut all = a.join().expect("promtool runs");
        all.extend(b.join().expect("promtool runs"));
        all
    });
    for (service, out, seconds) in &results {
        eprintln!("promtool test rules {service}: {seconds:.1} s");
        assert!(
            out.status.success(),
            "promtool test rules fails for {service}:\n{}",
            promtool::text(out)
        );
    }
    eprintln!(
        "all {} services: {:.1} s wall clock",
        results.len(),
        started.elapsed().as_secs_f64()
    );
}

/// The test files as data: per alert name, every expected firing alert's labels, and whether some check
/// expects none of that name.
struct Expectations {
    firing: BTreeMap<String, Vec<BTreeMap<String, String>>>,
    quiet: BTreeMap<String, bool>,
}

fn expectations(outputs: &[Output], service: &str) -> Expectations {
    let mut firing: BTreeMap<String, Vec<BTreeMap<String, String>>> = BTreeMap::new();
    let mut quiet: BTreeMap<String, bool> = BTreeMap::new();
    for o in outputs
        .iter()
        .filter(|o| is_rule_test(o) && o.path.starts_with(&format!("{service}/")))
    {
        let file: serde_json::Value =
            serde_norway::from_str(&o.contents).unwrap_or_else(|e| panic!("{}: {e}", o.path));
        assert_eq!(
            file["rule_files"],
            serde_json::json!(["rules.yml"]),
            "{}",
            o.path
        );
        for group in file["tests"].as_array().expect("tests") {
            for test in group["alert_rule_test"].as_array().expect("alert tests") {
                let name = test["alertname"].as_str().expect("alertname").to_string();
                let exp = test["exp_alerts"].as_array().expect("exp_alerts");
                if exp.is_empty() {
                    quiet.insert(name.clone(), true);
                }
                for alert in exp {
                    let labels: BTreeMap<String, String> =
                        serde_json::from_value(alert["exp_labels"].clone()).expect("labels");
                    firing.entry(name.clone()).or_default().push(labels);
                }
            }
        }
    }
    Expectations { firing, quiet }
}

/// Every burn-rate alert of every SLO is expected to fire at some checked time with its labels, and to be
/// quiet at another; every absent alert likewise. A query SLI whose queries the tests cannot feed is the
/// exception, and every test file of its service says so in a comment naming it.
#[test]
fn rule_tests_cover_every_slo_alert() {
    let mut left_out = 0;
    for (name, dir) in spec_dirs::all() {
        let model = lower(&dir);
        let outputs = emit::emit_all(&model).expect("emit");
        for service in &model.services {
            let e = expectations(&outputs, &service.name);
            for slo in &service.slos {
                if let Sli::Events {
                    feed: QueryFeed::Unfed(why),
                    ..
                }
                | Sli::Raw {
                    feed: QueryFeed::Unfed(why),
                    ..
                } = &slo.sli
                {
                    let comment = format!("\n# Left out (query SLI): {}: {why}.\n", slo.name);
                    for o in outputs.iter().filter(|o| {
                        is_rule_test(o) && o.path.starts_with(&format!("{}/", service.name))
                    }) {
                        assert!(
                            o.contents.contains(&comment),
                            "{name}: {} does not say it leaves out {}",
                            o.path,
                            slo.id
                        );
                    }
                    left_out += 1;
                    continue;
                }
                let burn = &slo.rules.burn_alert;
                let absent = &slo.rules.absent_alert.rule.alert;
                for a in &slo.burn_rate_alerts {
                    let fired = e.firing.get(burn).into_iter().flatten().any(|l| {
                        l.get("long") == Some(&a.long.promql())
                            && l.get("short") == Some(&a.short.promql())
                            && l.get("burn_rate") == Some(&a.factor.to_string())
                    });
                    assert!(
                        fired,
                        "{name}: {burn} over {}/{} is never expected to fire",
                        a.long.promql(),
                        a.short.promql()
                    );
                }
                if !slo.burn_rate_alerts.is_empty() {
                    assert!(
                        e.quiet.get(burn) == Some(&true),
                        "{name}: {burn} is never expected quiet"
                    );
                }
                assert!(
                    e.firing.get(absent).is_some_and(|v| !v.is_empty()),
                    "{name}: {absent} is never expected to fire"
                );
                assert!(
                    e.quiet.get(absent) == Some(&true),
                    "{name}: {absent} is never expected quiet"
                );
            }
        }
    }
    assert!(left_out > 0, "no spec has a query SLI the tests leave out");
}

/// Writes the rules of `rules_model` next to the first-interval test file generated from `tests_model`, runs
/// promtool on that test file and returns its output.
fn run_against(tests_model: &Model, rules_model: &Model) -> ProcessOutput {
    let tests = emit::emit_all(tests_model).expect("emit");
    let tmp = tempfile::tempdir().expect("temp dir");
    let service = &rules_model.services[0];
    let dir = tmp.path().join(&service.name);
    std::fs::create_dir_all(&dir).expect("service dir");
    std::fs::write(
        dir.join("rules.yml"),
        emit::prometheus::emit(service).expect("emit rules"),
    )
    .expect("write rules");
    let test_path = format!("{}/rules.test.yml", service.name);
    let test = tests
        .iter()
        .find(|o| o.path == test_path)
        .unwrap_or_else(|| panic!("no {test_path}"));
    std::fs::write(dir.join("rules.test.yml"), &test.contents).expect("write test");
    run_promtool(&[dir.join("rules.test.yml")])
}

/// promtool's failed checks, each with its expected and actual number of firing alerts.
fn failures(output: &str) -> Vec<(&str, usize, usize)> {
    output
        .split("\n    name: ")
        .skip(1)
        .filter_map(|failure| {
            let (exp, got) = failure.split_once("got:")?;
            Some((
                failure,
                exp.matches("Labels:{").count(),
                got.matches("Labels:{").count(),
            ))
        })
        .collect()
}

/// The reference spec with the first page alert of its first paging SLO changed by `change`.
fn mutated(change: impl Fn(&mut slogen::model::BurnRateAlert)) -> (Model, Model, String) {
    let model = lower(&common::root().join("slos"));
    let mut altered = model.clone();
    let slo = altered.services[0]
        .slos
        .iter_mut()
        .find(|s| {
            s.burn_rate_alerts
                .iter()
                .any(|a| a.severity == Severity::Page)
        })
        .expect("a paging SLO");
    let alert = slo
        .burn_rate_alerts
        .iter_mut()
        .find(|a| a.severity == Severity::Page)
        .expect("a page alert");
    let what = format!(
        "{} {}/{}",
        slo.name,
        alert.long.promql(),
        alert.short.promql()
    );
    change(alert);
    // The rules are derived from the alerts at lowering: derive them again from the changed alert.
    slogen::model::rules::attach(&mut altered.services[0]);
    (model, altered, what)
}

fn assert_detected(tests_model: &Model, rules_model: &Model, what: &str) {
    let out = run_against(tests_model, rules_model);
    let output = promtool::text(&out);
    assert!(
        !out.status.success(),
        "the rule tests pass against rules with {what}:\n{output}"
    );
    let failures = failures(&output);
    let timing: Vec<&str> = failures
        .iter()
        .filter(|(_, exp, got)| exp != got)
        .map(|(text, _, _)| *text)
        .collect();
    assert!(
        !timing.is_empty(),
        "with {what} the tests fail only on labels or annotations, not on when alerts fire:\n{output}"
    );
    eprintln!(
        "with {what}, promtool fails {} checks, {} of them on which alerts fire; the first:\n    name: {}",
        failures.len(),
        timing.len(),
        timing[0].trim_end()
    );
}

/// The tests come from the model; rules with one page alert's threshold 10% higher fail them (the alert
/// fires later than the model says), and so do rules with it 10% lower (it fires earlier).
#[test]
fn rule_tests_fail_when_a_threshold_differs_from_the_model() {
    promtool::require();
    for (change, how) in [
        (Exact::new(11, 10), "raised"),
        (Exact::new(9, 10), "lowered"),
    ] {
        let (model, altered, what) = mutated(|a| a.threshold = a.threshold * change);
        assert_detected(
            &model,
            &altered,
            &format!("the threshold of {what} {how} by 10%"),
        );
    }
}

/// Rules that read one page alert's long window at twice its length fail the tests too.
#[test]
fn rule_tests_fail_when_an_alert_window_differs_from_the_model() {
    promtool::require();
    let (model, altered, what) = mutated(|a| {
        a.long = Duration {
            seconds: a.long.seconds * 2,
        }
    });
    assert_detected(
        &model,
        &altered,
        &format!("the long window of {what} doubled"),
    );
}
