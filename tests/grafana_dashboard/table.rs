//! Structural checks of a table panel, which has no JSON Schema in `shared/`: its options and field options
//! take only the keys and values Grafana's table plugin knows, its queries are instant table queries, its
//! transformations join them (`merge`) and choose the columns (`organize`) by field names the queries produce,
//! and every field override names a shown column and sets a value of the right shape (checked against the
//! dashboard schema's own definitions where it has one).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::lint::{violations, Lint};

/// Keys of the table plugin's options, each with a check of its value.
fn option_problems(options: &Value, headers: &BTreeSet<String>, at: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Some(map) = options.as_object() else {
        return vec![format!("{at}/options: not an object")];
    };
    for (key, value) in map {
        let ok = match key.as_str() {
            "showHeader" => value.is_boolean(),
            "cellHeight" => matches!(value.as_str(), Some("sm" | "md" | "lg")),
            "footer" => value.as_object().is_some_and(|f| {
                f.iter().all(|(k, v)| match k.as_str() {
                    "show" | "countRows" => v.is_boolean(),
                    "fields" => v.is_string(),
                    "reducer" => v.as_array().is_some_and(|r| r.iter().all(Value::is_string)),
                    _ => false,
                })
            }),
            "sortBy" => value.as_array().is_some_and(|sorts| {
                sorts.iter().all(|s| {
                    s["desc"].is_boolean()
                        && s["displayName"]
                            .as_str()
                            .is_some_and(|name| headers.contains(name))
                        && s.as_object().is_some_and(|o| o.len() == 2)
                })
            }),
            _ => false,
        };
        if !ok {
            out.push(format!("{at}/options/{key}: unknown or malformed: {value}"));
        }
    }
    out
}

/// The table plugin's field options.
fn custom_problems(custom: &Value, at: &str) -> Vec<String> {
    let Some(map) = custom.as_object() else {
        return vec![format!("{at}/fieldConfig/defaults/custom: not an object")];
    };
    let mut out = Vec::new();
    for (key, value) in map {
        let ok = match key.as_str() {
            "align" => matches!(value.as_str(), Some("auto" | "left" | "center" | "right")),
            "inspect" | "filterable" => value.is_boolean(),
            "cellOptions" => cell_options(value),
            _ => false,
        };
        if !ok {
            out.push(format!(
                "{at}/fieldConfig/defaults/custom/{key}: unknown or malformed: {value}"
            ));
        }
    }
    out
}

fn cell_options(value: &Value) -> bool {
    value.as_object().is_some_and(|o| o.len() == 1)
        && matches!(
            value["type"].as_str(),
            Some("auto" | "color-text" | "color-background" | "gauge" | "json-view")
        )
}

/// Every structural problem of a table panel.
pub fn problems(lint: &Lint, panel: &Value, at: &str) -> Vec<String> {
    let mut out = Vec::new();
    let targets = panel["targets"].as_array().cloned().unwrap_or_default();
    if targets.is_empty() {
        out.push(format!("{at}: a table without queries"));
    }
    let mut value_fields = BTreeSet::new();
    for (j, t) in targets.iter().enumerate() {
        if t["instant"] != true || t["range"] != false || t["format"] != "table" {
            out.push(format!(
                "{at}/targets/{j}: a table shows instant queries formatted as a table"
            ));
        }
        let ref_id = t["refId"].as_str().unwrap_or_default();
        value_fields.insert(if targets.len() == 1 {
            "Value".to_string()
        } else {
            format!("Value #{ref_id}")
        });
    }

    let transformations = panel["transformations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ids: Vec<&str> = transformations
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    let expected: &[&str] = if targets.len() > 1 {
        &["merge", "organize"]
    } else {
        &["organize"]
    };
    if ids != expected {
        out.push(format!(
            "{at}/transformations: {ids:?}, expected {expected:?} (join the queries, then pick the columns)"
        ));
    }
    let empty = serde_json::Map::new();
    let organize = transformations
        .iter()
        .find(|t| t["id"] == "organize")
        .map(|t| &t["options"]);
    let field_map = |key: &str| -> BTreeMap<String, Value> {
        organize
            .and_then(|o| o[key].as_object())
            .unwrap_or(&empty)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    if let Some(merge) = transformations.iter().find(|t| t["id"] == "merge") {
        if merge["options"] != serde_json::json!({}) {
            out.push(format!("{at}: `merge` takes no options"));
        }
    }
    if let Some(keys) = organize.and_then(Value::as_object) {
        for key in keys.keys() {
            if !matches!(
                key.as_str(),
                "excludeByName" | "indexByName" | "renameByName"
            ) {
                out.push(format!("{at}: unknown `organize` option `{key}`"));
            }
        }
    }
    let excluded = field_map("excludeByName");
    let indexed = field_map("indexByName");
    let renamed = field_map("renameByName");
    if excluded.values().any(|v| *v != true) {
        out.push(format!("{at}: `excludeByName` values must be true"));
    }
    let positions: BTreeSet<u64> = indexed.values().filter_map(Value::as_u64).collect();
    if positions != (0..indexed.len() as u64).collect() {
        out.push(format!(
            "{at}: column positions {positions:?} are not 0..{}",
            indexed.len()
        ));
    }
    if renamed.keys().collect::<Vec<_>>() != indexed.keys().collect::<Vec<_>>() {
        out.push(format!(
            "{at}: every shown column needs a header, and only those"
        ));
    }
    // Field names: the evaluation time, a query's value, or a label (what is not a value field).
    for name in excluded.keys().chain(indexed.keys()) {
        if name.starts_with("Value") && !value_fields.contains(name) {
            out.push(format!("{at}: `{name}` is not the value of any query"));
        }
    }
    for value in &value_fields {
        if !excluded.contains_key(value) && !indexed.contains_key(value) {
            out.push(format!(
                "{at}: `{value}` is neither shown nor hidden, so it would trail as an unnamed column"
            ));
        }
    }
    if indexed.keys().any(|k| excluded.contains_key(k)) {
        out.push(format!("{at}: a column is both shown and hidden"));
    }
    let headers: BTreeSet<String> = renamed
        .values()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if headers.len() != renamed.len() {
        out.push(format!("{at}: headers must be distinct strings"));
    }

    out.extend(option_problems(&panel["options"], &headers, at));
    out.extend(custom_problems(
        &panel["fieldConfig"]["defaults"]["custom"],
        at,
    ));

    for (k, o) in panel["fieldConfig"]["overrides"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("{at}/fieldConfig/overrides/{k}");
        let name = o["matcher"]["options"].as_str().unwrap_or_default();
        if o["matcher"]["id"] != "byName" || !headers.contains(name) {
            out.push(format!(
                "{at}: matches {}, not a shown column by its header",
                o["matcher"]
            ));
        }
        for (p, property) in o["properties"].as_array().into_iter().flatten().enumerate() {
            let at = format!("{at}/properties/{p}");
            let value = &property["value"];
            match property["id"].as_str().unwrap_or_default() {
                "unit" if value.as_str().is_some_and(|u| !u.is_empty()) => {}
                "decimals" if value.as_u64().is_some_and(|d| d <= 10) => {}
                "custom.cellOptions" if cell_options(value) => {}
                "thresholds" => out.extend(violations(&lint.thresholds, value, &at)),
                "color" => out.extend(violations(&lint.color, value, &at)),
                "mappings" => match value.as_array() {
                    Some(list) => {
                        for mapping in list {
                            out.extend(violations(&lint.mappings, mapping, &at));
                        }
                    }
                    None => out.push(format!("{at}: mappings are a list")),
                },
                other => out.push(format!(
                    "{at}: `{other}` = {value} is not a table field option here"
                )),
            }
        }
    }
    out
}
