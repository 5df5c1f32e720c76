//! The `[outputs]` table: the deployment forms generated beside the rules file, dashboard, docs and Rust
//! module. A file without a `[service]` holds the defaults for every service; a service's own `[outputs]`
//! overrides them field by field (maps key by key), and `enabled = false` turns off one a default turned on.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::Name;

/// Each table turns one output on; leave it out to generate none.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputsSpec {
    /// A `PrometheusRule` manifest (`monitoring.coreos.com/v1`) for the Prometheus Operator.
    #[schemars(with = "Option<PrometheusRuleSpec>")]
    pub prometheus_rule: Option<Spanned<PrometheusRuleSpec>>,
    /// The dashboard in a `ConfigMap` that Grafana's dashboard sidecar (kiwigrid/k8s-sidecar) imports.
    #[schemars(with = "Option<GrafanaConfigMapSpec>")]
    pub grafana_configmap: Option<Spanned<GrafanaConfigMapSpec>>,
    /// The dashboard as a grafana-operator `GrafanaDashboard` (`grafana.integreatly.org/v1beta1`).
    #[schemars(with = "Option<GrafanaOperatorSpec>")]
    pub grafana_operator: Option<Spanned<GrafanaOperatorSpec>>,
    /// The rule groups in the file `mimirtool rules load` and `mimirtool rules sync` read.
    #[schemars(with = "Option<MimirSpec>")]
    pub mimir: Option<Spanned<MimirSpec>>,
    /// The rule groups for the Thanos ruler, each with its `partial_response_strategy`.
    #[schemars(with = "Option<ThanosSpec>")]
    pub thanos: Option<Spanned<ThanosSpec>>,
    /// An `alertmanager.yml` fragment routing the service's pages and tickets.
    #[schemars(with = "Option<AlertmanagerSpec>")]
    pub alertmanager: Option<Spanned<AlertmanagerSpec>>,
}

/// Where a Kubernetes manifest goes and what it carries besides `app.kubernetes.io/managed-by: slogen`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesMetaSpec {
    /// Namespace of the object; default: none (the namespace `kubectl apply -n` names).
    #[schemars(with = "Option<String>")]
    pub namespace: Option<Spanned<String>>,
    /// Labels, e.g. `{ release = "kube-prometheus-stack" }` for the operator's `ruleSelector`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub labels: BTreeMap<Name, Spanned<String>>,
    /// Annotations.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub annotations: BTreeMap<Name, Spanned<String>>,
}

/// The `PrometheusRule` manifest.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrometheusRuleSpec {
    /// Set `false` in a service to leave out an output the defaults turn on.
    pub enabled: Option<bool>,
    /// The manifest's `metadata`: namespace, labels and annotations.
    #[serde(default)]
    pub metadata: KubernetesMetaSpec,
}

/// The dashboard `ConfigMap` for Grafana's sidecar.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrafanaConfigMapSpec {
    /// Set `false` in a service to leave out an output the defaults turn on.
    pub enabled: Option<bool>,
    /// The manifest's `metadata`: namespace, labels and annotations.
    #[serde(default)]
    pub metadata: KubernetesMetaSpec,
    /// The label the sidecar watches (`sidecar.dashboards.label`). Default: `grafana_dashboard`.
    #[schemars(with = "Option<String>")]
    pub sidecar_label: Option<Spanned<String>>,
    /// Its value (`sidecar.dashboards.labelValue`). Default: `"1"`.
    #[schemars(with = "Option<String>")]
    pub sidecar_label_value: Option<Spanned<String>>,
    /// Grafana folder to put the dashboard in; needs the sidecar's `folderAnnotation` and
    /// `provider.foldersFromFilesStructure`. Default: none (the sidecar's folder).
    #[schemars(with = "Option<String>")]
    pub folder: Option<Spanned<String>>,
    /// The annotation that names the folder (`sidecar.dashboards.folderAnnotation`). Default: `grafana_folder`.
    #[schemars(with = "Option<String>")]
    pub folder_annotation: Option<Spanned<String>>,
}

/// The grafana-operator `GrafanaDashboard`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrafanaOperatorSpec {
    /// Set `false` in a service to leave out an output the defaults turn on.
    pub enabled: Option<bool>,
    /// The manifest's `metadata`: namespace, labels and annotations.
    #[serde(default)]
    pub metadata: KubernetesMetaSpec,
    /// Labels of the `Grafana` instances to import into (`spec.instanceSelector.matchLabels`); required.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub instance_selector: BTreeMap<Name, Spanned<String>>,
    /// Grafana folder title (`spec.folder`). Default: none (General).
    #[schemars(with = "Option<String>")]
    pub folder: Option<Spanned<String>>,
    /// How often the operator re-applies the dashboard, e.g. `10m` (`spec.resyncPeriod`). Default: the
    /// operator's (5m).
    #[schemars(with = "Option<String>")]
    pub resync_period: Option<Spanned<String>>,
    /// Let Grafana instances in other namespaces import it (`spec.allowCrossNamespaceImport`).
    pub allow_cross_namespace_import: Option<bool>,
}

/// The Mimir ruler file.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MimirSpec {
    /// Set `false` in a service to leave out an output the defaults turn on.
    pub enabled: Option<bool>,
    /// Ruler namespace the groups are loaded into. Default: the service name.
    #[schemars(with = "Option<String>")]
    pub namespace: Option<Spanned<String>>,
}

/// The Thanos ruler file.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThanosSpec {
    /// Set `false` in a service to leave out an output the defaults turn on.
    pub enabled: Option<bool>,
    /// What a group does when a store answers partially: `abort` (the rule fails: no alert from half the
    /// data) or `warn` (evaluates on what answered). Default: `abort`, Thanos' own default.
    #[schemars(with = "Option<PartialResponseStrategy>")]
    pub partial_response_strategy: Option<Spanned<PartialResponseStrategy>>,
}

/// Thanos' two partial-response strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartialResponseStrategy {
    /// The evaluation fails when any store fails.
    Abort,
    /// The evaluation uses whatever answered.
    Warn,
}

/// The Alertmanager routing fragment.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerSpec {
    /// Set `false` in a service to leave out an output the defaults turn on.
    pub enabled: Option<bool>,
}
