//! An `AlertPolicy` and its burn-rate `AlertCondition`.

use super::super::check::*;
use super::super::fields::{number, Fields};
use super::slo::seq;
use super::*;
use crate::yaml::Node;

/// One `alertPolicies` item: inline, `alertPolicyRef`, or `kind: AlertPolicyRef` with `targetRef`.
pub(super) fn policy_use(file: usize, node: &Node, p: &mut Problems) -> Option<Use<Policy>> {
    let mut f = Fields::of(node, file, "an alert policy", p)?;
    if let Some((name, at)) = f
        .string("alertPolicyRef", p)
        .or_else(|| f.string("targetRef", p))
    {
        f.string("kind", p);
        f.finish(p);
        return Some(Use::Ref(name, at));
    }
    let kind = f.req_string("kind", p);
    let meta = f.req("metadata", p).and_then(|m| metadata(file, m, p));
    let spec = f.req("spec", p);
    f.finish(p);
    let (kind, at) = kind?;
    if kind != "AlertPolicy" {
        p.error(&at, format!("an inline alert policy has kind `{kind}`"), "not AlertPolicy", "write `kind: AlertPolicy` with `metadata` and `spec`, or refer to one with `alertPolicyRef: <name>`");
        return None;
    }
    policy(file, meta?, spec?, p).map(Use::Inline)
}

pub(super) fn policy(file: usize, meta: Meta, spec: &Node, p: &mut Problems) -> Option<Policy> {
    let mut f = Fields::of(spec, file, "an AlertPolicy's `spec`", p)?;
    let description = description(&mut f, p).map(|d| d.0);
    f.boolean("alertWhenNoData", p);
    f.boolean("alertWhenResolved", p);
    let breaching = f.boolean("alertWhenBreaching", p);
    let conditions = f.req("conditions", p);
    let targets = f.req("notificationTargets", p);
    f.finish(p);
    let conditions = seq(conditions?, file, "`conditions`", p);
    if conditions.len() != 1 {
        p.error(
            &f_at(file, spec, "conditions"),
            format!("`conditions` has {} items", conditions.len()),
            "exactly one",
            "OpenSLO v1 takes one condition per policy; make one policy per condition",
        );
        return None;
    }
    let condition = {
        let mut f = Fields::of(&conditions[0], file, "a condition", p)?;
        if let Some((name, at)) = f.string("conditionRef", p) {
            f.finish(p);
            Use::Ref(name, at)
        } else {
            let kind = f.req_string("kind", p);
            let meta = f.req("metadata", p).and_then(|m| metadata(file, m, p));
            let spec = f.req("spec", p);
            f.finish(p);
            let (kind, at) = kind?;
            if kind != "AlertCondition" {
                p.error(
                    &at,
                    format!("an inline condition has kind `{kind}`"),
                    "not AlertCondition",
                    "write `kind: AlertCondition`, or refer to one with `conditionRef: <name>`",
                );
                return None;
            }
            Use::Inline(condition(file, meta?, spec?, p)?)
        }
    };
    let mut uses = Vec::new();
    let items = seq(targets?, file, "`notificationTargets`", p);
    if items.is_empty() {
        p.error(
            &f_at(file, spec, "notificationTargets"),
            "`notificationTargets` is empty",
            "no target",
            "OpenSLO v1 needs at least one notification target",
        );
    }
    for item in items {
        let Some(mut f) = Fields::of(item, file, "a notification target", p) else {
            continue;
        };
        if let Some((name, at)) = f.string("targetRef", p) {
            f.finish(p);
            uses.push(Use::Ref(name, at));
        } else {
            f.req_string("kind", p);
            let meta = f.req("metadata", p).and_then(|m| metadata(file, m, p));
            let spec = f.req("spec", p);
            f.finish(p);
            if let (Some(_), Some(spec)) = (meta, spec) {
                target(file, spec, p);
            }
            uses.push(Use::Inline(()));
        }
    }
    Some(Policy {
        meta,
        description,
        breaching,
        condition,
        targets: uses,
    })
}

/// Where a key of a mapping is, else the mapping.
pub(super) fn f_at(file: usize, node: &Node, key: &str) -> At {
    node.entry(key)
        .map_or_else(|| At::of(file, node), |(k, _)| At::of(file, k))
}

pub(super) fn condition(
    file: usize,
    meta: Meta,
    spec: &Node,
    p: &mut Problems,
) -> Option<Condition> {
    let mut f = Fields::of(spec, file, "an AlertCondition's `spec`", p)?;
    description(&mut f, p);
    let severity = f.req_string("severity", p);
    let c = f.req("condition", p);
    f.finish(p);
    let mut f = Fields::of(c?, file, "`condition`", p)?;
    let kind = f.req_string("kind", p);
    let op = f.req_string("op", p);
    let threshold = f.req("threshold", p);
    let lookback = f.req("lookbackWindow", p);
    let after = f.opt("alertAfter");
    f.finish(p);
    let (kind, kind_at) = kind?;
    if kind != "burnrate" {
        p.error(
            &kind_at,
            format!("unknown condition kind `{kind}`"),
            "not burnrate",
            "OpenSLO v1 conditions are `kind: burnrate`",
        );
        return None;
    }
    let (op, op_at) = op?;
    match op.as_str() {
        "gte" | "gt" => {}
        "lte" | "lt" => {
            p.error(&op_at, format!("a burn-rate condition with `op: {op}` is not supported"), "fires below the threshold", "slogen's burn-rate alerts fire when the budget burns at the threshold or faster: `op: gte`");
            return None;
        }
        _ => {
            p.error(
                &op_at,
                format!("unknown op `{op}`"),
                "not an OpenSLO v1 operator",
                "OpenSLO v1 operators are gt, lt, gte, lte; burn-rate alerts use gte",
            );
            return None;
        }
    }
    let threshold = threshold?;
    let text = number(threshold, file, "`threshold`", p)?;
    let threshold_at = At::of(file, threshold);
    if text.parse::<f64>().is_ok_and(|t| t <= 0.0) {
        p.error(
            &threshold_at,
            format!("burn-rate threshold {text} is not above 0"),
            "not a burn rate",
            "write the burn rate that fires the alert, e.g. 14.4",
        );
        return None;
    }
    let lookback = shorthand(lookback?, file, "`lookbackWindow`", p)?;
    let alert_after = match after {
        Some(a) => shorthand(a, file, "`alertAfter`", p)?,
        None => (0, At::of(file, c?)),
    };
    Some(Condition {
        meta,
        severity: severity?,
        threshold: (text, threshold_at),
        lookback,
        alert_after,
    })
}
