//! Exposition: the crate's own encoders for the classic Prometheus text format and OpenMetrics (the
//! prometheus-client collector is in `interop`, behind the `prometheus-client` feature).
//!
//! The own encoders exist for two reasons. prometheus-client only writes OpenMetrics, while a `/metrics`
//! endpoint must serve the classic text format by default (and `promtool check metrics` lints only that
//! format). And a generated family knows every label name and closed value up front, so the text that does
//! not change between scrapes is built once per family ([`Layout`]): the `# HELP`/`# TYPE` lines of both
//! formats and, for a family whose labels are all closed, the label text of every slot. Open label values are
//! escaped once, when interned. A scrape then mostly copies bytes and formats numbers with `itoa`/`ryu`.
//!
//! Label order: the family's labels in [`LabelSet::NAMES`](crate::LabelSet::NAMES) order, then `le` last on
//! histogram buckets (prometheus-client puts `le` first; Prometheus does not care).

use std::collections::BTreeMap;

use crate::family::AnyFamily;
use crate::label::{escape, Dimension, OpenLabel};
use crate::metric::MetricKind;

mod layout;
mod series;
pub use layout::{FamilyWriter, Layout};
use series::LeText;
pub use series::{le_value, Series};

/// Base name of the counter of recordings folded into `other`, exposed as
/// `slogen_label_values_dropped_total{label="<open label>"}`.
pub const DROPPED_METRIC: &str = "slogen_label_values_dropped";

pub(crate) const DROPPED_HELP: &str =
    "Recordings whose open label value was replaced by `other` because the label had reached its maximum number of values.";

/// Content type of [`encode_prometheus`]'s output: what a `/metrics` endpoint serves by default.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Content type of [`encode_openmetrics`]'s output, for scrapers whose `Accept` header asks for OpenMetrics.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// An exposition format, so an endpoint can pick one per request and encode with [`encode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// The classic Prometheus text format 0.0.4: the default, and what `promtool check metrics` reads.
    Prometheus,
    /// OpenMetrics 1.0 text: adds `# UNIT` and `# EOF`, and names counter families without `_total`.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` to serve this format with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => PROMETHEUS_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }

    /// The format to answer a request with `Accept: accept`: OpenMetrics when the header names
    /// `application/openmetrics-text` with a quality above zero and at least that of any range that also
    /// covers the classic format (`text/plain`, `text/*`, `*/*`); the classic format otherwise, including when
    /// the header is missing. Prometheus asks for OpenMetrics first, so it gets OpenMetrics.
    pub fn from_accept(accept: Option<&str>) -> Format {
        let mut openmetrics = 0.0_f32;
        let mut classic = 0.0_f32;
        for range in accept.unwrap_or_default().split(',') {
            let mut parameters = range.split(';');
            let media = parameters.next().unwrap_or_default().trim();
            let quality = parameters
                .filter_map(|parameter| {
                    let (name, value) = parameter.split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("q")
                        .then(|| value.trim().parse::<f32>().ok())?
                })
                .next_back()
                .unwrap_or(1.0);
            if media.eq_ignore_ascii_case("application/openmetrics-text") {
                openmetrics = openmetrics.max(quality);
            } else if ["text/plain", "text/*", "*/*"]
                .iter()
                .any(|classic_media| media.eq_ignore_ascii_case(classic_media))
            {
                classic = classic.max(quality);
            }
        }
        if openmetrics > 0.0 && openmetrics >= classic {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }
}

/// A struct of families (the generated `Metrics`), walked at every scrape.
pub trait MetricSet {
    /// Calls `visitor.family` once per family, in a fixed order so the exposition is deterministic.
    fn visit(&self, visitor: &mut dyn Visitor);
}

/// Receives each family of a [`MetricSet`], whatever its label and metric types.
pub trait Visitor {
    /// Called once per family.
    fn family(&mut self, family: &dyn AnyFamily);
}

/// Appends the current values of `metrics` to `out` in the classic Prometheus text format 0.0.4, to be
/// served with [`PROMETHEUS_CONTENT_TYPE`].
///
/// Counters are exposed as `name_total` in `# HELP`, `# TYPE` and samples, so `promtool check metrics`
/// finds nothing to report. `out` is appended to, so an endpoint can clear and reuse one buffer.
pub fn encode_prometheus<M: MetricSet + ?Sized>(metrics: &M, out: &mut Vec<u8>) {
    encode(metrics, Format::Prometheus, out);
}

/// Appends the current values of `metrics` to `out` as OpenMetrics 1.0 text ending in `# EOF`, to be served
/// with [`OPENMETRICS_CONTENT_TYPE`]. The samples are those of [`encode_prometheus`]; only the descriptors
/// differ.
pub fn encode_openmetrics<M: MetricSet + ?Sized>(metrics: &M, out: &mut Vec<u8>) {
    encode(metrics, Format::OpenMetrics, out);
}

/// Appends the current values of `metrics` to `out` in `format`, for endpoints that negotiate the format
/// with [`Format::from_accept`].
pub fn encode<M: MetricSet + ?Sized>(metrics: &M, format: Format, out: &mut Vec<u8>) {
    let mut visitor = WriteVisitor {
        writer: FamilyWriter {
            out,
            format,
            labels: Vec::new(),
            le: LeText::default(),
        },
        open: Vec::new(),
    };
    metrics.visit(&mut visitor);
    let out = visitor.writer.out;
    let dropped = dropped_counts(&visitor.open);
    if !dropped.is_empty() {
        write_header(
            out,
            format,
            DROPPED_METRIC,
            DROPPED_HELP,
            None,
            MetricKind::Counter,
        );
        for (label, count) in dropped {
            out.extend_from_slice(DROPPED_METRIC.as_bytes());
            out.extend_from_slice(b"_total{label=\"");
            out.extend_from_slice(escape(label).as_bytes());
            out.extend_from_slice(b"\"} ");
            out.extend_from_slice(itoa::Buffer::new().format(count).as_bytes());
            out.push(b'\n');
        }
    }
    if format == Format::OpenMetrics {
        out.extend_from_slice(b"# EOF\n");
    }
}

/// Adds the open labels of `family` not seen yet to `open`: the dropped counter has one series per label.
pub(crate) fn note_open_labels(open: &mut Vec<OpenLabel>, family: &dyn AnyFamily) {
    for label in family.dimensions().iter().filter_map(Dimension::open_label) {
        if !open.iter().any(|seen| seen.same(label)) {
            open.push(label.clone());
        }
    }
}

/// The dropped count per open label name, sorted by name; distinct labels sharing a name are summed.
pub(crate) fn dropped_counts(open: &[OpenLabel]) -> BTreeMap<&str, u64> {
    let mut dropped: BTreeMap<&str, u64> = BTreeMap::new();
    for label in open {
        *dropped.entry(label.name()).or_default() += label.dropped();
    }
    dropped
}

/// Writes a family's descriptor lines. The classic format names a counter family after its `_total`
/// samples (otherwise promtool reports the samples as lacking help) and has no `# UNIT`.
fn write_header(
    out: &mut Vec<u8>,
    format: Format,
    name: &str,
    help: &str,
    unit: Option<&str>,
    kind: MetricKind,
) {
    let mut family = name.to_owned();
    if let Some(unit) = unit {
        family.push('_');
        family.push_str(unit);
    }
    let exposed_len = family.len();
    if format == Format::Prometheus && matches!(kind, MetricKind::Counter) {
        family.push_str("_total");
    }
    out.extend_from_slice(b"# HELP ");
    out.extend_from_slice(family.as_bytes());
    out.push(b' ');
    for byte in help.bytes() {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'"' if format == Format::OpenMetrics => out.extend_from_slice(b"\\\""),
            other => out.push(other),
        }
    }
    out.extend_from_slice(b"\n# TYPE ");
    out.extend_from_slice(family.as_bytes());
    out.push(b' ');
    out.extend_from_slice(kind.as_str().as_bytes());
    out.push(b'\n');
    if let (Format::OpenMetrics, Some(unit)) = (format, unit) {
        out.extend_from_slice(b"# UNIT ");
        out.extend_from_slice(&family.as_bytes()[..exposed_len]);
        out.push(b' ');
        out.extend_from_slice(unit.as_bytes());
        out.push(b'\n');
    }
}

/// Writes each family with the crate's encoders and gathers the open labels for the dropped counter.
struct WriteVisitor<'a> {
    writer: FamilyWriter<'a>,
    open: Vec<OpenLabel>,
}

impl Visitor for WriteVisitor<'_> {
    fn family(&mut self, family: &dyn AnyFamily) {
        note_open_labels(&mut self.open, family);
        family.expose(&mut self.writer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Help text is escaped per format: both escape `\` and newlines; only OpenMetrics escapes quotes.
    /// [`Family::new`](crate::Family::new) still rejects `\` and newlines for prometheus-client's sake, so
    /// this goes through the header writer directly.
    #[test]
    fn help_is_escaped_per_format() {
        let help = "a \\ b\n\"c\"";
        let mut classic = Vec::new();
        write_header(
            &mut classic,
            Format::Prometheus,
            "sent",
            help,
            Some("bytes"),
            MetricKind::Counter,
        );
        assert_eq!(
            String::from_utf8(classic).unwrap(),
            "# HELP sent_bytes_total a \\\\ b\\n\"c\"\n# TYPE sent_bytes_total counter\n"
        );
        let mut openmetrics = Vec::new();
        write_header(
            &mut openmetrics,
            Format::OpenMetrics,
            "sent",
            help,
            Some("bytes"),
            MetricKind::Counter,
        );
        assert_eq!(
            String::from_utf8(openmetrics).unwrap(),
            "# HELP sent_bytes a \\\\ b\\n\\\"c\\\"\n# TYPE sent_bytes counter\n# UNIT sent_bytes bytes\n"
        );
    }
}
