//! The dashboard's overview tables, evaluated by the real `promtool`: their instant queries run over input
//! series named and labelled exactly as the generated rules record them (and `ALERTS` series labelled as the
//! generated alerts fire), and must return one row per SLO keyed by the label the table joins on, each with
//! the value its column promises — so the table's `merge` lines up and its columns read what they say.
//!
//! The rules themselves are not loaded: their evaluation is what the rule tests prove; here the input is
//! the records' output, with a distinct value per SLO and per window, so a query reading the wrong window,
//! the wrong record or another service's series returns a value the test does not expect.

mod common;
#[path = "common/promtool.rs"]
mod promtool;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::{json, Value};
use slogen::emit::{grafana, prometheus};
use slogen::model::Service;

/// Input series and expected samples are constant; the queries are evaluated here.
const EVAL_TIME: &str = "2m";

/// A PromQL series literal: `name{a="b",…}`, values escaped.
fn series(name: &str, labels: &BTreeMap<String, String>) -> String {
    let mut out = format!("{name}{{");
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let v = v.replace('\\', "\\\\").replace('"', "\\\"");
        write!(out, "{k}=\"{v}\"").unwrap();
    }
    out.push('}');
    out
}

/// Every recording rule of the service's rules file: record name and labels.
fn recorded(service: &Service) -> Vec<(String, BTreeMap<String, String>)> {
    let rules: Value = serde_norway::from_str(&prometheus::emit(service).expect("rules emit"))
        .expect("rules file is YAML");
    let mut out = Vec::new();
    for group in rules["groups"].as_array().into_iter().flatten() {
        for rule in group["rules"].as_array().into_iter().flatten() {
            if let Some(record) = rule["record"].as_str() {
                let labels = serde_json::from_value(rule["labels"].clone()).expect("labels");
                out.push((record.to_string(), labels));
            }
        }
    }
    out
}

/// The value fed for SLO `i`: its error ratio over its own window, budget left and burn rate, each distinct
/// per SLO and exact in binary, so expected values compare exactly.
fn error_ratio(i: usize) -> f64 {
    (i + 1) as f64 / 16.0
}
fn budget_left(i: usize) -> f64 {
    (i + 1) as f64 / 32.0
}
fn burn_rate(i: usize) -> f64 {
    (i + 1) as f64
}
/// What every other window's error ratio holds: a wrong window reads this.
const OTHER_WINDOW: f64 = 0.5;

/// The table panel titled `title` of a dashboard.
fn table<'a>(dashboard: &'a Value, title: &str) -> Option<&'a Value> {
    dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"] == "table" && p["title"] == title)
}

/// The label columns a table shows: the `organize` columns that are not a query's value or the time.
fn label_columns(table: &Value) -> BTreeSet<String> {
    table["transformations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "organize")
        .and_then(|t| t["options"]["indexByName"].as_object())
        .into_iter()
        .flatten()
        .map(|(k, _)| k.clone())
        .filter(|k| !k.starts_with("Value") && k != "Time")
        .collect()
}

/// The promtool test of one service's overview tables: input series, and for each table query its samples.
fn overview_test(service: &Service) -> Option<Value> {
    let name = &service.name;
    let dashboard: Value = serde_json::from_str(&grafana::emit(service).unwrap()).unwrap();
    let index: BTreeMap<&str, usize> = service
        .slos
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let mut input = Vec::new();
    for (record, labels) in recorded(service) {
        let Some(&i) = labels.get("sloth_slo").and_then(|s| index.get(s.as_str())) else {
            continue;
        };
        let slo = &service.slos[i];
        let value = match record.as_str() {
            "slo:objective:ratio" => slo.objective_ratio.to_string().parse().unwrap(),
            "slo:period_error_budget_remaining:ratio" => budget_left(i),
            "slo:current_burn_rate:ratio" => burn_rate(i),
            r if r.starts_with("slo:sli_error:ratio_rate") => {
                if labels.get("sloth_window") == Some(&slo.window.promql()) {
                    error_ratio(i)
                } else {
                    OTHER_WINDOW
                }
            }
            _ => 0.0,
        };
        input.push(json!({"series": series(&record, &labels), "values": format!("{value}x5")}));
    }
    // Alerts: every generated alert of the service, firing or pending, and another service's alert.
    let mut alerts: Vec<BTreeMap<String, String>> = Vec::new();
    for (i, slo) in service.slos.iter().enumerate() {
        for generated in slo
            .rules
            .burn_alerts
            .iter()
            .chain([&slo.rules.absent_alert])
        {
            let mut labels = generated.firing_labels.clone();
            labels.insert("alertname".into(), generated.rule.alert.clone());
            let state = if i % 2 == 0 { "firing" } else { "pending" };
            labels.insert("alertstate".into(), state.into());
            alerts.push(labels);
        }
    }
    for rule in &service.threshold_rules {
        let mut labels = rule.labels.clone();
        labels.insert("alertname".into(), rule.alert.clone());
        labels.insert("alertstate".into(), "firing".into());
        alerts.push(labels);
    }
    for labels in &alerts {
        input.push(json!({"series": series("ALERTS", labels), "values": "1x5"}));
    }
    let stranger = BTreeMap::from([
        ("alertname".to_string(), "SomeoneElsesAlert".to_string()),
        ("alertstate".to_string(), "firing".to_string()),
        ("service".to_string(), format!("{name}_neighbour")),
    ]);
    input.push(json!({"series": series("ALERTS", &stranger), "values": "1x5"}));

    let mut tests = Vec::new();
    if let Some(overview) = table(&dashboard, "SLO overview") {
        assert_eq!(
            label_columns(overview),
            BTreeSet::from(["sloth_slo".to_string()]),
            "{name}: the SLO table's rows are keyed by the SLO name, the one label its queries keep"
        );
        let expected: [&dyn Fn(usize) -> f64; 4] = [
            &|i| service.slos[i].objective_ratio.to_string().parse().unwrap(),
            &|i| 1.0 - error_ratio(i),
            &budget_left,
            &burn_rate,
        ];
        let targets = overview["targets"].as_array().unwrap();
        assert_eq!(targets.len(), expected.len(), "{name}: SLO table queries");
        for (target, value) in targets.iter().zip(expected) {
            let samples: Vec<Value> = service
                .slos
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    json!({
                        "labels": series("", &BTreeMap::from([("sloth_slo".to_string(), s.name.clone())])),
                        "value": value(i),
                    })
                })
                .collect();
            tests.push(
                json!({"expr": target["expr"], "eval_time": EVAL_TIME, "exp_samples": samples}),
            );
        }
    }
    if let Some(table) = table(&dashboard, "Alerts pending or firing") {
        let shown = label_columns(table);
        let seen: BTreeSet<&String> = alerts.iter().flat_map(|a| a.keys()).collect();
        for always in ["alertname", "alertstate", "severity"] {
            assert!(
                shown.contains(always),
                "{name}: the alerts table shows {always}"
            );
        }
        if service.slos.iter().any(|s| !s.rules.burn_alerts.is_empty()) {
            for column in &shown {
                assert!(
                    seen.contains(column),
                    "{name}: the alerts table shows `{column}`, which no generated alert carries"
                );
            }
        }
        let samples: Vec<Value> = alerts
            .iter()
            .map(|labels| json!({"labels": series("ALERTS", labels), "value": 1}))
            .collect();
        let [target] = table["targets"].as_array().unwrap().as_slice() else {
            panic!("{name}: the alerts table has one query");
        };
        tests.push(json!({"expr": target["expr"], "eval_time": EVAL_TIME, "exp_samples": samples}));
    }
    (!tests.is_empty()).then(|| {
        json!({
            "interval": "1m",
            "input_series": input,
            "promql_expr_test": tests,
        })
    })
}

#[test]
fn overview_tables_read_what_their_columns_say() {
    promtool::require();
    let mut dirs = vec![common::root().join("slos")];
    dirs.extend(common::fixture_dirs("valid"));
    let tmp = tempfile::tempdir().expect("temp dir");
    std::fs::write(tmp.path().join("none.yml"), "groups: []\n").expect("write rules");
    let mut files = Vec::new();
    for (d, dir) in dirs.iter().enumerate() {
        let tests: Vec<Value> = common::lower(dir)
            .services
            .iter()
            .filter_map(overview_test)
            .collect();
        assert!(!tests.is_empty(), "{}: no overview to test", dir.display());
        let file = tmp.path().join(format!("overview{d}.test.yml"));
        let text = json!({"rule_files": ["none.yml"], "evaluation_interval": "1m", "tests": tests});
        std::fs::write(&file, serde_json::to_string_pretty(&text).unwrap()).expect("write test");
        files.push(file);
    }
    let out = promtool::run(&["test", "rules"], &files);
    assert!(
        out.status.success(),
        "promtool: the overview queries do not return what the tables show:\n{}",
        promtool::text(&out)
    );
}
