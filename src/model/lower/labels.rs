//! Label names and `[labels]` definitions: closed value sets and open labels with a cardinality limit.

use super::*;

impl Lowering<'_> {
    pub(super) fn label_name(&mut self, file: usize, name: &Name, what: &str) -> bool {
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

    pub(super) fn lower_labels(&mut self, file: usize, spec: &SpecFile) -> BTreeMap<String, Label> {
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
                // Values another program sets: only its metrics may use the label (checked with them).
                (None, None) => LabelValues::Unlimited,
                (Some(_), Some(_)) => {
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
        // A label defined with errors is still defined: metrics that use it report nothing more.
        for name in spec.labels.keys() {
            if !out.contains_key(name.get_ref()) {
                self.broken.labels.push(name.get_ref().clone());
            }
        }
        out
    }

    pub(super) fn unknown_label<'a>(
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
}
