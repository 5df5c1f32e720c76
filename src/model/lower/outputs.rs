//! The `[outputs]` tables: the defaults (in a file without `[service]`) merged with a service's own, field by
//! field and map key by map key, then checked against what Kubernetes, the Grafana sidecar and grafana-operator
//! accept, so that a manifest that would be rejected at `kubectl apply` is an error here, at its line.

use super::*;
use crate::model::outputs::*;
use crate::spec::{KubernetesMetaSpec, OutputsSpec};

/// One `[outputs]` table and the file it is in; a service's own comes before the defaults.
pub(super) type OutputsLayer<'s> = (usize, &'s Spanned<OutputsSpec>);

/// One output's table in each layer that has it, the service's first, with the table's span.
struct Layers<'s, T>(Vec<(usize, Range<usize>, &'s T)>);

impl<'s, T> Layers<'s, T> {
    fn of(
        layers: &[OutputsLayer<'s>],
        get: impl Fn(&'s OutputsSpec) -> Option<&'s Spanned<T>>,
    ) -> Self {
        Layers(
            layers
                .iter()
                .filter_map(|(file, o)| get(o.get_ref()).map(|t| (*file, t.span(), t.get_ref())))
                .collect(),
        )
    }

    /// A part of each layer's table, such as its `metadata`.
    fn map<U>(&self, get: impl Fn(&'s T) -> &'s U) -> Layers<'s, U> {
        Layers(
            self.0
                .iter()
                .map(|(f, span, t)| (*f, span.clone(), get(t)))
                .collect(),
        )
    }

    /// Whether the output is generated: some layer has its table and the first `enabled` is not `false`.
    fn enabled(&self, enabled: impl Fn(&T) -> Option<bool>) -> bool {
        !self.0.is_empty()
            && self
                .0
                .iter()
                .find_map(|(_, _, t)| enabled(t))
                .unwrap_or(true)
    }

    /// The first layer's value of a field, with its file.
    fn pick<U>(&self, get: impl Fn(&'s T) -> Option<&'s U>) -> Option<(usize, &'s U)> {
        self.0
            .iter()
            .find_map(|(file, _, t)| get(t).map(|v| (*file, v)))
    }

    /// A map field merged key by key, the first layer's value winning; keys in order.
    fn merged<V>(
        &self,
        get: impl Fn(&'s T) -> &'s BTreeMap<Name, V>,
    ) -> Vec<(usize, &'s Name, &'s V)> {
        let mut out: Vec<(usize, &'s Name, &'s V)> = Vec::new();
        for (file, _, t) in &self.0 {
            for (k, v) in get(t) {
                if !out.iter().any(|(_, seen, _)| seen.get_ref() == k.get_ref()) {
                    out.push((*file, k, v));
                }
            }
        }
        out.sort_by(|a, b| a.1.get_ref().cmp(b.1.get_ref()));
        out
    }

    /// The file and span of the table that decides: the service's own when it has one.
    fn table(&self) -> (usize, Range<usize>) {
        let (file, span, _) = &self.0[0];
        (*file, span.clone())
    }
}

impl Lowering<'_> {
    /// The outputs of service `service`, from its own `[outputs]` and the defaults.
    pub(super) fn lower_outputs(&mut self, service: &str, layers: &[OutputsLayer<'_>]) -> Outputs {
        let mut outputs = Outputs::default();

        let rule = Layers::of(layers, |o| o.prometheus_rule.as_ref());
        if rule.enabled(|t| t.enabled) {
            outputs.prometheus_rule = Some(self.kubernetes_meta(
                &rule.map(|t| &t.metadata),
                conventions::prometheus_rule_name(service),
            ));
        }

        let configmap = Layers::of(layers, |o| o.grafana_configmap.as_ref());
        if configmap.enabled(|t| t.enabled) {
            let mut meta = self.kubernetes_meta(
                &configmap.map(|t| &t.metadata),
                conventions::dashboard_object_name(service),
            );
            let label = self.picked_name(
                configmap.pick(|t| t.sidecar_label.as_ref()),
                conventions::SIDECAR_LABEL,
                "label",
            );
            let value = match configmap.pick(|t| t.sidecar_label_value.as_ref()) {
                Some((file, v)) => {
                    self.label_value(file, v);
                    v.get_ref().clone()
                }
                None => conventions::SIDECAR_LABEL_VALUE.to_string(),
            };
            meta.labels.insert(label, value);
            if let Some((_, folder)) = configmap.pick(|t| t.folder.as_ref()) {
                let key = self.picked_name(
                    configmap.pick(|t| t.folder_annotation.as_ref()),
                    conventions::SIDECAR_FOLDER_ANNOTATION,
                    "annotation",
                );
                meta.annotations.insert(key, folder.get_ref().clone());
            }
            outputs.grafana_configmap = Some(GrafanaConfigMap {
                meta,
                data_key: conventions::dashboard_data_key(service),
            });
        }

        let operator = Layers::of(layers, |o| o.grafana_operator.as_ref());
        if operator.enabled(|t| t.enabled) {
            let meta = self.kubernetes_meta(
                &operator.map(|t| &t.metadata),
                conventions::dashboard_object_name(service),
            );
            let mut instance_selector = BTreeMap::new();
            for (file, key, value) in operator.merged(|t| &t.instance_selector) {
                self.qualified_name(file, key, "label");
                self.label_value(file, value);
                instance_selector.insert(key.get_ref().clone(), value.get_ref().clone());
            }
            if instance_selector.is_empty() {
                let (file, span) = operator.table();
                self.error(file, span, "`grafana_operator` has no `instance_selector`", "which Grafana instances import the dashboard?", "add the labels of your `Grafana` resource, e.g. `instance_selector = { dashboards = \"grafana\" }`; grafana-operator requires `spec.instanceSelector`");
            }
            let resync_period = operator.pick(|t| t.resync_period.as_ref()).map(|(file, p)| {
                if !is_go_duration(p.get_ref()) {
                    self.error(file, p.span(), format!("invalid `resync_period` `{}`", p.get_ref()), "not a Go duration", "write a duration such as `5m`, `1h` or `1h30m` (units ns, us, ms, s, m, h)");
                }
                p.get_ref().clone()
            });
            outputs.grafana_operator = Some(GrafanaOperatorDashboard {
                meta,
                instance_selector,
                folder: operator
                    .pick(|t| t.folder.as_ref())
                    .map(|(_, f)| f.get_ref().clone()),
                resync_period,
                allow_cross_namespace_import: operator
                    .pick(|t| t.allow_cross_namespace_import.as_ref())
                    .map(|(_, b)| *b),
            });
        }

        let mimir = Layers::of(layers, |o| o.mimir.as_ref());
        if mimir.enabled(|t| t.enabled) {
            let namespace = match mimir.pick(|t| t.namespace.as_ref()) {
                Some((file, ns)) => {
                    let text = ns.get_ref();
                    if text.trim().is_empty() || text.chars().any(|c| c.is_control() || c == '/') {
                        self.error(file, ns.span(), format!("invalid Mimir namespace `{text}`"), "empty, or holds `/` or a control character", "name the ruler namespace with letters, digits, `-`, `_` or `.`; by default it is the service name");
                    }
                    text.clone()
                }
                None => service.to_string(),
            };
            outputs.mimir = Some(MimirRules { namespace });
        }

        let thanos = Layers::of(layers, |o| o.thanos.as_ref());
        if thanos.enabled(|t| t.enabled) {
            outputs.thanos = Some(ThanosRules {
                partial_response_strategy: thanos
                    .pick(|t| t.partial_response_strategy.as_ref())
                    .map_or(PartialResponseStrategy::Abort, |(_, s)| *s.get_ref()),
            });
        }

        outputs.alertmanager =
            Layers::of(layers, |o| o.alertmanager.as_ref()).enabled(|t| t.enabled);
        outputs
    }

    /// Reports a second `[outputs]` in a file without a service: which defaults would win is not clear.
    pub(super) fn defaults_twice(
        &mut self,
        file: usize,
        span: Range<usize>,
        first_file: usize,
        first: Range<usize>,
    ) {
        self.problems.push(
            Diagnostic::error()
                .with_message("the `[outputs]` defaults are given twice")
                .with_labels(vec![
                    DiagLabel::primary(file, span).with_message("defaults again here"),
                    DiagLabel::secondary(first_file, first).with_message("first given here"),
                ])
                .with_notes(vec!["help: keep every default in one `[outputs]` in a file without `[service]`; a service's own `[outputs]`, in its file, overrides them".into()]),
        );
    }

    /// Metadata from its layers: the namespace, the labels and annotations merged, the managed-by label added.
    fn kubernetes_meta(
        &mut self,
        layers: &Layers<'_, KubernetesMetaSpec>,
        name: String,
    ) -> KubernetesMeta {
        let namespace = layers.pick(|m| m.namespace.as_ref()).map(|(file, ns)| {
            if !is_dns_label(ns.get_ref()) {
                self.error(file, ns.span(), format!("invalid namespace `{}`", ns.get_ref()), "not a Kubernetes namespace name", "use at most 63 lower-case letters, digits and `-`, starting and ending with a letter or digit");
            }
            ns.get_ref().clone()
        });
        let mut labels = BTreeMap::new();
        for (file, key, value) in layers.merged(|m| &m.labels) {
            self.qualified_name(file, key, "label");
            if key.get_ref() == conventions::MANAGED_BY_LABEL {
                self.error(
                    file,
                    key.span(),
                    format!("`{}` is set by slogen", conventions::MANAGED_BY_LABEL),
                    "reserved",
                    format!(
                        "remove it: every generated object carries `{}: {}`",
                        conventions::MANAGED_BY_LABEL,
                        conventions::MANAGED_BY
                    ),
                );
            }
            self.label_value(file, value);
            labels.insert(key.get_ref().clone(), value.get_ref().clone());
        }
        labels.insert(
            conventions::MANAGED_BY_LABEL.into(),
            conventions::MANAGED_BY.into(),
        );
        let mut annotations = BTreeMap::new();
        for (file, key, value) in layers.merged(|m| &m.annotations) {
            self.qualified_name(file, key, "annotation");
            annotations.insert(key.get_ref().clone(), value.get_ref().clone());
        }
        KubernetesMeta {
            name,
            namespace,
            labels,
            annotations,
        }
    }

    /// A label or annotation key chosen in the spec and checked, or the default.
    fn picked_name(
        &mut self,
        picked: Option<(usize, &Spanned<String>)>,
        default: &str,
        what: &str,
    ) -> String {
        match picked {
            Some((file, key)) => {
                self.qualified_name(file, key, what);
                key.get_ref().clone()
            }
            None => default.to_string(),
        }
    }

    /// Reports a label or annotation key Kubernetes would reject.
    fn qualified_name(&mut self, file: usize, key: &Spanned<String>, what: &str) {
        if !is_qualified_name(key.get_ref()) {
            self.error(file, key.span(), format!("invalid Kubernetes {what} key `{}`", key.get_ref()), "Kubernetes rejects this key", "write an optional DNS prefix and `/`, then at most 63 letters, digits, `-`, `_` or `.` starting and ending with a letter or digit, e.g. `release` or `example.com/team`");
        }
    }

    /// Reports a label value Kubernetes would reject.
    fn label_value(&mut self, file: usize, value: &Spanned<String>) {
        let v = value.get_ref();
        if !(v.is_empty() || is_name_part(v)) {
            self.error(file, value.span(), format!("invalid Kubernetes label value `{v}`"), "Kubernetes rejects this value", "use at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit (or leave it empty)");
        }
    }
}

/// A DNS-1123 label, the form of a namespace: at most 63 of `[a-z0-9-]`, alphanumeric at both ends.
fn is_dns_label(s: &str) -> bool {
    s.len() <= 63
        && !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A DNS-1123 subdomain, the prefix of a qualified name: dot-separated labels, at most 253 in all.
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// The name part of a label key, and the form of a label value: at most 63 of `[A-Za-z0-9_.-]`,
/// alphanumeric at both ends.
fn is_name_part(s: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    s.len() <= 63
        && alnum(s.chars().next())
        && alnum(s.chars().last())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A label or annotation key: `[prefix/]name`.
fn is_qualified_name(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_name_part(name),
        None => is_name_part(s),
    }
}

/// A Go duration as the CRD's pattern takes it: `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`.
fn is_go_duration(s: &str) -> bool {
    let mut rest = s;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        if let Some(frac) = rest.strip_prefix('.') {
            let n = frac.len() - frac.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if n == 0 {
                return false;
            }
            rest = &frac[n..];
        }
        let Some(unit) = ["ns", "us", "µs", "ms", "s", "m", "h"]
            .iter()
            .find(|u| rest.starts_with(*u) && !(**u == "m" && rest.starts_with("ms")))
        else {
            return false;
        };
        rest = &rest[unit.len()..];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_names_follow_the_api_rules() {
        assert!(is_dns_label("monitoring") && is_dns_label("a-1"));
        assert!(
            !is_dns_label("Monitoring") && !is_dns_label("-a") && !is_dns_label(&"a".repeat(64))
        );
        assert!(is_qualified_name("release") && is_qualified_name("app.kubernetes.io/managed-by"));
        assert!(
            !is_qualified_name("a/b/c")
                && !is_qualified_name("-x")
                && !is_qualified_name("Ex.com/x")
        );
        assert!(is_name_part("kube-prometheus-stack") && !is_name_part("a b"));
    }

    #[test]
    fn go_durations_match_the_crd_pattern() {
        for ok in ["5m", "1h30m", "1.5h", "300ms", "10µs", "2us"] {
            assert!(is_go_duration(ok), "{ok}");
        }
        for bad in ["", "5", "m", "1d", "1.h", "5 m"] {
            assert!(!is_go_duration(bad), "{bad}");
        }
    }
}
