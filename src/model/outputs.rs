//! The deployment outputs of a service, resolved: the defaults merged with the service's overrides, every
//! name, label and annotation decided, so that the emitters only serialise.

use std::collections::BTreeMap;

pub use crate::spec::PartialResponseStrategy;

/// The outputs a service generates beyond its rules, rule tests, dashboard, docs and Rust module.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    /// The `PrometheusRule` manifest's metadata, when it is generated.
    pub prometheus_rule: Option<KubernetesMeta>,
    /// The sidecar's dashboard `ConfigMap`.
    pub grafana_configmap: Option<GrafanaConfigMap>,
    /// The grafana-operator `GrafanaDashboard`.
    pub grafana_operator: Option<GrafanaOperatorDashboard>,
    /// The Mimir ruler file.
    pub mimir: Option<MimirRules>,
    /// The Thanos ruler file.
    pub thanos: Option<ThanosRules>,
    /// Whether the Alertmanager routing fragment is generated.
    pub alertmanager: bool,
}

/// A Kubernetes object's metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubernetesMeta {
    /// `metadata.name`, from the service name (conventions).
    pub name: String,
    /// `metadata.namespace`; none leaves it to `kubectl apply -n`.
    pub namespace: Option<String>,
    /// Labels, `app.kubernetes.io/managed-by: slogen` among them.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
}

/// A dashboard `ConfigMap` for the sidecar: the sidecar label and the folder annotation are already in
/// `meta`.
#[derive(Debug, Clone, Default)]
pub struct GrafanaConfigMap {
    /// Metadata.
    pub meta: KubernetesMeta,
    /// The `data` key holding the dashboard JSON; the sidecar writes it as that file name.
    pub data_key: String,
}

/// A grafana-operator `GrafanaDashboard` holding the dashboard JSON inline.
#[derive(Debug, Clone, Default)]
pub struct GrafanaOperatorDashboard {
    /// Metadata.
    pub meta: KubernetesMeta,
    /// `spec.instanceSelector.matchLabels`.
    pub instance_selector: BTreeMap<String, String>,
    /// `spec.folder`.
    pub folder: Option<String>,
    /// `spec.resyncPeriod`, a Go duration.
    pub resync_period: Option<String>,
    /// `spec.allowCrossNamespaceImport`.
    pub allow_cross_namespace_import: Option<bool>,
}

/// The Mimir ruler file.
#[derive(Debug, Clone, Default)]
pub struct MimirRules {
    /// The ruler namespace its groups load into.
    pub namespace: String,
}

/// The Thanos ruler file.
#[derive(Debug, Clone)]
pub struct ThanosRules {
    /// Written on every group.
    pub partial_response_strategy: PartialResponseStrategy,
}
