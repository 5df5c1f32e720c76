//! The deployment forms of the rules and the dashboard: the Prometheus Operator's `PrometheusRule`, the Grafana
//! sidecar's `ConfigMap`, grafana-operator's `GrafanaDashboard`, and the Mimir and Thanos ruler files. Each
//! wraps what [`super::prometheus`] and [`super::grafana`] write; every name and label is the model's.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use serde::Serialize;

use super::prometheus::{groups, yaml_file, Group};
use crate::model::outputs::{
    GrafanaConfigMap, GrafanaOperatorDashboard, KubernetesMeta, MimirRules,
    PartialResponseStrategy, ThanosRules,
};
use crate::model::Service;

/// The most a ConfigMap may hold (etcd's object limit, which the API server enforces).
const CONFIGMAP_MAX_BYTES: usize = 1024 * 1024;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Object<'m, S> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata<'m>,
    #[serde(skip_serializing_if = "Option::is_none")]
    spec: Option<S>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<BTreeMap<&'m str, &'m str>>,
}

#[derive(Serialize)]
struct Metadata<'m> {
    name: &'m str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'m str>,
    labels: &'m BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: &'m BTreeMap<String, String>,
}

impl<'m> From<&'m KubernetesMeta> for Metadata<'m> {
    fn from(m: &'m KubernetesMeta) -> Self {
        Metadata {
            name: &m.name,
            namespace: m.namespace.as_deref(),
            labels: &m.labels,
            annotations: &m.annotations,
        }
    }
}

#[derive(Serialize)]
struct RuleSpec<'m> {
    groups: Vec<Group<'m>>,
}

/// The `PrometheusRule` holding the service's rule groups.
pub fn prometheus_rule(service: &Service, meta: &KubernetesMeta) -> Result<String> {
    let object = Object {
        api_version: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        metadata: meta.into(),
        spec: Some(RuleSpec {
            groups: groups(service, None),
        }),
        data: None,
    };
    yaml_file(service, &object)
}

/// The `ConfigMap` the sidecar turns into the dashboard file `data_key`.
pub fn grafana_configmap(
    service: &Service,
    configmap: &GrafanaConfigMap,
    dashboard_json: &str,
) -> Result<String> {
    let object: Object<'_, ()> = Object {
        api_version: "v1",
        kind: "ConfigMap",
        metadata: (&configmap.meta).into(),
        spec: None,
        data: Some(BTreeMap::from([(
            configmap.data_key.as_str(),
            dashboard_json,
        )])),
    };
    let text = yaml_file(service, &object)?;
    if text.len() > CONFIGMAP_MAX_BYTES {
        bail!(
            "the dashboard ConfigMap of {} is {} bytes, over Kubernetes' 1 MiB limit\n  = help: use `[outputs.grafana_operator]` instead, or move panels to another dashboard",
            service.name,
            text.len()
        );
    }
    Ok(text)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DashboardSpec<'m> {
    instance_selector: InstanceSelector<'m>,
    #[serde(skip_serializing_if = "Option::is_none")]
    folder: Option<&'m str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resync_period: Option<&'m str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_cross_namespace_import: Option<bool>,
    json: &'m str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InstanceSelector<'m> {
    match_labels: &'m BTreeMap<String, String>,
}

/// The grafana-operator `GrafanaDashboard` holding the dashboard JSON inline.
pub fn grafana_operator(
    service: &Service,
    dashboard: &GrafanaOperatorDashboard,
    dashboard_json: &str,
) -> Result<String> {
    let object = Object {
        api_version: "grafana.integreatly.org/v1beta1",
        kind: "GrafanaDashboard",
        metadata: (&dashboard.meta).into(),
        spec: Some(DashboardSpec {
            instance_selector: InstanceSelector {
                match_labels: &dashboard.instance_selector,
            },
            folder: dashboard.folder.as_deref(),
            resync_period: dashboard.resync_period.as_deref(),
            allow_cross_namespace_import: dashboard.allow_cross_namespace_import,
            json: dashboard_json,
        }),
        data: None,
    };
    yaml_file(service, &object)
}

#[derive(Serialize)]
struct MimirFile<'m> {
    namespace: &'m str,
    groups: Vec<Group<'m>>,
}

/// The rule file `mimirtool rules load` reads: the ruler namespace, then the groups.
pub fn mimir(service: &Service, mimir: &MimirRules) -> Result<String> {
    yaml_file(
        service,
        &MimirFile {
            namespace: &mimir.namespace,
            groups: groups(service, None),
        },
    )
}

#[derive(Serialize)]
struct ThanosFile<'m> {
    groups: Vec<Group<'m>>,
}

/// The rule file of the Thanos ruler: the groups, each with its partial-response strategy.
pub fn thanos(service: &Service, thanos: &ThanosRules) -> Result<String> {
    let strategy = match thanos.partial_response_strategy {
        PartialResponseStrategy::Abort => "abort",
        PartialResponseStrategy::Warn => "warn",
    };
    yaml_file(
        service,
        &ThanosFile {
            groups: groups(service, Some(strategy)),
        },
    )
}
