//! The Grafana dashboard emitter, checked against Grafana's own JSON Schemas and against the model.
//!
//! The schemas (from grafana/grafana-foundation-sdk, read from `../shared/schemas/grafana/` beside the
//! repository, where CI also has them; see that folder's ORIGIN.md) are stricter than
//! Grafana, so they lint our output: the dashboard schema covers the frame, and each panel's `options`,
//! `fieldConfig.defaults.custom` and `targets` are checked against the schema of its panel type and of the
//! Prometheus query, which the dashboard schema leaves open. Every query is parsed as PromQL, every recording
//! rule a panel reads must be written by the Prometheus emitter, and the layout must not overlap.

mod common;
#[path = "common/inline.rs"]
mod inline;

use std::collections::{BTreeMap, BTreeSet};

use jsonschema::{Draft, Resource, Validator};
use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr, LabelModifier};
use serde_json::{json, Value};
use slogen::conventions;
use slogen::conventions::SLO_ROW;
use slogen::emit::{grafana, prometheus};
use slogen::model::promql::{label_matchers, slo_matchers};
use slogen::model::{MetricKind, Model, Service, Severity};

/// Where the schema files are registered; nothing is fetched, the name only joins the references.
const SCHEMA_BASE: &str = "https://slogen.invalid/schemas/grafana/";

/// What Grafana substitutes for `$__rate_interval`, so the query parses as plain PromQL.
const RATE_INTERVAL: &str = "5m";

/// The dashboard schema and the panel and query schemas it leaves open, compiled once.
struct Lint {
    dashboard: Validator,
    options: BTreeMap<&'static str, Validator>,
    /// The panel type's `fieldConfig.defaults.custom` schema; `None` for types without custom field options.
    custom: BTreeMap<&'static str, Option<Validator>>,
    query: Validator,
}

impl Lint {
    fn new() -> Lint {
        let panel_types = ["timeseries", "stat", "gauge"];
        Lint {
            dashboard: validator("dashboard", None),
            options: panel_types
                .iter()
                .map(|t| (*t, validator(t, Some("Options"))))
                .collect(),
            custom: panel_types
                .iter()
                .map(|t| {
                    let has_field_config = schema(t)["definitions"]["FieldConfig"].is_object();
                    (
                        *t,
                        has_field_config.then(|| validator(t, Some("FieldConfig"))),
                    )
                })
                .collect(),
            query: validator("prometheus", None),
        }
    }
}

/// The shared schema folder, `../shared/schemas/grafana/` from the repository root. The schemas are shared
/// material, not copied into the repository; a missing folder fails with how to get it.
fn schema_dir() -> std::path::PathBuf {
    let dir = common::root().join("../shared/schemas/grafana");
    assert!(
        dir.is_dir(),
        "the Grafana JSON Schemas are missing: expected the folder {} (`shared/schemas/grafana/` beside \
         this repository's checkout, as CI has it); clone or copy `shared/` next to the repository and rerun",
        dir.display()
    );
    dir
}

fn schema(name: &str) -> Value {
    let path = schema_dir().join(format!("{name}.jsonschema.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("schema is JSON")
}

/// A draft-07 validator for one schema file, or for one of its definitions, with the file registered as a
/// resource so its `#/definitions/...` references resolve inside it.
fn validator(file: &str, definition: Option<&str>) -> Validator {
    let uri = format!("{SCHEMA_BASE}{file}.jsonschema.json");
    let target = match definition {
        Some(name) => format!("{uri}#/definitions/{name}"),
        None => uri.clone(),
    };
    let resource = Resource::from_contents(schema(file)).expect("draft-07 schema");
    jsonschema::options()
        .with_draft(Draft::Draft7)
        .with_resource(uri, resource)
        .build(&json!({ "$ref": target }))
        .unwrap_or_else(|e| panic!("schema {file} compiles: {e}"))
}

/// Every schema violation in `instance`, one line each, prefixed with `at` for the panel or target.
fn violations(validator: &Validator, instance: &Value, at: &str) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{at}{}: {e}", e.instance_path))
        .collect()
}

/// Every schema violation of a dashboard: the frame, then each panel's plugin options, custom field
/// options and queries by panel type.
fn lint_dashboard(lint: &Lint, dashboard: &Value) -> Vec<String> {
    let mut out = violations(&lint.dashboard, dashboard, "");
    for (i, panel) in dashboard["panels"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let kind = panel["type"].as_str().unwrap_or_default();
        if kind == "row" {
            continue;
        }
        let at = format!("/panels/{i}");
        let (Some(options), Some(custom)) = (lint.options.get(kind), lint.custom.get(kind)) else {
            out.push(format!("{at}: panel type `{kind}` has no schema here"));
            continue;
        };
        out.extend(violations(
            options,
            &panel["options"],
            &format!("{at}/options"),
        ));
        let custom_value = &panel["fieldConfig"]["defaults"]["custom"];
        match custom {
            Some(custom) => out.extend(violations(
                custom,
                custom_value,
                &format!("{at}/fieldConfig/defaults/custom"),
            )),
            None if !custom_value.is_null() => {
                out.push(format!(
                    "{at}: `{kind}` panels have no custom field options"
                ));
            }
            None => {}
        }
        for (j, target) in panel["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            out.extend(violations(
                &lint.query,
                target,
                &format!("{at}/targets/{j}"),
            ));
        }
    }
    out
}

/// The `by` labels of each aggregation (empty for a plain `sum(...)`) and the selected series (name, equality matchers) of a PromQL expression.
#[derive(Default)]
struct Query {
    grouping: Vec<BTreeSet<String>>,
    selectors: Vec<(String, BTreeMap<String, String>)>,
}

fn walk(expr: &Expr, out: &mut Query) {
    match expr {
        Expr::Aggregate(a) => {
            match &a.modifier {
                None => out.grouping.push(BTreeSet::new()),
                Some(LabelModifier::Include(by)) => {
                    out.grouping.push(by.labels.iter().cloned().collect())
                }
                Some(LabelModifier::Exclude(_)) => {}
            }
            walk(&a.expr, out);
            if let Some(param) = &a.param {
                walk(param, out);
            }
        }
        Expr::Unary(u) => walk(&u.expr, out),
        Expr::Binary(b) => {
            walk(&b.lhs, out);
            walk(&b.rhs, out);
        }
        Expr::Paren(p) => walk(&p.expr, out),
        Expr::Subquery(s) => walk(&s.expr, out),
        Expr::Call(c) => c.args.args.iter().for_each(|arg| walk(arg, out)),
        Expr::MatrixSelector(m) => walk(&Expr::VectorSelector(m.vs.clone()), out),
        Expr::VectorSelector(v) => {
            let equal = v
                .matchers
                .matchers
                .iter()
                .filter(|m| m.op == MatchOp::Equal)
                .map(|m| (m.name.clone(), m.value.clone()))
                .collect();
            out.selectors
                .push((v.name.clone().unwrap_or_default(), equal));
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

fn parse_query(expr: &str) -> Query {
    let promql = expr.replace("$__rate_interval", RATE_INTERVAL);
    let ast = parser::parse(&promql).unwrap_or_else(|e| panic!("`{expr}` is not PromQL: {e}"));
    let mut query = Query::default();
    walk(&ast, &mut query);
    query
}

/// Every recording rule of the service's rules file: record name and labels.
fn recorded_series(service: &Service) -> Vec<(String, BTreeMap<String, String>)> {
    let rules: serde_json::Value =
        serde_norway::from_str(&prometheus::emit(service).expect("rules emit"))
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

/// Emits the dashboard of `service` and checks everything the emitter promises; returns it parsed.
fn check(lint: &Lint, service: &Service) -> Value {
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
    assert!(
        dashboard["schemaVersion"].as_u64().unwrap() >= 39,
        "{name}: schemaVersion"
    );
    assert_eq!(
        dashboard["time"],
        json!({"from": "now-6h", "to": "now"}),
        "{name}: time range"
    );
    assert_eq!(dashboard["refresh"], "30s", "{name}: refresh");

    let variables = dashboard["templating"]["list"].as_array().unwrap();
    assert!(
        variables.iter().any(|v| v["name"] == "datasource"
            && v["type"] == "datasource"
            && v["query"] == "prometheus"),
        "{name}: no Prometheus `datasource` variable in {variables:?}"
    );
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
    assert_eq!(
        placed.len(),
        service.metrics.len() + service.dashboard.extra_panels.len() + 3 * service.slos.len(),
        "{name}: one panel per metric and extra panel, three per SLO"
    );

    // Each metric charted in its row, through its selector (the service's, or an external metric's own),
    // broken down by its group_by labels.
    for metric in &service.metrics {
        let selector = label_matchers(&metric.selector, &BTreeMap::new());
        let series = match metric.kind {
            MetricKind::Histogram => metric.histogram_series("bucket"),
            _ => metric.sample_name(),
        };
        let selected = format!("{series}{selector}");
        let panel = placed
            .iter()
            .find(|p| p.row == metric.row && p.exprs().iter().any(|e| e.contains(&selected)))
            .unwrap_or_else(|| panic!("{name}: no panel in row {} selects {selected}", metric.row));
        for expr in panel.exprs() {
            let query = parse_query(expr);
            let wanted: BTreeSet<String> = metric.group_by.iter().cloned().collect();
            assert!(
                query.grouping.iter().any(|by| by.is_superset(&wanted)),
                "{name}: `{expr}` does not break down by {wanted:?}"
            );
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
            for (series, equal) in parse_query(expr).selectors {
                if !series.starts_with("slo:") {
                    continue;
                }
                assert!(
                    recorded.iter().any(|(record, labels)| *record == series
                        && equal.iter().all(|(k, v)| labels.get(k) == Some(v))),
                    "{name}: `{expr}` reads {series} {equal:?}, which the rules file does not record"
                );
            }
        }
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

#[test]
fn slos_dashboards_pass_the_lint() {
    let lint = Lint::new();
    let model = common::lower(&common::root().join("slos"));
    assert!(!model.services.is_empty(), "slos/ describes no service");
    for service in &model.services {
        check(&lint, service);
    }
}

#[test]
fn fixture_dashboards_pass_the_lint() {
    let lint = Lint::new();
    for dir in common::fixture_dirs("valid") {
        for service in &common::lower(&dir).services {
            check(&lint, service);
        }
    }
}

const TIERS: &str = r#"
version = 1

[tiers.standard]
objective = 99.9

[tiers.best_effort]
objective = 99.0
page = false
"#;

const SHOP: &str = r#"
version = 1

[service]
name = "shop"
tier = "standard"
team = "commerce"
description = "The online shop."
runbook_base_url = "https://runbooks.example.com/shop"
selector = { job = "shop", env = "prod" }

[labels.route]
help = "Route template."
max_values = 20

[labels.status]
help = "Status class."
values = ["2xx", "4xx", "5xx"]

[labels.queue]
help = "Queue name."
values = ["orders", "emails"]

[metrics.http_requests]
type = "counter"
help = "HTTP requests served"
labels = ["route", "status"]
row = "Traffic"
group_by = ["route", "status"]

[metrics.payment_errors]
type = "counter"
help = "Payments that failed."
row = "Errors"

[metrics.request_duration]
type = "histogram"
help = "Request latency."
unit = "seconds"
labels = ["route"]
buckets = [0.1, 0.25, 0.5, 1]
row = "Latency"
group_by = ["route"]

[metrics.queue_size]
type = "gauge"
help = "Bytes waiting in a queue."
unit = "bytes"
labels = ["queue"]
row = "Queues"
group_by = ["queue"]

[metrics.worker_last_run_timestamp]
type = "gauge"
help = "When the worker last finished."
unit = "seconds"
row = "Queues"

[slos.availability]
description = "Requests succeed"
[slos.availability.ratio]
errors = { metric = "http_requests", match = { status = ["5xx"] } }
total = { metric = "http_requests" }

[slos.latency]
description = "Requests are fast."
tier = "best_effort"
window = "28d"
[slos.latency.latency]
metric = "request_duration"
threshold = 0.25

[dashboard]
title = "Shop service level"
row_order = ["SLOs", "Latency", "Extra"]

[[dashboard.panels]]
title = "Checkout error ratio"
description = "Share of checkout requests that fail."
row = "Extra"
unit = "percentunit"
queries = [
  { expr = 'sum(rate(http_requests_total{job="shop", route="/checkout", status="5xx"}[5m])) / sum(rate(http_requests_total{job="shop", route="/checkout"}[5m]))', legend = "errors" },
  { expr = 'sum(rate(http_requests_total{job="shop", route="/checkout"}[5m]))', legend = "requests" },
  { expr = 'sum(rate(payment_errors_total{job="shop"}[5m]))', legend = "payment errors" },
]
"#;

fn shop() -> Model {
    inline::lower(&[("tiers.toml", TIERS), ("shop.toml", SHOP)])
}

fn panel_titled<'a>(dashboard: &'a Value, title: &str) -> &'a Value {
    dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"] == title)
        .unwrap_or_else(|| panic!("no panel titled {title}"))
}

#[test]
fn inline_spec_dashboard_charts_every_metric_slo_and_panel() {
    let model = shop();
    let service = &model.services[0];
    let dashboard = check(&Lint::new(), service);

    let rows: Vec<&str> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == "row")
        .filter_map(|p| p["title"].as_str())
        .collect();
    assert_eq!(rows[..3], ["SLOs", "Latency", "Extra"], "row_order first");
    assert_eq!(rows.len(), 6, "unlisted rows follow: {rows:?}");

    let unit =
        |title: &str| panel_titled(&dashboard, title)["fieldConfig"]["defaults"]["unit"].clone();
    assert_eq!(unit("http_requests"), "reqps");
    assert_eq!(unit("payment_errors"), "ops");
    assert_eq!(unit("request_duration"), "s");
    assert_eq!(unit("queue_size"), "bytes");
    assert_eq!(unit("worker_last_run_timestamp"), "s");

    let exprs = |title: &str| -> Vec<String> {
        panel_titled(&dashboard, title)["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["expr"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        exprs("http_requests"),
        [
            r#"sum by (route, status) (rate(http_requests_total{env="prod",job="shop"}[$__rate_interval]))"#
        ]
    );
    let quantiles: Vec<String> = exprs("request_duration")
        .iter()
        .map(|e| e.split(',').next().unwrap().to_string())
        .collect();
    assert_eq!(
        quantiles,
        [
            "histogram_quantile(0.5",
            "histogram_quantile(0.95",
            "histogram_quantile(0.99"
        ]
    );
    assert!(exprs("worker_last_run_timestamp")[0].starts_with("time() - max("));

    // The best-effort SLO never pages, so its burn-rate panel has no red line; the standard one does.
    let red_lines = |title: &str| {
        panel_titled(&dashboard, title)["fieldConfig"]["defaults"]["thresholds"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["color"] == "red")
            .count()
    };
    assert!(red_lines("availability: burn rate") > 0);
    assert_eq!(red_lines("latency: burn rate"), 0);
    assert!(panel_titled(&dashboard, "latency: error budget left (28d)").is_object());
}

#[test]
fn uid_is_stable_and_distinct_per_service() {
    let model = shop();
    let service = &model.services[0];
    let first: Value = serde_json::from_str(&grafana::emit(service).unwrap()).unwrap();
    let again: Value = serde_json::from_str(&grafana::emit(&shop().services[0]).unwrap()).unwrap();
    assert_eq!(first["uid"], again["uid"]);
    let mut renamed = service.clone();
    renamed.name = "shop_eu".into();
    let other: Value = serde_json::from_str(&grafana::emit(&renamed).unwrap()).unwrap();
    assert_ne!(first["uid"], other["uid"]);
    assert!(other["uid"].as_str().unwrap().len() <= 40);
}

#[test]
fn lint_rejects_what_the_grafana_schemas_forbid() {
    let lint = Lint::new();
    let model = shop();
    let clean: Value = serde_json::from_str(&grafana::emit(&model.services[0]).unwrap()).unwrap();
    let panel = clean["panels"]
        .as_array()
        .unwrap()
        .iter()
        .position(|p| p["type"] == "timeseries")
        .unwrap();
    assert!(lint_dashboard(&lint, &clean).is_empty());
    let cases = [
        (
            format!("/panels/{panel}/options/legend/placement"),
            json!("left"),
        ),
        (
            format!("/panels/{panel}/fieldConfig/defaults/custom/drawStyle"),
            json!("spline"),
        ),
        (format!("/panels/{panel}/targets/0/format"), json!("json")),
        (format!("/panels/{panel}/gridPos/w"), json!(25)),
        ("/templating/list/0/type".to_string(), json!("prometheus")),
        (format!("/panels/{panel}/type"), json!("stat")),
    ];
    for (path, value) in cases {
        let mut dashboard = clean.clone();
        let (parent, key) = path.rsplit_once('/').unwrap();
        dashboard.pointer_mut(parent).unwrap()[key] = value.clone();
        assert!(
            !lint_dashboard(&lint, &dashboard).is_empty(),
            "{path} = {value} passes the lint"
        );
    }
}
