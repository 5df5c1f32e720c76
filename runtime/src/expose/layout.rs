//! [`Layout`]: the text of a family that never changes between scrapes, and [`FamilyWriter`], which writes
//! a family's samples with it.

use super::series::{LeText, Series};
use super::{write_header, Format};
use crate::label::{escape, Dimension, OpenLabel};
use crate::metric::{Metric, MetricKind};

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
    pub(super) out: &'a mut Vec<u8>,
    pub(super) format: Format,
    /// The current series' label text when the family has no [`SlotTable`].
    pub(super) labels: Vec<u8>,
    pub(super) le: LeText,
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
