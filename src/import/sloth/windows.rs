//! Sloth's alert windows: its built-in catalog and `AlertWindows` (`sloth.slok.dev/v1`) documents.
//!
//! Sloth picks the windows by SLO period (`--default-slo-period`, 30d unless set). Given `AlertWindows` files
//! (`--slo-period-windows-path`) they replace the built-in catalog, and a period missing from them is an error;
//! the importer does the same with the `AlertWindows` documents among its inputs and `--slo-period`.

use std::ops::Range;

use super::super::read::NodeExt as _;
use super::super::{AlertWindow, Problems, Sourced};
use crate::model::Duration;
use crate::yaml::Node;

/// One severity's quick and slow window pairs.
#[derive(Debug, Clone)]
pub struct Pair {
    /// Short window.
    pub short: Sourced<Duration>,
    /// Long window.
    pub long: Sourced<Duration>,
    /// Budget share in percent, as written.
    pub budget_percent: Sourced<String>,
}

/// The four window pairs of one SLO period.
#[derive(Debug, Clone)]
pub struct Windows {
    /// The SLO period they are for.
    pub period: Duration,
    /// Where they were defined (file and span), or `None` for Sloth's built-in catalog.
    pub defined_at: Option<(usize, Range<usize>)>,
    /// Page quick, page slow, ticket quick, ticket slow.
    pub pairs: [Pair; 4],
}

impl Windows {
    /// The rows of `[[service.alert_windows]]`, in Sloth's order; `for` is left out (Sloth's alerts have none).
    /// Origins point into `file` only when the windows were read from it.
    pub fn rows(&self, file: usize) -> Vec<AlertWindow> {
        let local = |o: &Option<Range<usize>>| {
            o.clone()
                .filter(|_| self.defined_at.as_ref().is_some_and(|(f, _)| *f == file))
        };
        self.pairs
            .iter()
            .zip(["page", "page", "ticket", "ticket"])
            .map(|(p, severity)| AlertWindow {
                severity,
                long: Sourced {
                    value: p.long.value.promql(),
                    origin: local(&p.long.origin),
                },
                short: Sourced {
                    value: p.short.value.promql(),
                    origin: local(&p.short.origin),
                },
                budget_percent: Sourced {
                    value: p.budget_percent.value.clone(),
                    origin: local(&p.budget_percent.origin),
                },
            })
            .collect()
    }
}

/// Sloth's built-in catalog (`internal/alert/windows/google-{30d,28d}.yaml`): the SRE workbook's windows and
/// budget shares, the same for both periods.
pub fn builtin() -> Vec<Windows> {
    let pair = |long: u64, short: u64, percent: &str| Pair {
        short: unsourced(Duration { seconds: short }),
        long: unsourced(Duration { seconds: long }),
        budget_percent: unsourced(percent.to_string()),
    };
    [30, 28]
        .into_iter()
        .map(|days| Windows {
            period: Duration {
                seconds: days * 86_400,
            },
            defined_at: None,
            pairs: [
                pair(3_600, 300, "2"),
                pair(21_600, 1_800, "5"),
                pair(86_400, 7_200, "10"),
                pair(259_200, 21_600, "10"),
            ],
        })
        .collect()
}

fn unsourced<T>(value: T) -> Sourced<T> {
    Sourced {
        value,
        origin: None,
    }
}

/// Reads the `spec` of an `AlertWindows` document.
pub fn read(file: usize, doc_key: Range<usize>, spec: &Node, p: &mut Problems) -> Option<Windows> {
    let mut f = spec.fields(p, "the AlertWindows `spec`")?;
    let period = f.take("sloPeriod");
    let page = f.take("page");
    let ticket = f.take("ticket");
    f.finish(p, &["sloPeriod", "page", "ticket"]);
    let Some(period_node) = period else {
        p.error(
            doc_key,
            "AlertWindows without `sloPeriod`",
            "no SLO period",
            "add `sloPeriod: 30d` (the SLO period these windows are for) under `spec`",
        );
        return None;
    };
    let period = duration(period_node, p, "`sloPeriod`");
    let mut pairs = Vec::new();
    for (name, node) in [("page", page), ("ticket", ticket)] {
        let Some(node) = node else {
            p.error(
                period_node.head(),
                format!("AlertWindows without `{name}` windows"),
                "incomplete",
                format!("add `{name}:` with `quick:` and `slow:` windows under `spec`"),
            );
            return None;
        };
        let mut f = node.fields(p, &format!("`{name}`"))?;
        let quick = f.take("quick");
        let slow = f.take("slow");
        f.finish(p, &["quick", "slow"]);
        for (speed, w) in [("quick", quick), ("slow", slow)] {
            match w {
                Some(w) => pairs.push(pair(w, p, &format!("`{name}.{speed}`"))),
                None => {
                    p.error(
                        node.span.start..node.span.start,
                        format!("`{name}` has no `{speed}` window"),
                        "incomplete",
                        format!(
                            "add `{speed}:` with errorBudgetPercent, shortWindow and longWindow"
                        ),
                    );
                    pairs.push(None);
                }
            }
        }
    }
    let pairs: Vec<Pair> = pairs.into_iter().collect::<Option<_>>()?;
    Some(Windows {
        period: period?,
        defined_at: Some((file, period_node.head())),
        pairs: pairs.try_into().ok()?,
    })
}

fn pair(node: &Node, p: &mut Problems, what: &str) -> Option<Pair> {
    let mut f = node.fields(p, what)?;
    let percent = f.take("errorBudgetPercent");
    let short = f.take("shortWindow");
    let long = f.take("longWindow");
    f.finish(p, &["errorBudgetPercent", "shortWindow", "longWindow"]);
    let (Some(percent), Some(short), Some(long)) = (percent, short, long) else {
        p.error(
            node.span.start..node.span.start,
            format!("{what} needs errorBudgetPercent, shortWindow and longWindow"),
            "incomplete",
            "Sloth requires all three (a zero or missing one is an error there too)",
        );
        return None;
    };
    let budget = super::number(percent, p, "`errorBudgetPercent`")?;
    Some(Pair {
        short: Sourced::at(duration(short, p, "`shortWindow`")?, short.head()),
        long: Sourced::at(duration(long, p, "`longWindow`")?, long.head()),
        budget_percent: Sourced::at(budget, percent.head()),
    })
}

/// A Prometheus duration (`5m`, `1h30m`, `1w`), whole seconds and above zero.
fn duration(node: &Node, p: &mut Problems, what: &str) -> Option<Duration> {
    let text = node.string(p, what)?;
    match prometheus_duration(&text) {
        Some(seconds) if seconds > 0 => Some(Duration { seconds }),
        _ => {
            p.error(
                node.head(),
                format!("{what} `{text}` is not a duration in whole seconds"),
                "not a duration",
                "write Prometheus durations such as `5m`, `1h`, `6h`, `3d`",
            );
            None
        }
    }
}

/// Seconds of a Prometheus duration: units `y` (365 days), `w`, `d`, `h`, `m`, `s`, `ms`, largest first, each
/// at most once; `None` when malformed or not whole seconds.
pub fn prometheus_duration(text: &str) -> Option<u64> {
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("ms", 1),
        ("m", 60_000),
        ("s", 1_000),
    ];
    let order = |unit: &str| {
        ["y", "w", "d", "h", "m", "s", "ms"]
            .iter()
            .position(|u| *u == unit)
    };
    let mut rest = text;
    let mut millis: u64 = 0;
    let mut last = None;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, scale) = UNITS.iter().find(|(u, _)| rest.starts_with(u))?;
        let at = order(unit)?;
        if last.is_some_and(|l| l >= at) {
            return None;
        }
        last = Some(at);
        millis = millis.checked_add(n.checked_mul(*scale)?)?;
        rest = &rest[unit.len()..];
    }
    (last.is_some() && millis.is_multiple_of(1000)).then_some(millis / 1000)
}

#[cfg(test)]
mod tests {
    use super::prometheus_duration;

    #[test]
    fn prometheus_durations() {
        assert_eq!(prometheus_duration("5m"), Some(300));
        assert_eq!(prometheus_duration("1h30m"), Some(5_400));
        assert_eq!(prometheus_duration("30d"), Some(2_592_000));
        assert_eq!(prometheus_duration("1w"), Some(604_800));
        assert_eq!(prometheus_duration("1y"), Some(31_536_000));
        assert_eq!(prometheus_duration("2000ms"), Some(2));
        assert_eq!(prometheus_duration("1500ms"), None);
        assert_eq!(prometheus_duration("30m1h"), None);
        assert_eq!(prometheus_duration("5"), None);
        assert_eq!(prometheus_duration(""), None);
        assert_eq!(prometheus_duration("1.5h"), None);
    }
}
