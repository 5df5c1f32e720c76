//! Everything the dashboard emitter promises about one service's dashboard, checked on the emitted JSON
//! against the model: the schema lint, the frame, the variables, the layout, each metric, SLO and extra panel,
//! and the overview tables.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use slogen::conventions::{self, OVERVIEW_ROW, SLO_ROW};
use slogen::emit::{grafana, prometheus};
use slogen::model::promql::slo_matchers;
use slogen::model::{MetricKind, Service, Severity};

use super::lint::{lint_dashboard, schema, Lint};
use super::query::{parse_query, ranges};

/// Every recording rule of the service's rules file: record name and labels.
pub fn recorded_series(service: &Service) -> Vec<(String, BTreeMap<String, String>)> {
    let rules: Value = serde_norway::from_str(&prometheus::emit(service).expect("rules emit"))
        .expect("rules file is YAML");
    let mut out = Vec::new();
    for group in rules["groups"].as_array().into_iter().flatten() {
        for rule in group["rules"].as_array().into_iter().flatten() {
            if let Some(record) = rule["record"].as_str() {
                let labels = rule["labels"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect();
                out.push((record.to_string(), labels));
            }
        }
    }
    out
}

fn str_at<'a>(value: &'a Value, key: &str, at: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{at}: `{key}` is not a string: {}", value[key]))
}

fn grid(panel: &Value, at: &str) -> [u64; 4] {
    let pos = &panel["gridPos"];
    ["x", "y", "w", "h"].map(|k| {
        pos[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{at}: gridPos.{k} missing in {pos}"))
    })
}

/// A panel of the dashboard with the title of the row it sits in.
struct Placed<'a> {
    row: String,
    panel: &'a Value,
}

impl Placed<'_> {
    fn exprs(&self) -> Vec<&str> {
        self.panel["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| t["expr"].as_str().unwrap_or_default())
            .collect()
    }
}

/// The `schemaVersion` the shared dashboard schema describes: its default.
fn schema_version() -> u64 {
    schema("dashboard")["definitions"]["Dashboard"]["properties"]["schemaVersion"]["default"]
        .as_u64()
        .expect("the dashboard schema names its schemaVersion")
}

/// The dashboard's variables: the data source, then one per selector label the spec names, listing its values
/// from the service's series narrowed by the variables before it, "All" matching everything.
fn check_variables(service: &Service, dashboard: &Value) {
    let name = &service.name;
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    assert_eq!(
        variables[0],
        json!({"type": "datasource", "name": "datasource", "label": "Data source", "query": "prometheus",
               "hide": 0, "refresh": 1, "includeAll": false, "multi": false}),
        "{name}: the data source variable comes first"
    );
    let labels = &service.dashboard.variables;
    assert_eq!(variables.len(), 1 + labels.len(), "{name}: variables");
    for (i, (variable, label)) in variables[1..].iter().zip(labels).enumerate() {
        assert_eq!(variable["type"], "query");
        assert_eq!(variable["name"], label.as_str());
        assert_eq!(variable["datasource"]["uid"], "${datasource}");
        assert_eq!(
            (
                &variable["includeAll"],
                &variable["multi"],
                &variable["allValue"]
            ),
            (&json!(true), &json!(true), &json!(".*")),
            "{name}: {label} takes several values or all, and all matches series without it too"
        );
        let query = str_at(variable, "query", label);
        assert_eq!(variable["definition"], query);
        let inner = query
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(&format!(", {label})")))
            .unwrap_or_else(|| panic!("{name}: `{query}` is not label_values(<series>, {label})"));
        let selected = parse_query(inner);
        let [selector] = selected.selectors.as_slice() else {
            panic!("{name}: `{inner}` is not one selector");
        };
        assert!(
            service.metrics.is_empty()
                || service
                    .metrics
                    .iter()
                    .any(|m| m.exposed_names().contains(&selector.name)),
            "{name}: {label} lists values of `{}`, which the service does not expose",
            selector.name
        );
        for (k, v) in &service.selector {
            assert_eq!(selector.equal.get(k), Some(v), "{name}: {query}");
        }
        let narrowed: BTreeSet<&String> = selector.regex.keys().collect();
        let before: BTreeSet<&String> = labels[..i].iter().collect();
        assert_eq!(
            narrowed, before,
            "{name}: {label} is narrowed by the variables before it"
        );
    }
}

/// Emits the dashboard of `service` and checks everything the emitter promises; returns it parsed.
pub fn check(lint: &Lint, service: &Service) -> Value {
    let name = &service.name;
    let text = grafana::emit(service).expect("dashboard emits");
    assert_eq!(
        text,
        grafana::emit(service).unwrap(),
        "{name}: output is not deterministic"
    );
    let dashboard: Value = serde_json::from_str(&text).expect("dashboard is JSON");
    let pretty = serde_json::to_string_pretty(&dashboard).unwrap() + "\n";
    assert_eq!(
        text, pretty,
        "{name}: not pretty-printed with 2 spaces and one trailing newline"
    );

    let problems = lint_dashboard(lint, &dashboard);
    assert!(
        problems.is_empty(),
        "{name}: schema lint:\n{}",
        problems.join("\n")
    );

    let uid = str_at(&dashboard, "uid", name);
    assert_eq!(uid, conventions::dashboard_uid(name), "{name}: uid");
    assert!(
        (8..=40).contains(&uid.len()),
        "{name}: uid `{uid}` must be 8 to 40 characters"
    );
    assert!(
        dashboard["id"].is_null(),
        "{name}: an `id` breaks import into another Grafana"
    );
    assert_eq!(str_at(&dashboard, "title", name), service.dashboard.title);
    let tags: Vec<&str> = dashboard["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        tags.contains(&"slogen") && tags.contains(&"generated"),
        "{name}: tags {tags:?}"
    );
    let generated = format!("Generated by slogen from {}. Do not edit.", service.source);
    assert!(
        str_at(&dashboard, "description", name).contains(&generated),
        "{name}: description"
    );
    assert_eq!(
        dashboard["schemaVersion"].as_u64(),
        Some(schema_version()),
        "{name}: schemaVersion is the one the shared schema describes"
    );
    assert_eq!(
        dashboard["time"],
        json!({"from": "now-6h", "to": "now"}),
        "{name}: time range"
    );
    assert_eq!(dashboard["refresh"], "30s", "{name}: refresh");
    check_variables(service, &dashboard);
    let datasource = json!({"type": "prometheus", "uid": "${datasource}"});

    // Rows in order, each panel below its row and above the next, nothing overlapping.
    let panels = dashboard["panels"].as_array().unwrap();
    let mut rows: Vec<(String, u64)> = Vec::new();
    let mut placed: Vec<Placed> = Vec::new();
    let mut rects: Vec<(String, [u64; 4])> = Vec::new();
    let mut ids = BTreeSet::new();
    for (i, panel) in panels.iter().enumerate() {
        let at = format!("{name} /panels/{i}");
        let [x, y, w, h] = grid(panel, &at);
        assert!(x + w <= 24, "{at}: past the 24-column grid");
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "{at}: duplicate id"
        );
        rects.push((at.clone(), [x, y, w, h]));
        if panel["type"] == "row" {
            rows.push((str_at(panel, "title", &at).to_string(), y));
            continue;
        }
        let (row, row_y) = rows
            .last()
            .unwrap_or_else(|| panic!("{at}: panel above the first row"));
        assert!(y > *row_y, "{at}: above its row");
        assert!(!str_at(panel, "title", &at).is_empty(), "{at}: empty title");
        assert!(
            !str_at(panel, "description", &at).is_empty(),
            "{at}: empty description"
        );
        assert!(
            !str_at(&panel["fieldConfig"]["defaults"], "unit", &at).is_empty(),
            "{at}: empty unit"
        );
        assert_eq!(panel["datasource"], datasource, "{at}: datasource");
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{at}: no queries");
        for (j, target) in targets.iter().enumerate() {
            let at = format!("{at}/targets/{j}");
            let letter = char::from(b'A' + u8::try_from(j).unwrap());
            assert_eq!(target["refId"], letter.to_string(), "{at}: refId");
            assert_eq!(target["datasource"], datasource, "{at}: datasource");
            str_at(target, "legendFormat", &at);
            parse_query(str_at(target, "expr", &at));
        }
        placed.push(Placed {
            row: row.clone(),
            panel,
        });
    }
    let row_titles: Vec<&str> = rows.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(row_titles, service.dashboard.row_order, "{name}: row order");
    for pair in rows.windows(2) {
        let (next_title, next_y) = &pair[1];
        for p in placed.iter().filter(|p| p.row == pair[0].0) {
            let [_, y, _, h] = grid(p.panel, &p.row);
            assert!(
                y + h <= *next_y,
                "{name}: a panel of row {} reaches into row {next_title}",
                p.row
            );
        }
    }
    for (i, (a, ra)) in rects.iter().enumerate() {
        for (b, rb) in &rects[i + 1..] {
            let apart = ra[0] + ra[2] <= rb[0]
                || rb[0] + rb[2] <= ra[0]
                || ra[1] + ra[3] <= rb[1]
                || rb[1] + rb[3] <= ra[1];
            assert!(apart, "{a} {ra:?} overlaps {b} {rb:?}");
        }
    }
    let has_slos = !service.slos.is_empty();
    let overview = usize::from(has_slos) + usize::from(has_slos || !service.alerts.is_empty());
    assert_eq!(
        placed.len(),
        service.metrics.len()
            + service.dashboard.extra_panels.len()
            + 3 * service.slos.len()
            + overview,
        "{name}: one panel per metric and extra panel, three per SLO, and the overview's tables"
    );

    // Every selector over raw series follows the dashboard's variables; recorded series and ALERTS, which
    // carry no such label, do not.
    for p in &placed {
        for expr in p.exprs() {
            for selector in parse_query(expr).selectors {
                let raw = !selector.name.contains(':') && selector.name != "ALERTS";
                for variable in &service.dashboard.variables {
                    let filtered = selector.regex.get(variable).is_some_and(|v| {
                        *v == format!("${variable}") || *v == format!("${{{variable}}}")
                    });
                    assert_eq!(
                        filtered, raw,
                        "{name}: `{expr}` and the variable {variable}"
                    );
                }
            }
        }
    }

    // Each metric charted in its row, through the service selector, over $__rate_interval, broken down by its
    // group_by labels, titled in words rather than by its name, and described by its help text.
    for metric in &service.metrics {
        let series = match metric.kind {
            MetricKind::Histogram => metric.histogram_series("bucket"),
            _ => metric.sample_name(),
        };
        let panel = placed
            .iter()
            .find(|p| {
                p.row == metric.row
                    && p.exprs().iter().any(|e| {
                        parse_query(e).selectors.iter().any(|s| {
                            // Through its own selector: the service's, or an external metric's.
                            s.name == series
                                && metric
                                    .selector
                                    .iter()
                                    .all(|(k, v)| s.equal.get(k) == Some(v))
                        })
                    })
            })
            .unwrap_or_else(|| panic!("{name}: no panel in row {} selects {series}", metric.row));
        let title = str_at(panel.panel, "title", &series);
        match &metric.title {
            Some(wanted) => assert_eq!(title, wanted, "{name}: the spec's title"),
            None => assert!(
                !title.contains('_'),
                "{name}: `{title}` reads like a series name, not a title"
            ),
        }
        let help = metric.help.trim().trim_end_matches('.');
        assert!(
            str_at(panel.panel, "description", &series).starts_with(help),
            "{name}: {} is described by its help text",
            metric.name
        );
        for expr in panel.exprs() {
            let query = parse_query(expr);
            let wanted: BTreeSet<String> = metric.group_by.iter().cloned().collect();
            assert!(
                query.grouping.iter().any(|by| by.is_superset(&wanted)),
                "{name}: `{expr}` does not break down by {wanted:?}"
            );
            for range in ranges(expr) {
                assert_eq!(range, "$__rate_interval", "{name}: `{expr}`");
            }
        }
    }

    // Each SLO: SLI, budget left and burn rate in the SLO row, reading series the rules file records.
    let recorded = recorded_series(service);
    for slo in &service.slos {
        let matchers = slo_matchers(service, slo);
        let find = |record: &str| {
            let selected = format!("{record}{matchers}");
            placed
                .iter()
                .find(|p| p.row == SLO_ROW && p.exprs().iter().any(|e| e.contains(&selected)))
                .unwrap_or_else(|| panic!("{name}: no panel in row {SLO_ROW} reads {selected}"))
                .panel
        };
        let sli = find("slo:sli_error:ratio_rate5m");
        assert_eq!(sli["fieldConfig"]["defaults"]["unit"], "percentunit");
        let period = slo
            .rules
            .sli_record(slo.window.duration())
            .expect("the SLO window is recorded");
        assert!(
            sli["targets"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["expr"] == format!("1 - {}{matchers}", period.rule.record)),
            "{name}/{}: the SLI over the SLO window",
            slo.name
        );
        let objective = (slo.objective.to_string().parse::<f64>().unwrap()) / 100.0;
        let sli_steps = &sli["fieldConfig"]["defaults"]["thresholds"]["steps"];
        let objective_step = sli_steps[1]["value"].as_f64().unwrap();
        assert!(
            (objective_step - objective).abs() < 1e-12,
            "{name}/{}: objective line",
            slo.name
        );

        let budget = find("slo:period_error_budget_remaining:ratio");
        assert!(matches!(budget["type"].as_str(), Some("stat" | "gauge")));
        let defaults = &budget["fieldConfig"]["defaults"];
        assert_eq!(defaults["unit"], "percentunit");
        let steps = defaults["thresholds"]["steps"].as_array().unwrap();
        let colors: Vec<&str> = steps.iter().filter_map(|s| s["color"].as_str()).collect();
        assert_eq!(
            colors,
            ["red", "yellow", "green"],
            "{name}/{}: budget colours",
            slo.name
        );
        assert!(steps[0]["value"].is_null(), "the first step is the base");
        assert!(steps[1]["value"].as_f64() < steps[2]["value"].as_f64());

        let burn = find("slo:current_burn_rate:ratio");
        let steps = burn["fieldConfig"]["defaults"]["thresholds"]["steps"]
            .as_array()
            .unwrap();
        assert_ne!(
            burn["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"],
            "off"
        );
        for alert in &slo.burn_rate_alerts {
            let factor: f64 = alert.factor.to_string().parse().unwrap();
            let step = steps
                .iter()
                .find(|s| s["value"].as_f64() == Some(factor))
                .unwrap_or_else(|| panic!("{name}/{}: no threshold at factor {factor}", slo.name));
            let page = slo
                .burn_rate_alerts
                .iter()
                .any(|a| a.severity == Severity::Page && a.factor.cmp_value(alert.factor).is_eq());
            assert_eq!(
                step["color"],
                if page { "red" } else { "orange" },
                "{name}: factor {factor}"
            );
        }
    }
    for p in &placed {
        for expr in p.exprs() {
            for selector in parse_query(expr).selectors {
                if !selector.name.starts_with("slo:") {
                    continue;
                }
                assert!(
                    recorded
                        .iter()
                        .any(|(record, labels)| *record == selector.name
                            && selector.equal.iter().all(|(k, v)| labels.get(k) == Some(v))),
                    "{name}: `{expr}` reads {} {:?}, which the rules file does not record",
                    selector.name,
                    selector.equal
                );
            }
        }
    }

    // The overview leads (unless row_order places it): the SLO table reads every SLO's series, the alerts
    // table the service's ALERTS.
    let overview_panels: Vec<&Placed> = placed.iter().filter(|p| p.row == OVERVIEW_ROW).collect();
    if overview > 0 {
        assert!(service
            .dashboard
            .row_order
            .iter()
            .any(|r| r == OVERVIEW_ROW));
        let tables: Vec<&str> = overview_panels
            .iter()
            .take(overview)
            .filter_map(|p| p.panel["type"].as_str())
            .collect();
        assert_eq!(tables, vec!["table"; overview], "{name}: overview tables");
    }
    if has_slos {
        let table = overview_panels[0];
        let exprs = table.exprs();
        for slo in &service.slos {
            let period = &slo
                .rules
                .sli_record(slo.window.duration())
                .unwrap()
                .rule
                .record;
            assert!(
                parse_query(exprs[1])
                    .selectors
                    .iter()
                    .any(|s| s.name == *period
                        && (s.equal.get("sloth_slo") == Some(&slo.name)
                            || s.regex
                                .get("sloth_slo")
                                .is_some_and(|r| r.split('|').any(|n| n == slo.name)))),
                "{name}: the overview's SLI of {} reads {period}",
                slo.name
            );
        }
        for (expr, record) in exprs.iter().zip([
            "slo:objective:ratio",
            "",
            "slo:period_error_budget_remaining:ratio",
            "slo:current_burn_rate:ratio",
        ]) {
            let query = parse_query(expr);
            assert_eq!(
                query.grouping.first(),
                Some(&BTreeSet::from(["sloth_slo".to_string()])),
                "{name}: `{expr}` returns one row per SLO, keyed by its name"
            );
            if !record.is_empty() {
                assert_eq!(query.selectors[0].name, record, "{name}: `{expr}`");
            }
        }
    }
    if overview > 0 {
        let alerts = overview_panels[overview - 1];
        assert_eq!(
            alerts.exprs(),
            [format!("ALERTS{{service=\"{name}\"}}")],
            "{name}: the alerts table"
        );
    }

    // Each extra panel as written, in its row.
    for extra in &service.dashboard.extra_panels {
        let panel = placed
            .iter()
            .find(|p| p.row == extra.row && p.panel["title"] == extra.title)
            .unwrap_or_else(|| {
                panic!(
                    "{name}: extra panel {} not in row {}",
                    extra.title, extra.row
                )
            });
        assert_eq!(panel.panel["description"], extra.description);
        assert_eq!(panel.panel["fieldConfig"]["defaults"]["unit"], extra.unit);
        let queries: Vec<(String, String)> = panel.panel["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["expr"].as_str().unwrap().into(),
                    t["legendFormat"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(queries, extra.queries, "{name}: queries of {}", extra.title);
    }
    dashboard
}
