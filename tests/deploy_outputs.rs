//! The deployment outputs (`[outputs]`) of `slos/` and every valid fixture, checked by what consumes them:
//! the `PrometheusRule` against the CRD's own OpenAPI schema (`../shared/schemas/kubernetes/`), the rule
//! groups of every wrapper against the rules file that promtool checks, the Mimir groups by promtool itself,
//! and the dashboard wrappers against grafana-operator's CRD fields and the sidecar's conventions.

mod common;
#[path = "common/promtool.rs"]
mod promtool;
#[path = "common/spec_dirs.rs"]
mod spec_dirs;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use slogen::emit::{emit_all, Output};
use slogen::model::outputs::{KubernetesMeta, PartialResponseStrategy};
use slogen::model::Service;

fn yaml(text: &str) -> Value {
    serde_norway::from_str(text).unwrap_or_else(|e| panic!("not YAML: {e}\n{text}"))
}

fn crd_schema() -> jsonschema::Validator {
    let path = common::root()
        .join("../shared/schemas/kubernetes/monitoring.coreos.com_prometheusrules.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the shared/ folder must sit beside the checkout)",
            path.display()
        )
    });
    let crd = yaml(&text);
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    assert!(schema.is_object(), "the CRD has no openAPIV3Schema");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(schema)
        .expect("the CRD's schema compiles")
}

/// The outputs of one spec directory by path.
fn outputs(dir: &std::path::Path) -> (Vec<Service>, BTreeMap<String, String>) {
    let model = common::lower(dir);
    let files = emit_all(&model)
        .unwrap()
        .into_iter()
        .map(|Output { path, contents }| (path, contents))
        .collect();
    (model.services, files)
}

fn file<'o>(files: &'o BTreeMap<String, String>, service: &Service, name: &str) -> &'o str {
    let path = format!("{}/{name}", service.name);
    files
        .get(&path)
        .unwrap_or_else(|| panic!("{path} is not generated"))
}

fn assert_metadata(object: &Value, meta: &KubernetesMeta, what: &str) {
    let m = &object["metadata"];
    assert_eq!(m["name"], meta.name.as_str(), "{what}: name");
    assert_eq!(
        m["namespace"].as_str(),
        meta.namespace.as_deref(),
        "{what}: namespace"
    );
    assert_eq!(
        m["labels"]["app.kubernetes.io/managed-by"], "slogen",
        "{what}: every object says who manages it"
    );
    for (k, v) in &meta.labels {
        assert_eq!(m["labels"][k], v.as_str(), "{what}: label {k}");
    }
}

#[test]
fn every_deployment_output_is_what_its_consumer_accepts() {
    let schema = crd_schema();
    let mut seen = BTreeMap::<&str, usize>::new();
    for (name, dir) in spec_dirs::all() {
        let (services, files) = outputs(&dir);
        for service in &services {
            let what = format!("{name}/{}", service.name);
            let rules = yaml(file(&files, service, "rules.yml"));
            let o = &service.outputs;
            if let Some(meta) = &o.prometheus_rule {
                *seen.entry("prometheus_rule").or_default() += 1;
                let object = yaml(file(&files, service, "kubernetes/prometheus-rule.yaml"));
                let errors: Vec<String> = schema
                    .iter_errors(&object)
                    .map(|e| format!("{} at {}", e, e.instance_path))
                    .collect();
                assert!(
                    errors.is_empty(),
                    "{what}: the PrometheusRule breaks its CRD schema:\n{}",
                    errors.join("\n")
                );
                assert_eq!(object["apiVersion"], "monitoring.coreos.com/v1");
                assert_eq!(object["kind"], "PrometheusRule");
                assert_metadata(&object, meta, &what);
                assert_eq!(
                    object["spec"]["groups"], rules["groups"],
                    "{what}: the manifest holds the rules file's groups"
                );
            }
            if let Some(mimir) = &o.mimir {
                *seen.entry("mimir").or_default() += 1;
                let text = file(&files, service, "mimir-rules.yml");
                let parsed = yaml(text);
                assert_eq!(
                    parsed["namespace"],
                    mimir.namespace.as_str(),
                    "{what}: Mimir namespace"
                );
                assert_eq!(
                    parsed["groups"], rules["groups"],
                    "{what}: Mimir holds the rules file's groups"
                );
                // The groups alone are a Prometheus rules file: promtool checks them as the ruler would.
                let scratch = tempfile::tempdir().unwrap();
                let groups_only = scratch.path().join("groups.yml");
                let groups = serde_json::json!({ "groups": parsed["groups"] });
                std::fs::write(&groups_only, serde_norway::to_string(&groups).unwrap()).unwrap();
                let out = promtool::run(&["check", "rules"], &[&groups_only]);
                assert!(out.status.success(), "{what}: {}", promtool::text(&out));
            }
            if let Some(thanos) = &o.thanos {
                *seen.entry("thanos").or_default() += 1;
                let mut parsed = yaml(file(&files, service, "thanos-rules.yml"));
                let want = match thanos.partial_response_strategy {
                    PartialResponseStrategy::Abort => "abort",
                    PartialResponseStrategy::Warn => "warn",
                };
                for group in parsed["groups"].as_array_mut().unwrap() {
                    let strategy = group
                        .as_object_mut()
                        .unwrap()
                        .remove("partial_response_strategy");
                    assert_eq!(
                        strategy,
                        Some(Value::from(want)),
                        "{what}: every Thanos group names its strategy"
                    );
                }
                assert_eq!(
                    parsed["groups"], rules["groups"],
                    "{what}: Thanos holds the rules file's groups"
                );
            }
            let dashboard_json = file(&files, service, "dashboard.json");
            if let Some(configmap) = &o.grafana_configmap {
                *seen.entry("grafana_configmap").or_default() += 1;
                let object = yaml(file(
                    &files,
                    service,
                    "kubernetes/grafana-dashboard-configmap.yaml",
                ));
                assert_eq!(object["apiVersion"], "v1");
                assert_eq!(object["kind"], "ConfigMap");
                assert_metadata(&object, &configmap.meta, &what);
                let data = object["data"].as_object().expect("data");
                assert_eq!(data.len(), 1, "{what}: one dashboard per ConfigMap");
                let key = &configmap.data_key;
                assert!(
                    key.ends_with(".json")
                        && key
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)),
                    "{what}: ConfigMap key {key}"
                );
                assert_eq!(
                    data[key], dashboard_json,
                    "{what}: the ConfigMap holds dashboard.json byte for byte"
                );
                assert!(
                    configmap.meta.labels.contains_key("grafana_dashboard")
                        || configmap.meta.labels.len() > 1,
                    "{what}: the sidecar label is set"
                );
            }
            if let Some(dashboard) = &o.grafana_operator {
                *seen.entry("grafana_operator").or_default() += 1;
                let object = yaml(file(&files, service, "kubernetes/grafana-dashboard.yaml"));
                assert_eq!(object["apiVersion"], "grafana.integreatly.org/v1beta1");
                assert_eq!(object["kind"], "GrafanaDashboard");
                assert_metadata(&object, &dashboard.meta, &what);
                // grafana-operator's CRD (config/crd/bases/grafana.integreatly.org_grafanadashboards.yaml):
                // `instanceSelector` is required; the rest are optional fields of these types.
                let spec = object["spec"].as_object().expect("spec");
                let known = [
                    "instanceSelector",
                    "folder",
                    "resyncPeriod",
                    "allowCrossNamespaceImport",
                    "json",
                ];
                for key in spec.keys() {
                    assert!(
                        known.contains(&key.as_str()),
                        "{what}: unknown GrafanaDashboard field {key}"
                    );
                }
                let selector = spec["instanceSelector"]["matchLabels"]
                    .as_object()
                    .expect("matchLabels");
                assert!(
                    !selector.is_empty() && selector.values().all(Value::is_string),
                    "{what}: instanceSelector"
                );
                assert!(spec.get("folder").is_none_or(Value::is_string));
                assert!(spec
                    .get("allowCrossNamespaceImport")
                    .is_none_or(Value::is_boolean));
                assert_eq!(
                    spec["json"], dashboard_json,
                    "{what}: the GrafanaDashboard holds dashboard.json byte for byte"
                );
                let parsed: Value =
                    serde_json::from_str(spec["json"].as_str().unwrap()).expect("JSON");
                assert!(parsed["panels"].is_array());
            }
            for path in files
                .keys()
                .filter(|p| p.starts_with(&format!("{}/", service.name)))
            {
                let text = &files[path];
                if path.ends_with(".yaml") {
                    assert!(
                        text.starts_with("# Generated by slogen from "),
                        "{path}: header"
                    );
                }
            }
        }
    }
    for output in [
        "prometheus_rule",
        "mimir",
        "thanos",
        "grafana_configmap",
        "grafana_operator",
    ] {
        assert!(
            seen.get(output).copied().unwrap_or(0) >= 2,
            "{output} is checked on at least two services: {seen:?}"
        );
    }
}

/// The schema check has teeth: the CRD rejects what the API server would.
#[test]
fn the_crd_schema_rejects_a_broken_manifest() {
    let schema = crd_schema();
    let (services, files) = outputs(&common::root().join("slos"));
    let mut object = yaml(file(
        &files,
        &services[0],
        "kubernetes/prometheus-rule.yaml",
    ));
    assert!(schema.is_valid(&object));
    object["spec"]["groups"][0]["interval"] = Value::from("5 minutes");
    assert!(
        !schema.is_valid(&object),
        "a bad group interval passes the CRD schema"
    );
    object["spec"]["groups"][0]["interval"] = Value::from("1m");
    object["spec"]["groups"][0]["rules"][0]["record"] = Value::from(3);
    assert!(
        !schema.is_valid(&object),
        "a numeric record name passes the CRD schema"
    );
}

/// A service's own `[outputs]` overrides the defaults field by field, maps key by key, and `enabled = false`
/// leaves an output out.
#[test]
fn service_outputs_override_the_defaults() {
    let dir: PathBuf = common::root().join("tests/fixtures/valid/multi_service");
    let (services, files) = outputs(&dir);
    let service = |n: &str| services.iter().find(|s| s.name == n).unwrap();
    let api = &service("api").outputs;
    let rule = api.prometheus_rule.as_ref().unwrap();
    assert_eq!(rule.namespace.as_deref(), Some("web"), "own namespace wins");
    assert_eq!(rule.labels["tier"], "frontline", "own label value wins");
    assert_eq!(rule.labels["release"], "prom", "default label kept");
    assert_eq!(
        rule.annotations["example.com/owner"], "sre",
        "default annotation kept"
    );
    assert_eq!(api.mimir.as_ref().unwrap().namespace, "web-api");
    let configmap = api.grafana_configmap.as_ref().unwrap();
    assert_eq!(
        configmap.meta.annotations["k8s-sidecar-target-directory"],
        "Web"
    );
    assert_eq!(configmap.meta.labels["grafana_dashboard"], "1");

    let worker = &service("worker").outputs;
    assert!(
        worker.thanos.is_none() && !files.contains_key("worker/thanos-rules.yml"),
        "worker turned Thanos off"
    );
    assert_eq!(
        worker
            .prometheus_rule
            .as_ref()
            .unwrap()
            .namespace
            .as_deref(),
        Some("monitoring")
    );
    assert_eq!(
        service("billing").outputs.mimir.as_ref().unwrap().namespace,
        "billing",
        "Mimir namespace defaults to the service"
    );
    assert!(
        service("billing").outputs.grafana_configmap.is_none(),
        "only api asked for a ConfigMap"
    );
    assert_eq!(
        service("billing")
            .outputs
            .thanos
            .as_ref()
            .unwrap()
            .partial_response_strategy,
        PartialResponseStrategy::Warn
    );
}
