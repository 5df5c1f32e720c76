//! `[slos.<name>.alerting]`: the name, labels, annotations and runbook of an SLO's alerts, and the extra labels
//! and annotations of its page and ticket alerts (Sloth's `page_alert` and `ticket_alert`).

use super::*;

/// An SLO's alerting settings, checked.
pub(super) struct Alerting {
    pub(super) burn_alert: String,
    pub(super) labels: BTreeMap<String, String>,
    pub(super) annotations: BTreeMap<String, String>,
    pub(super) page: SeverityExtras,
    pub(super) ticket: SeverityExtras,
    pub(super) runbook_url: String,
}

impl Lowering<'_> {
    /// The alerting settings of SLO `name` of `service`; `None` after reporting problems.
    pub(super) fn slo_alerting(
        &mut self,
        file: usize,
        service: &Service,
        name: &Name,
        spec: &spec::SloAlertingSpec,
    ) -> Option<Alerting> {
        let n = name.get_ref();
        let mut ok = true;
        let burn_alert = match &spec.name {
            None => conventions::slo_burn_alert(&service.name, n),
            Some(alert) if conventions::is_alert_name(alert.get_ref()) => alert.get_ref().clone(),
            Some(alert) => {
                self.error(
                    file,
                    alert.span(),
                    format!("invalid alert name `{}`", alert.get_ref()),
                    "letters, digits and underscores, starting with a letter",
                    format!(
                        "alert names are UpperCamelCase here, e.g. `{}`",
                        conventions::upper_camel(alert.get_ref())
                    ),
                );
                ok = false;
                String::new()
            }
        };
        let labels = self.alert_labels(file, &spec.labels, false, &mut ok);
        let annotations = self.alert_annotations(file, n, &spec.annotations, &mut ok);
        let page = SeverityExtras {
            labels: self.alert_labels(file, &spec.page_labels, true, &mut ok),
            annotations: self.alert_annotations(file, n, &spec.page_annotations, &mut ok),
        };
        let ticket = SeverityExtras {
            labels: self.alert_labels(file, &spec.ticket_labels, true, &mut ok),
            annotations: self.alert_annotations(file, n, &spec.ticket_annotations, &mut ok),
        };
        let runbook = spec.runbook.as_ref();
        let runbook_url = conventions::runbook_url(
            &service.runbook_base_url,
            runbook.map_or(n.as_str(), |r| r.get_ref().as_str()),
        );
        // The URL is an annotation: the generated rule tests must be able to render it.
        if let (Some(runbook), Err(action)) = (runbook, super::template::parse(&runbook_url)) {
            self.error(
                file,
                runbook.span(),
                format!("runbook of SLO `{n}` uses the template `{action}`"),
                "a template in a URL",
                "give a runbook slug or URL without `{{ … }}`",
            );
            ok = false;
        }
        ok.then_some(Alerting {
            burn_alert,
            labels,
            annotations,
            page,
            ticket,
            runbook_url,
        })
    }

    /// Labels added to alerts: valid names that slogen does not set itself, except that the labels of one
    /// severity's alerts (`per_severity`) may replace `severity`, as Sloth's `page_alert` labels do.
    fn alert_labels(
        &mut self,
        file: usize,
        labels: &BTreeMap<Name, String>,
        per_severity: bool,
        ok: &mut bool,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in labels {
            let replaces_severity = per_severity && k.get_ref() == conventions::SEVERITY_LABEL;
            if self.label_name(file, k, "alert label")
                && (replaces_severity || self.not_generated_label(file, k))
            {
                out.insert(k.get_ref().clone(), v.clone());
            } else {
                *ok = false;
            }
        }
        out
    }

    /// Annotations added to alerts: static text plus `{{ $value | humanizePercentage }}`.
    fn alert_annotations(
        &mut self,
        file: usize,
        slo: &str,
        annotations: &BTreeMap<Name, String>,
        ok: &mut bool,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in annotations {
            if let Err(action) = super::template::parse(v) {
                self.error(file, k.span(), format!("annotation `{}` of SLO `{slo}` uses the template `{action}`", k.get_ref()), "cannot be checked", "SLO alert annotations are static text plus `{{ $value | humanizePercentage }}`, so that the generated rule tests can predict them; the alert labels already name the service and SLO");
                *ok = false;
            } else {
                out.insert(k.get_ref().clone(), v.clone());
            }
        }
        out
    }
}
