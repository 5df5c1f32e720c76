//! An `SLO`: its window, objective, indicator and alert policies.

use super::super::check::*;
use super::super::fields::{number, Fields};
use super::alert::policy_use;
use super::*;
use crate::yaml::Node;

pub(super) fn slo(file: usize, meta: Meta, spec: &Node, p: &mut Problems) -> Option<Slo> {
    let mut f = Fields::of(spec, file, "an SLO's `spec`", p)?;
    let spec_at = f.at();
    let description = description(&mut f, p);
    let service = f.req_string("service", p);
    let indicator = f.opt("indicator");
    let indicator_ref = f.string("indicatorRef", p);
    let budgeting = f.req_string("budgetingMethod", p);
    let windows = f.req("timeWindow", p);
    let objectives = f.req("objectives", p);
    let policies = f.opt("alertPolicies");
    f.finish(p);
    if let Some((method, at)) = &budgeting {
        match method.as_str() {
            "Occurrences" => {}
            "Timeslices" | "RatioTimeslices" => p.error(at, format!("budgetingMethod `{method}` is not supported"), "time slices", "slogen budgets by occurrences (bad events over all events, what multi-window burn-rate alerts measure); use `budgetingMethod: Occurrences`"),
            _ => p.error(at, format!("unknown budgetingMethod `{method}`"), "not an OpenSLO v1 budgeting method", "OpenSLO v1 has Occurrences, Timeslices and RatioTimeslices; slogen supports Occurrences"),
        }
    }
    let window = windows.and_then(|w| time_window(file, w, p));
    let objective = objectives.and_then(|o| objective(file, o, p));
    let indicator = match (indicator, indicator_ref) {
        (Some(node), None) => {
            let mut f = Fields::of(node, file, "`indicator`", p)?;
            let meta = f.req("metadata", p).and_then(|m| metadata(file, m, p));
            let spec = f.req("spec", p);
            f.finish(p);
            Use::Inline(sli(file, meta?, spec?, p)?)
        }
        (None, Some((name, at))) => {
            if !is_dns_label(&name) {
                p.error(
                    &at,
                    format!("invalid indicatorRef `{name}`"),
                    "not an RFC 1123 label",
                    "name an SLI object by its `metadata.name`",
                );
            }
            Use::Ref(name, at)
        }
        (Some(_), Some((_, at))) => {
            p.error(
                &at,
                "`indicator` and `indicatorRef` are both given",
                "one too many",
                "keep one of them",
            );
            return None;
        }
        (None, None) => {
            p.error(
                &spec_at,
                "the SLO has no `indicator` or `indicatorRef`",
                "no SLI",
                "inline the SLI under `indicator`, or name an SLI object in `indicatorRef`",
            );
            return None;
        }
    };
    let mut uses = Vec::new();
    if let Some(list) = policies {
        for item in seq(list, file, "`alertPolicies`", p) {
            if let Some(u) = policy_use(file, item, p) {
                uses.push(u);
            }
        }
    }
    budgeting.filter(|(m, _)| m == "Occurrences")?;
    Some(Slo {
        meta,
        description,
        service: service?,
        indicator,
        window: window?,
        objective: objective?,
        policies: uses,
    })
}

/// The items of a list, or a problem.
pub(super) fn seq<'n>(node: &'n Node, file: usize, what: &str, p: &mut Problems) -> &'n [Node] {
    match node.items() {
        Some(items) => items,
        None => {
            p.error(
                &At::of(file, node),
                format!("{what} must be a list"),
                format!("found {}", node.shape()),
                "write one `- ` item per line",
            );
            &[]
        }
    }
}

/// `timeWindow`: exactly one rolling window.
pub(super) fn time_window(file: usize, node: &Node, p: &mut Problems) -> Option<(u64, At)> {
    let items = seq(node, file, "`timeWindow`", p);
    if items.len() != 1 {
        p.error(
            &At::of(file, node),
            format!("`timeWindow` has {} items", items.len()),
            "exactly one",
            "OpenSLO v1 takes exactly one time window",
        );
        return None;
    }
    let mut f = Fields::of(&items[0], file, "a time window", p)?;
    let duration = f.req("duration", p);
    let rolling = f.boolean("isRolling", p);
    let calendar = f.opt_entry("calendar");
    f.finish(p);
    if let Some((k, _)) = calendar {
        let at = At::of(file, k);
        if rolling {
            p.error(
                &at,
                "`calendar` is set on a rolling window",
                "calendar with isRolling: true",
                "OpenSLO v1 forbids both; remove `calendar`",
            );
        } else {
            p.error(&at, "calendar-aligned windows are not supported", "calendar window", "slogen's SLO windows roll (the last 30 days at every moment, what burn-rate alerts compare against); write `isRolling: true` without `calendar`");
        }
        return None;
    }
    if !rolling {
        let at = match items[0].get("isRolling").filter(|v| !v.is_null()) {
            Some(value) => At::of(file, value),
            None => At::start(file, &items[0]),
        };
        p.error(&at, "the time window is not rolling", "`isRolling` is false or missing", "slogen's SLO windows roll; set `isRolling: true` (OpenSLO v1 also needs `calendar` when it is false)");
        return None;
    }
    shorthand(duration?, file, "`duration`", p)
}

/// `objectives`: exactly one, with `target` or `targetPercent`, not composite.
pub(super) fn objective(file: usize, node: &Node, p: &mut Problems) -> Option<(Exact, At)> {
    let items = seq(node, file, "`objectives`", p);
    let mut out = None;
    for (n, item) in items.iter().enumerate() {
        let mut f = Fields::of(item, file, "an objective", p)?;
        f.string("displayName", p);
        let target = f.opt("target");
        let percent = f.opt("targetPercent");
        let composite = f
            .opt_entry("indicator")
            .or(f.opt_entry("indicatorRef"))
            .or(f.opt_entry("compositeWeight"));
        let slices = f
            .opt_entry("timeSliceTarget")
            .or(f.opt_entry("timeSliceWindow"));
        let op = f.opt_entry("op").or(f.opt_entry("value"));
        f.finish(p);
        if let Some((k, _)) = composite {
            p.error(
                &At::of(file, k),
                "composite objectives are not supported",
                "composite SLO",
                "slogen measures one SLI per SLO; make each part its own SLO",
            );
            continue;
        }
        if let Some((k, _)) = slices {
            p.error(
                &At::of(file, k),
                "time-slice objectives are not supported",
                "time slices",
                "slogen budgets by occurrences; remove `timeSliceTarget` and `timeSliceWindow`",
            );
            continue;
        }
        if let Some((k, _)) = op {
            p.error(
                &At::of(file, k),
                "`op` and `value` belong to threshold metrics, which are not supported",
                "threshold objective",
                "a ratio SLI's objective is its `target` alone; remove `op` and `value`",
            );
            continue;
        }
        if n > 0 {
            p.error(&At::of(file, item), "several objectives are not supported", "second objective", "slogen has one objective per SLO; make one SLO per objective (each with its own name)");
            return None;
        }
        out = match (target, percent) {
            (Some(t), None) => {
                let text = number(t, file, "`target`", p)?;
                let at = At::of(file, t);
                let ratio =
                    Exact::parse_decimal(&text).filter(|r| r.cmp_value(Exact::int(1)).is_lt());
                let Some(ratio) = ratio else {
                    p.error(
                        &at,
                        format!("target {text} is not in [0, 1)"),
                        "not a ratio below 1",
                        "write the objective as a ratio, e.g. 0.999 for 99.9%",
                    );
                    return None;
                };
                Some((ratio.mul(Exact::int(100)), at))
            }
            (None, Some(t)) => {
                let text = number(t, file, "`targetPercent`", p)?;
                let at = At::of(file, t);
                let percent =
                    Exact::parse_decimal(&text).filter(|r| r.cmp_value(Exact::int(100)).is_lt());
                let Some(percent) = percent else {
                    p.error(
                        &at,
                        format!("targetPercent {text} is not in [0, 100)"),
                        "not a percentage below 100",
                        "write the objective in percent, e.g. 99.9",
                    );
                    return None;
                };
                Some((percent, at))
            }
            (Some(_), Some(t)) => {
                p.error(
                    &At::of(file, t),
                    "`target` and `targetPercent` are both given",
                    "one too many",
                    "keep one of them",
                );
                return None;
            }
            (None, None) => {
                p.error(
                    &At::start(file, item),
                    "the objective has no `target` or `targetPercent`",
                    "no target",
                    "add `target: 0.999` (or `targetPercent: 99.9`)",
                );
                return None;
            }
        };
    }
    if items.is_empty() {
        p.error(
            &At::of(file, node),
            "`objectives` is empty",
            "no objective",
            "add one objective with a `target`",
        );
    }
    out
}
