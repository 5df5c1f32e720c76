//! Every derived name in one place: Prometheus record, label and group names, alert names, severities,
//! markdown anchors, dashboard uids and Rust identifiers.
//!
//! Record and label names follow Sloth's conventions (`slo:sli_error:ratio_rate<window>`, `sloth_id`, …), so
//! dashboards and tools built for Sloth read slogen's series as they read Sloth's own. A name changes here
//! or nowhere.

use crate::model::{Duration, MetricKind, Severity};

/// Prefix of the record holding an SLO's error ratio over a window.
const SLI_ERROR_RECORD_PREFIX: &str = "slo:sli_error:ratio_rate";

/// The Sloth-compatible record holding an SLO's error ratio over `window` (`slo:sli_error:ratio_rate5m`).
pub fn sli_error_record(window: Duration) -> String {
    format!("{SLI_ERROR_RECORD_PREFIX}{}", window.promql())
}

/// Bad events per second over `window` (`slo:sli_errors:rate5m`): with [`sli_events_rate_record`], what the
/// SLO window's error ratio sums, so that every event weighs the same.
pub fn sli_errors_rate_record(window: Duration) -> String {
    format!("slo:sli_errors:rate{}", window.promql())
}

/// All events per second over `window` (`slo:sli_events:rate5m`).
pub fn sli_events_rate_record(window: Duration) -> String {
    format!("slo:sli_events:rate{}", window.promql())
}

/// How many events `window` saw (`slo:sli_events:increase1h`), for an alert's low-traffic guard.
pub fn sli_events_increase_record(window: Duration) -> String {
    format!("slo:sli_events:increase{}", window.promql())
}

/// The objective as a ratio (`0.999`).
pub const OBJECTIVE_RECORD: &str = "slo:objective:ratio";
/// The allowed error ratio, `1 - objective`.
pub const ERROR_BUDGET_RECORD: &str = "slo:error_budget:ratio";
/// The SLO window in days.
pub const TIME_PERIOD_RECORD: &str = "slo:time_period:days";
/// The burn rate over the shortest recorded window.
pub const CURRENT_BURN_RATE_RECORD: &str = "slo:current_burn_rate:ratio";
/// The burn rate over the whole SLO window.
pub const PERIOD_BURN_RATE_RECORD: &str = "slo:period_burn_rate:ratio";
/// The share of the SLO window's error budget not spent yet.
pub const PERIOD_BUDGET_REMAINING_RECORD: &str = "slo:period_error_budget_remaining:ratio";
/// Sloth's info series: one per SLO, labelled with its mode, objective and spec version.
pub const SLO_INFO_RECORD: &str = "sloth_slo_info";

/// `<service>-<slo>`: the identity of an SLO's series.
pub const SLO_ID_LABEL: &str = "sloth_id";
/// The service of an SLO's series.
pub const SLO_SERVICE_LABEL: &str = "sloth_service";
/// The SLO name of an SLO's series.
pub const SLO_NAME_LABEL: &str = "sloth_slo";
/// The window of an error-ratio record; alert joins ignore it.
pub const WINDOW_LABEL: &str = "sloth_window";
/// Sloth's copy of the severity on burn-rate alerts.
pub const SLOTH_SEVERITY_LABEL: &str = "sloth_severity";
/// Info-series label: how the rules were generated.
pub const SLOTH_MODE_LABEL: &str = "sloth_mode";
/// Info-series label: the objective in percent.
pub const SLOTH_OBJECTIVE_LABEL: &str = "sloth_objective";
/// Info-series label: the spec format.
pub const SLOTH_SPEC_LABEL: &str = "sloth_spec";
/// The `sloth_mode` slogen reports: rules generated ahead of time, as Sloth's CLI does.
pub const SLOTH_MODE: &str = "cli-gen-prom";
/// The `sloth_spec` slogen reports.
pub const SLOTH_SPEC: &str = "slogen/v1";

/// Who gets notified: `page`, `ticket` or `info`, as Alertmanager routes match it.
pub const SEVERITY_LABEL: &str = "severity";
/// The service an alert is about.
pub const SERVICE_LABEL: &str = "service";
/// The SLO an alert is about.
pub const SLO_LABEL: &str = "slo";
/// The long window of a burn-rate alert.
pub const LONG_WINDOW_LABEL: &str = "long";
/// The short window of a burn-rate alert.
pub const SHORT_WINDOW_LABEL: &str = "short";
/// The burn-rate factor of a burn-rate alert.
pub const BURN_RATE_LABEL: &str = "burn_rate";
/// The window pair of a burn-rate alert as one value (`1h-5m`, see [`burn_window`]): what an Alertmanager
/// route or silence matches to single out one pair of an SLO, such as the fast page.
pub const BURN_WINDOW_LABEL: &str = "burn_window";
/// The owning team, on every rule and alert.
pub const TEAM_LABEL: &str = "team";

/// Labels that generated rules and alerts set themselves; a spec may not set them (nor any `sloth_*` label).
const GENERATED_LABELS: &[&str] = &[
    SEVERITY_LABEL,
    SERVICE_LABEL,
    SLO_LABEL,
    LONG_WINDOW_LABEL,
    SHORT_WINDOW_LABEL,
    BURN_RATE_LABEL,
    BURN_WINDOW_LABEL,
    TEAM_LABEL,
];

/// Whether slogen sets the label `name` on its rules and alerts, so a spec setting it would be overridden.
pub fn is_generated_label(name: &str) -> bool {
    GENERATED_LABELS.contains(&name) || name.starts_with("sloth_")
}

/// The `burn_window` of a pair: its long and short windows as Prometheus writes them, joined by `-` (`1h-5m`).
/// A service has at most one pair per long and short window, so the value names the pair; it changes only
/// when the windows do. A `-`, not `1h5m`, which would read as a duration of 65 minutes.
pub fn burn_window(long: Duration, short: Duration) -> String {
    format!("{}-{}", long.promql(), short.promql())
}

/// How a severity is spelled in labels, docs and specs.
pub fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Page => "page",
        Severity::Ticket => "ticket",
        Severity::Info => "info",
    }
}

/// `counter`, `gauge` or `histogram`, as specs and docs spell a metric type.
pub fn kind_name(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Counter => "counter",
        MetricKind::Gauge => "gauge",
        MetricKind::Histogram => "histogram",
    }
}

/// `<service>-<slo>`, the `sloth_id` of an SLO.
pub fn slo_id(service: &str, slo: &str) -> String {
    format!("{service}-{slo}")
}

/// The group of an SLO's error-ratio records.
pub fn sli_group(slo_id: &str) -> String {
    format!("slogen-sli-recordings-{slo_id}")
}

/// The group of an SLO's metadata records.
pub fn meta_group(slo_id: &str) -> String {
    format!("slogen-meta-recordings-{slo_id}")
}

/// The group of an SLO's alerts (`<service>-<slo>`), or of a service's threshold alerts (`<service>`).
pub fn alert_group(owner: &str) -> String {
    format!("slogen-alerts-{owner}")
}

/// The JSON Schema of the spec format, at the top of the output folder.
pub const SCHEMA_FILE: &str = "slogen.schema.json";
/// The docs: the index at the top, a page per service in its folder.
pub const DOCS_FILE: &str = "README.md";
/// A service's typed Rust metrics module.
pub const METRICS_MODULE_FILE: &str = "metrics.rs";
/// A service's Prometheus rules.
pub const RULES_FILE: &str = "rules.yml";
/// A service's Grafana dashboard.
pub const DASHBOARD_FILE: &str = "dashboard.json";
/// A service's Alertmanager routing snippet, to merge into `alertmanager.yml`.
pub const ALERTMANAGER_FILE: &str = "alertmanager.yml";

/// The Alertmanager receiver that gets a team's alerts of `severity` (`platform-page`): one per team and
/// severity, so the services of a team share its pager and ticket queue.
pub fn receiver(team: &str, severity: Severity) -> String {
    format!("{team}-{}", severity_name(severity))
}

/// Where the deployment outputs go in a service's folder. The Kubernetes manifests share a folder so that
/// `kubectl apply -f <service>/kubernetes/` (or a kustomization listing it) applies them all.
pub const PROMETHEUS_RULE_FILE: &str = "kubernetes/prometheus-rule.yaml";
/// The sidecar's dashboard ConfigMap.
pub const GRAFANA_CONFIGMAP_FILE: &str = "kubernetes/grafana-dashboard-configmap.yaml";
/// The grafana-operator GrafanaDashboard.
pub const GRAFANA_OPERATOR_FILE: &str = "kubernetes/grafana-dashboard.yaml";
/// The rules in the file format `mimirtool rules load` reads.
pub const MIMIR_RULES_FILE: &str = "mimir-rules.yml";
/// The rules for the Thanos ruler (promtool rejects its `partial_response_strategy`, so it is its own file).
pub const THANOS_RULES_FILE: &str = "thanos-rules.yml";

/// The label every generated Kubernetes object carries, naming the tool that owns it (the recommended
/// `app.kubernetes.io` label), so that `kubectl get -l` finds them and nobody hand-edits them.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Its value.
pub const MANAGED_BY: &str = "slogen";
/// The label the Grafana sidecar watches by default (the Grafana and kube-prometheus-stack charts' default).
pub const SIDECAR_LABEL: &str = "grafana_dashboard";
/// Its default value.
pub const SIDECAR_LABEL_VALUE: &str = "1";
/// The annotation naming the dashboard's folder by default; the chart's `folderAnnotation` must name it.
pub const SIDECAR_FOLDER_ANNOTATION: &str = "grafana_folder";

/// A service's name as a Kubernetes object name (DNS-1123: `_` is not allowed, `-` is).
fn kubernetes_name(service: &str) -> String {
    service.replace('_', "-")
}

/// Name of the service's `PrometheusRule`.
pub fn prometheus_rule_name(service: &str) -> String {
    format!("{}-slo-rules", kubernetes_name(service))
}

/// Name of the service's dashboard `ConfigMap` and `GrafanaDashboard`.
pub fn dashboard_object_name(service: &str) -> String {
    format!("{}-slo-dashboard", kubernetes_name(service))
}

/// The ConfigMap key, which the sidecar writes out as the dashboard's file name.
pub fn dashboard_data_key(service: &str) -> String {
    format!("{service}.json")
}

/// The promtool test file for an evaluation interval: `rules.test.yml` for the finest, `rules.<interval>.test.yml`
/// for the others.
pub fn rule_test_file(interval: &str, finest: bool) -> String {
    if finest {
        "rules.test.yml".to_string()
    } else {
        format!("rules.{interval}.test.yml")
    }
}

/// A file in a service's output folder, `/`-separated: `backend/rules.yml`.
pub fn service_file(service: &str, file: &str) -> String {
    format!("{service}/{file}")
}

/// The dashboard row holding one line of panels per SLO.
pub const SLO_ROW: &str = "SLOs";

/// The dashboard row at the top: the SLO overview table and the service's alerts.
pub const OVERVIEW_ROW: &str = "Overview";

/// The dashboard's data source variable, which every query goes through; no label variable may take its name.
pub const DATASOURCE_VARIABLE: &str = "datasource";

/// Words written as acronyms in titles, lower-case to upper-case (`http` → `HTTP`, `apis` → `APIs`).
const ACRONYMS: &[(&str, &str)] = &[
    ("api", "API"),
    ("apis", "APIs"),
    ("cpu", "CPU"),
    ("db", "DB"),
    ("dns", "DNS"),
    ("grpc", "gRPC"),
    ("gc", "GC"),
    ("http", "HTTP"),
    ("https", "HTTPS"),
    ("id", "ID"),
    ("ids", "IDs"),
    ("io", "I/O"),
    ("ip", "IP"),
    ("json", "JSON"),
    ("rpc", "RPC"),
    ("sql", "SQL"),
    ("tcp", "TCP"),
    ("tls", "TLS"),
    ("ttl", "TTL"),
    ("udp", "UDP"),
    ("url", "URL"),
    ("urls", "URLs"),
];

/// A snake_case name as words for a title: acronyms upper-case, the first word capitalised, the rest as
/// written (`http_requests` → `HTTP requests`, `db_query_duration` → `DB query duration`).
pub fn title_words(name: &str) -> String {
    let mut out = String::new();
    for (i, word) in name.split('_').filter(|w| !w.is_empty()).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let lower = word.to_ascii_lowercase();
        match ACRONYMS.iter().find(|(w, _)| *w == lower) {
            Some((_, acronym)) => out.push_str(acronym),
            None if i == 0 => {
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    out.push(first.to_ascii_uppercase());
                    out.push_str(chars.as_str());
                }
            }
            None => out.push_str(word),
        }
    }
    out
}

/// GitHub's anchor of the docs heading ``SLO `<name>` ``.
pub fn slo_anchor(name: &str) -> String {
    format!("slo-{name}")
}

/// GitHub's anchor of the docs heading ``Alert `<name>` ``.
pub fn alert_anchor(name: &str) -> String {
    format!("alert-{}", name.to_lowercase())
}

/// Rust keywords that need `r#` when used as a field name.
const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true", "type", "unsafe",
    "use", "where", "while", "abstract", "become", "box", "do", "final", "macro", "override",
    "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// Splits on anything that is not a letter or digit, and before an upper-case letter that follows a lower-case one.
fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in text.chars() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        current.push(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// `http_requests` → `HttpRequests`, `GET` → `Get`, `ai_registry` → `AiRegistry`.
pub fn upper_camel(text: &str) -> String {
    words(text)
        .iter()
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut chars = lower.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// `requests-availability` → `requests_availability`, `HomeWiFi` → `home_wi_fi`: a name from another tool
/// (Sloth, OpenSLO) in the snake_case slogen names take; empty when it has no letter or digit.
pub fn snake_case(text: &str) -> String {
    words(text)
        .iter()
        .map(|w| w.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("_")
}

/// The tier an imported service's file defines for it (`sloth_myservice`): one per service, so files
/// imported together or one by one never define a tier twice.
pub fn imported_tier(tool: &str, service: &str) -> String {
    format!("{tool}_{service}")
}

/// The spec file an importer writes for a service: `myservice.toml`.
pub fn imported_spec_file(service: &str) -> String {
    format!("{service}.toml")
}

/// The `#:schema` line an imported spec starts with: the schema beside `generated/`, as in `slos/`.
pub const IMPORTED_SCHEMA_LINE: &str = "#:schema ../generated/slogen.schema.json";

/// The enum variant for a closed label value; a value that starts with a digit is prefixed with the label
/// name (`status` = `5xx` → `Status5xx`), since Rust identifiers cannot start with one.
pub fn label_variant(label: &str, value: &str) -> String {
    let camel = upper_camel(value);
    if camel.is_empty() || camel.starts_with(|c: char| c.is_ascii_digit()) {
        format!("{}{}", upper_camel(label), camel)
    } else {
        camel
    }
}

/// A snake_case name as a Rust field, with keywords escaped (`type` → `r#type`).
pub fn rust_field(name: &str) -> String {
    if RUST_KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_string()
    }
}

/// The generated struct holding a metric's labels: `http_requests` → `HttpRequestsLabels`.
pub fn labels_struct(metric: &str) -> String {
    format!("{}Labels", upper_camel(metric))
}

/// The generated constant holding a histogram's buckets: `http_request_duration` → `HTTP_REQUEST_DURATION_BUCKETS`.
pub fn buckets_const(metric: &str) -> String {
    format!("{}_BUCKETS", metric.to_ascii_uppercase())
}

/// The alert that fires on an SLO's error budget burn: `BackendApiAvailabilityBudgetBurn`.
pub fn slo_burn_alert(service: &str, slo: &str) -> String {
    format!("{}{}BudgetBurn", upper_camel(service), upper_camel(slo))
}

/// The alert that fires when an SLO's SLI has no data: `BackendApiAvailabilitySliAbsent`.
pub fn slo_absent_alert(service: &str, slo: &str) -> String {
    format!("{}{}SliAbsent", upper_camel(service), upper_camel(slo))
}

/// The alert that fires once an SLO's error budget for its window is spent:
/// `BackendApiAvailabilityBudgetExhausted`.
pub fn slo_budget_exhausted_alert(service: &str, slo: &str) -> String {
    format!(
        "{}{}BudgetExhausted",
        upper_camel(service),
        upper_camel(slo)
    )
}

/// A stable dashboard uid: a readable prefix and a hash of the service name, within Grafana's 40 characters.
pub fn dashboard_uid(service: &str) -> String {
    // FNV-1a: stable across platforms and releases, unlike std's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in service.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let prefix: String = format!("slogen-{service}").chars().take(31).collect();
    format!("{prefix}-{:08x}", hash as u32)
}

/// The runbook URL of an alert: an absolute URL as is, else the slug appended to the service's base.
pub fn runbook_url(base: &str, slug_or_url: &str) -> String {
    if slug_or_url.starts_with("http://") || slug_or_url.starts_with("https://") {
        slug_or_url.to_string()
    } else {
        format!(
            "{}/{}",
            base.trim_end_matches('/'),
            slug_or_url.trim_start_matches('/')
        )
    }
}

/// Is `name` a valid Prometheus label name that is not reserved (`__` prefix)?
pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// Is `name` a valid Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`), as another program may expose one?
pub fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Is `name` snake_case (`[a-z][a-z0-9_]*`), the form metric, SLO and service names take so they can name
/// Rust fields and files too?
pub fn is_snake_case(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.ends_with('_')
        && !name.contains("__")
}

/// Is `name` a name an SLO's burn-rate alerts may be given (`[A-Za-z][A-Za-z0-9_]*`)? Prometheus takes any
/// string; this keeps names that read as identifiers in routes and templates, UpperCamelCase like Sloth's
/// `MyServiceHighErrorRate` or snake_case alike.
pub fn is_alert_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Is `name` UpperCamelCase (`[A-Z][A-Za-z0-9]*`), the form alert names take?
pub fn is_upper_camel(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_alphanumeric())
}

/// Longest OpenSLO object name: an RFC 1123 label.
const OPENSLO_NAME_MAX: usize = 63;

/// The OpenSLO name of a snake_case name (`api_availability` → `api-availability`), joined from parts with
/// `-`. A name over OpenSLO's 63 characters is cut and ends in a hash of the whole, so that it stays unique;
/// the export then keeps the slogen name in an annotation.
pub fn openslo_name(parts: &[&str]) -> String {
    let full = parts.join("-").replace('_', "-");
    if full.len() <= OPENSLO_NAME_MAX {
        return full;
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in full.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let head = full[..OPENSLO_NAME_MAX - 9].trim_end_matches('-');
    format!("{head}-{:08x}", hash as u32)
}

/// The snake_case name an OpenSLO name stands for (`api-availability` → `api_availability`).
pub fn from_openslo_name(name: &str) -> String {
    name.replace('-', "_")
}

/// The YAML file `export openslo` writes for a service.
pub fn openslo_file(service: &str) -> String {
    format!("{service}.yaml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_from_snake_upper_and_digits() {
        assert_eq!(upper_camel("http_requests"), "HttpRequests");
        assert_eq!(upper_camel("GET"), "Get");
        assert_eq!(upper_camel("ai-registry"), "AiRegistry");
        assert_eq!(upper_camel("createCharge"), "CreateCharge");
        assert_eq!(label_variant("status", "5xx"), "Status5xx");
        assert_eq!(label_variant("method", "OPTIONS"), "Options");
    }

    #[test]
    fn keywords_are_escaped() {
        assert_eq!(rust_field("type"), "r#type");
        assert_eq!(rust_field("route"), "route");
    }

    #[test]
    fn names_are_checked() {
        assert!(is_label_name("status"));
        assert!(!is_label_name("__name__"));
        assert!(!is_label_name("1abc"));
        assert!(is_snake_case("http_requests"));
        assert!(!is_snake_case("HttpRequests"));
        assert!(!is_snake_case("a__b"));
        assert!(is_upper_camel("ApiP99LatencyHigh"));
        assert!(!is_upper_camel("api_latency"));
    }

    #[test]
    fn titles_spell_acronyms_and_capitalise_the_first_word() {
        assert_eq!(title_words("http_requests"), "HTTP requests");
        assert_eq!(title_words("db_query_duration"), "DB query duration");
        assert_eq!(
            title_words("external_api_requests"),
            "External API requests"
        );
        assert_eq!(title_words("grpc_calls"), "gRPC calls");
        assert_eq!(title_words("jobs_running"), "Jobs running");
        assert_eq!(title_words("availability"), "Availability");
    }

    #[test]
    fn dashboard_uids_are_stable_and_short() {
        let uid = dashboard_uid("backend");
        assert_eq!(uid, dashboard_uid("backend"));
        assert_ne!(uid, dashboard_uid("backend2"));
        assert!(uid.len() <= 40);
        assert!(dashboard_uid(&"x".repeat(100)).len() <= 40);
    }

    #[test]
    fn runbook_urls_join_or_pass_through() {
        assert_eq!(runbook_url("https://rb/x/", "/api"), "https://rb/x/api");
        assert_eq!(
            runbook_url("https://rb", "https://other/y"),
            "https://other/y"
        );
    }
}
