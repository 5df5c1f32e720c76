//! The SLI of an SLO in words: its kind, which events are bad and which are counted, and whether the rule
//! tests feed a query SLI.

use super::markdown::code;
use crate::model::query::{QueryFeed, WindowQuery};
use crate::model::{LabelMatch, MetricKind, Selector, Service, Sli};

/// `ratio`, `latency`, `events` or `raw`, as the spec names the SLI.
pub(super) fn sli_kind(sli: &Sli) -> &'static str {
    match sli {
        Sli::Ratio { .. } => "ratio",
        Sli::Latency { .. } => "latency",
        Sli::Events { .. } => "events",
        Sli::Raw { .. } => "raw",
    }
}

/// The SLI in a sentence: which events are bad and which are counted at all.
pub(super) fn sli_words(service: &Service, sli: &Sli) -> String {
    match sli {
        Sli::Ratio { errors, total } => format!(
            "the share of bad events among all events. Bad events are {}; all events are {}.",
            counted(service, errors),
            counted(service, total)
        ),
        Sli::Latency {
            histogram,
            threshold,
            ..
        } => {
            let metric = service.metric(&histogram.metric);
            let unit = match metric.unit.as_deref() {
                Some("seconds") => " s".to_string(),
                Some(unit) => format!(" {unit}"),
                None => String::new(),
            };
            format!(
                "the share of requests slower than {threshold}{unit} among all requests, as counted by {}.",
                counted(service, histogram)
            )
        }
        Sli::Events { errors, total, feed } => format!(
            "bad events per second over all events per second, each a PromQL query over each recorded window \
             (`<window>`, Sloth's window placeholder). Bad events: {}; all events: {}.{}",
            code(&one_line(errors)),
            code(&one_line(total)),
            untested(feed)
        ),
        Sli::Raw { error_ratio, feed } => format!(
            "the error ratio as one PromQL query over each recorded window (`<window>`, Sloth's window \
             placeholder): {}. A raw \
             SLI counts no events, so its alerts have no low-traffic guard, and its ratio over the SLO window \
             is the average of its 5-minute ratios, as Sloth records it (a 5-minute ratio of 0/0 = NaN \
             would stay in that average for the whole window: write the query so that no traffic gives no \
             sample).{}",
            code(&one_line(error_ratio)),
            untested(feed)
        ),
    }
}

/// A query on one line with `<window>` for its placeholders, for a sentence of the docs (the PromQL blocks
/// show it over 5 minutes as written).
fn one_line(query: &WindowQuery) -> String {
    query
        .shown("<window>")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// For a query SLI the rule tests cannot feed, a sentence saying so and why; empty when they feed it.
fn untested(feed: &QueryFeed) -> String {
    match feed {
        QueryFeed::Unfed(why) => format!(
            " The generated rule tests leave this SLO out: {why}, the shape whose input series they can feed."
        ),
        _ => String::new(),
    }
}

/// `` `http_requests_total` with `status` = `5xx` `` for a selector.
fn counted(service: &Service, selector: &Selector) -> String {
    let m = service.metric(&selector.metric);
    let mut text = code(&match m.kind {
        MetricKind::Histogram => m.family_name(),
        _ => m.sample_name(),
    });
    let conditions: Vec<String> = selector
        .matchers
        .iter()
        .map(|(label, m)| {
            let list = |values: &[String]| {
                values
                    .iter()
                    .map(|v| code(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            match m {
                LabelMatch::Values(values) if values.len() == 1 => {
                    format!("{} = {}", code(label), list(values))
                }
                LabelMatch::Values(values) => format!("{} in {}", code(label), list(values)),
                LabelMatch::Not(values) if values.len() == 1 => {
                    format!("{} not {}", code(label), list(values))
                }
                LabelMatch::Not(values) => format!("{} not in {}", code(label), list(values)),
                LabelMatch::Regex(re) => format!("{} matching {}", code(label), code(re)),
                LabelMatch::NotRegex(re) => {
                    format!("{} not matching {}", code(label), code(re))
                }
            }
        })
        .collect();
    if !conditions.is_empty() {
        text.push_str(" with ");
        text.push_str(&conditions.join(" and "));
    }
    text
}
