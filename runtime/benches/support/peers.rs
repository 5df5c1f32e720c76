//! What the recording benchmarks of `metrics.rs` share: the label sets and families of each client, built
//! the same way for every operation, and the floor (the bare atomics an operation cannot do without).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use slogen_reference_service::metrics::{HttpRequestsLabels, Method, Outcome, Status};
use slogen_runtime::{Dimension, Family, LabelSet, OpenLabel, Slot};

/// The bounds of the reference `http_request_duration`, used by every histogram here.
pub const BOUNDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The observation every histogram benchmark records: it lands in the fourth bucket.
pub const OBSERVED: f64 = 0.042;

/// The route every open-label recording uses; interned before measuring, among other routes.
pub const ROUTE: &str = "/v1/users/{id}";

/// How many routes the open label already holds when measuring, so the interner is not trivially small.
pub const KNOWN_ROUTES: usize = 50;

// ---------------------------------------------------------------------------------------------------------
// slogen: a closed-only family built from the reference enums, and the reference (open `route`) families.
// ---------------------------------------------------------------------------------------------------------

/// Three closed labels, so the slot index is arithmetic only.
#[derive(Clone, Copy)]
pub struct ClosedLabels {
    method: Method,
    status: Status,
    outcome: Outcome,
}

impl LabelSet for ClosedLabels {
    type Borrowed<'a> = ClosedLabels;
    const NAMES: &'static [&'static str] = &["method", "status", "outcome"];

    fn slot(labels: &ClosedLabels, slot: &mut Slot<'_>) {
        slot.closed(labels.method);
        slot.closed(labels.status);
        slot.closed(labels.outcome);
    }
}

pub const CLOSED: ClosedLabels = ClosedLabels {
    method: Method::Get,
    status: Status::Status2xx,
    outcome: Outcome::Ok,
};

/// The closed label values as strings, for the clients that take strings.
pub const CLOSED_STR: [&str; 3] = ["GET", "2xx", "ok"];

pub fn closed_family<M>(
    name: &'static str,
    new_metric: impl FnMut() -> M,
) -> Family<ClosedLabels, M> {
    Family::new(
        name,
        "Closed-label benchmark family.",
        None,
        vec![
            Dimension::closed::<Method>(),
            Dimension::closed::<Status>(),
            Dimension::closed::<Outcome>(),
        ],
        new_metric,
    )
}

/// A `route` label with `KNOWN_ROUTES` values already interned, `ROUTE` among them.
pub fn route_label(max_values: usize) -> OpenLabel {
    let route = OpenLabel::new("route", max_values);
    route.intern(ROUTE);
    for i in 1..KNOWN_ROUTES.min(max_values) {
        route.intern(&format!("/v1/things/{i}"));
    }
    route
}

/// `method`, `route`, `status` as in the reference `http_requests`, with any metric kind.
pub fn open_family<M>(
    name: &'static str,
    route: &OpenLabel,
    new_metric: impl FnMut() -> M,
) -> Family<HttpRequestsLabels<'static>, M> {
    Family::new(
        name,
        "Open-label benchmark family.",
        None,
        vec![
            Dimension::closed::<Method>(),
            Dimension::open(route),
            Dimension::closed::<Status>(),
        ],
        new_metric,
    )
}

pub fn open_labels(route: &str) -> HttpRequestsLabels<'_> {
    HttpRequestsLabels {
        method: Method::Get,
        route,
        status: Status::Status2xx,
    }
}

// ---------------------------------------------------------------------------------------------------------
// prometheus-client label sets: owned strings (what a caller holding `&str` must build) and enums.
// ---------------------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PcClosedStrings {
    method: String,
    status: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PcOpenStrings {
    method: String,
    route: String,
    status: String,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum PcMethod {
    Get,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum PcStatus {
    S2xx,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum PcOutcome {
    Ok,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PcClosedEnums {
    method: PcMethod,
    status: PcStatus,
    outcome: PcOutcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PcOpenEnums {
    method: PcMethod,
    route: String,
    status: PcStatus,
}

pub fn pc_closed_strings(values: [&str; 3]) -> PcClosedStrings {
    PcClosedStrings {
        method: values[0].to_owned(),
        status: values[1].to_owned(),
        outcome: values[2].to_owned(),
    }
}

pub fn pc_open_strings(route: &str) -> PcOpenStrings {
    PcOpenStrings {
        method: "GET".to_owned(),
        route: route.to_owned(),
        status: "2xx".to_owned(),
    }
}

pub const PC_CLOSED_ENUMS: PcClosedEnums = PcClosedEnums {
    method: PcMethod::Get,
    status: PcStatus::S2xx,
    outcome: PcOutcome::Ok,
};

pub fn pc_open_enums(route: &str) -> PcOpenEnums {
    PcOpenEnums {
        method: PcMethod::Get,
        route: route.to_owned(),
        status: PcStatus::S2xx,
    }
}

pub fn pc_histogram() -> prometheus_client::metrics::histogram::Histogram {
    prometheus_client::metrics::histogram::Histogram::new(BOUNDS.iter().copied())
}

pub type PcFamily<S, M> = prometheus_client::metrics::family::Family<S, M>;
pub type PcHistogramFamily<S> = prometheus_client::metrics::family::Family<
    S,
    prometheus_client::metrics::histogram::Histogram,
    fn() -> prometheus_client::metrics::histogram::Histogram,
>;

pub fn pc_histogram_family<S: Clone + std::hash::Hash + Eq>() -> PcHistogramFamily<S> {
    PcFamily::new_with_constructor(pc_histogram as fn() -> _)
}

// ---------------------------------------------------------------------------------------------------------
// prometheus (tikv) and metrics.
// ---------------------------------------------------------------------------------------------------------

pub const CLOSED_NAMES: [&str; 3] = ["method", "status", "outcome"];
pub const OPEN_NAMES: [&str; 3] = ["method", "route", "status"];

pub fn tikv_counter(name: &str, labels: &[&str]) -> prometheus::IntCounterVec {
    prometheus::IntCounterVec::new(prometheus::Opts::new(name, "Benchmark counter."), labels)
        .expect("valid counter")
}

pub fn tikv_histogram(name: &str, labels: &[&str]) -> prometheus::HistogramVec {
    prometheus::HistogramVec::new(
        prometheus::HistogramOpts::new(name, "Benchmark histogram.").buckets(BOUNDS.to_vec()),
        labels,
    )
    .expect("valid histogram")
}

/// Installs the `metrics` recorder for every recording benchmark; histograms render as histograms.
pub fn install_metrics_recorder() -> PrometheusHandle {
    let recorder = PrometheusBuilder::new()
        .set_buckets(BOUNDS)
        .expect("valid buckets")
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("the only global recorder");
    handle
}

// ---------------------------------------------------------------------------------------------------------
// The floor: the atomics the operation cannot do without, and nothing else.
// ---------------------------------------------------------------------------------------------------------

/// A floor value on the heap in a cache line of its own, like slogen's preallocated slots, so it shares no
/// line with the benchmark loop's stack.
#[repr(align(64))]
pub struct Aligned<T>(T);

pub struct Padded<T>(Box<Aligned<T>>);

impl<T> Padded<T> {
    pub fn new(value: T) -> Self {
        Padded(Box::new(Aligned(value)))
    }
}

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0 .0
    }
}

/// A fixed bucket array: one atomic per bucket plus the sum, as lean as a histogram gets.
pub struct FloorHistogram {
    pub buckets: [AtomicU64; BOUNDS.len() + 1],
    pub sum: AtomicU64,
}

impl FloorHistogram {
    pub fn new() -> Self {
        FloorHistogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum: AtomicU64::new(0),
        }
    }

    #[inline]
    pub fn observe(&self, value: f64) {
        let bucket = BOUNDS
            .iter()
            .position(|&bound| value <= bound)
            .unwrap_or(BOUNDS.len());
        self.buckets[bucket].fetch_add(1, Relaxed);
        let _ = self.sum.fetch_update(Relaxed, Relaxed, |bits| {
            Some((f64::from_bits(bits) + value).to_bits())
        });
    }
}
