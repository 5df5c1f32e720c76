//! The Grafana JSON Schemas as a lint: the dashboard schema for the frame, and the panel and query schemas
//! for what the dashboard schema leaves open (each panel's `options`, `fieldConfig.defaults.custom` and
//! `targets`), chosen by panel type. Table panels have no schema in `shared/`: [`super::table`] checks them
//! structurally, with the dashboard schema's own definitions for their override values.

use std::collections::BTreeMap;

use jsonschema::{Draft, Resource, Validator};
use serde_json::{json, Value};

use super::table;

/// Where the schema files are registered; nothing is fetched, the name only joins the references.
const SCHEMA_BASE: &str = "https://slogen.invalid/schemas/grafana/";

/// The dashboard schema and the panel and query schemas it leaves open, compiled once.
pub struct Lint {
    dashboard: Validator,
    options: BTreeMap<&'static str, Validator>,
    /// The panel type's `fieldConfig.defaults.custom` schema; `None` for types without custom field options.
    custom: BTreeMap<&'static str, Option<Validator>>,
    query: Validator,
    /// Dashboard-schema definitions that a table's override values must follow.
    pub thresholds: Validator,
    /// See [`Lint::thresholds`].
    pub color: Validator,
    /// See [`Lint::thresholds`].
    pub mappings: Validator,
}

impl Lint {
    pub fn new() -> Lint {
        let panel_types = ["timeseries", "stat", "gauge"];
        let dashboard = dashboard_schema();
        Lint {
            dashboard: validator("dashboard", dashboard.clone(), None),
            options: panel_types
                .iter()
                .map(|t| (*t, validator(t, schema(t), Some("Options"))))
                .collect(),
            custom: panel_types
                .iter()
                .map(|t| {
                    let contents = schema(t);
                    let has_field_config = contents["definitions"]["FieldConfig"].is_object();
                    (
                        *t,
                        has_field_config.then(|| validator(t, contents, Some("FieldConfig"))),
                    )
                })
                .collect(),
            query: validator("prometheus", schema("prometheus"), None),
            thresholds: validator("dashboard", dashboard.clone(), Some("ThresholdsConfig")),
            color: validator("dashboard", dashboard.clone(), Some("FieldColor")),
            mappings: validator("dashboard", dashboard, Some("ValueMapping")),
        }
    }
}

/// The shared schema folder, `../shared/schemas/grafana/` from the repository root. The schemas are shared
/// material, not copied into the repository; a missing folder fails with how to get it.
fn schema_dir() -> std::path::PathBuf {
    let dir = super::common::root().join("../shared/schemas/grafana");
    assert!(
        dir.is_dir(),
        "the Grafana JSON Schemas are missing: expected the folder {} (`shared/schemas/grafana/` beside \
         this repository's checkout, as CI has it); clone or copy `shared/` next to the repository and rerun",
        dir.display()
    );
    dir
}

/// A schema file of the shared folder, parsed.
pub fn schema(name: &str) -> Value {
    let path = schema_dir().join(format!("{name}.jsonschema.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("schema is JSON")
}

/// How grafana/cog writes a field its source types declare as `any`: a JSON object of anything.
fn cog_any() -> Value {
    json!({"type": "object", "additionalProperties": {}})
}

/// The dashboard schema, with the two fields that grafana-foundation-sdk's own Go and TypeScript types declare
/// as `any` (`MatcherConfig.Options any`, `DynamicConfigValue.Value any`) accepting any value. cog writes
/// `any` as "an object", which would reject every field override Grafana writes: the `byName` matcher's
/// option is the field's name, a `unit` override's value a string, `decimals` a number, `mappings` a list.
/// Only that exact translation is relaxed; any other constraint the schema puts there still applies.
fn dashboard_schema() -> Value {
    let mut contents = schema("dashboard");
    for pointer in [
        "/definitions/MatcherConfig/properties/options",
        "/definitions/DynamicConfigValue/properties/value",
    ] {
        let field = contents
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("the dashboard schema has no {pointer}"));
        let mut typed = field.clone();
        if let Some(map) = typed.as_object_mut() {
            map.remove("description");
        }
        if typed == cog_any() {
            let description = field.get("description").cloned();
            *field = json!({});
            if let Some(description) = description {
                field["description"] = description;
            }
        }
    }
    contents
}

/// A draft-07 validator for one schema file, or for one of its definitions, with the file registered as a
/// resource so its `#/definitions/...` references resolve inside it.
fn validator(file: &str, contents: Value, definition: Option<&str>) -> Validator {
    let uri = format!("{SCHEMA_BASE}{file}.jsonschema.json");
    let target = match definition {
        Some(name) => format!("{uri}#/definitions/{name}"),
        None => uri.clone(),
    };
    let resource = Resource::from_contents(contents).expect("draft-07 schema");
    jsonschema::options()
        .with_draft(Draft::Draft7)
        .with_resource(uri, resource)
        .build(&json!({ "$ref": target }))
        .unwrap_or_else(|e| panic!("schema {file} compiles: {e}"))
}

/// Every schema violation in `instance`, one line each, prefixed with `at` for the panel or target.
pub fn violations(validator: &Validator, instance: &Value, at: &str) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{at}{}: {e}", e.instance_path))
        .collect()
}

/// Every schema violation of a dashboard: the frame, then each panel's plugin options, custom field
/// options and queries by panel type; tables structurally.
pub fn lint_dashboard(lint: &Lint, dashboard: &Value) -> Vec<String> {
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
        if kind == "table" {
            out.extend(table::problems(lint, panel, &at));
            continue;
        }
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
        if panel["transformations"].is_array() {
            out.push(format!(
                "{at}: only tables transform their data (a `{kind}` panel charts its queries as they are)"
            ));
        }
    }
    out
}
