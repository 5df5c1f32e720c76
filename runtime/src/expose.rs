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
use std::io::Write as _;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::family::AnyFamily;
use crate::label::{escape, Dimension, OpenLabel};
use crate::metric::{Metric, MetricKind};

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

/// The exposition text of a family that does not change between scrapes, built on its first scrape.
#[derive(Debug)]
pub struct Layout {
    /// The sample name: the base name, plus `_unit` when the family has a unit.
    name: Box<[u8]>,
    prometheus_header: Box<[u8]>,
    openmetrics_header: Box<[u8]>,
    parts: Box<[Part]>,
    /// For a family whose labels are all closed (at least one): every slot's label text, back to back.
    slots: Option<SlotTable>,
}

/// One label of a family, ready to write.
#[derive(Debug)]
struct Part {
    /// The product of the cardinalities of the labels after this one: slot index / stride % cardinality is
    /// this label's value id.
    stride: usize,
    cardinality: usize,
    text: PartText,
}

#[derive(Debug)]
enum PartText {
    /// `name="value"` per value id.
    Closed(Box<[Box<[u8]>]>),
    /// `name="`, followed at scrape time by the interned, already escaped value.
    Open { prefix: Box<[u8]>, label: OpenLabel },
}

/// Label text (`a="x",b="y"`) of every slot, concatenated; slot `i` ends at `ends[i]`.
#[derive(Debug)]
struct SlotTable {
    text: Box<[u8]>,
    ends: Box<[usize]>,
}

impl SlotTable {
    fn get(&self, index: usize) -> &[u8] {
        let start = index.checked_sub(1).map_or(0, |before| self.ends[before]);
        &self.text[start..self.ends[index]]
    }
}

impl Layout {
    /// Builds the text of the family `name` (base name, as given to [`Family::new`](crate::Family::new)),
    /// whose labels are `names` with values from `dimensions`.
    pub(crate) fn new(
        name: &str,
        help: &str,
        unit: Option<&str>,
        kind: MetricKind,
        names: &[&str],
        dimensions: &[Dimension],
    ) -> Self {
        let mut prometheus_header = Vec::new();
        write_header(
            &mut prometheus_header,
            Format::Prometheus,
            name,
            help,
            unit,
            kind,
        );
        let mut openmetrics_header = Vec::new();
        write_header(
            &mut openmetrics_header,
            Format::OpenMetrics,
            name,
            help,
            unit,
            kind,
        );
        let mut exposed = name.to_owned();
        if let Some(unit) = unit {
            exposed.push('_');
            exposed.push_str(unit);
        }
        let mut stride = 1;
        let mut parts: Vec<Part> = dimensions
            .iter()
            .zip(names)
            .rev()
            .map(|(dimension, label)| {
                let cardinality = dimension.cardinality();
                let prefix = format!("{label}=\"").into_bytes().into_boxed_slice();
                let text = match dimension.open_label() {
                    Some(open) => PartText::Open {
                        prefix,
                        label: open.clone(),
                    },
                    None => PartText::Closed(
                        (0..cardinality)
                            .map(|id| {
                                let value = dimension.value(id);
                                let mut text = prefix.to_vec();
                                text.extend_from_slice(escape(value.as_str()).as_bytes());
                                text.push(b'"');
                                text.into_boxed_slice()
                            })
                            .collect(),
                    ),
                };
                let part = Part {
                    stride,
                    cardinality,
                    text,
                };
                stride = stride.saturating_mul(cardinality);
                part
            })
            .collect();
        parts.reverse();
        let mut layout = Layout {
            name: exposed.into_bytes().into_boxed_slice(),
            prometheus_header: prometheus_header.into_boxed_slice(),
            openmetrics_header: openmetrics_header.into_boxed_slice(),
            parts: parts.into_boxed_slice(),
            slots: None,
        };
        let all_closed = dimensions
            .iter()
            .all(|dimension| dimension.open_label().is_none());
        if all_closed && !dimensions.is_empty() {
            let mut text = Vec::new();
            let ends = (0..stride)
                .map(|index| {
                    layout.write_labels(index, &mut text);
                    text.len()
                })
                .collect();
            layout.slots = Some(SlotTable {
                text: text.into_boxed_slice(),
                ends,
            });
        }
        layout
    }

    fn header(&self, format: Format) -> &[u8] {
        match format {
            Format::Prometheus => &self.prometheus_header,
            Format::OpenMetrics => &self.openmetrics_header,
        }
    }

    /// Appends the label text of slot `index` (no braces), decoding it label by label.
    fn write_labels(&self, index: usize, out: &mut Vec<u8>) {
        for (position, part) in self.parts.iter().enumerate() {
            if position > 0 {
                out.push(b',');
            }
            let id = index / part.stride % part.cardinality;
            match &part.text {
                PartText::Closed(values) => out.extend_from_slice(&values[id]),
                PartText::Open { prefix, label } => {
                    out.extend_from_slice(prefix);
                    label.write_escaped(id, out);
                    out.push(b'"');
                }
            }
        }
    }
}

/// Writes families for [`encode`]: the output buffer, the format, and scratch space reused across series.
#[derive(Debug)]
pub struct FamilyWriter<'a> {
    out: &'a mut Vec<u8>,
    format: Format,
    /// The current series' label text when the family has no [`SlotTable`].
    labels: Vec<u8>,
    le: LeText,
}

impl FamilyWriter<'_> {
    /// Writes the family described by `layout`: its descriptor, then the samples of each `(slot, metric)`.
    pub(crate) fn family<'m, M: Metric>(
        &mut self,
        layout: &Layout,
        series: impl Iterator<Item = (usize, &'m M)>,
    ) {
        let FamilyWriter {
            out,
            format,
            labels,
            le,
        } = self;
        out.extend_from_slice(layout.header(*format));
        for (index, metric) in series {
            let labels: &[u8] = match &layout.slots {
                Some(table) => table.get(index),
                None => {
                    labels.clear();
                    layout.write_labels(index, labels);
                    labels
                }
            };
            metric.write_samples(&mut Series {
                out,
                name: &layout.name,
                labels,
                le,
            });
        }
    }
}

/// The `le="..."}` text of the buckets of the last histogram written, so a family formats its bounds once
/// per scrape; the generated code shares one bounds array per family.
#[derive(Debug, Default)]
struct LeText {
    bounds: Option<&'static [f64]>,
    text: Vec<u8>,
    ends: Vec<usize>,
}

impl LeText {
    /// Makes the text match `bounds`: each bound as [`le_value`] spells it, then `+Inf`.
    fn update(&mut self, bounds: &'static [f64]) {
        if self.bounds.is_some_and(|known| ptr::eq(known, bounds)) {
            return;
        }
        self.text.clear();
        self.ends.clear();
        for bound in bounds {
            write!(self.text, "le=\"{}\"}} ", le_value(*bound))
                .expect("writing to a Vec cannot fail");
            self.ends.push(self.text.len());
        }
        self.text.extend_from_slice(b"le=\"+Inf\"} ");
        self.ends.push(self.text.len());
        self.bounds = Some(bounds);
    }

    fn get(&self, bucket: usize) -> &[u8] {
        let start = bucket.checked_sub(1).map_or(0, |before| self.ends[before]);
        &self.text[start..self.ends[bucket]]
    }
}

/// One series being written: the sample name and label text, and where to write. A [`Metric`] calls the
/// method for its kind.
#[derive(Debug)]
pub struct Series<'a> {
    out: &'a mut Vec<u8>,
    name: &'a [u8],
    /// `a="x",b="y"`, without braces; empty for an unlabelled family.
    labels: &'a [u8],
    le: &'a mut LeText,
}

impl Series<'_> {
    /// `name_total{labels} value`.
    pub(crate) fn counter(&mut self, value: u64) {
        self.start(b"_total");
        self.out
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        self.out.push(b'\n');
    }

    /// `name{labels} value`.
    pub(crate) fn gauge(&mut self, value: i64) {
        self.start(b"");
        self.out
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        self.out.push(b'\n');
    }

    /// The cumulative `_bucket` lines (`le` last), then `_sum` and `_count`; `buckets` holds the
    /// non-cumulative counts of each bound and of `+Inf`, so `_count` always equals the `+Inf` bucket.
    pub(crate) fn histogram(&mut self, bounds: &'static [f64], buckets: &[AtomicU64], sum: f64) {
        self.le.update(bounds);
        let mut total = 0_u64;
        for (index, bucket) in buckets.iter().enumerate() {
            total += bucket.load(Relaxed);
            self.out.extend_from_slice(self.name);
            self.out.extend_from_slice(b"_bucket{");
            if !self.labels.is_empty() {
                self.out.extend_from_slice(self.labels);
                self.out.push(b',');
            }
            self.out.extend_from_slice(self.le.get(index));
            self.out
                .extend_from_slice(itoa::Buffer::new().format(total).as_bytes());
            self.out.push(b'\n');
        }
        self.start(b"_sum");
        write_float(self.out, sum);
        self.out.push(b'\n');
        self.start(b"_count");
        self.out
            .extend_from_slice(itoa::Buffer::new().format(total).as_bytes());
        self.out.push(b'\n');
    }

    /// Writes `name<suffix>{labels} `, up to the value.
    fn start(&mut self, suffix: &[u8]) {
        self.out.extend_from_slice(self.name);
        self.out.extend_from_slice(suffix);
        if !self.labels.is_empty() {
            self.out.push(b'{');
            self.out.extend_from_slice(self.labels);
            self.out.push(b'}');
        }
        self.out.push(b' ');
    }
}

/// A bucket bound as Prometheus 3 normalises `le` on ingestion: Go's `strconv.FormatFloat(f, 'g', -1, 64)`
/// (shortest digits; exponent form, at least two exponent digits, when the decimal exponent is below -4 or
/// at least 6), plus `.0` when that has no `.` or `e`. Exposing the normalised text means the series a rule or a
/// dashboard selects with `le="1.0"` is the one Prometheus stored, whichever version scrapes it.
pub fn le_value(bound: f64) -> String {
    if bound.is_nan() {
        return "NaN".into();
    }
    if bound.is_infinite() {
        return if bound > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    // `{:e}` gives the shortest digits that parse back, as Go's `-1` precision does: `d.ddde-5`.
    let scientific = format!("{bound:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` always writes an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` writes an integer exponent");
    let mut text = if (-4..6).contains(&exponent) {
        format!("{bound}")
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    };
    if !text.contains(['.', 'e']) {
        text.push_str(".0");
    }
    text
}

/// A sample value: the shortest text that parses back to `value`, and the spellings both formats use for
/// the values Rust has no literal for.
fn write_float(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(value).as_bytes());
    } else if value.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if value > 0.0 {
        out.extend_from_slice(b"+Inf");
    } else {
        out.extend_from_slice(b"-Inf");
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
