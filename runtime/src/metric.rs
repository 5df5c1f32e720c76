//! The three metric kinds a family can hold. All updates are single `Relaxed` atomics (a CAS loop for the
//! histogram sum): metrics are independent counters, so no update needs to order anything else.

#[cfg(feature = "prometheus-client")]
use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

#[cfg(feature = "prometheus-client")]
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
#[cfg(feature = "prometheus-client")]
use prometheus_client::metrics::{MetricType, TypedMetric};

use crate::expose::Series;

/// The exposition type of a metric, as `# TYPE` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// `counter`.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram`.
    Histogram,
}

impl MetricKind {
    /// The `# TYPE` keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// What a [`Metric`] must also implement: with the `prometheus-client` feature, that crate's encoding
/// traits (so [`register`](crate::register) can encode it); without it, nothing.
#[cfg(feature = "prometheus-client")]
pub trait Interop: EncodeMetric + TypedMetric {}
#[cfg(feature = "prometheus-client")]
impl<T: EncodeMetric + TypedMetric> Interop for T {}

/// What a [`Metric`] must also implement: with the `prometheus-client` feature, that crate's encoding
/// traits (so `register` can encode it); without it, nothing.
#[cfg(not(feature = "prometheus-client"))]
pub trait Interop {}
#[cfg(not(feature = "prometheus-client"))]
impl<T> Interop for T {}

/// A metric kind that a [`Family`](crate::Family) can expose.
///
/// `write_samples` feeds the crate's own encoders ([`encode_prometheus`](crate::encode_prometheus),
/// [`encode_openmetrics`](crate::encode_openmetrics)). With the `prometheus-client` feature, that crate's
/// traits serve `register` and `encode_text`, and `snapshot` copies a borrowed metric set into the
/// `'static` collector prometheus-client requires.
pub trait Metric: Interop + Send + Sync + 'static {
    /// The `# TYPE` of this metric.
    const KIND: MetricKind;

    /// A detached copy of the current value.
    #[cfg(feature = "prometheus-client")]
    fn snapshot(&self) -> Self;

    /// Writes this metric's sample lines for one series; the series carries the name and label text.
    fn write_samples(&self, series: &mut Series<'_>);
}

/// A monotonically increasing count, such as requests handled.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Counts one event.
    #[inline]
    pub fn inc(&self) {
        self.0.fetch_add(1, Relaxed);
    }

    /// Counts `n` events at once, e.g. bytes written.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }

    /// The current count, for tests and for exposition.
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

#[cfg(feature = "prometheus-client")]
impl TypedMetric for Counter {
    const TYPE: MetricType = MetricType::Counter;
}

#[cfg(feature = "prometheus-client")]
impl EncodeMetric for Counter {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        encoder.encode_counter::<NoLabelSet, _, u64>(&self.get(), None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

impl Metric for Counter {
    const KIND: MetricKind = MetricKind::Counter;

    #[cfg(feature = "prometheus-client")]
    fn snapshot(&self) -> Self {
        Counter(AtomicU64::new(self.get()))
    }

    fn write_samples(&self, series: &mut Series<'_>) {
        series.counter(self.get());
    }
}

/// A value that goes up and down, such as requests in flight.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// Adds one, e.g. when a request starts.
    #[inline]
    pub fn inc(&self) {
        self.0.fetch_add(1, Relaxed);
    }

    /// Subtracts one, e.g. when a request ends.
    #[inline]
    pub fn dec(&self) {
        self.0.fetch_sub(1, Relaxed);
    }

    /// Replaces the value, for levels measured elsewhere (queue length, pool size).
    #[inline]
    pub fn set(&self, value: i64) {
        self.0.store(value, Relaxed);
    }

    /// Adds `delta` in one atomic step.
    #[inline]
    pub fn add(&self, delta: i64) {
        self.0.fetch_add(delta, Relaxed);
    }

    /// Subtracts `delta` in one atomic step.
    #[inline]
    pub fn sub(&self, delta: i64) {
        self.0.fetch_sub(delta, Relaxed);
    }

    /// The current value, for tests and for exposition.
    pub fn get(&self) -> i64 {
        self.0.load(Relaxed)
    }
}

#[cfg(feature = "prometheus-client")]
impl TypedMetric for Gauge {
    const TYPE: MetricType = MetricType::Gauge;
}

#[cfg(feature = "prometheus-client")]
impl EncodeMetric for Gauge {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        encoder.encode_gauge(&self.get())
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

impl Metric for Gauge {
    const KIND: MetricKind = MetricKind::Gauge;

    #[cfg(feature = "prometheus-client")]
    fn snapshot(&self) -> Self {
        Gauge(AtomicI64::new(self.get()))
    }

    fn write_samples(&self, series: &mut Series<'_>) {
        series.gauge(self.get());
    }
}

/// A distribution of observations (latencies, sizes) over fixed buckets.
///
/// Bucket counts are stored non-cumulatively, so an observation touches exactly one bucket; the total
/// count is derived from the buckets rather than kept in its own atomic, which saves an atomic update per
/// observation and guarantees that `_count` equals the `+Inf` bucket in every scrape.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One count per bound plus the `+Inf` bucket, non-cumulative.
    buckets: Box<[AtomicU64]>,
    /// The sum of observations, as `f64` bits.
    sum: AtomicU64,
}

impl Histogram {
    /// Creates an empty histogram with the given upper bounds (`le`), which the generator emits as a
    /// `const` so every slot of a family shares them.
    ///
    /// # Panics
    ///
    /// If the bounds are not finite and strictly increasing: such a histogram would be rejected by
    /// Prometheus, so it is a bug in the caller.
    pub fn new(bounds: &'static [f64]) -> Self {
        assert!(
            bounds.iter().all(|bound| bound.is_finite())
                && bounds.windows(2).all(|pair| pair[0] < pair[1]),
            "histogram bounds must be finite and strictly increasing, got {bounds:?}"
        );
        Histogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    /// Records one observation. A NaN lands in the `+Inf` bucket, as in the Go client.
    #[inline]
    pub fn observe(&self, value: f64) {
        // A linear scan beats a binary search for the dozen bounds histograms usually have.
        let bucket = self
            .bounds
            .iter()
            .position(|&bound| value <= bound)
            .unwrap_or(self.bounds.len());
        self.buckets[bucket].fetch_add(1, Relaxed);
        let mut current = self.sum.load(Relaxed);
        loop {
            let next = (f64::from_bits(current) + value).to_bits();
            match self
                .sum
                .compare_exchange_weak(current, next, Relaxed, Relaxed)
            {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// The number of observations.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|bucket| bucket.load(Relaxed)).sum()
    }

    /// The sum of all observations.
    pub fn sum(&self) -> f64 {
        f64::from_bits(self.sum.load(Relaxed))
    }

    /// Cumulative counts per upper bound, as Prometheus exposes them; the last pair is `(f64::INFINITY, count)`.
    pub fn buckets(&self) -> Vec<(f64, u64)> {
        let mut total = 0;
        self.upper_bounds()
            .zip(self.buckets.iter())
            .map(|(bound, bucket)| {
                total += bucket.load(Relaxed);
                (bound, total)
            })
            .collect()
    }

    fn upper_bounds(&self) -> impl Iterator<Item = f64> {
        self.bounds.iter().copied().chain([f64::INFINITY])
    }
}

#[cfg(feature = "prometheus-client")]
impl TypedMetric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
}

#[cfg(feature = "prometheus-client")]
impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        // prometheus-client wants non-cumulative counts and marks the `+Inf` bucket with `f64::MAX`.
        let buckets: Vec<(f64, u64)> = self
            .upper_bounds()
            .zip(self.buckets.iter())
            .map(|(bound, bucket)| {
                (
                    if bound.is_finite() { bound } else { f64::MAX },
                    bucket.load(Relaxed),
                )
            })
            .collect();
        let count = buckets.iter().map(|&(_, count)| count).sum();
        encoder.encode_histogram::<NoLabelSet>(self.sum(), count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

impl Metric for Histogram {
    const KIND: MetricKind = MetricKind::Histogram;

    #[cfg(feature = "prometheus-client")]
    fn snapshot(&self) -> Self {
        Histogram {
            bounds: self.bounds,
            buckets: self
                .buckets
                .iter()
                .map(|bucket| AtomicU64::new(bucket.load(Relaxed)))
                .collect(),
            sum: AtomicU64::new(self.sum.load(Relaxed)),
        }
    }

    fn write_samples(&self, series: &mut Series<'_>) {
        series.histogram(self.bounds, &self.buckets, self.sum());
    }
}
