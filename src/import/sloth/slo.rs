//! One Sloth SLO group (service) and its SLOs → an [`ImportedService`].

use super::super::read::NodeExt as _;
use super::super::{
    ImportedAlerting, ImportedService, ImportedSli, ImportedSlo, Problems, Sourced, StringMap,
};
use super::windows::Windows;
use super::{number, snake, string_map, unsupported, Dialect, Group, SlothNames};
use crate::conventions;
use crate::model::lower::SourceFile;
use crate::yaml::Node;

/// Sloth's default `title` of a burn-rate alert (`alert_rules` plugin), before rendering.
const SLOTH_TITLE: &str =
    "({severity}) {{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is too fast.";
/// Sloth's default `summary` of a burn-rate alert, before rendering.
const SLOTH_SUMMARY: &str =
    "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over expected.";

/// Where a runbook link points when Sloth had none: a placeholder the header asks to replace.
const RUNBOOK_PLACEHOLDER: &str = "https://runbooks.example.com";

pub(super) fn service(
    g: &Group<'_>,
    windows: &Windows,
    input: &SourceFile,
    p: &mut Problems,
) -> Option<ImportedService> {
    let d = g.dialect;
    let mut f = g.body.fields(p, "the spec")?;
    if !d.k8s {
        let _ = f.take("version");
    }
    let service = f.take_entry("service");
    let labels_node = f.take("labels");
    let slos = f.take_entry("slos");
    let plugins_key = d.key("slo_plugins", "sloPlugins");
    unsupported(
        f.take_entry(plugins_key),
        p,
        "an SLO plugin chain",
        "plugins rewrite the rules Sloth generates, and slogen has none: remove the chain (what it added is not imported)",
    );
    let known: &[&str] = if d.k8s {
        &["service", "labels", "sloPlugins", "slos"]
    } else {
        &["version", "service", "labels", "slo_plugins", "slos"]
    };
    f.finish(p, known);
    let Some((service_key, service_node)) = service else {
        p.error(
            g.body.span.start..g.body.span.start,
            "Sloth spec without `service`",
            "no service",
            "add `service: <name>`",
        );
        return None;
    };
    let sloth_service = service_node.string(p, "`service`")?;
    let name = snake(service_node, &sloth_service, p, "service name")?;
    let mut labels = string_map(labels_node, p, "`labels`");
    let team = match labels.remove("team") {
        Some(t) => (t, "from Sloth's `team` label".to_string()),
        None => match labels.get("owner") {
            Some(o) => (o.clone(), "from Sloth's `owner` label".to_string()),
            None => (
                Sourced::at(name.clone(), service_node.head()),
                "Sloth names no team: set the owning team".to_string(),
            ),
        },
    };
    let mut header = vec![format!(
        "Imported by `slogen import sloth` from {}, service `{sloth_service}`.",
        g.what
    )];
    if name != sloth_service {
        header.push(format!(
            "slogen names are snake_case: series carry sloth_service=\"{name}\" where Sloth wrote \"{sloth_service}\"."
        ));
    }
    header.push(
        "Alerts behave as Sloth's: its windows and factors, no `for`, no low-traffic guard (min_events = 0)."
            .into(),
    );
    let window = windows.period.promql();
    let names = SlothNames {
        service: &sloth_service,
        slo: "",
        labels: &labels,
    };
    let mut out_slos: Vec<ImportedSlo> = Vec::new();
    let Some((slos_key, slos_node)) = slos else {
        p.error(
            service_key.head(),
            "Sloth spec without `slos`",
            "no SLOs",
            "add the service's SLOs under `slos:`",
        );
        return None;
    };
    let items = slos_node.list(p, "`slos`")?;
    if items.is_empty() {
        p.error(
            slos_key.head(),
            "no SLOs",
            "empty",
            "add at least one SLO under `slos:`",
        );
    }
    for item in items {
        let Some(slo) = slo(item, d, &names, &window, input, p) else {
            continue;
        };
        if let Some(first) = out_slos.iter().find(|s| s.name.value == slo.name.value) {
            p.duplicate(
                slo.name.origin.clone().unwrap_or_default(),
                first.name.origin.clone().unwrap_or_default(),
                &format!(
                    "SLO `{}` (names are compared in snake_case)",
                    slo.name.value
                ),
            );
            continue;
        }
        out_slos.push(slo);
    }
    let tier_objective = out_slos.first().map(|s| s.objective.value.clone())?;
    Some(ImportedService {
        file: g.file,
        origin: service_node.head(),
        header,
        tier: conventions::imported_tier("sloth", &name),
        tier_objective,
        team,
        runbook_base_url: (
            format!("{RUNBOOK_PLACEHOLDER}/{name}"),
            "Sloth has no runbooks: point this at yours".into(),
        ),
        name: Sourced::at(name, service_node.head()),
        labels,
        windows_note: match &windows.defined_at {
            Some(_) => format!(
                "Sloth's alert windows for its {window} SLO period, from the AlertWindows given, without `for` as in Sloth."
            ),
            None => format!(
                "Sloth's built-in alert windows for its {window} SLO period (the SRE workbook's), without `for` as in Sloth."
            ),
        },
        alert_windows: windows.rows(g.file),
        slos: out_slos,
    })
}

fn slo(
    item: &Node,
    d: Dialect,
    service: &SlothNames<'_>,
    window: &str,
    input: &SourceFile,
    p: &mut Problems,
) -> Option<ImportedSlo> {
    let mut f = item.fields(p, "an SLO")?;
    let name_node = f.take("name");
    let description = f.take("description");
    let objective = f.take("objective");
    let labels = f.take_entry("labels");
    let sli = f.take_entry("sli");
    let alerting = f.take("alerting");
    unsupported(f.take_entry("plugins"), p, "an SLO plugin chain", "plugins rewrite the rules Sloth generates, and slogen has none: remove the chain (what it added is not imported)");
    unsupported(labels, p, "per-SLO labels", "slogen puts the same labels on all of a service's rules: move them to the service `labels` (if every SLO shares them), or split the service");
    let mut known = vec![
        "name",
        "description",
        "objective",
        "labels",
        "sli",
        "alerting",
        "plugins",
    ];
    if !d.k8s {
        unsupported(
            f.take_entry("infoLabels"),
            p,
            "`infoLabels`",
            "slogen's `sloth_slo_info` series has fixed labels: remove `infoLabels`",
        );
        unsupported(
            f.take_entry("interval"),
            p,
            "a rule group `interval`",
            "slogen's rules are evaluated at Prometheus's global interval: remove `interval`",
        );
        known.extend(["infoLabels", "interval"]);
    }
    f.finish(p, &known);
    let Some(name_node) = name_node else {
        p.error(
            item.span.start..item.span.start,
            "SLO without `name`",
            "no name",
            "add `name: <slo-name>`",
        );
        return None;
    };
    let sloth_name = name_node.string(p, "the SLO `name`")?;
    let name = snake(name_node, &sloth_name, p, "SLO name")?;
    let names = SlothNames {
        slo: &sloth_name,
        ..*service
    };
    let mut comments = comments_above(&input.text, item.span.start);
    if name != sloth_name {
        comments.push(format!("Sloth SLO `{sloth_name}`."));
    }
    let description = match description {
        Some(node) => Sourced::at(node.string(p, "`description`")?, node.head()),
        None => Sourced::at(
            format!("Imported from Sloth SLO `{sloth_name}`, which had no description."),
            name_node.head(),
        ),
    };
    let objective = match objective {
        Some(node) => number(node, p, "`objective`").map(|o| Sourced::at(o, node.head())),
        None => {
            p.error(
                name_node.head(),
                format!("SLO `{sloth_name}` has no `objective`"),
                "no objective",
                "add `objective: 99.9` (percent)",
            );
            None
        }
    };
    let sli = match sli {
        Some((key, node)) => read_sli(key, node, d, p),
        None => {
            p.error(
                name_node.head(),
                format!("SLO `{sloth_name}` has no `sli`"),
                "no SLI",
                "add `sli:` with `events` or `raw` queries",
            );
            None
        }
    };
    let alerting = read_alerting(alerting, d, &names, p);
    let (objective, sli, alerting) = (objective?, sli?, alerting?);
    Some(ImportedSlo {
        name: Sourced::at(name, name_node.head()),
        comments,
        description,
        objective,
        window: window.to_string(),
        sli,
        alerting,
    })
}

fn read_sli(key: &Node, node: &Node, d: Dialect, p: &mut Problems) -> Option<ImportedSli> {
    let mut f = node.fields(p, "`sli`")?;
    let raw = f.take("raw");
    let events = f.take("events");
    let plugin = f.take_entry("plugin");
    f.finish(p, &["raw", "events", "plugin"]);
    if let Some((plugin_key, _)) = plugin {
        p.error(plugin_key.head(), "an SLI plugin cannot be imported", "SLI plugin", "slogen has no SLI plugins: write the queries the plugin generates as `events` (error and total queries) or `raw` (an error ratio query) in the Sloth spec, then import it again");
        return None;
    }
    match (raw, events) {
        (Some(raw), None) => {
            let field = d.key("error_ratio_query", "errorRatioQuery");
            let mut f = raw.fields(p, "`raw`")?;
            let q = f.take(field);
            f.finish(p, &[field]);
            Some(ImportedSli::Raw {
                error_ratio: query(raw, q, field, p)?,
            })
        }
        (None, Some(events)) => {
            let (e, t) = (
                d.key("error_query", "errorQuery"),
                d.key("total_query", "totalQuery"),
            );
            let mut f = events.fields(p, "`events`")?;
            let (eq, tq) = (f.take(e), f.take(t));
            f.finish(p, &[e, t]);
            let errors = query(events, eq, e, p);
            let total = query(events, tq, t, p);
            Some(ImportedSli::Events {
                errors: errors?,
                total: total?,
            })
        }
        _ => {
            p.error(key.head(), "the SLI needs exactly one of `events` and `raw`", "SLI", "Sloth takes one SLI type per SLO: `events` (error and total queries) or `raw` (an error ratio query)");
            None
        }
    }
}

/// A query of the SLI, its `{{ .window }}` spelled as slogen's query SLIs spell it.
fn query(
    parent: &Node,
    node: Option<&Node>,
    field: &str,
    p: &mut Problems,
) -> Option<Sourced<String>> {
    let Some(node) = node else {
        p.error(
            parent.span.start..parent.span.start,
            format!("the SLI has no `{field}`"),
            "missing query",
            format!("add `{field}:` with a query using `{{{{.window}}}}`"),
        );
        return None;
    };
    let text = node.string(p, &format!("`{field}`"))?;
    Some(Sourced::at(window_placeholder(text.trim()), node.head()))
}

/// `{{ .window }}` in any spacing, as slogen's query SLIs write it: `{{.window}}`.
fn window_placeholder(query: &str) -> String {
    let mut out = String::new();
    let mut rest = query;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) if after[..end].trim() == ".window" => {
                out.push_str(&rest[..start]);
                out.push_str("{{.window}}");
                rest = &after[end + 2..];
            }
            _ => {
                out.push_str(&rest[..start + 2]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn read_alerting(
    node: Option<&Node>,
    d: Dialect,
    names: &SlothNames<'_>,
    p: &mut Problems,
) -> Option<ImportedAlerting> {
    let (page_key, ticket_key) = (
        d.key("page_alert", "pageAlert"),
        d.key("ticket_alert", "ticketAlert"),
    );
    let mut out = ImportedAlerting::default();
    let (mut page, mut ticket) = (Severity::default(), Severity::default());
    if let Some(node) = node {
        let mut f = node.fields(p, "`alerting`")?;
        let name = f.take("name");
        let labels = f.take("labels");
        let annotations = f.take("annotations");
        let page_node = f.take(page_key);
        let ticket_node = f.take(ticket_key);
        f.finish(p, &["name", "labels", "annotations", page_key, ticket_key]);
        if let Some(n) = name {
            out.name = Some(Sourced::at(n.string(p, "the alert `name`")?, n.head()));
        }
        out.labels = string_map(labels, p, "`labels`");
        out.annotations = render(string_map(annotations, p, "`annotations`"), names);
        page = severity(page_node, page_key, p)?;
        ticket = severity(ticket_node, ticket_key, p)?;
    }
    for (sev, s, labels, annotations, on) in [
        (
            "page",
            &mut page,
            &mut out.page_labels,
            &mut out.page_annotations,
            &mut out.page,
        ),
        (
            "ticket",
            &mut ticket,
            &mut out.ticket_labels,
            &mut out.ticket_annotations,
            &mut out.ticket,
        ),
    ] {
        if let Some(disabled) = s.disabled.take() {
            *on = Some(Sourced::at(false, disabled));
            continue;
        }
        *labels = std::mem::take(&mut s.labels);
        *annotations = render(std::mem::take(&mut s.annotations), names);
        let title = SLOTH_TITLE.replace("{severity}", sev);
        if !out.annotations.contains_key("title") && !annotations.contains_key("title") {
            let value = names.render(&title);
            annotations.insert(
                "title".into(),
                Sourced {
                    value,
                    origin: None,
                },
            );
        }
    }
    // Sloth's default summary is the same for both severities: written once, where neither overrides it.
    let overridden = |m: &StringMap| m.contains_key("summary");
    let summary = || Sourced {
        value: names.render(SLOTH_SUMMARY),
        origin: None,
    };
    let page_on = out.page.is_none();
    let ticket_on = out.ticket.is_none();
    if !overridden(&out.annotations) {
        match (
            page_on && !overridden(&out.page_annotations),
            ticket_on && !overridden(&out.ticket_annotations),
        ) {
            (true, true) => {
                out.annotations.insert("summary".into(), summary());
            }
            (true, false) => {
                out.page_annotations.insert("summary".into(), summary());
            }
            (false, true) => {
                out.ticket_annotations.insert("summary".into(), summary());
            }
            (false, false) => {}
        }
    }
    let name = out
        .name
        .as_ref()
        .map_or(String::new(), |n| format!(" `{}`", n.value));
    out.note = Some(if page_on || ticket_on {
        format!(
            "Sloth's alert{name}: labels and annotations as it set them, with its default `title` and `summary` \
             rendered for this SLO (slogen's SLO annotations are static text)."
        )
    } else {
        "Sloth generated no alerts for this SLO.".to_string()
    });
    Some(out)
}

/// One of Sloth's `page_alert` / `ticket_alert`.
#[derive(Default)]
struct Severity {
    /// Where `disable: true` is written.
    disabled: Option<std::ops::Range<usize>>,
    labels: StringMap,
    annotations: StringMap,
}

fn severity(node: Option<&Node>, key: &str, p: &mut Problems) -> Option<Severity> {
    let Some(node) = node else {
        return Some(Severity::default());
    };
    let mut f = node.fields(p, &format!("`{key}`"))?;
    let disable = f.take("disable");
    let labels = f.take("labels");
    let annotations = f.take("annotations");
    f.finish(p, &["disable", "labels", "annotations"]);
    let mut s = Severity {
        labels: string_map(labels, p, "`labels`"),
        annotations: string_map(annotations, p, "`annotations`"),
        ..Severity::default()
    };
    if let Some(d) = disable {
        if d.boolean(p, "`disable`")? {
            s.disabled = Some(d.head());
        }
    }
    Some(s)
}

fn render(map: StringMap, names: &SlothNames<'_>) -> StringMap {
    map.into_iter()
        .map(|(k, v)| {
            let value = names.render(&v.value);
            (
                k,
                Sourced {
                    value,
                    origin: v.origin,
                },
            )
        })
        .collect()
}

/// The comment lines right above the line holding byte `at`, without their `#`.
fn comments_above(text: &str, at: usize) -> Vec<String> {
    let line_start = text[..at.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let mut out = Vec::new();
    for line in text[..line_start].lines().rev() {
        let t = line.trim();
        match t.strip_prefix('#') {
            Some(c) => out.push(c.strip_prefix(' ').unwrap_or(c).trim_end().to_string()),
            None => break,
        }
    }
    out.reverse();
    out
}
