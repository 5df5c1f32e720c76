//! An `SLI`: its `ratioMetric` and the Prometheus queries of its metric sources.

use super::super::check::*;
use super::super::fields::{scalar, Fields};
use super::*;
use crate::yaml::Node;

/// An SLI spec.
pub(super) fn sli(file: usize, meta: Meta, spec: &Node, p: &mut Problems) -> Option<Sli> {
    let mut f = Fields::of(spec, file, "an SLI's `spec`", p)?;
    let description = description(&mut f, p).map(|d| d.0);
    let threshold = f.opt_entry("thresholdMetric");
    let ratio = f.opt("ratioMetric");
    f.finish(p);
    if let Some((k, _)) = threshold {
        p.error(&At::of(file, k), "threshold metrics are not supported", "thresholdMetric", "slogen's SLIs count good and bad events; write the SLI as a `ratioMetric` with `bad` (or `good`) and `total` queries, e.g. requests slower than the threshold over all requests from a histogram");
        return None;
    }
    let Some(ratio) = ratio else {
        p.error(
            &At::start(file, spec),
            "the SLI has no `ratioMetric`",
            "no metric",
            "add a `ratioMetric` with `bad` (or `good`) and `total` Prometheus queries",
        );
        return None;
    };
    let mut f = Fields::of(ratio, file, "`ratioMetric`", p)?;
    let counter = f.boolean("counter", p);
    let good = f.opt("good");
    let bad = f.opt("bad");
    let total = f.opt("total");
    let raw_type = f.string("rawType", p);
    let raw = f.opt("raw");
    f.finish(p);
    let metric = match (raw, total) {
        (Some(raw), None) if good.is_none() && bad.is_none() => {
            let raw = metric_source(file, raw, p)?;
            let failure = match raw_type {
                Some((t, _)) if t == "failure" => true,
                Some((t, _)) if t == "success" => false,
                Some((t, at)) => {
                    p.error(
                        &at,
                        format!("unknown rawType `{t}`"),
                        "not success or failure",
                        "OpenSLO v1 has `success` (good/total) and `failure` (bad/total)",
                    );
                    return None;
                }
                None => {
                    p.error(&At::start(file, ratio), "`raw` needs `rawType`", "rawType missing", "add `rawType: failure` for an error ratio or `rawType: success` for a success ratio");
                    return None;
                }
            };
            Ratio::Raw { failure, raw }
        }
        (None, Some(total)) => {
            if good.is_some() == bad.is_some() {
                p.error(
                    &At::start(file, ratio),
                    "`ratioMetric` needs exactly one of `good` and `bad`",
                    "good or bad",
                    "keep `bad` (or `good`) beside `total`",
                );
                return None;
            }
            if let Some((_, at)) = raw_type {
                p.error(
                    &at,
                    "`rawType` goes with `raw` only",
                    "not with total",
                    "remove `rawType`",
                );
            }
            let good = good.and_then(|n| metric_source(file, n, p));
            let bad = bad.and_then(|n| metric_source(file, n, p));
            Ratio::Events {
                counter,
                good,
                bad,
                total: metric_source(file, total, p)?,
            }
        }
        _ => {
            p.error(
                &At::start(file, ratio),
                "`ratioMetric` needs `total` with `good` or `bad`, or `raw` alone",
                "no usable ratio",
                "write `bad` and `total` queries (or `raw` with `rawType`)",
            );
            return None;
        }
    };
    Some(Sli {
        meta,
        description,
        metric,
    })
}

/// `{metricSource: {metricSourceRef?, type?, spec: {query}}}`.
pub(super) fn metric_source(file: usize, node: &Node, p: &mut Problems) -> Option<Query> {
    let mut f = Fields::of(node, file, "a metric", p)?;
    let source = f.req("metricSource", p);
    f.finish(p);
    let mut f = Fields::of(source?, file, "`metricSource`", p)?;
    let source_ref = f.string("metricSourceRef", p);
    let kind = f.string("type", p);
    let spec = f.req("spec", p);
    f.finish(p);
    if let Some((r, at)) = &source_ref {
        if !is_dns_label(r) {
            p.error(
                at,
                format!("invalid metricSourceRef `{r}`"),
                "not an RFC 1123 label",
                "name a DataSource by its `metadata.name`",
            );
        }
    }
    let spec = spec?;
    let Some(query) = spec.get("query") else {
        p.error(
            &At::start(file, spec),
            "the metric source has no `query`",
            "no query",
            "slogen reads Prometheus sources: put the PromQL in `spec.query`",
        );
        return None;
    };
    let text = scalar(query, file, "`query`", p)?;
    Some(Query {
        kind,
        source_ref,
        query: text,
        at: At::of(file, query),
    })
}
