//! The Grafana dashboard emitter, checked against Grafana's own JSON Schemas and against the model.
//!
//! The schemas (from grafana/grafana-foundation-sdk, read from `../shared/schemas/grafana/` beside the
//! repository, where CI also has them; see that folder's ORIGIN.md) are stricter than Grafana, so they lint
//! our output (`lint`): the dashboard schema covers the frame, and each panel's `options`,
//! `fieldConfig.defaults.custom` and `targets` are checked against the schema of its panel type and of the
//! Prometheus query, which the dashboard schema leaves open; tables, which have no schema there, are checked
//! structurally (`table`). `check` holds each dashboard to the model: every query parses as PromQL, every
//! recording rule a panel reads is written by the Prometheus emitter, raw series follow the variables, and the
//! layout does not overlap. `tests/grafana_queries.rs` evaluates the overview's queries with promtool.

mod common;
#[path = "common/inline.rs"]
mod inline;

#[path = "grafana_dashboard/check.rs"]
mod check;
#[path = "grafana_dashboard/lint.rs"]
mod lint;
#[path = "grafana_dashboard/query.rs"]
mod query;
#[path = "grafana_dashboard/table.rs"]
mod table;

use serde_json::{json, Value};
use slogen::emit::grafana;
use slogen::model::Model;

use check::check;
use lint::{lint_dashboard, Lint};

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
title = "Failed payments per second"

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
variables = ["cluster"]

[[dashboard.panels]]
title = "Checkout error ratio"
description = "Share of checkout requests that fail."
row = "Extra"
unit = "percentunit"
queries = [
  { expr = 'sum(rate(http_requests_total{job="shop", cluster=~"$cluster", route="/checkout", status="5xx"}[$__rate_interval])) / sum(rate(http_requests_total{job="shop", cluster=~"$cluster", route="/checkout"}[$__rate_interval]))', legend = "errors" },
  { expr = 'sum(rate(http_requests_total{job="shop", cluster=~"${cluster}", route="/checkout"}[5m]))', legend = "requests" },
  { expr = 'sum(rate(payment_errors_total{job="shop", cluster=~"$cluster"}[$__rate_interval]))', legend = "payment errors" },
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
    assert_eq!(
        rows[..4],
        ["Overview", "SLOs", "Latency", "Extra"],
        "the overview leads, then row_order"
    );
    assert_eq!(rows.len(), 7, "unlisted rows follow: {rows:?}");

    let unit =
        |title: &str| panel_titled(&dashboard, title)["fieldConfig"]["defaults"]["unit"].clone();
    assert_eq!(
        unit("HTTP requests per second by route and status"),
        "reqps"
    );
    assert_eq!(unit("Failed payments per second"), "ops");
    assert_eq!(unit("Request duration percentiles by route"), "s");
    assert_eq!(unit("Queue size by queue"), "bytes");
    assert_eq!(unit("Time since worker last run"), "s");

    let exprs = |title: &str| -> Vec<String> {
        panel_titled(&dashboard, title)["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["expr"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        exprs("HTTP requests per second by route and status"),
        [
            r#"sum by (route, status) (rate(http_requests_total{env="prod",job="shop",cluster=~"$cluster"}[$__rate_interval]))"#
        ]
    );
    let quantiles: Vec<String> = exprs("Request duration percentiles by route")
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
    assert!(exprs("Time since worker last run")[0].starts_with("time() - max("));
    assert!(
        panel_titled(&dashboard, "HTTP requests per second by route and status")["description"]
            .as_str()
            .unwrap()
            .starts_with("HTTP requests served. Per-second rate of `http_requests_total`"),
        "the help text describes the panel"
    );

    // The best-effort SLO never pages, so its burn-rate panel has no red line; the standard one does.
    let red_lines = |title: &str| {
        panel_titled(&dashboard, title)["fieldConfig"]["defaults"]["thresholds"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["color"] == "red")
            .count()
    };
    assert!(red_lines("Availability: burn rate") > 0);
    assert_eq!(red_lines("Latency: burn rate"), 0);
    assert!(panel_titled(&dashboard, "Latency: error budget left (28d)").is_object());

    // The SLOs have two windows, so the overview's SLI column names neither; its columns in order.
    let overview = panel_titled(&dashboard, "SLO overview");
    let headers = &overview["transformations"][1]["options"]["renameByName"];
    assert_eq!(
        headers,
        &json!({"sloth_slo": "SLO", "Value #A": "Objective", "Value #B": "SLI (own window)",
                "Value #C": "Budget left", "Value #D": "Burn rate (5m)"})
    );
    // 99.9 and 99: the objective with one decimal, the SLI with one more.
    let decimals: Vec<&Value> = overview["fieldConfig"]["overrides"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["properties"][1]["value"])
        .collect();
    assert_eq!(decimals, [&json!(1), &json!(2), &json!(1), &json!(2)]);
}

/// A copy of the inline spec with `edit` applied to its text.
fn shop_with(edit: impl Fn(&str) -> String) -> Model {
    inline::lower(&[("tiers.toml", TIERS), ("shop.toml", &edit(SHOP))])
}

#[test]
fn the_overview_leads_unless_row_order_places_it() {
    let placed = shop_with(|s| {
        s.replace(
            r#"row_order = ["SLOs", "Latency", "Extra"]"#,
            r#"row_order = ["SLOs", "Overview", "Latency"]"#,
        )
    });
    assert_eq!(
        placed.services[0].dashboard.row_order[..3],
        ["SLOs", "Overview", "Latency"]
    );
    check(&Lint::new(), &placed.services[0]);

    // Without SLOs and alerts there is nothing to overview.
    let plain = shop_with(|s| {
        let cut = s.find("[slos.availability]").unwrap();
        let dashboard = s.find("[dashboard]").unwrap();
        format!("{}{}", &s[..cut], &s[dashboard..]).replace(r#""SLOs", "#, "")
    });
    let service = &plain.services[0];
    assert!(service.slos.is_empty());
    assert!(!service.dashboard.row_order.iter().any(|r| r == "Overview"));
    check(&Lint::new(), service);
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
    let position = |kind: &str| {
        clean["panels"]
            .as_array()
            .unwrap()
            .iter()
            .position(|p| p["type"] == kind)
            .unwrap()
    };
    let (panel, table) = (position("timeseries"), position("table"));
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
        (format!("/panels/{panel}/transformations"), json!([])),
        ("/templating/list/0/type".to_string(), json!("prometheus")),
        ("/templating/list/1/refresh".to_string(), json!(7)),
        (format!("/panels/{panel}/type"), json!("stat")),
        // Tables, checked structurally.
        (format!("/panels/{table}/targets/0/instant"), json!(false)),
        (format!("/panels/{table}/options/cellHeight"), json!("huge")),
        (
            format!("/panels/{table}/options/sortBy/0/displayName"),
            json!("Nope"),
        ),
        (
            format!("/panels/{table}/transformations/0/id"),
            json!("joinByField"),
        ),
        (
            format!("/panels/{table}/transformations/1/options/indexByName/Value #E"),
            json!(5),
        ),
        (
            format!("/panels/{table}/transformations/1/options/excludeByName/Value #D"),
            json!(true),
        ),
        (
            format!("/panels/{table}/fieldConfig/overrides/0/matcher/options"),
            json!("Nope"),
        ),
        (
            format!("/panels/{table}/fieldConfig/overrides/2/properties/2/value/steps/0/color"),
            json!(5),
        ),
        (
            format!("/panels/{table}/fieldConfig/overrides/0/properties/0/value"),
            json!(["percentunit"]),
        ),
        (
            format!("/panels/{table}/fieldConfig/defaults/custom/cellOptions/type"),
            json!("sparkle"),
        ),
        // The schema relaxes override matcher options and values to any value, not their other fields.
        (
            format!("/panels/{table}/fieldConfig/overrides/0/properties/0/id"),
            json!(5),
        ),
        (
            format!("/panels/{table}/fieldConfig/overrides/0/matcher/id"),
            json!(["byName"]),
        ),
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
