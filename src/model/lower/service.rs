//! The `[service]` table and its burn-rate alert policy; lowering a service lowers its other sections too.

use std::ops::Div as _;

use super::percent::Percent;
use super::slos::MAX_SLO_WINDOW;
use super::*;

/// Alert windows and the share of the SLO window's budget each spends before it fires; factors follow from these.
///
/// Shares and windows are the Google SRE workbook's (chapter 5, "Multiwindow, Multi-Burn-Rate Alerts"); the
/// `for` durations are Pyrra's, long enough to ride out a scrape gap, short next to the time to fire. A service's
/// `alert_windows` replace them.
pub(crate) const BURN_RATE_WINDOWS: [BurnRateWindow; 4] = [
    BurnRateWindow::new(Severity::Page, 3_600, 300, 2, 120),
    BurnRateWindow::new(Severity::Page, 21_600, 1_800, 5, 900),
    BurnRateWindow::new(Severity::Ticket, 86_400, 7_200, 10, 3_600),
    BurnRateWindow::new(Severity::Ticket, 259_200, 21_600, 10, 10_800),
];

/// One row of the burn-rate policy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BurnRateWindow {
    /// Page or ticket.
    pub(crate) severity: Severity,
    /// Long window.
    pub(crate) long: Duration,
    /// Short window.
    pub(crate) short: Duration,
    /// Share of the SLO window's budget spent when the alert fires at exactly its factor.
    pub(crate) budget_share: Exact,
    /// How long both windows must be over the threshold.
    pub(crate) for_: Duration,
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

/// Most times the long window of a burn-rate row may be its short one (a day over a minute).
const MAX_WINDOW_RATIO: u64 = 1440;

/// Most rows a service's `alert_windows` may have: every row costs recording rules and an alert.
const MAX_ALERT_WINDOWS: usize = 6;

impl Lowering<'_> {
    pub(super) fn lower_service(
        &mut self,
        file: usize,
        path: &str,
        spec: &SpecFile,
    ) -> Option<Service> {
        let before = self.problems.len();
        let s = spec.service.as_ref()?.get_ref();
        let name = s.name.get_ref().clone();
        if !conventions::is_snake_case(&name) {
            self.error(file, s.name.span(), format!("invalid service name `{name}`"), "not snake_case", "use lower-case letters, digits and single underscores; it names files and the `service` label");
        } else if name.len() > MAX_SERVICE_NAME {
            self.error(
                file,
                s.name.span(),
                format!(
                    "service name of {} characters, more than {MAX_SERVICE_NAME}",
                    name.len()
                ),
                "too long",
                "the name is a folder name, a label value and part of every alert name: shorten it",
            );
        }
        if s.team.get_ref().trim().is_empty() {
            self.error(
                file,
                s.team.span(),
                format!("service `{name}` has an empty `team`"),
                "who owns it?",
                "set `team` to the owning team; it labels every alert",
            );
        }
        let runbook_base_url = s.runbook_base_url.get_ref();
        if !(runbook_base_url.starts_with("https://") || runbook_base_url.starts_with("http://")) {
            self.error(file, s.runbook_base_url.span(), format!("`runbook_base_url` of `{name}` is not an http(s) URL"), "runbook links are built from it", "set it to the URL of the runbook folder, e.g. `https://runbooks.example.com/backend`");
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
        labels.insert("team".into(), s.team.get_ref().clone());

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
            team: s.team.get_ref().clone(),
            description: s.description.clone(),
            runbook_base_url: runbook_base_url.trim_end_matches('/').to_string(),
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
                variables: Vec::new(),
                rows: Vec::new(),
                templates: Vec::new(),
            },
            outputs: Default::default(),
        };
        // Before any PromQL is checked: a query may match the labels the variables name.
        service.dashboard.variables = self.lower_variables(file, spec, &service.selector);
        // With an invalid policy every SLO would also report a window problem that is really the policy's.
        let unread_policy = self
            .broken
            .service_keys
            .iter()
            .any(|k| k == "alert_windows");
        let (policy, check_windows) = match self.alert_policy(file, s) {
            Some(policy) if !unread_policy => (policy, true),
            _ => (BURN_RATE_WINDOWS.to_vec(), false),
        };
        let declared = Declared::new(&service);
        let slos = spec
            .slos
            .iter()
            .filter_map(|(n, slo)| {
                self.lower_slo(
                    file,
                    &declared,
                    &tier,
                    (&policy, check_windows),
                    n,
                    slo.get_ref(),
                )
            })
            .collect();
        service.slos = slos;
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
        crate::model::rules::attach(&mut service);
        crate::model::dashboard::attach(&mut service);
        (self.problems.len() == before).then_some(service)
    }

    /// The service's burn-rate policy: its `alert_windows`, checked, or the default; `None` after reporting problems.
    pub(super) fn alert_policy(
        &mut self,
        file: usize,
        s: &spec::ServiceSpec,
    ) -> Option<Vec<BurnRateWindow>> {
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
            let long = self.burn_window(file, &row.long);
            let short = self.burn_window(file, &row.short);
            let for_ = match &row.for_ {
                Some(f) => self.burn_window(file, f),
                None => Some(Duration { seconds: 0 }),
            };
            let share = self
                .percent(file, &row.budget_percent, Percent::BudgetPercent)
                .map(|p| p.div(Exact::int(100)));
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
            if short.seconds.saturating_mul(MAX_WINDOW_RATIO) < long.seconds {
                self.error(
                    file,
                    row.short.span(),
                    format!(
                        "short window `{}` is less than 1/{MAX_WINDOW_RATIO} of long window `{}`",
                        row.short.get_ref(),
                        row.long.get_ref()
                    ),
                    "short window",
                    format!(
                        "the SRE workbook uses a twelfth (`5m` for `1h`); slogen supports down to 1/{MAX_WINDOW_RATIO}, \
                         beyond which the generated rule tests cannot reproduce the alert's timing exactly"
                    ),
                );
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

    /// Parses a window or `for` of a burn-rate row, at most the longest SLO window. Seconds are allowed
    /// (a staging Prometheus evaluating every second tests alerts in minutes); the ratio of `long` to
    /// `short`, checked with the row, bounds the exact arithmetic and the generated rule tests.
    fn burn_window(&mut self, file: usize, text: &Spanned<String>) -> Option<Duration> {
        let d = self.duration(file, text)?;
        if d > MAX_SLO_WINDOW {
            self.error(
                file,
                text.span(),
                format!(
                    "alert window `{}` is longer than {}",
                    text.get_ref(),
                    MAX_SLO_WINDOW.promql()
                ),
                "too long",
                "burn-rate windows and `for` fit in the SLO window, which is at most a year",
            );
            return None;
        }
        Some(d)
    }

    /// Rejects a label that slogen sets itself on rules and alerts, which would otherwise be silently overridden.
    pub(super) fn not_generated_label(&mut self, file: usize, name: &Name) -> bool {
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
}

/// Longest service name: it names the output folder (file systems allow 255 bytes) and prefixes alert names.
const MAX_SERVICE_NAME: usize = 100;
