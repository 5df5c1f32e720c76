//! The service's alert-window policy from its SLOs' burn-rate conditions, and from a spec's text.

use std::collections::BTreeMap;
use std::ops::Mul as _;

use super::super::check::Problems;
use super::super::resolve::{Group, Row};
use crate::conventions;
use crate::model::lower::BURN_RATE_WINDOWS;
use crate::model::{self, Exact, Severity};

pub(super) type RowKey = (
    Severity,
    model::Duration,
    model::Duration,
    Exact,
    model::Duration,
);

pub(super) fn rows_of(slo: &model::Slo) -> Vec<RowKey> {
    let mut out: Vec<RowKey> = slo
        .burn_rate_alerts
        .iter()
        .map(|a| {
            (
                a.severity,
                a.long,
                a.short,
                a.budget_share.mul(Exact::int(100)),
                a.for_,
            )
        })
        .collect();
    out.sort_by_key(|k| (k.0, k.1, k.2, k.4));
    out.dedup();
    out
}

pub(super) fn sorted_keys(rows: &[Row]) -> Vec<RowKey> {
    let mut out: Vec<RowKey> = rows.iter().map(Row::key).collect();
    out.sort_by_key(|k| (k.0, k.1, k.2, k.4));
    out.dedup();
    out
}

/// The service's policy from its SLOs' conditions: every SLO that has a severity's conditions has the same.
pub(super) fn policy(group: &Group<'_>, p: &mut Problems) -> Option<BTreeMap<Severity, Vec<Row>>> {
    let mut out: BTreeMap<Severity, (Vec<RowKey>, Vec<Row>, &str)> = BTreeMap::new();
    let mut ok = true;
    for d in &group.slos {
        for severity in [Severity::Page, Severity::Ticket] {
            let rows: Vec<Row> = d
                .rows
                .iter()
                .filter(|r| r.severity == severity)
                .cloned()
                .collect();
            if rows.is_empty() {
                continue;
            }
            let keys = sorted_keys(&rows);
            match out.get(&severity) {
                Some((first, _, other)) if *first != keys => {
                    let window = |n: &str| {
                        group
                            .slos
                            .iter()
                            .find(|d| d.name == n)
                            .map_or(String::new(), |d| {
                                model::Duration {
                                    seconds: d.slo.window.0,
                                }
                                .promql()
                            })
                    };
                    let (mine, theirs) = (window(&d.name), window(other));
                    let hint = if mine == theirs {
                        format!("slogen's burn-rate windows belong to the service: give every SLO of `{}` that alerts with this severity the same lookbackWindow, alertAfter and threshold", group.name)
                    } else {
                        format!("slogen's burn-rate windows belong to the service and spend a share of each SLO's budget: over windows of {mine} and {theirs} the same threshold spends different shares; give the SLOs one window, or thresholds in proportion to their windows")
                    };
                    p.error(
                        &rows[0].at,
                        format!(
                            "SLO `{}` has other {} conditions than SLO `{other}`",
                            d.name,
                            conventions::severity_name(severity)
                        ),
                        "differs",
                        hint,
                    );
                    ok = false;
                }
                Some(_) => {}
                None => {
                    let mut unique = rows.clone();
                    unique.sort_by_key(|r| (r.long, r.short, r.for_));
                    unique.dedup_by_key(|r| r.key());
                    out.insert(severity, (keys, unique, &d.name));
                }
            }
        }
    }
    ok.then(|| out.into_iter().map(|(s, (_, rows, _))| (s, rows)).collect())
}

/// The `alert_windows` rows of a spec text by severity, as tables; the default policy's when it has none.
pub(super) fn old_rows(text: &str) -> BTreeMap<Severity, Vec<toml::Table>> {
    let mut out: BTreeMap<Severity, Vec<toml::Table>> = BTreeMap::new();
    let table: toml::Table = toml::from_str(text).unwrap_or_default();
    let rows = table
        .get("service")
        .and_then(|s| s.get("alert_windows"))
        .and_then(|a| a.as_array());
    match rows {
        Some(rows) => {
            for r in rows.iter().filter_map(|r| r.as_table()) {
                let severity = match r.get("severity").and_then(|s| s.as_str()) {
                    Some("page") => Severity::Page,
                    _ => Severity::Ticket,
                };
                out.entry(severity).or_default().push(r.clone());
            }
        }
        None => {
            for r in BURN_RATE_WINDOWS {
                let mut t = toml::Table::new();
                t.insert(
                    "severity".into(),
                    conventions::severity_name(r.severity).into(),
                );
                t.insert("long".into(), r.long.promql().into());
                t.insert("short".into(), r.short.promql().into());
                let percent = r.budget_share.mul(Exact::int(100)).to_string();
                t.insert(
                    "budget_percent".into(),
                    toml::Value::Integer(percent.parse().unwrap_or(1)),
                );
                t.insert("for".into(), r.for_.promql().into());
                out.entry(r.severity).or_default().push(t);
            }
        }
    }
    out
}
