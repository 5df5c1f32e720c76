//! `[metrics]`: names, units, labels, buckets and cardinality of every metric.

use super::*;

/// Most series one metric may have once every label is at its limit: more is a cardinality bug.
const MAX_SERIES_PER_METRIC: u64 = 100_000;

impl Lowering<'_> {
    pub(super) fn lower_metrics(
        &mut self,
        file: usize,
        spec: &SpecFile,
        label_defs: &BTreeMap<String, Label>,
    ) -> Vec<Metric> {
        let service_selector: BTreeMap<String, String> = spec
            .service
            .iter()
            .flat_map(|s| &s.get_ref().selector)
            .map(|(k, v)| (k.get_ref().clone(), v.clone()))
            .collect();
        let service_selector = &service_selector;
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
            let source = d
                .source
                .as_ref()
                .map_or(MetricSource::Service, |s| *s.get_ref());
            let external = source == MetricSource::External;
            let (exposed_as, selector) = match self.external(file, d, external, service_selector) {
                Some(found) => found,
                None => {
                    ok = false;
                    (None, BTreeMap::new())
                }
            };
            // A given exposed name makes the key only a name to refer to it by.
            let derived = exposed_as.is_none();
            if derived && kind == MetricKind::Counter && n.ends_with("_total") {
                self.error(
                    file,
                    name.span(),
                    format!("counter `{n}` ends with `_total`"),
                    "the suffix is added on exposition",
                    format!("declare it as `{}`", n.trim_end_matches("_total")),
                );
                ok = false;
                // SLOs may already use the name the hint suggests.
                self.broken
                    .metrics
                    .push(n.trim_end_matches("_total").to_string());
            }
            if derived && kind != MetricKind::Counter && n.ends_with("_total") {
                self.error(
                    file,
                    name.span(),
                    format!("{} `{n}` ends with `_total`", conventions::kind_name(kind)),
                    "`_total` marks counters",
                    "drop the suffix, or make it a counter if it only ever goes up",
                );
                ok = false;
            }
            if d.help.get_ref().trim().is_empty() {
                self.error(
                    file,
                    d.help.span(),
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
                } else if derived && n.ends_with(&format!("_{}", u.get_ref())) {
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
                    self.broken
                        .metrics
                        .push(n.trim_end_matches(&format!("_{}", u.get_ref())).to_string());
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
                // Another program's series may carry `job` and `instance` as it is scraped: not ours to rename.
                let target_label = !external
                    && (matches!(l.get_ref().as_str(), "job" | "instance")
                        || service_selector.contains_key(l.get_ref()));
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
                            LabelValues::Unlimited if external => 1,
                            LabelValues::Unlimited => {
                                self.error(
                                    file,
                                    l.span(),
                                    format!("label `{}` has no `values` or `max_values`", l.get_ref()),
                                    "the service records this label",
                                    "list the label's `values`, or set `max_values`: only metrics another \
                                     program exposes (`source = \"external\"`) may have a label without a limit",
                                );
                                ok = false;
                                continue;
                            }
                        });
                        labels.push(l.get_ref().clone());
                    }
                    None => {
                        if !self.broken.labels.contains(l.get_ref()) {
                            self.unknown_label(file, l, "", label_defs.keys());
                        }
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
            // Another program's cardinality is not the service's to limit.
            if !external && series > MAX_SERIES_PER_METRIC {
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
                } else if d.labels.iter().any(|l| l.get_ref() == g.get_ref()) {
                    // Declared on the metric, but reported there already.
                    ok = false;
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
                help: d.help.get_ref().clone(),
                unit,
                labels,
                buckets,
                row: d.row.clone().unwrap_or_else(|| "Metrics".into()),
                group_by,
                source,
                exposed_as,
                selector,
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
        // A metric defined with errors is still defined: SLOs that use it report nothing more.
        for name in spec.metrics.keys() {
            if !out.iter().any(|m| &m.name == name.get_ref()) {
                self.broken.metrics.push(name.get_ref().clone());
            }
        }
        out
    }

    /// An external metric's exposed name (if given) and selector, or the service's selector for its own
    /// metrics; `None` after reporting `name` or `selector` on a service metric, or an invalid one.
    fn external(
        &mut self,
        file: usize,
        d: &spec::MetricSpec,
        external: bool,
        service_selector: &BTreeMap<String, String>,
    ) -> Option<(Option<String>, BTreeMap<String, String>)> {
        if !external {
            let misplaced = [
                d.name.as_ref().map(|n| ("name", n.span())),
                d.selector.as_ref().map(|s| ("selector", s.span())),
            ];
            let mut ok = true;
            for (key, span) in misplaced.into_iter().flatten() {
                self.error(
                    file,
                    span,
                    format!("`{key}` on a metric the service exposes"),
                    "only for `source = \"external\"`",
                    "a service metric's exposed name comes from its key, unit and type, and its series are \
                     selected by the service's `selector`; set `source = \"external\"` if another program \
                     exposes it",
                );
                ok = false;
            }
            return ok.then(|| (None, service_selector.clone()));
        }
        let mut ok = true;
        let exposed = d.name.as_ref().map(|given| given.get_ref().clone());
        if let Some(given) = &d.name {
            let g = given.get_ref();
            let histogram_series = ["_bucket", "_count", "_sum"]
                .iter()
                .find(|s| *d.kind.get_ref() == MetricKind::Histogram && g.ends_with(*s));
            if !conventions::is_metric_name(g) {
                self.error(
                    file,
                    given.span(),
                    format!("invalid exposed metric name `{g}`"),
                    "not a Prometheus metric name",
                    "write the name exactly as the program exposes it: `[a-zA-Z_:][a-zA-Z0-9_:]*`",
                );
                ok = false;
            } else if let Some(suffix) = histogram_series {
                self.error(
                    file,
                    given.span(),
                    format!("histogram name `{g}` ends with `{suffix}`"),
                    "the name of one of its series",
                    format!(
                        "give the histogram's name, `{}`: its `_bucket`, `_count` and `_sum` series follow",
                        g.trim_end_matches(suffix)
                    ),
                );
                ok = false;
            }
        }
        let mut selector = BTreeMap::new();
        for (k, v) in d.selector.iter().flat_map(|s| s.get_ref()) {
            ok &= self.label_name(file, k, "selector label");
            selector.insert(k.get_ref().clone(), v.clone());
        }
        ok.then_some((exposed, selector))
    }
}
