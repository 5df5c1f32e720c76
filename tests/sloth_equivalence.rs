//! Imported Sloth specs behave as Sloth's own rules, checked by the real promtool on the same input series.
//!
//! For every Sloth example, the test imports it, generates slogen's rules, and evaluates two rule sets over the
//! same series (errors ramping up and down over 3.8 days): Sloth's generated file as it is (`_gen/`, read from
//! `../shared`; of a Kubernetes `PrometheusRule` only its `spec`, the rule groups Prometheus reads), and
//! slogen's. They run in separate promtool runs: both record the same series names, and a run with both would
//! let one set's alerts read the other's records. Each run evaluates the same probes at the same times: every
//! SLI window record and Sloth's metadata records every 10 minutes, and whether each of Sloth's alerts (by its
//! name, its labels and the SLO) is firing, and whether any alert is pending, at every evaluation. Each probe is tagged
//! with `label_replace`, and an empty expectation makes promtool print what it got, so both runs' values are
//! read back exactly (promtool prints every digit) and compared here.
//!
//! Before running, every label and annotation of each Sloth alert must be on slogen's alerts of the same name
//! and severity, annotations as Sloth's alert renders them.
//!
//! Windowed records must agree to 1e-9 (Sloth's factor times its float budget `1 - 0.9990000000000001` and
//! slogen's exact `0.0144` differ in the 14th digit), alerts must fire at the same minutes. The SLO-window
//! records differ by design: Sloth averages the 5-minute ratios, slogen divides bad by all events. With the
//! steady traffic fed here they agree except for the first minutes, whose 5-minute windows hold less than 5
//! minutes of samples; the test bounds that difference by what those minutes can weigh.

#[path = "common/sloth.rs"]
mod common;
#[path = "common/promtool.rs"]
mod promtool;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use common::{slogen, sloth_dir, text};
use serde_norway::Value;

/// Minutes the scenario runs: long enough for the 3-day ticket window to fill, fire and reset.
const END: u64 = 5_500;
/// Minutes between samples and between rule evaluations (both rule sets are compared at every one).
const STEP: u64 = 2;

/// How a scenario feeds an example's SLI.
#[derive(Clone, Copy)]
enum Inputs {
    /// `http_request_duration_seconds_count{job}` by `code`: 5xx and 429 are errors.
    Http(&'static str),
    /// `unifipoller_client_satisfaction_ratio` of two clients.
    Satisfaction,
}

const EXAMPLES: [(&str, Inputs); 6] = [
    ("getting-started", Inputs::Http("myservice")),
    ("k8s-getting-started", Inputs::Http("myservice")),
    ("multifile", Inputs::Http("myservice")),
    ("k8s-multifile", Inputs::Http("myservice")),
    ("no-alerts", Inputs::Http("myapp")),
    ("raw-home-wifi", Inputs::Satisfaction),
];

/// Bad events per minute in phases (start minute, bad per minute) out of [`TOTAL`] a minute: a fast burn, a
/// slow one, a trickle and a long low burn, each followed by quiet. The fast burn comes after 6 hours of
/// traffic, so that the slow page pair's 6-hour window is full and only the fast pair can page on it.
const PHASES: [(u64, u64); 8] = [
    (0, 0),
    (400, 598),
    (430, 0),
    (700, 80),
    (1_180, 0),
    (1_400, 5),
    (2_000, 13),
    (5_000, 0),
];
/// Requests a minute: a prime, so no window's error ratio lands exactly on a threshold.
const TOTAL: u64 = 9_973;
/// Client satisfaction in the same phases (the raw SLI's error ratio is one minus its average).
const SATISFACTION: [(u64, f64, f64); 8] = [
    (0, 0.991, 0.987),
    (400, 0.113, 0.109),
    (430, 0.991, 0.987),
    (700, 0.613, 0.607),
    (1_180, 0.991, 0.987),
    (1_400, 0.951, 0.957),
    (2_000, 0.931, 0.937),
    (5_000, 0.991, 0.987),
];

fn phase<T: Copy>(phases: &[(u64, T)], minute: u64) -> T {
    phases
        .iter()
        .rev()
        .find(|(start, _)| *start <= minute)
        .unwrap()
        .1
}

/// `input_series` of the scenario, one value every [`STEP`] minutes from 0 to [`END`].
fn input_series(inputs: Inputs) -> String {
    let mut out = String::new();
    let values = |f: &dyn Fn(u64) -> String| {
        (0..=END)
            .step_by(STEP as usize)
            .map(f)
            .collect::<Vec<_>>()
            .join(" ")
    };
    match inputs {
        Inputs::Http(job) => {
            // Cumulative counts by code: 5xx and 429 split the bad events, 404 is a good one.
            let cumulative = |share: &dyn Fn(u64) -> u64| {
                let mut sums = vec![0u64];
                for m in 0..END {
                    sums.push(sums[m as usize] + share(phase(&PHASES, m)));
                }
                sums
            };
            let series: [(&str, Vec<u64>); 4] = [
                ("500", cumulative(&|bad| bad - bad / 4)),
                ("429", cumulative(&|bad| bad / 4)),
                ("404", cumulative(&|_| 50)),
                ("200", cumulative(&|bad| TOTAL - 50 - bad)),
            ];
            for (code, sums) in series {
                writeln!(
                    out,
                    "  - series: 'http_request_duration_seconds_count{{job=\"{job}\",code=\"{code}\"}}'\n    values: '{}'",
                    values(&|m| sums[m as usize].to_string())
                )
                .unwrap();
            }
        }
        Inputs::Satisfaction => {
            for (client, pick) in [("a", 0), ("b", 1)] {
                let v = |m: u64| {
                    let (_, a, b) = SATISFACTION.iter().rev().find(|(s, ..)| *s <= m).unwrap();
                    if pick == 0 { *a } else { *b }.to_string()
                };
                writeln!(
                    out,
                    "  - series: 'unifipoller_client_satisfaction_ratio{{client=\"{client}\"}}'\n    values: '{}'",
                    values(&v)
                )
                .unwrap();
            }
        }
    }
    out
}

/// What one probe reads, in each rule set.
struct Probe {
    what: String,
    sloth: String,
    ours: String,
    every: u64,
    /// How the two results must agree.
    kind: Compare,
}

#[derive(Clone, Copy, PartialEq)]
enum Compare {
    /// Equal to 1e-9.
    Close,
    /// Within the bound of the SLO-window records (see the module docs).
    SloWindow,
    /// Present in both or in neither: an alert firing (or pending).
    Firing,
}

/// Sloth's rule documents: each `---` document of `_gen/<example>.yml` as Prometheus would load it.
fn sloth_rule_files(example: &str, dir: &Path) -> Vec<PathBuf> {
    let gen = sloth_dir().join(format!("_gen/{example}.yml"));
    let text = std::fs::read_to_string(&gen).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (Sloth's generated rules are the reference)",
            gen.display()
        )
    });
    let mut files = Vec::new();
    for (i, doc) in text
        .split("\n---\n")
        .map(|d| d.trim_start_matches("---\n"))
        .enumerate()
    {
        if doc.trim().is_empty() {
            continue;
        }
        let value: Value = serde_norway::from_str(doc).expect("Sloth's rules are YAML");
        let rules = match value.get("kind").and_then(Value::as_str) {
            // A prometheus-operator PrometheusRule: Prometheus reads its `spec`, the rule groups.
            Some("PrometheusRule") => serde_norway::to_string(&value["spec"]).unwrap(),
            _ => doc.to_string(),
        };
        let path = dir.join(format!("sloth-{i}.yml"));
        std::fs::write(&path, rules).unwrap();
        files.push(path);
    }
    files
}

/// The probes of every SLO in Sloth's rules; slogen's SLO id is Sloth's in snake_case.
fn probes(sloth_files: &[PathBuf]) -> (Vec<Probe>, usize) {
    let mut probes = Vec::new();
    let mut alerts = 0;
    for file in sloth_files {
        let rules: Value = serde_norway::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        for group in rules["groups"].as_sequence().unwrap() {
            for rule in group["rules"].as_sequence().unwrap() {
                let labels = &rule["labels"];
                let label = |k: &str| labels.get(k).and_then(Value::as_str).map(str::to_string);
                if let Some(record) = rule.get("record").and_then(Value::as_str) {
                    if record == "sloth_slo_info" {
                        continue; // its labels name the generator and spec format, by design different
                    }
                    let (service, slo) =
                        (label("sloth_service").unwrap(), label("sloth_slo").unwrap());
                    let ours_id = format!(
                        "{}-{}",
                        slogen::conventions::snake_case(&service),
                        slogen::conventions::snake_case(&slo)
                    );
                    let window = label("sloth_window");
                    let slo_window =
                        window.as_deref() == Some("30d") || record.starts_with("slo:period_");
                    probes.push(Probe {
                        what: format!("{record} of {service}/{slo}"),
                        sloth: format!("max({record}{{sloth_id=\"{service}-{slo}\"}})"),
                        ours: format!("max({record}{{sloth_id=\"{ours_id}\"}})"),
                        every: 10,
                        kind: if slo_window {
                            Compare::SloWindow
                        } else {
                            Compare::Close
                        },
                    });
                } else if let Some(alert) = rule.get("alert").and_then(Value::as_str) {
                    // The SLO the alert is about, from the selector in its expression.
                    let expr = rule["expr"].as_str().unwrap();
                    let selected = |label: &str| {
                        let value = expr.split(&format!("{label}=\"")).nth(1).unwrap();
                        value.split('"').next().unwrap().to_string()
                    };
                    let (service, slo) = (selected("sloth_service"), selected("sloth_slo"));
                    let id = format!("{service}-{slo}");
                    let ours_id = format!(
                        "{}-{}",
                        slogen::conventions::snake_case(&service),
                        slogen::conventions::snake_case(&slo)
                    );
                    let mut matchers = format!("alertname=\"{alert}\",alertstate=\"firing\"");
                    for (k, v) in labels.as_mapping().unwrap() {
                        write!(
                            matchers,
                            ",{}=\"{}\"",
                            k.as_str().unwrap(),
                            v.as_str().unwrap()
                        )
                        .unwrap();
                    }
                    probes.push(Probe {
                        what: format!("alert {alert} {} of {id}", label("sloth_severity").unwrap()),
                        sloth: format!("count(ALERTS{{{matchers},sloth_id=\"{id}\"}})"),
                        ours: format!("count(ALERTS{{{matchers},sloth_id=\"{ours_id}\"}})"),
                        every: STEP,
                        kind: Compare::Firing,
                    });
                    alerts += 1;
                }
            }
        }
    }
    probes.push(Probe {
        what: "pending alerts".into(),
        sloth: "count(ALERTS{alertstate=\"pending\"})".into(),
        ours: "count(ALERTS{alertstate=\"pending\"})".into(),
        every: STEP,
        kind: Compare::Firing,
    });
    (probes, alerts)
}

/// Runs promtool on `rule_files` with every probe at every time, and reads back what each returned:
/// `(probe, minute)` → value, absent when the probe returned nothing.
fn evaluate(
    dir: &Path,
    name: &str,
    rule_files: &[PathBuf],
    series: &str,
    probes: &[Probe],
    pick: fn(&Probe) -> &str,
) -> BTreeMap<(usize, u64), f64> {
    let mut test = String::from("rule_files:\n");
    for f in rule_files {
        writeln!(test, "  - '{}'", f.display()).unwrap();
    }
    // Groups in file order, records before the alerts that read them: promtool's default order is random.
    writeln!(test, "evaluation_interval: {STEP}m\ngroup_eval_order:").unwrap();
    for f in rule_files {
        let rules: Value = serde_norway::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        for group in rules["groups"].as_sequence().unwrap() {
            writeln!(test, "  - '{}'", group["name"].as_str().unwrap()).unwrap();
        }
    }
    writeln!(test, "tests:\n- interval: {STEP}m\n  input_series:").unwrap();
    test.push_str(series);
    test.push_str("  promql_expr_test:\n");
    for (i, p) in probes.iter().enumerate() {
        for minute in (p.every..=END).step_by(p.every as usize) {
            writeln!(
                test,
                "  - expr: 'label_replace({}, \"probe\", \"{i}/{minute}\", \"\", \"\")'\n    eval_time: {minute}m\n    exp_samples: []",
                pick(p).replace('\'', "''")
            )
            .unwrap();
        }
    }
    let path = dir.join(format!("{name}.test.yml"));
    std::fs::write(&path, test).unwrap();
    let out = promtool::run(&["test", "rules"], &[&path]);
    let printed = promtool::text(&out);
    assert!(
        !printed.contains("error") || printed.contains("got:"),
        "promtool could not run {name}:\n{}",
        printed.chars().take(3000).collect::<String>()
    );
    let mut values = BTreeMap::new();
    for line in printed.lines().map(str::trim) {
        let Some(got) = line.strip_prefix("got: {probe=\"") else {
            continue;
        };
        let (tag, value) = got.split_once("\"} ").expect("one sample per probe");
        let (i, minute) = tag.split_once('/').unwrap();
        values.insert(
            (i.parse().unwrap(), minute.parse().unwrap()),
            value.parse::<f64>().expect("promtool prints the value"),
        );
    }
    values
}

/// Every label and annotation of each Sloth alert, on every slogen alert of the same name and severity:
/// annotations as Sloth's alert shows them, its `{{$labels.sloth_service}}` and `{{$labels.sloth_slo}}`
/// filled in from the SLO the alert selects.
fn same_labels_and_annotations(example: &str, sloth: &[PathBuf], ours: &[PathBuf]) -> Vec<String> {
    let alerts = |files: &[PathBuf]| -> Vec<Value> {
        files
            .iter()
            .flat_map(|f| {
                let rules: Value =
                    serde_norway::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
                rules["groups"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .flat_map(|g| g["rules"].as_sequence().unwrap().clone())
                    .filter(|r| r.get("alert").is_some())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let ours = alerts(ours);
    let mut problems = Vec::new();
    for rule in alerts(sloth) {
        let name = rule["alert"].as_str().unwrap();
        let expr = rule["expr"].as_str().unwrap();
        let selected = |label: &str| {
            let value = expr.split(&format!("{label}=\"")).nth(1).unwrap();
            value.split('"').next().unwrap().to_string()
        };
        let severity = rule["labels"]["sloth_severity"].as_str().unwrap();
        let ours_id = format!(
            "{}-{}",
            slogen::conventions::snake_case(&selected("sloth_service")),
            slogen::conventions::snake_case(&selected("sloth_slo"))
        );
        let same: Vec<&Value> = ours
            .iter()
            .filter(|r| {
                r["alert"].as_str() == Some(name)
                    && r["labels"]["sloth_severity"].as_str() == Some(severity)
                    && r["expr"]
                        .as_str()
                        .unwrap()
                        .contains(&format!("sloth_id=\"{ours_id}\""))
            })
            .collect();
        if same.is_empty() {
            problems.push(format!(
                "{example}: no slogen alert {name} ({severity}) for {ours_id}"
            ));
        }
        for r in same {
            for (field, fill) in [("labels", false), ("annotations", true)] {
                for (k, v) in rule[field].as_mapping().into_iter().flatten() {
                    let mut want = v.as_str().unwrap().to_string();
                    if fill {
                        for label in ["sloth_service", "sloth_slo"] {
                            want =
                                want.replace(&format!("{{{{$labels.{label}}}}}"), &selected(label));
                        }
                    }
                    let got = r[field].get(k.as_str().unwrap()).and_then(Value::as_str);
                    if got != Some(want.as_str()) {
                        problems.push(format!(
                            "{example}: {name} ({severity}) {field}.{}: Sloth {want:?}, slogen {got:?}",
                            k.as_str().unwrap()
                        ));
                    }
                }
            }
        }
    }
    problems
}

/// Imports, generates and compares one example; returns its figures or what differs.
fn compare(example: &str, inputs: Inputs, edit: fn(String) -> String) -> Result<String, String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = sloth_dir().join(format!("examples/{example}.yml"));
    let out = slogen(
        &["import", "sloth", source.to_str().unwrap(), "--out", "slos"],
        dir.path(),
    );
    if out.status.code() != Some(0) {
        return Err(format!("{example} does not import:\n{}", text(&out.stderr)));
    }
    for spec in std::fs::read_dir(dir.path().join("slos")).unwrap() {
        let path = spec.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, edit(text)).unwrap();
    }
    let gen = slogen(
        &["generate", "--slos", "slos", "--out", "generated"],
        dir.path(),
    );
    if gen.status.code() != Some(0) {
        return Err(format!(
            "{example} does not generate:\n{}",
            text(&gen.stderr)
        ));
    }
    let mut ours_files: Vec<PathBuf> = std::fs::read_dir(dir.path().join("generated"))
        .unwrap()
        .map(|e| e.unwrap().path().join("rules.yml"))
        .filter(|p| p.is_file())
        .collect();
    ours_files.sort();
    let sloth_files = sloth_rule_files(example, dir.path());
    let mut problems = same_labels_and_annotations(example, &sloth_files, &ours_files);
    let (probes, alert_count) = probes(&sloth_files);
    let series = input_series(inputs);
    let sloth = evaluate(dir.path(), "sloth", &sloth_files, &series, &probes, |p| {
        &p.sloth
    });
    let ours = evaluate(dir.path(), "slogen", &ours_files, &series, &probes, |p| {
        &p.ours
    });
    let (mut compared, mut firing_minutes) = (0, 0);
    for (i, p) in probes.iter().enumerate() {
        let mut fired = 0;
        let mut mismatches = 0;
        for minute in (p.every..=END).step_by(p.every as usize) {
            let (a, b) = (sloth.get(&(i, minute)), ours.get(&(i, minute)));
            compared += 1;
            let same = match (a, b, p.kind) {
                (None, None, _) => true,
                // Sloth's one alert per severity against slogen's one per window pair: firing or not.
                (Some(_), Some(_), Compare::Firing) => true,
                (Some(a), Some(b), Compare::Close) => {
                    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
                }
                // Only the evaluations of the first 5 minutes have 5-minute windows with fewer samples than the
                // rest; each weighs at most one record's share of the average, so the two SLO-window ratios
                // differ by at most 5 of the `minute / STEP` records.
                (Some(a), Some(b), Compare::SloWindow) => {
                    // The budget left is one minus the burn rate: bound the burn rates.
                    let (a, b) = if p.what.starts_with("slo:period_error_budget_remaining") {
                        (1.0 - a, 1.0 - b)
                    } else {
                        (*a, *b)
                    };
                    let records = (minute / STEP) as f64;
                    (a - b).abs() <= a.abs().max(b.abs()) * 5.0 / (records - 5.0).max(1.0) + 1e-12
                }
                _ => false,
            };
            if p.kind == Compare::Firing && a.is_some() {
                fired += 1;
            }
            if !same {
                mismatches += 1;
                if mismatches <= 3 {
                    problems.push(format!(
                        "{example}: {} at {minute}m: Sloth {a:?}, slogen {b:?}",
                        p.what
                    ));
                }
            }
        }
        if mismatches > 3 {
            problems.push(format!(
                "{example}: {} differs at {mismatches} times in all",
                p.what
            ));
        }
        if p.what.starts_with("alert ") {
            // A comparison of alerts that never fire proves nothing: the scenario must fire each of them.
            if fired == 0 {
                problems.push(format!("{example}: {} never fires in the scenario", p.what));
            }
            firing_minutes += fired;
        }
    }
    if problems.is_empty() {
        Ok(format!(
            "{example}: {} probes, {compared} evaluations equal; {alert_count} alert(s) firing at the same {firing_minutes} evaluation(s)",
            probes.len()
        ))
    } else {
        Err(problems.join("\n"))
    }
}

#[test]
fn imported_rules_compute_the_same_slis_and_fire_the_same_alerts_as_sloths() {
    promtool::require();
    let results: Vec<Result<String, String>> = std::thread::scope(|s| {
        let (first, second) = EXAMPLES.split_at(EXAMPLES.len() / 2);
        let handles: Vec<_> = [first, second]
            .into_iter()
            .map(|half| {
                s.spawn(move || {
                    half.iter()
                        .map(|(e, i)| compare(e, *i, |spec| spec))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let mut failures = Vec::new();
    for r in results {
        match r {
            Ok(figures) => println!("{figures}"),
            Err(e) => failures.push(e),
        }
    }
    assert!(
        failures.is_empty(),
        "imported rules differ from Sloth's:\n{}",
        failures.join("\n")
    );
}

/// The comparison can fail: the same import with the page's fast window spending 3% of the budget instead of
/// Sloth's 2% (a factor of 21.6 instead of 14.4) pages later than Sloth, and the test says so.
#[test]
fn a_changed_burn_rate_factor_is_caught() {
    promtool::require();
    let edited = compare("getting-started", Inputs::Http("myservice"), |spec| {
        assert!(spec.contains("budget_percent = 2\n"), "{spec}");
        spec.replacen("budget_percent = 2\n", "budget_percent = 3\n", 1)
    });
    let err = edited.expect_err("a factor of 21.6 must page at other times than Sloth's 14.4");
    assert!(
        err.contains("alert MyServiceHighErrorRate page"),
        "the page alert differs: {err}"
    );
    assert!(
        !err.contains("slo:sli_error"),
        "the SLI records are untouched: {err}"
    );
}
