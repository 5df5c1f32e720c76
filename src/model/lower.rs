//! Lowering: parse every spec file, check it, and build the [`Model`] — or return every problem found.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::ops::{Add as _, Div as _, Mul as _};

use codespan_reporting::diagnostic::{Diagnostic, Label as DiagLabel};
use toml::Spanned;

use super::promql_check::Declared;
use super::*;
use crate::conventions;
use crate::spec::{self, Name, SpecFile};

/// One spec file as read from disk: the path shown in diagnostics and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as shown to people and in generated headers, e.g. `slos/backend.toml`.
    pub path: String,
    /// File contents.
    pub text: String,
}

/// A problem in the input, pointing at files by their index in the `files` slice given to [`lower()`].
pub type Problem = Diagnostic<usize>;

/// Alert windows and the share of the SLO window's budget each spends before it fires; factors follow from these.
///
/// Shares and windows are the Google SRE workbook's (chapter 5, "Multiwindow, Multi-Burn-Rate Alerts"); the
/// `for` durations are Pyrra's, long enough to ride out a scrape gap, short next to the time to fire. A service's
/// `alert_windows` replace them.
const BURN_RATE_WINDOWS: [BurnRateWindow; 4] = [
    BurnRateWindow::new(Severity::Page, 3_600, 300, 2, 120),
    BurnRateWindow::new(Severity::Page, 21_600, 1_800, 5, 900),
    BurnRateWindow::new(Severity::Ticket, 86_400, 7_200, 10, 3_600),
    BurnRateWindow::new(Severity::Ticket, 259_200, 21_600, 10, 10_800),
];

/// One row of the burn-rate policy.
#[derive(Debug, Clone, Copy)]
struct BurnRateWindow {
    severity: Severity,
    long: Duration,
    short: Duration,
    /// Share of the SLO window's budget spent when the alert fires at exactly its factor.
    budget_share: Exact,
    for_: Duration,
}

impl BurnRateWindow {
    /// A row of the default policy; durations in seconds, the share in percent.
    const fn new(severity: Severity, long: u64, short: u64, percent: u128, for_: u64) -> Self {
        BurnRateWindow {
            severity,
            long: Duration { seconds: long },
            short: Duration { seconds: short },
            budget_share: Exact::new(percent, 100),
            for_: Duration { seconds: for_ },
        }
    }
}

/// Most rows a service's `alert_windows` may have: every row costs recording rules and an alert.
const MAX_ALERT_WINDOWS: usize = 6;

/// The SLO window when a spec sets none.
const DEFAULT_SLO_WINDOW: Duration = Duration {
    seconds: 30 * 86_400,
};

/// The longest SLO window: a year, leap or not.
const MAX_SLO_WINDOW: Duration = Duration {
    seconds: 366 * 86_400,
};

/// Most series one metric may have once every label is at its limit: more is a cardinality bug.
const MAX_SERIES_PER_METRIC: u64 = 100_000;

/// Parses, checks and lowers every file. On failure, returns every problem found, sorted by file and position.
pub fn lower(files: &[SourceFile]) -> Result<Model, Vec<Problem>> {
    let mut cx = Lowering::default();
    let mut parsed = Vec::new();
    for (id, file) in files.iter().enumerate() {
        match toml::from_str::<SpecFile>(&file.text) {
            Ok(spec) => parsed.push((id, spec)),
            Err(e) => {
                cx.toml_error(id, &e);
                cx.tiers_incomplete = true;
            }
        }
    }
    for (id, spec) in &parsed {
        cx.check_version(*id, spec);
        cx.collect_tiers(*id, spec);
    }
    let mut services = Vec::new();
    let mut first_service: BTreeMap<String, (usize, Range<usize>)> = BTreeMap::new();
    for (id, spec) in &parsed {
        match &spec.service {
            Some(service) => {
                let name = service.get_ref().name.get_ref().clone();
                if let Some((fid, span)) = first_service.get(&name) {
                    cx.duplicate(
                        *id,
                        service.get_ref().name.span(),
                        "service",
                        &name,
                        *fid,
                        span.clone(),
                    );
                    continue;
                }
                first_service.insert(name, (*id, service.get_ref().name.span()));
                if let Some(service) = cx.lower_service(*id, &files[*id].path, spec) {
                    services.push(service);
                }
            }
            None => cx.reject_orphans(*id, spec),
        }
    }
    if !cx.problems.is_empty() {
        cx.problems.sort_by_key(|d| {
            d.labels
                .iter()
                .find(|l| l.style == codespan_reporting::diagnostic::LabelStyle::Primary)
                .map(|l| (l.file_id, l.range.start))
                .unwrap_or((usize::MAX, 0))
        });
        return Err(cx.problems);
    }
    services.sort_by(|a, b| a.name.cmp(&b.name));
    let tiers = cx.tiers.into_values().map(|(_, _, tier)| tier).collect();
    Ok(Model { services, tiers })
}

#[derive(Default)]
struct Lowering {
    problems: Vec<Problem>,
    tiers: BTreeMap<String, (usize, Range<usize>, Tier)>,
    /// A file or tier failed to load, so an unknown tier may be that one: don't report it twice.
    tiers_incomplete: bool,
}

/// Where a named thing was first declared, for "first defined here".
type FirstSeen = BTreeMap<String, Range<usize>>;

impl Lowering {
    fn error(
        &mut self,
        file: usize,
        span: Range<usize>,
        message: impl Into<String>,
        label: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let hint = hint.into();
        let mut d = Diagnostic::error()
            .with_message(message.into())
            .with_labels(vec![
                DiagLabel::primary(file, span).with_message(label.into())
            ]);
        if !hint.is_empty() {
            d = d.with_notes(vec![format!("help: {hint}")]);
        }
        self.problems.push(d);
    }

    fn duplicate(
        &mut self,
        file: usize,
        span: Range<usize>,
        what: &str,
        name: &str,
        first_file: usize,
        first: Range<usize>,
    ) {
        self.problems.push(
            Diagnostic::error()
                .with_message(format!("duplicate {what} `{name}`"))
                .with_labels(vec![
                    DiagLabel::primary(file, span)
                        .with_message(format!("{what} `{name}` defined again here")),
                    DiagLabel::secondary(first_file, first).with_message("first defined here"),
                ])
                .with_notes(vec![format!(
                    "help: {}",
                    if what.starts_with("label") || what == "alert window" {
                        "remove the second one"
                    } else {
                        "rename one of them or merge the two definitions"
                    }
                )]),
        );
    }

    fn toml_error(&mut self, file: usize, e: &toml::de::Error) {
        let message = e.message().trim().to_string();
        let hint = if message.starts_with("unknown field") {
            "remove the key or fix its spelling; `slogen schema` prints every allowed key"
                .to_string()
        } else if message.starts_with("missing field") {
            "add the missing key to this table".to_string()
        } else if message.starts_with("duplicate key") {
            "a key may appear once per table: remove or rename the second one".to_string()
        } else if message.starts_with("invalid type") || message.starts_with("unknown variant") {
            "change the value to the expected type; `slogen schema` describes each key".to_string()
        } else {
            "fix the TOML syntax at this position".to_string()
        };
        let span = e.span().unwrap_or(0..0);
        let first_line = message.lines().next().unwrap_or_default().to_string();
        self.error(file, span, first_line.clone(), first_line, hint);
    }

    fn check_version(&mut self, file: usize, spec: &SpecFile) {
        if *spec.version.get_ref() != 1 {
            self.error(
                file,
                spec.version.span(),
                format!("unsupported spec version {}", spec.version.get_ref()),
                "this slogen reads version 1",
                "set `version = 1`",
            );
        }
    }

    fn collect_tiers(&mut self, file: usize, spec: &SpecFile) {
        for (name, tier) in &spec.tiers {
            if let Some((first_file, first, _)) = self.tiers.get(name.get_ref()) {
                let (ff, fs) = (*first_file, first.clone());
                self.duplicate(file, name.span(), "tier", name.get_ref(), ff, fs);
                continue;
            }
            if !conventions::is_snake_case(name.get_ref()) {
                self.error(
                    file,
                    name.span(),
                    format!("invalid tier name `{}`", name.get_ref()),
                    "not snake_case",
                    "use lower-case letters, digits and single underscores, e.g. `best_effort`",
                );
            }
            let t = tier.get_ref();
            let Some(objective) = self.objective(file, &t.objective) else {
                self.tiers_incomplete = true;
                continue;
            };
            self.tiers.insert(
                name.get_ref().clone(),
                (
                    file,
                    name.span(),
                    Tier {
                        name: name.get_ref().clone(),
                        description: t.description.clone(),
                        objective,
                        page: t.page.unwrap_or(true),
                        ticket: t.ticket.unwrap_or(true),
                        min_events: t.min_events,
                    },
                ),
            );
        }
    }

    fn objective(&mut self, file: usize, objective: &Spanned<f64>) -> Option<Exact> {
        let value = *objective.get_ref();
        let exact = Exact::from_f64(value).filter(|_| value > 0.0 && value < 100.0);
        if exact.is_none() {
            self.error(
                file,
                objective.span(),
                format!("objective {value} is outside (0, 100)"),
                "objective in percent",
                "write the objective as a percentage strictly between 0 and 100, e.g. `99.9`",
            );
        }
        exact
    }

    fn reject_orphans(&mut self, file: usize, spec: &SpecFile) {
        let first = spec
            .labels
            .keys()
            .chain(spec.metrics.keys())
            .chain(spec.slos.keys())
            .chain(spec.alerts.keys())
            .min_by_key(|n| n.span().start);
        if let Some(name) = first {
            self.error(
                file,
                name.span(),
                "definitions without a service",
                "this belongs to no service",
                "add a `[service]` table (name, tier, team, runbook_base_url) to this file",
            );
        } else if spec.dashboard.is_some() {
            self.error(
                file,
                0..0,
                "a `[dashboard]` table needs a `[service]` in the same file",
                "here",
                "add a `[service]` table",
            );
        }
    }

    fn label_name(&mut self, file: usize, name: &Name, what: &str) -> bool {
        let n = name.get_ref();
        if conventions::is_label_name(n) {
            return true;
        }
        let why = if n.starts_with("__") {
            "names starting with `__` are reserved for Prometheus internals"
        } else {
            "label names match `[a-zA-Z_][a-zA-Z0-9_]*`"
        };
        self.error(
            file,
            name.span(),
            format!("invalid {what} name `{n}`"),
            why,
            if n.starts_with("__") {
                format!(
                    "drop the leading underscores, e.g. `{}`",
                    n.trim_start_matches('_')
                )
            } else {
                "rename it with letters, digits and underscores, e.g. `status_class`".to_string()
            },
        );
        false
    }

    fn lower_service(&mut self, file: usize, path: &str, spec: &SpecFile) -> Option<Service> {
        let before = self.problems.len();
        let s = spec.service.as_ref()?.get_ref();
        let name = s.name.get_ref().clone();
        if !conventions::is_snake_case(&name) {
            self.error(file, s.name.span(), format!("invalid service name `{name}`"), "not snake_case", "use lower-case letters, digits and single underscores; it names files and the `service` label");
        }
        if s.team.trim().is_empty() {
            self.error(
                file,
                s.name.span(),
                format!("service `{name}` has an empty `team`"),
                "who owns it?",
                "set `team` to the owning team; it labels every alert",
            );
        }
        if !(s.runbook_base_url.starts_with("https://")
            || s.runbook_base_url.starts_with("http://"))
        {
            self.error(file, s.name.span(), format!("`runbook_base_url` of `{name}` is not an http(s) URL"), "runbook links are built from it", "set it to the URL of the runbook folder, e.g. `https://runbooks.example.com/backend`");
        }
        let tier = s.tier.get_ref().clone();
        self.known_tier(file, &s.tier);
        for key in s.selector.keys().chain(s.labels.keys()) {
            self.label_name(file, key, "label");
        }
        for key in s.labels.keys() {
            self.not_generated_label(file, key);
        }
        let mut labels: BTreeMap<String, String> = s
            .labels
            .iter()
            .map(|(k, v)| (k.get_ref().clone(), v.clone()))
            .collect();
        labels.insert("team".into(), s.team.clone());

        let label_defs = self.lower_labels(file, spec);
        let metrics = self.lower_metrics(file, spec, &label_defs);
        debug_assert!(
            metrics.windows(2).all(|w| w[0].name < w[1].name),
            "Service::find_metric searches metrics in name order"
        );
        let mut service = Service {
            name: name.clone(),
            source: path.to_string(),
            tier: tier.clone(),
            team: s.team.clone(),
            description: s.description.clone(),
            runbook_base_url: s.runbook_base_url.trim_end_matches('/').to_string(),
            selector: s
                .selector
                .iter()
                .map(|(k, v)| (k.get_ref().clone(), v.clone()))
                .collect(),
            labels,
            label_defs,
            metrics,
            slos: Vec::new(),
            alerts: Vec::new(),
            threshold_rules: Vec::new(),
            dashboard: Dashboard {
                title: String::new(),
                row_order: Vec::new(),
                extra_panels: Vec::new(),
                rows: Vec::new(),
            },
        };
        // With an invalid policy every SLO would also report a window problem that is really the policy's.
        let (policy, check_windows) = match self.alert_policy(file, s) {
            Some(policy) => (policy, true),
            None => (BURN_RATE_WINDOWS.to_vec(), false),
        };
        service.slos = spec
            .slos
            .iter()
            .filter_map(|(n, slo)| {
                self.lower_slo(
                    file,
                    &service,
                    &tier,
                    (&policy, check_windows),
                    n,
                    slo.get_ref(),
                )
            })
            .collect();
        let declared = Declared::new(&service);
        let alerts = spec
            .alerts
            .iter()
            .filter_map(|(n, a)| self.lower_alert(file, &declared, n, a.get_ref()))
            .collect();
        self.check_alert_names(file, &service, spec);
        let dashboard = self.lower_dashboard(file, &declared, spec);
        service.alerts = alerts;
        service.dashboard = dashboard;
        super::rules::attach(&mut service);
        service.dashboard.rows = super::dashboard::rows(&service);
        (self.problems.len() == before).then_some(service)
    }

    /// The service's burn-rate policy: its `alert_windows`, checked, or the default; `None` after reporting problems.
    fn alert_policy(&mut self, file: usize, s: &spec::ServiceSpec) -> Option<Vec<BurnRateWindow>> {
        let Some(rows) = &s.alert_windows else {
            return Some(BURN_RATE_WINDOWS.to_vec());
        };
        if rows.get_ref().is_empty() {
            self.error(file, rows.span(), "`alert_windows` is empty", "no alert windows", "remove `alert_windows` to use the default policy, or add `[[service.alert_windows]]` rows");
            return None;
        }
        if rows.get_ref().len() > MAX_ALERT_WINDOWS {
            self.error(file, rows.span(), format!("{} alert windows, more than {MAX_ALERT_WINDOWS}", rows.get_ref().len()), "too many rows", "every row adds recording rules and an alert; two page and two ticket rows are usual");
            return None;
        }
        let mut policy = Vec::new();
        let mut ok = true;
        let mut pairs: BTreeMap<(Duration, Duration), Range<usize>> = BTreeMap::new();
        for row in rows.get_ref() {
            let severity = *row.severity.get_ref();
            if severity == Severity::Info {
                self.error(
                    file,
                    row.severity.span(),
                    "a burn-rate alert cannot have severity `info`",
                    "wakes nobody",
                    "use `page` for fast burns and `ticket` for slow ones",
                );
                ok = false;
            }
            let long = self.duration(file, &row.long);
            let short = self.duration(file, &row.short);
            let for_ = match &row.for_ {
                Some(f) => self.duration(file, f),
                None => Some(Duration { seconds: 0 }),
            };
            let percent = *row.budget_percent.get_ref();
            let share = Exact::from_f64(percent)
                .filter(|_| percent > 0.0 && percent <= 100.0)
                .map(|p| p.div(Exact::int(100)));
            if share.is_none() {
                self.error(file, row.budget_percent.span(), format!("`budget_percent` {percent} is outside (0, 100]"), "share of the SLO window's error budget", "write the percent of the budget spent when the alert fires at its factor, e.g. `2` for a fast page or `10` for a ticket");
            }
            let (Some(long), Some(short), Some(for_), Some(budget_share)) =
                (long, short, for_, share)
            else {
                ok = false;
                continue;
            };
            if short.seconds == 0 || short >= long {
                self.error(file, row.short.span(), format!("short window `{}` is not shorter than long window `{}`", row.short.get_ref(), row.long.get_ref()), "short window", "the short window lets the alert resolve soon after the burn stops: make it a fraction of `long`, e.g. a twelfth (`5m` for `1h`)");
                ok = false;
                continue;
            }
            if let Some(first) = pairs.get(&(long, short)) {
                self.duplicate(
                    file,
                    row.long.span(),
                    "alert window",
                    &format!("{}/{}", long.promql(), short.promql()),
                    file,
                    first.clone(),
                );
                ok = false;
                continue;
            }
            pairs.insert((long, short), row.long.span());
            policy.push(BurnRateWindow {
                severity,
                long,
                short,
                budget_share,
                for_,
            });
        }
        // Severity then window order, as the default policy and the generated alerts are sorted.
        policy.sort_by_key(|w| (w.severity, w.long, w.short));
        ok.then_some(policy)
    }

    /// Parses a duration, or reports it.
    fn duration(&mut self, file: usize, text: &Spanned<String>) -> Option<Duration> {
        let parsed = Duration::parse(text.get_ref());
        if parsed.is_none() {
            self.error(
                file,
                text.span(),
                format!("invalid duration `{}`", text.get_ref()),
                "not a duration",
                "write a whole number and one unit: `30s`, `5m`, `1h`, `1d`",
            );
        }
        parsed
    }

    /// Rejects a label that slogen sets itself on rules and alerts, which would otherwise be silently overridden.
    fn not_generated_label(&mut self, file: usize, name: &Name) -> bool {
        let n = name.get_ref();
        if !conventions::is_generated_label(n) {
            return true;
        }
        self.error(
            file,
            name.span(),
            format!("label `{n}` is set by slogen"),
            "generated rules and alerts carry this label already",
            if n == "team" {
                "set the team with `service.team`".to_string()
            } else {
                "choose another label name".to_string()
            },
        );
        false
    }

    fn known_tier(&mut self, file: usize, tier: &Name) -> bool {
        if self.tiers.contains_key(tier.get_ref()) {
            return true;
        }
        if self.tiers_incomplete {
            return false;
        }
        let known: Vec<&str> = self.tiers.keys().map(String::as_str).collect();
        let hint = if known.is_empty() {
            "declare tiers in a `[tiers.<name>]` table (any file under slos/)".to_string()
        } else {
            format!("known tiers: {}", known.join(", "))
        };
        self.error(
            file,
            tier.span(),
            format!("unknown tier `{}`", tier.get_ref()),
            "no tier of that name",
            hint,
        );
        false
    }

    fn lower_labels(&mut self, file: usize, spec: &SpecFile) -> BTreeMap<String, Label> {
        let mut out = BTreeMap::new();
        for (name, def) in &spec.labels {
            if !self.label_name(file, name, "label") {
                continue;
            }
            if matches!(name.get_ref().as_str(), "le" | "quantile") {
                self.error(
                    file,
                    name.span(),
                    format!("label name `{}` is reserved", name.get_ref()),
                    "histograms and summaries use it",
                    "choose another name",
                );
                continue;
            }
            let d = def.get_ref();
            let values = match (&d.values, &d.max_values) {
                (Some(values), None) => {
                    if values.get_ref().is_empty() {
                        self.error(
                            file,
                            values.span(),
                            "a closed label needs at least one value",
                            "empty list",
                            "list the values, or use `max_values` for an open label",
                        );
                        continue;
                    }
                    let mut seen = FirstSeen::new();
                    let mut variants = FirstSeen::new();
                    let mut closed = Vec::new();
                    for v in values.get_ref() {
                        let value = v.get_ref();
                        if let Some(first) = seen.get(value) {
                            self.duplicate(
                                file,
                                v.span(),
                                "label value",
                                value,
                                file,
                                first.clone(),
                            );
                            continue;
                        }
                        seen.insert(value.clone(), v.span());
                        if value.is_empty() {
                            self.error(
                                file,
                                v.span(),
                                "empty label value",
                                "Prometheus treats an empty value as a missing label",
                                "give the value a name, e.g. `none`",
                            );
                            continue;
                        }
                        let variant = conventions::label_variant(name.get_ref(), value);
                        if let Some(first) = variants.get(&variant) {
                            self.error(file, v.span(), format!("label value `{value}` gives the same Rust variant `{variant}` as another value"), "clashes", "values must differ in more than case and punctuation");
                            let _ = first;
                            continue;
                        }
                        variants.insert(variant.clone(), v.span());
                        closed.push(ClosedValue {
                            value: value.clone(),
                            variant,
                        });
                    }
                    LabelValues::Closed(closed)
                }
                (None, Some(max)) => {
                    if *max.get_ref() == 0 {
                        self.error(
                            file,
                            max.span(),
                            "`max_values` must be at least 1",
                            "zero",
                            "set the number of distinct values to keep before folding into `other`",
                        );
                        continue;
                    }
                    LabelValues::Open {
                        max_values: *max.get_ref(),
                    }
                }
                _ => {
                    self.error(file, def.span(), format!("label `{}` needs exactly one of `values` and `max_values`", name.get_ref()), "closed or open?", "list `values = [...]` for a closed set, or set `max_values = N` for open values");
                    continue;
                }
            };
            out.insert(
                name.get_ref().clone(),
                Label {
                    name: name.get_ref().clone(),
                    help: d.help.clone(),
                    values,
                },
            );
        }
        out
    }

    fn lower_metrics(
        &mut self,
        file: usize,
        spec: &SpecFile,
        label_defs: &BTreeMap<String, Label>,
    ) -> Vec<Metric> {
        let mut out = Vec::new();
        let mut exposed: BTreeMap<String, Range<usize>> = BTreeMap::new();
        for (name, def) in &spec.metrics {
            let n = name.get_ref();
            let d = def.get_ref();
            let kind = *d.kind.get_ref();
            let mut ok = true;
            if n.starts_with("__") || !conventions::is_snake_case(n) {
                self.error(file, name.span(), format!("invalid metric name `{n}`"), "not a snake_case metric name", "metric names are `[a-z][a-z0-9_]*` here (they also name Rust fields); `__` is reserved");
                ok = false;
            }
            if kind == MetricKind::Counter && n.ends_with("_total") {
                self.error(
                    file,
                    name.span(),
                    format!("counter `{n}` ends with `_total`"),
                    "the suffix is added on exposition",
                    format!("declare it as `{}`", n.trim_end_matches("_total")),
                );
                ok = false;
            }
            if kind != MetricKind::Counter && n.ends_with("_total") {
                self.error(
                    file,
                    name.span(),
                    format!("{} `{n}` ends with `_total`", conventions::kind_name(kind)),
                    "`_total` marks counters",
                    "drop the suffix, or make it a counter if it only ever goes up",
                );
                ok = false;
            }
            if d.help.trim().is_empty() {
                self.error(
                    file,
                    name.span(),
                    format!("metric `{n}` has an empty `help`"),
                    "no help text",
                    "say what the metric counts or measures; it becomes `# HELP` and a doc comment",
                );
                ok = false;
            }
            let unit = d.unit.as_ref().map(|u| u.get_ref().clone());
            if let Some(u) = &d.unit {
                if !conventions::is_snake_case(u.get_ref()) {
                    self.error(
                        file,
                        u.span(),
                        format!("invalid unit `{}`", u.get_ref()),
                        "units are snake_case words",
                        "use a base unit such as `seconds`, `bytes` or `ratio`",
                    );
                    ok = false;
                } else if n.ends_with(&format!("_{}", u.get_ref())) {
                    self.error(
                        file,
                        name.span(),
                        format!("metric `{n}` already ends with its unit `{}`", u.get_ref()),
                        "the unit is appended on exposition",
                        format!(
                            "declare it as `{}`",
                            n.trim_end_matches(&format!("_{}", u.get_ref()))
                        ),
                    );
                    ok = false;
                }
            }
            let mut labels = Vec::new();
            let mut seen = FirstSeen::new();
            let mut series: u64 = 1;
            for l in &d.labels {
                if let Some(first) = seen.get(l.get_ref()) {
                    self.duplicate(file, l.span(), "label", l.get_ref(), file, first.clone());
                    ok = false;
                    continue;
                }
                seen.insert(l.get_ref().clone(), l.span());
                let target_label = matches!(l.get_ref().as_str(), "job" | "instance")
                    || spec.service.as_ref().is_some_and(|s| {
                        s.get_ref()
                            .selector
                            .keys()
                            .any(|k| k.get_ref() == l.get_ref())
                    });
                if target_label {
                    self.error(
                        file,
                        l.span(),
                        format!("metric label `{}` clashes with a target label", l.get_ref()),
                        "Prometheus sets this label on every scraped series",
                        format!(
                            "rename it, e.g. `{}_name`; a scraped `{}` would become `exported_{}`",
                            l.get_ref(),
                            l.get_ref(),
                            l.get_ref()
                        ),
                    );
                    ok = false;
                    continue;
                }
                match label_defs.get(l.get_ref()) {
                    Some(def) => {
                        series = series.saturating_mul(match &def.values {
                            LabelValues::Closed(v) => v.len() as u64,
                            LabelValues::Open { max_values } => u64::from(*max_values) + 1,
                        });
                        labels.push(l.get_ref().clone());
                    }
                    None => {
                        self.unknown_label(file, l, "", label_defs.keys());
                        ok = false;
                    }
                }
            }
            let buckets = match (kind, &d.buckets) {
                (MetricKind::Histogram, Some(b)) => {
                    let values = b.get_ref();
                    if values.is_empty() {
                        self.error(file, b.span(), "a histogram needs at least one bucket", "empty", "list bucket upper bounds, e.g. `[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]`");
                        ok = false;
                    } else if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                        self.error(
                            file,
                            b.span(),
                            format!("bucket {} is not a finite number", values[i]),
                            "buckets",
                            "`+Inf` is added by itself; list only finite bounds",
                        );
                        ok = false;
                    } else if let Some(w) = values.windows(2).find(|w| w[0] >= w[1]) {
                        let what = if w[0] == w[1] {
                            "duplicate"
                        } else {
                            "unsorted"
                        };
                        self.error(
                            file,
                            b.span(),
                            format!("{what} histogram buckets: {} is followed by {}", w[0], w[1]),
                            "buckets must be strictly increasing",
                            "sort the bounds and drop duplicates",
                        );
                        ok = false;
                    }
                    series = series.saturating_mul(values.len() as u64 + 3);
                    values.clone()
                }
                (MetricKind::Histogram, None) => {
                    self.error(
                        file,
                        def.span(),
                        format!("histogram `{n}` has no buckets"),
                        "missing `buckets`",
                        "add `buckets = [...]` with strictly increasing upper bounds",
                    );
                    ok = false;
                    Vec::new()
                }
                (_, Some(b)) => {
                    self.error(
                        file,
                        b.span(),
                        format!("`buckets` on {kind:?} `{n}`", kind = kind).to_lowercase(),
                        "only histograms have buckets",
                        "remove `buckets`, or make the metric `type = \"histogram\"`",
                    );
                    ok = false;
                    Vec::new()
                }
                (_, None) => Vec::new(),
            };
            if series > MAX_SERIES_PER_METRIC {
                self.error(
                    file,
                    name.span(),
                    format!("metric `{n}` can have {series} series"),
                    "too many label combinations",
                    format!(
                        "keep it under {MAX_SERIES_PER_METRIC}: drop a label or lower `max_values`"
                    ),
                );
                ok = false;
            }
            let mut group_by = Vec::new();
            for g in &d.group_by {
                if labels.contains(g.get_ref()) {
                    group_by.push(g.get_ref().clone());
                } else {
                    self.unknown_label(file, g, n, labels.iter());
                    ok = false;
                }
            }
            if !ok {
                continue;
            }
            let metric = Metric {
                name: n.clone(),
                kind,
                help: d.help.clone(),
                unit,
                labels,
                buckets,
                row: d.row.clone().unwrap_or_else(|| "Metrics".into()),
                group_by,
            };
            for sample in metric.exposed_names() {
                if let Some(first) = exposed.get(&sample) {
                    self.error(
                        file,
                        name.span(),
                        format!("metric `{n}` exposes `{sample}`, as another metric does"),
                        "name clash on exposition",
                        "rename one of the metrics",
                    );
                    let _ = first;
                }
                exposed.insert(sample, name.span());
            }
            out.push(metric);
        }
        out
    }

    fn unknown_label<'a>(
        &mut self,
        file: usize,
        label: &Name,
        metric: &str,
        known: impl Iterator<Item = &'a String>,
    ) {
        let known: Vec<&str> = known.map(String::as_str).collect();
        let message = if metric.is_empty() {
            format!("unknown label `{}`", label.get_ref())
        } else {
            format!(
                "label `{}` is not declared on metric `{metric}`",
                label.get_ref()
            )
        };
        let hint = if known.is_empty() {
            if metric.is_empty() {
                "declare it in a `[labels.<name>]` table".to_string()
            } else {
                format!("`{metric}` has no labels")
            }
        } else {
            format!("known labels: {}", known.join(", "))
        };
        self.error(file, label.span(), message, "not declared", hint);
    }

    fn selector(
        &mut self,
        file: usize,
        service: &Service,
        metric: &Name,
        matchers: &BTreeMap<Name, Spanned<Vec<String>>>,
        want: MetricKind,
        role: &str,
    ) -> Option<Selector> {
        let Some(m) = service.find_metric(metric.get_ref()) else {
            let known: Vec<&str> = service
                .metrics
                .iter()
                .filter(|m| m.kind == want)
                .map(|m| m.name.as_str())
                .collect();
            self.error(
                file,
                metric.span(),
                format!("unknown metric `{}`", metric.get_ref()),
                "not declared under [metrics]",
                format!(
                    "declared {} metrics: {}",
                    format!("{want:?}").to_lowercase(),
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                ),
            );
            return None;
        };
        if m.kind != want {
            let (is, needs) = (
                format!("{:?}", m.kind).to_lowercase(),
                format!("{want:?}").to_lowercase(),
            );
            self.error(
                file,
                metric.span(),
                format!("{role} uses {is} `{}` where a {needs} is needed", m.name),
                format!("this is a {is}"),
                match want {
                    MetricKind::Counter => {
                        "a ratio SLI counts events: point `errors` and `total` at counters"
                            .to_string()
                    }
                    MetricKind::Histogram => {
                        "a latency SLI reads buckets: point `metric` at a histogram".to_string()
                    }
                    MetricKind::Gauge => "use a gauge".to_string(),
                },
            );
            return None;
        }
        let mut out = BTreeMap::new();
        let mut ok = true;
        for (label, values) in matchers {
            if !m.labels.contains(label.get_ref()) {
                self.unknown_label(file, label, &m.name, m.labels.iter());
                ok = false;
                continue;
            }
            if values.get_ref().is_empty() {
                self.error(
                    file,
                    values.span(),
                    "empty matcher",
                    "no values",
                    "list at least one value",
                );
                ok = false;
                continue;
            }
            if let Some(LabelValues::Closed(allowed)) =
                service.label_defs.get(label.get_ref()).map(|l| &l.values)
            {
                for v in values.get_ref() {
                    if !allowed.iter().any(|a| &a.value == v) {
                        let list: Vec<&str> = allowed.iter().map(|a| a.value.as_str()).collect();
                        self.error(
                            file,
                            values.span(),
                            format!("`{v}` is not a value of label `{}`", label.get_ref()),
                            "not in the closed set",
                            format!("allowed: {}", list.join(", ")),
                        );
                        ok = false;
                    }
                }
            }
            let mut vals = values.get_ref().clone();
            vals.sort();
            vals.dedup();
            out.insert(label.get_ref().clone(), vals);
        }
        ok.then(|| Selector {
            metric: m.name.clone(),
            matchers: out,
        })
    }

    fn lower_slo(
        &mut self,
        file: usize,
        service: &Service,
        service_tier: &str,
        (policy, check_window): (&[BurnRateWindow], bool),
        name: &Name,
        spec: &spec::SloSpec,
    ) -> Option<Slo> {
        let n = name.get_ref();
        let mut ok = true;
        if spec.description.trim().is_empty() {
            self.error(
                file,
                name.span(),
                format!("SLO `{n}` has an empty description"),
                "description",
                "say in one sentence what users get, e.g. \"Requests succeed.\"",
            );
            ok = false;
        }
        if !conventions::is_snake_case(n) {
            self.error(
                file,
                name.span(),
                format!("invalid SLO name `{n}`"),
                "not snake_case",
                "use lower-case letters, digits and single underscores, e.g. `api_availability`",
            );
            ok = false;
        }
        let tier_name = match &spec.tier {
            Some(t) => {
                if !self.known_tier(file, t) {
                    return None;
                }
                t.get_ref().clone()
            }
            None => service_tier.to_string(),
        };
        let tier = self.tiers.get(&tier_name).map(|(_, _, t)| t.clone())?;
        let objective = match &spec.objective {
            Some(o) => self.objective(file, o)?,
            None => tier.objective,
        };
        let longest = policy
            .iter()
            .map(|w| w.long)
            .max()
            .filter(|_| check_window)
            .unwrap_or(Duration { seconds: 0 });
        let window = match &spec.window {
            None => {
                let window = SloWindow {
                    seconds: DEFAULT_SLO_WINDOW.seconds,
                };
                if window.duration() < longest {
                    self.error(file, name.span(), format!("SLO `{n}` has the default {} window, shorter than its longest alert window `{}`", DEFAULT_SLO_WINDOW.promql(), longest.promql()), "default window", format!("set `window` to at least `{}`, or shorten the service's `alert_windows`", longest.promql()));
                    return None;
                }
                window
            }
            Some(w) => match Duration::parse(w.get_ref()) {
                Some(d) if d >= longest && d.seconds > 0 && d <= MAX_SLO_WINDOW => {
                    SloWindow { seconds: d.seconds }
                }
                Some(_) => {
                    self.error(file, w.span(), format!("SLO window `{}` is out of range", w.get_ref()), "window", format!("use a window from {} (the longest alert window) to {}; 28d or 30d are usual", longest.promql(), MAX_SLO_WINDOW.promql()));
                    return None;
                }
                None => {
                    self.error(
                        file,
                        w.span(),
                        format!("invalid SLO window `{}`", w.get_ref()),
                        "not a duration",
                        "write a whole number and one unit, e.g. `30d`, `28d`, `4w` or `12h`",
                    );
                    return None;
                }
            },
        };
        let sli = match (&spec.ratio, &spec.latency) {
            (Some(r), None) => {
                let errors = self.selector(
                    file,
                    service,
                    &r.errors.metric,
                    &r.errors.matchers,
                    MetricKind::Counter,
                    "the `errors` selector",
                );
                let total = self.selector(
                    file,
                    service,
                    &r.total.metric,
                    &r.total.matchers,
                    MetricKind::Counter,
                    "the `total` selector",
                );
                let (errors, total) = (errors?, total?);
                if errors_cover_total(service, &errors, &total) {
                    self.error(file, r.errors.metric.span(), format!("the `errors` selector of SLO `{n}` matches every event `total` does"), "no event could be good", "match only the bad events in `errors`, e.g. `match = { status = [\"5xx\"] }`");
                    return None;
                }
                Sli::Ratio { errors, total }
            }
            (None, Some(l)) => {
                let histogram = self.selector(
                    file,
                    service,
                    &l.metric,
                    &l.matchers,
                    MetricKind::Histogram,
                    "the latency SLI",
                )?;
                let buckets = &service.find_metric(&histogram.metric)?.buckets;
                let threshold = *l.threshold.get_ref();
                if !buckets.contains(&threshold) {
                    let below = buckets.iter().rev().find(|b| **b < threshold);
                    let above = buckets.iter().find(|b| **b > threshold);
                    let nearest: Vec<String> = below
                        .into_iter()
                        .chain(above)
                        .map(|b| b.to_string())
                        .collect();
                    self.error(file, l.threshold.span(), format!("latency threshold {threshold} is not a bucket boundary of `{}`", histogram.metric), "no bucket ends here", format!("the SLI counts whole buckets: use a boundary ({}), or add {threshold} to the histogram's buckets", if nearest.is_empty() { "none".into() } else { format!("nearest: {}", nearest.join(", ")) }));
                    return None;
                }
                Sli::Latency {
                    histogram,
                    threshold,
                    le: super::bounds::le_spellings(threshold),
                }
            }
            _ => {
                self.error(file, name.span(), format!("SLO `{n}` needs exactly one of `ratio` and `latency`"), "which SLI?", "add a `[slos.<name>.ratio]` table with `errors` and `total`, or a `[slos.<name>.latency]` table with `metric` and `threshold`");
                return None;
            }
        };
        let ratio = objective.div(Exact::int(100));
        let budget_ratio = Exact::int(1).checked_sub(ratio)?;
        let window_seconds = Exact::int(window.seconds);
        let budget = ErrorBudget {
            ratio: budget_ratio,
            minutes: window_seconds.div(Exact::int(60)).mul(budget_ratio),
        };
        let page = spec.alerting.page.unwrap_or(tier.page);
        let ticket = spec.alerting.ticket.unwrap_or(tier.ticket);
        let mut burn_rate_alerts = Vec::new();
        for &BurnRateWindow {
            severity,
            long,
            short,
            budget_share,
            for_,
        } in policy
        {
            if (severity == Severity::Page && !page) || (severity == Severity::Ticket && !ticket) {
                continue;
            }
            let factor = budget_share
                .mul(window_seconds)
                .div(Exact::int(long.seconds));
            let threshold = factor.mul(budget_ratio);
            if threshold.cmp_value(Exact::int(1)) != std::cmp::Ordering::Less {
                let span = spec
                    .objective
                    .as_ref()
                    .map(|o| o.span())
                    .unwrap_or(name.span());
                self.error(
                    file,
                    span,
                    format!(
                        "objective {objective}% is too low for the {} alert over {}",
                        format!("{severity:?}").to_lowercase(),
                        long.promql()
                    ),
                    format!(
                        "its error-ratio threshold would be {threshold}, which no ratio exceeds"
                    ),
                    format!(
                        "raise the objective, or set `alerting.{} = false`",
                        format!("{severity:?}").to_lowercase()
                    ),
                );
                ok = false;
                continue;
            }
            let one_minus = Exact::int(1).checked_sub(threshold)?;
            let min_events = spec
                .min_events
                .or(tier.min_events)
                .unwrap_or_else(|| single_failure_guard(threshold));
            burn_rate_alerts.push(BurnRateAlert {
                severity,
                long,
                short,
                budget_share,
                factor,
                threshold,
                for_,
                min_events,
                time_to_fire_full_outage: threshold
                    .mul(Exact::int(long.seconds))
                    .add(Exact::int(for_.seconds)),
                time_to_fire_at_factor: Exact::int(long.seconds + for_.seconds),
                reset_time: one_minus.mul(Exact::int(short.seconds)),
            });
        }
        let mut alert_labels = BTreeMap::new();
        for (k, v) in &spec.alerting.labels {
            if self.label_name(file, k, "alert label") && self.not_generated_label(file, k) {
                alert_labels.insert(k.get_ref().clone(), v.clone());
            }
        }
        for (k, v) in &spec.alerting.annotations {
            if let Err(action) = super::template::parse(v) {
                self.error(file, k.span(), format!("annotation `{}` of SLO `{n}` uses the template `{action}`", k.get_ref()), "cannot be checked", "SLO alert annotations are static text plus `{{ $value | humanizePercentage }}`, so that the generated rule tests can predict them; the alert labels already name the service and SLO");
                ok = false;
            }
        }
        let alert_annotations = spec
            .alerting
            .annotations
            .iter()
            .map(|(k, v)| (k.get_ref().clone(), v.clone()))
            .collect();
        let runbook_url = conventions::runbook_url(
            &service.runbook_base_url,
            spec.alerting.runbook.as_deref().unwrap_or(n),
        );
        ok.then(|| Slo {
            name: n.clone(),
            id: conventions::slo_id(&service.name, n),
            description: spec.description.clone(),
            tier: tier_name,
            objective,
            objective_ratio: ratio,
            window,
            sli,
            budget,
            burn_rate_alerts,
            alert_labels,
            alert_annotations,
            runbook_url,
            rules: SloRules::default(),
        })
    }

    fn lower_alert(
        &mut self,
        file: usize,
        declared: &Declared,
        name: &Name,
        spec: &spec::AlertSpec,
    ) -> Option<ThresholdAlert> {
        let service = declared.service();
        let n = name.get_ref();
        let mut ok = true;
        if !conventions::is_upper_camel(n) {
            self.error(
                file,
                name.span(),
                format!("invalid alert name `{n}`"),
                "not UpperCamelCase",
                format!(
                    "alert names are UpperCamelCase, e.g. `{}`",
                    conventions::upper_camel(n)
                ),
            );
            ok = false;
        }
        ok &= self.promql(file, &spec.expr, declared);
        let for_ = match &spec.for_ {
            None => Duration { seconds: 0 },
            Some(f) => match Duration::parse(f.get_ref()) {
                Some(d) => d,
                None => {
                    self.error(
                        file,
                        f.span(),
                        format!("invalid duration `{}`", f.get_ref()),
                        "not a duration",
                        "write a whole number and one unit: `30s`, `5m`, `1h`, `1d`",
                    );
                    return None;
                }
            },
        };
        let summary = spec.summary.trim();
        if summary.is_empty()
            || !summary.ends_with('.')
            || summary.contains("{{")
            || summary.contains('\n')
        {
            self.error(
                file,
                name.span(),
                format!("summary of alert `{n}` is not one static sentence"),
                "summary",
                "write one static line ending with a period; put `{{ $labels.x }}` and `{{ $value }}` in `description`",
            );
            ok = false;
        }
        if spec.description.trim().is_empty() {
            self.error(file, name.span(), format!("alert `{n}` has an empty description"), "description", "say what is happening and what to look at first; templates like `{{ $value }}` work here");
            ok = false;
        }
        if ok {
            if let Ok(ast) = promql_parser::parser::parse(spec.expr.get_ref()) {
                if ast.value_type() != promql_parser::parser::value::ValueType::Vector {
                    self.error(
                        file,
                        spec.expr.span(),
                        format!(
                            "alert `{n}` expression is a {}, not an instant vector",
                            ast.value_type()
                        ),
                        "alerts fire per returned series",
                        "make the expression return series, e.g. `rate(x_total[5m]) > 1`",
                    );
                    ok = false;
                }
            }
        }
        ok.then(|| ThresholdAlert {
            name: n.clone(),
            expr: spec.expr.get_ref().trim().to_string(),
            for_,
            severity: spec.severity,
            summary: spec.summary.trim().to_string(),
            description: spec.description.trim().to_string(),
            runbook_url: conventions::runbook_url(
                &service.runbook_base_url,
                spec.runbook.as_deref().unwrap_or(n),
            ),
        })
    }

    /// Parses a PromQL expression and checks that counters are rated and gauges are not.
    fn promql(&mut self, file: usize, expr: &Spanned<String>, declared: &Declared) -> bool {
        let text = expr.get_ref();
        // The span covers the quotes of a basic string; point inside them.
        let span = expr.span();
        match promql_parser::parser::parse(text) {
            Err(e) => {
                self.error(
                    file,
                    span,
                    "invalid PromQL",
                    e.to_string(),
                    "fix the expression; `promtool` and Prometheus would reject it",
                );
                false
            }
            Ok(ast) => {
                let mut misuse = Vec::new();
                super::promql_check::metric_misuse(&ast, declared, &mut misuse);
                for m in &misuse {
                    self.error(
                        file,
                        span.clone(),
                        m.message.clone(),
                        m.label.clone(),
                        m.hint.clone(),
                    );
                }
                misuse.is_empty()
            }
        }
    }

    fn check_alert_names(&mut self, file: usize, service: &Service, spec: &SpecFile) {
        let generated: HashSet<String> = service
            .slos
            .iter()
            .flat_map(|slo| {
                [
                    conventions::slo_burn_alert(&service.name, &slo.name),
                    conventions::slo_absent_alert(&service.name, &slo.name),
                ]
            })
            .collect();
        for name in spec.alerts.keys() {
            if generated.contains(name.get_ref()) {
                self.error(
                    file,
                    name.span(),
                    format!(
                        "alert `{}` clashes with an alert generated for an SLO",
                        name.get_ref()
                    ),
                    "same name",
                    "rename the threshold alert",
                );
            }
        }
    }

    fn lower_dashboard(&mut self, file: usize, declared: &Declared, spec: &SpecFile) -> Dashboard {
        let service = declared.service();
        let d = spec.dashboard.as_ref();
        let mut extra_panels = Vec::new();
        for p in d.map(|d| d.panels.as_slice()).unwrap_or_default() {
            if p.queries.get_ref().is_empty() {
                self.error(
                    file,
                    p.queries.span(),
                    format!("panel `{}` has no queries", p.title),
                    "empty",
                    "add at least one `{ expr = \"...\" }`",
                );
                continue;
            }
            let mut ok = true;
            for q in p.queries.get_ref() {
                ok &= self.promql(file, &q.expr, declared);
            }
            if ok {
                extra_panels.push(ExtraPanel {
                    title: p.title.clone(),
                    description: p.description.clone(),
                    row: p.row.clone(),
                    unit: p.unit.clone(),
                    queries: p
                        .queries
                        .get_ref()
                        .iter()
                        .map(|q| (q.expr.get_ref().trim().to_string(), q.legend.clone()))
                        .collect(),
                });
            }
        }
        // Rows in the order they first appear in the file, then the SLO row.
        let mut positioned: Vec<(usize, String)> = spec
            .metrics
            .iter()
            .map(|(n, m)| {
                (
                    n.span().start,
                    m.get_ref().row.clone().unwrap_or_else(|| "Metrics".into()),
                )
            })
            .collect();
        positioned.sort();
        let mut rows: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for row in positioned
            .into_iter()
            .map(|(_, r)| r)
            .chain(extra_panels.iter().map(|p| p.row.clone()))
        {
            if seen.insert(row.clone()) {
                rows.push(row);
            }
        }
        if !service.slos.is_empty() && seen.insert(conventions::SLO_ROW.to_string()) {
            rows.push(conventions::SLO_ROW.to_string());
        }
        let mut row_order = Vec::new();
        let mut placed: HashSet<String> = HashSet::new();
        for r in d.map(|d| d.row_order.as_slice()).unwrap_or_default() {
            if seen.contains(r.get_ref()) {
                if placed.insert(r.get_ref().clone()) {
                    row_order.push(r.get_ref().clone());
                }
            } else {
                self.error(
                    file,
                    r.span(),
                    format!("unknown row `{}`", r.get_ref()),
                    "no panel is in this row",
                    format!("rows: {}", rows.join(", ")),
                );
            }
        }
        for r in rows {
            if placed.insert(r.clone()) {
                row_order.push(r);
            }
        }
        Dashboard {
            title: d
                .and_then(|d| d.title.clone())
                .unwrap_or_else(|| format!("{} service level", service.name)),
            row_order,
            extra_panels,
            rows: Vec::new(),
        }
    }
}

/// The default low-traffic guard of an alert: the fewest events for which one bad event alone keeps the
/// error ratio at or under `threshold` (`ceil(1 / threshold)`), so a single failure never fires it.
fn single_failure_guard(threshold: Exact) -> u64 {
    let events = Exact::int(1) / threshold;
    let whole = events.floor();
    let whole = if Exact::new(whole, 1).cmp_value(events).is_lt() {
        whole + 1
    } else {
        whole
    };
    u64::try_from(whole).unwrap_or(u64::MAX)
}

/// True when every series `total` selects is an error too, so the SLI could never be below 1.
fn errors_cover_total(service: &Service, errors: &Selector, total: &Selector) -> bool {
    errors.metric == total.metric
        && errors
            .matchers
            .iter()
            .all(|(label, bad)| match total.matchers.get(label) {
                Some(all) => all.iter().all(|v| bad.contains(v)),
                None => match service.label_defs.get(label).map(|l| &l.values) {
                    Some(LabelValues::Closed(values)) => {
                        values.iter().all(|v| bad.contains(&v.value))
                    }
                    _ => false,
                },
            })
}
