//! [`Family`]: one preallocated metric per label combination, and its exposition.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

#[cfg(feature = "prometheus-client")]
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabel, EncodeLabelSet, EncodeLabelValue, LabelSetEncoder,
    LabelValueEncoder,
};
#[cfg(feature = "prometheus-client")]
use prometheus_client::registry::Unit;

use crate::expose::{FamilyWriter, Layout};
use crate::label::{Dimension, LabelSet, LabelText, NoLabels, Slot};
use crate::metric::Metric;

/// A metric with labels: one `M` per combination of label values, allocated up front.
///
/// See the crate documentation for the slot layout and the exposition rules.
pub struct Family<L, M> {
    name: &'static str,
    help: &'static str,
    unit: Option<&'static str>,
    dimensions: Vec<Dimension>,
    has_open: bool,
    slots: Box<[Entry<M>]>,
    labels: PhantomData<fn() -> L>,
    /// The exposition text that never changes, built by the first
    /// [`encode_prometheus`](crate::encode_prometheus) or [`encode_openmetrics`](crate::encode_openmetrics),
    /// so a family never scraped that way pays nothing.
    layout: OnceLock<Layout>,
}

/// A metric and whether it was ever recorded into; the flag sits next to the metric so checking it costs
/// no extra cache miss.
struct Entry<M> {
    metric: M,
    touched: AtomicBool,
}

impl<M> Entry<M> {
    /// Marks the slot as recorded into. The common case is a plain load; the `Release` store, done once per
    /// slot, publishes the interned label values to the scrape that `Acquire`s the flag.
    #[inline]
    fn touch(&self) {
        if !self.touched.load(Ordering::Relaxed) {
            self.touched.store(true, Ordering::Release);
        }
    }
}

impl<L: LabelSet, M> Family<L, M> {
    /// Creates the family `name` (the base name: no unit, no `_total`), allocating one metric per slot
    /// with `new_metric`.
    ///
    /// `unit` is appended to the exposed name (`http_request_duration` + `seconds`); `help` is exposed as is.
    ///
    /// # Panics
    ///
    /// If `dimensions` does not match `L::NAMES` (count, or an open label's name), if `help` contains a
    /// newline or a backslash (prometheus-client writes it unescaped), or if the slot count overflows `usize`.
    /// These are bugs in the generated code, so they fail at startup rather than corrupt every scrape.
    pub fn new(
        name: &'static str,
        help: &'static str,
        unit: Option<&'static str>,
        dimensions: Vec<Dimension>,
        mut new_metric: impl FnMut() -> M,
    ) -> Self {
        assert_eq!(
            dimensions.len(),
            L::NAMES.len(),
            "family `{name}`: {} dimensions for labels {:?}",
            dimensions.len(),
            L::NAMES
        );
        for (dimension, label) in dimensions.iter().zip(L::NAMES) {
            if let Some(open) = dimension.open_label() {
                assert_eq!(
                    open.name(),
                    *label,
                    "family `{name}`: open label `{}` used as `{label}`",
                    open.name()
                );
            }
        }
        assert!(
            !help.contains(['\n', '\\']),
            "family `{name}`: help text must not contain newlines or backslashes"
        );
        let slot_count = dimensions
            .iter()
            .try_fold(1usize, |count, dimension| {
                count.checked_mul(dimension.cardinality())
            })
            .unwrap_or_else(|| {
                panic!("family `{name}`: the number of label combinations overflows usize")
            });
        Family {
            name,
            help,
            unit,
            has_open: dimensions
                .iter()
                .any(|dimension| dimension.open_label().is_some()),
            dimensions,
            slots: (0..slot_count)
                .map(|_| Entry {
                    metric: new_metric(),
                    touched: AtomicBool::new(false),
                })
                .collect(),
            labels: PhantomData,
            layout: OnceLock::new(),
        }
    }

    /// The metric for `labels`. Closed labels cost arithmetic only; an open label costs one read-locked
    /// lookup in its interner.
    #[inline]
    pub fn with(&self, labels: &L::Borrowed<'_>) -> &M {
        let mut slot = Slot::new(&self.dimensions);
        L::slot(labels, &mut slot);
        let entry = &self.slots[slot.finish()];
        entry.touch();
        &entry.metric
    }
}

/// A metric without labels is used directly: `metrics.in_flight.inc()`.
impl<M> Deref for Family<NoLabels, M> {
    type Target = M;

    #[inline]
    fn deref(&self) -> &M {
        self.with(&NoLabels)
    }
}

impl<L, M> fmt::Debug for Family<L, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Family")
            .field("name", &self.name)
            .field("unit", &self.unit)
            .field("dimensions", &self.dimensions)
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

/// A family seen without its label and metric types, so a [`Visitor`](crate::Visitor) can take any of them.
pub trait AnyFamily: Send + Sync {
    /// The base name given to [`Family::new`].
    fn name(&self) -> &str;

    /// The family's labels, in exposition order.
    fn dimensions(&self) -> &[Dimension];

    /// Writes the family's descriptor and exposed series with prometheus-client's encoder.
    #[cfg(feature = "prometheus-client")]
    fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> fmt::Result;

    /// A detached copy of the current values, for encoding a metric set that is only borrowed.
    #[cfg(feature = "prometheus-client")]
    fn snapshot(&self) -> Box<dyn AnyFamily>;

    /// Writes the family's descriptor and exposed series with the crate's own encoders.
    fn expose(&self, writer: &mut FamilyWriter<'_>);
}

impl<L: LabelSet + 'static, M: Metric> AnyFamily for Family<L, M> {
    fn name(&self) -> &str {
        self.name
    }

    fn dimensions(&self) -> &[Dimension] {
        &self.dimensions
    }

    #[cfg(feature = "prometheus-client")]
    fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> fmt::Result {
        let unit = self.unit.map(|unit| Unit::Other(unit.to_owned()));
        let mut encoder =
            encoder.encode_descriptor(self.name, self.help, unit.as_ref(), M::TYPE)?;
        if self.dimensions.is_empty() {
            // A single unlabelled series; going through `encode_family` would print an empty `{}`.
            return self.slots[0].metric.encode(encoder);
        }
        let mut values = Vec::with_capacity(self.dimensions.len());
        for (index, entry) in self.slots.iter().enumerate() {
            if self.has_open && !entry.touched.load(Ordering::Acquire) {
                continue;
            }
            self.decode(index, &mut values);
            let labels = SeriesLabels {
                names: L::NAMES,
                values: &values,
            };
            entry.metric.encode(encoder.encode_family(&labels)?)?;
        }
        Ok(())
    }

    #[cfg(feature = "prometheus-client")]
    fn snapshot(&self) -> Box<dyn AnyFamily> {
        Box::new(Family::<L, M> {
            name: self.name,
            help: self.help,
            unit: self.unit,
            dimensions: self.dimensions.clone(),
            has_open: self.has_open,
            slots: self
                .slots
                .iter()
                .map(|entry| Entry {
                    metric: entry.metric.snapshot(),
                    touched: AtomicBool::new(entry.touched.load(Ordering::Acquire)),
                })
                .collect(),
            labels: PhantomData,
            layout: OnceLock::new(),
        })
    }

    fn expose(&self, writer: &mut FamilyWriter<'_>) {
        let layout = self.layout.get_or_init(|| {
            Layout::new(
                self.name,
                self.help,
                self.unit,
                M::KIND,
                L::NAMES,
                &self.dimensions,
            )
        });
        let has_open = self.has_open;
        writer.family(
            layout,
            self.slots
                .iter()
                .enumerate()
                .filter(|(_, entry)| !has_open || entry.touched.load(Ordering::Acquire))
                .map(|(index, entry)| (index, &entry.metric)),
        );
    }
}

impl<L, M> Family<L, M> {
    /// Calls `f` with the label values (in [`LabelSet::NAMES`] order) and the metric of every exposed series:
    /// every slot when all labels are closed, the recorded ones otherwise. For digests a service computes
    /// from live values, such as the development summary; allocates, so keep it off recording paths.
    pub fn for_each(&self, mut f: impl FnMut(&[&str], &M)) {
        let mut values = Vec::with_capacity(self.dimensions.len());
        for (index, entry) in self.slots.iter().enumerate() {
            if self.has_open && !entry.touched.load(Ordering::Acquire) {
                continue;
            }
            self.decode(index, &mut values);
            let labels: Vec<&str> = values.iter().map(LabelText::as_str).collect();
            f(&labels, &entry.metric);
        }
    }

    /// Splits a slot index back into one label value per dimension (the inverse of [`Slot`]).
    fn decode(&self, mut index: usize, values: &mut Vec<LabelText>) {
        values.clear();
        for dimension in self.dimensions.iter().rev() {
            let cardinality = dimension.cardinality();
            values.push(dimension.value(index % cardinality));
            index /= cardinality;
        }
        values.reverse();
    }
}

/// The labels of one series, written in [`LabelSet::NAMES`] order.
#[cfg(feature = "prometheus-client")]
struct SeriesLabels<'a> {
    names: &'static [&'static str],
    values: &'a [LabelText],
}

#[cfg(feature = "prometheus-client")]
impl EncodeLabelSet for SeriesLabels<'_> {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> fmt::Result {
        for (name, value) in self.names.iter().zip(self.values) {
            (*name, Escaped(value.as_str())).encode(encoder.encode_label())?;
        }
        Ok(())
    }
}

/// A label value escaped as both exposition formats require (`\\`, `\"`, `\n`); prometheus-client writes
/// label values verbatim, and open label values come from requests.
#[cfg(feature = "prometheus-client")]
pub(crate) struct Escaped<'a>(pub(crate) &'a str);

#[cfg(feature = "prometheus-client")]
impl EncodeLabelValue for Escaped<'_> {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> fmt::Result {
        use fmt::Write;
        let mut rest = self.0;
        while let Some(at) = rest.find(['\\', '"', '\n']) {
            encoder.write_str(&rest[..at])?;
            encoder.write_str(match rest.as_bytes()[at] {
                b'\\' => "\\\\",
                b'"' => "\\\"",
                _ => "\\n",
            })?;
            rest = &rest[at + 1..];
        }
        encoder.write_str(rest)
    }
}
