//! prometheus-client interop (feature `prometheus-client`): a collector for services that already scrape a
//! prometheus-client registry, and that crate's encoder as the reference the own encoders are tested against.

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::expose::{dropped_counts, note_open_labels, DROPPED_HELP};
use crate::family::{AnyFamily, Escaped};
use crate::label::OpenLabel;
use crate::{MetricSet, Visitor, DROPPED_METRIC};

/// Registers `metrics` with `registry`, which encodes their current values at every scrape.
///
/// The exposition is OpenMetrics text: serve it with the content type
/// `application/openmetrics-text; version=1.0.0; charset=utf-8`.
pub fn register<M: MetricSet + Send + Sync + 'static>(registry: &mut Registry, metrics: Arc<M>) {
    registry.register_collector(Box::new(SetCollector(metrics)));
}

/// Renders `metrics` as OpenMetrics text (ending in `# EOF`) with prometheus-client's encoder, the reference
/// the crate's own encoders are tested against.
///
/// prometheus-client only encodes `'static` collectors, so this copies the current values first; a scrape
/// endpoint should use [`encode_prometheus`](crate::encode_prometheus) or [`register`] the shared set instead.
pub fn encode_text<M: MetricSet + ?Sized>(metrics: &M) -> String {
    let mut frozen = Frozen(Vec::new());
    metrics.visit(&mut frozen);
    let mut registry = Registry::default();
    register(&mut registry, Arc::new(frozen));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)
        .expect("encoding into a String cannot fail");
    text
}

/// The prometheus-client [`Collector`] for a shared metric set.
struct SetCollector<M>(Arc<M>);

impl<M> fmt::Debug for SetCollector<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetCollector").finish_non_exhaustive()
    }
}

impl<M: MetricSet + Send + Sync + 'static> Collector for SetCollector<M> {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let mut visitor = EncodeVisitor {
            encoder: &mut encoder,
            open: Vec::new(),
            result: Ok(()),
        };
        self.0.visit(&mut visitor);
        visitor.result?;
        encode_dropped(&visitor.open, &mut encoder)
    }
}

/// Encodes each family and gathers the distinct open labels they use.
struct EncodeVisitor<'e, 'w> {
    encoder: &'e mut DescriptorEncoder<'w>,
    open: Vec<OpenLabel>,
    result: fmt::Result,
}

impl Visitor for EncodeVisitor<'_, '_> {
    fn family(&mut self, family: &dyn AnyFamily) {
        note_open_labels(&mut self.open, family);
        if self.result.is_ok() {
            self.result = family.encode(self.encoder);
        }
    }
}

/// One `slogen_label_values_dropped_total` series per open label name, sorted by name; omitted entirely
/// when the set has no open label.
fn encode_dropped(open: &[OpenLabel], encoder: &mut DescriptorEncoder<'_>) -> fmt::Result {
    let dropped = dropped_counts(open);
    if dropped.is_empty() {
        return Ok(());
    }
    let mut encoder =
        encoder.encode_descriptor(DROPPED_METRIC, DROPPED_HELP, None, MetricType::Counter)?;
    for (name, count) in dropped {
        let labels = [("label", Escaped(name))];
        encoder
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, u64>(&count, None)?;
    }
    Ok(())
}

/// Copies of a borrowed set's families: collected as a [`Visitor`], then encoded as a [`MetricSet`].
struct Frozen(Vec<Box<dyn AnyFamily>>);

impl Visitor for Frozen {
    fn family(&mut self, family: &dyn AnyFamily) {
        self.0.push(family.snapshot());
    }
}

impl MetricSet for Frozen {
    fn visit(&self, visitor: &mut dyn Visitor) {
        for family in &self.0 {
            visitor.family(family.as_ref());
        }
    }
}
