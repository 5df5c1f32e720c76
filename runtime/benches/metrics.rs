//! Recording and exposition cost of slogen-runtime next to a hand-written floor and the usual Rust clients:
//! `prometheus` (tikv), `prometheus-client` and `metrics` with `metrics-exporter-prometheus`.
//!
//! Every recording looks its three labels up on each call, as instrumented code does; nobody caches a
//! handle. Each criterion group is one operation and each function in it one implementation, named
//! `floor`, `slogen`, `slogen_<variant>`, `prometheus`, `prometheus_client[_<variant>]` or `metrics`, so
//! `scripts/bench-summary.py` can print the ratio table from `target/criterion`.
//!
//! Run: `cargo bench -p slogen-runtime --bench metrics`, then `python3 scripts/bench-summary.py`.

#[path = "../../benches/support/machine.rs"]
mod machine;
use machine::machine;

use std::hint::black_box;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use slogen_reference_service::metrics::{
    HttpRequestDurationLabels, HttpRequestsLabels, Method, Metrics, Outcome, Status,
};
use slogen_runtime::{
    Counter, Dimension, Family, Gauge, Histogram, LabelSet, MetricSet, OpenLabel, Slot, Visitor,
};

/// The bounds of the reference `http_request_duration`, used by every histogram here.
const BOUNDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The observation every histogram benchmark records: it lands in the fourth bucket.
const OBSERVED: f64 = 0.042;

/// The route every open-label recording uses; interned before measuring, among other routes.
const ROUTE: &str = "/v1/users/{id}";

/// How many routes the open label already holds when measuring, so the interner is not trivially small.
const KNOWN_ROUTES: usize = 50;

// ---------------------------------------------------------------------------------------------------------
// slogen: a closed-only family built from the reference enums, and the reference (open `route`) families.
// ---------------------------------------------------------------------------------------------------------

/// Three closed labels, so the slot index is arithmetic only.
#[derive(Clone, Copy)]
struct ClosedLabels {
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

const CLOSED: ClosedLabels = ClosedLabels {
    method: Method::Get,
    status: Status::Status2xx,
    outcome: Outcome::Ok,
};

/// The closed label values as strings, for the clients that take strings.
const CLOSED_STR: [&str; 3] = ["GET", "2xx", "ok"];

fn closed_family<M>(name: &'static str, new_metric: impl FnMut() -> M) -> Family<ClosedLabels, M> {
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
fn route_label(max_values: usize) -> OpenLabel {
    let route = OpenLabel::new("route", max_values);
    route.intern(ROUTE);
    for i in 1..KNOWN_ROUTES.min(max_values) {
        route.intern(&format!("/v1/things/{i}"));
    }
    route
}

/// `method`, `route`, `status` as in the reference `http_requests`, with any metric kind.
fn open_family<M>(
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

fn open_labels(route: &str) -> HttpRequestsLabels<'_> {
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
struct PcClosedStrings {
    method: String,
    status: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PcOpenStrings {
    method: String,
    route: String,
    status: String,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
enum PcMethod {
    Get,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
enum PcStatus {
    S2xx,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
enum PcOutcome {
    Ok,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PcClosedEnums {
    method: PcMethod,
    status: PcStatus,
    outcome: PcOutcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PcOpenEnums {
    method: PcMethod,
    route: String,
    status: PcStatus,
}

fn pc_closed_strings(values: [&str; 3]) -> PcClosedStrings {
    PcClosedStrings {
        method: values[0].to_owned(),
        status: values[1].to_owned(),
        outcome: values[2].to_owned(),
    }
}

fn pc_open_strings(route: &str) -> PcOpenStrings {
    PcOpenStrings {
        method: "GET".to_owned(),
        route: route.to_owned(),
        status: "2xx".to_owned(),
    }
}

const PC_CLOSED_ENUMS: PcClosedEnums = PcClosedEnums {
    method: PcMethod::Get,
    status: PcStatus::S2xx,
    outcome: PcOutcome::Ok,
};

fn pc_open_enums(route: &str) -> PcOpenEnums {
    PcOpenEnums {
        method: PcMethod::Get,
        route: route.to_owned(),
        status: PcStatus::S2xx,
    }
}

fn pc_histogram() -> prometheus_client::metrics::histogram::Histogram {
    prometheus_client::metrics::histogram::Histogram::new(BOUNDS.iter().copied())
}

type PcFamily<S, M> = prometheus_client::metrics::family::Family<S, M>;
type PcHistogramFamily<S> = prometheus_client::metrics::family::Family<
    S,
    prometheus_client::metrics::histogram::Histogram,
    fn() -> prometheus_client::metrics::histogram::Histogram,
>;

fn pc_histogram_family<S: Clone + std::hash::Hash + Eq>() -> PcHistogramFamily<S> {
    PcFamily::new_with_constructor(pc_histogram as fn() -> _)
}

// ---------------------------------------------------------------------------------------------------------
// prometheus (tikv) and metrics.
// ---------------------------------------------------------------------------------------------------------

const CLOSED_NAMES: [&str; 3] = ["method", "status", "outcome"];
const OPEN_NAMES: [&str; 3] = ["method", "route", "status"];

fn tikv_counter(name: &str, labels: &[&str]) -> prometheus::IntCounterVec {
    prometheus::IntCounterVec::new(prometheus::Opts::new(name, "Benchmark counter."), labels)
        .expect("valid counter")
}

fn tikv_histogram(name: &str, labels: &[&str]) -> prometheus::HistogramVec {
    prometheus::HistogramVec::new(
        prometheus::HistogramOpts::new(name, "Benchmark histogram.").buckets(BOUNDS.to_vec()),
        labels,
    )
    .expect("valid histogram")
}

/// Installs the `metrics` recorder for every recording benchmark; histograms render as histograms.
fn install_metrics_recorder() -> PrometheusHandle {
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
struct Aligned<T>(T);

struct Padded<T>(Box<Aligned<T>>);

impl<T> Padded<T> {
    fn new(value: T) -> Self {
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
struct FloorHistogram {
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum: AtomicU64,
}

impl FloorHistogram {
    fn new() -> Self {
        FloorHistogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum: AtomicU64::new(0),
        }
    }

    #[inline]
    fn observe(&self, value: f64) {
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

// ---------------------------------------------------------------------------------------------------------
// Recording benchmarks.
// ---------------------------------------------------------------------------------------------------------

fn counter_closed(c: &mut Criterion) {
    let mut group = c.benchmark_group("counter_inc_closed");
    let floor = Padded::new(AtomicU64::new(0));
    group.bench_function("floor", |b| {
        b.iter(|| {
            floor.fetch_add(1, Relaxed);
        })
    });

    let slogen = closed_family("bench_counter_closed", Counter::default);
    group.bench_function("slogen", |b| {
        b.iter(|| slogen.with(black_box(&CLOSED)).inc())
    });

    let tikv = tikv_counter("bench_counter_closed_total", &CLOSED_NAMES);
    group.bench_function("prometheus", |b| {
        b.iter(|| tikv.with_label_values(black_box(&CLOSED_STR)).inc())
    });

    let pc_strings =
        PcFamily::<PcClosedStrings, prometheus_client::metrics::counter::Counter>::default();
    group.bench_function("prometheus_client_string", |b| {
        b.iter(|| {
            pc_strings
                .get_or_create(&pc_closed_strings(black_box(CLOSED_STR)))
                .inc()
        })
    });

    let pc_enums =
        PcFamily::<PcClosedEnums, prometheus_client::metrics::counter::Counter>::default();
    group.bench_function("prometheus_client_enum", |b| {
        b.iter(|| pc_enums.get_or_create(black_box(&PC_CLOSED_ENUMS)).inc())
    });

    group.bench_function("metrics", |b| {
        b.iter(|| {
            let [method, status, outcome] = black_box(CLOSED_STR);
            metrics::counter!("bench_counter_closed_total", "method" => method, "status" => status, "outcome" => outcome)
                .increment(1)
        })
    });
    group.finish();
}

fn counter_open(c: &mut Criterion) {
    let mut group = c.benchmark_group("counter_inc_open");
    let floor = Padded::new(AtomicU64::new(0));
    group.bench_function("floor", |b| {
        b.iter(|| {
            floor.fetch_add(1, Relaxed);
        })
    });

    // The generated reference module itself: `http_requests` has method, route (open, 200) and status.
    let reference = Metrics::new();
    for i in 0..KNOWN_ROUTES {
        reference
            .http_requests
            .with(&open_labels(&format!("/v1/things/{i}")));
    }
    group.bench_function("slogen", |b| {
        b.iter(|| {
            reference
                .http_requests
                .with(&open_labels(black_box(ROUTE)))
                .inc()
        })
    });

    // The route as the HTTP layer passes it: pinned once, then found by its position with one load.
    let pinned = slogen_runtime::pin(ROUTE);
    group.bench_function("slogen_pinned", |b| {
        b.iter(|| {
            reference
                .http_requests
                .with(&open_labels(black_box(pinned)))
                .inc()
        })
    });

    // The same route from strings at ever-changing addresses, as a service building the route per request
    // would pass it: the address cache is checked by text, so these still hit whenever their entry holds
    // the route.
    let copies: Vec<String> = (0..64).map(|_| ROUTE.to_owned()).collect();
    let mut next = 0;
    group.bench_function("slogen_fresh_strings", |b| {
        b.iter(|| {
            next = (next + 1) % copies.len();
            reference
                .http_requests
                .with(&open_labels(black_box(&copies[next])))
                .inc()
        })
    });

    let tikv = tikv_counter("bench_counter_open_total", &OPEN_NAMES);
    group.bench_function("prometheus", |b| {
        b.iter(|| {
            tikv.with_label_values(&["GET", black_box(ROUTE), "2xx"])
                .inc()
        })
    });

    let pc_strings =
        PcFamily::<PcOpenStrings, prometheus_client::metrics::counter::Counter>::default();
    group.bench_function("prometheus_client_string", |b| {
        b.iter(|| {
            pc_strings
                .get_or_create(&pc_open_strings(black_box(ROUTE)))
                .inc()
        })
    });

    let pc_enums = PcFamily::<PcOpenEnums, prometheus_client::metrics::counter::Counter>::default();
    group.bench_function("prometheus_client_enum", |b| {
        b.iter(|| {
            pc_enums
                .get_or_create(&pc_open_enums(black_box(ROUTE)))
                .inc()
        })
    });

    // `metrics` label values must be `'static` or owned; a route borrowed from the request is copied.
    group.bench_function("metrics", |b| {
        b.iter(|| {
            let route = black_box(ROUTE).to_owned();
            metrics::counter!("bench_counter_open_total", "method" => "GET", "route" => route, "status" => "2xx")
                .increment(1)
        })
    });
    group.finish();
}

fn histogram_closed(c: &mut Criterion, handle: &PrometheusHandle) {
    let mut group = c.benchmark_group("histogram_observe_closed");
    let floor = Padded::new(FloorHistogram::new());
    group.bench_function("floor", |b| b.iter(|| floor.observe(black_box(OBSERVED))));

    let slogen = closed_family("bench_histogram_closed", || Histogram::new(BOUNDS));
    group.bench_function("slogen", |b| {
        b.iter(|| slogen.with(black_box(&CLOSED)).observe(black_box(OBSERVED)))
    });

    let tikv = tikv_histogram("bench_histogram_closed", &CLOSED_NAMES);
    group.bench_function("prometheus", |b| {
        b.iter(|| {
            tikv.with_label_values(black_box(&CLOSED_STR))
                .observe(black_box(OBSERVED))
        })
    });

    let pc_strings = pc_histogram_family::<PcClosedStrings>();
    group.bench_function("prometheus_client_string", |b| {
        b.iter(|| {
            pc_strings
                .get_or_create(&pc_closed_strings(black_box(CLOSED_STR)))
                .observe(black_box(OBSERVED))
        })
    });

    let pc_enums = pc_histogram_family::<PcClosedEnums>();
    group.bench_function("prometheus_client_enum", |b| {
        b.iter(|| {
            pc_enums
                .get_or_create(black_box(&PC_CLOSED_ENUMS))
                .observe(black_box(OBSERVED))
        })
    });

    group.bench_function("metrics", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let [method, status, outcome] = black_box(CLOSED_STR);
                metrics::histogram!("bench_histogram_closed", "method" => method, "status" => status, "outcome" => outcome)
                    .record(black_box(OBSERVED));
            }
            let elapsed = start.elapsed();
            // `metrics` queues every observation until upkeep folds them into buckets; do that untimed
            // (a real service pays it at scrape time) so the queue does not grow for the whole run.
            handle.run_upkeep();
            elapsed
        })
    });
    group.finish();
}

fn histogram_open(c: &mut Criterion, handle: &PrometheusHandle) {
    let mut group = c.benchmark_group("histogram_observe_open");
    let floor = Padded::new(FloorHistogram::new());
    group.bench_function("floor", |b| b.iter(|| floor.observe(black_box(OBSERVED))));

    let route = route_label(200);
    let slogen = open_family("bench_histogram_open", &route, || Histogram::new(BOUNDS));
    group.bench_function("slogen", |b| {
        b.iter(|| {
            slogen
                .with(&open_labels(black_box(ROUTE)))
                .observe(black_box(OBSERVED))
        })
    });

    let tikv = tikv_histogram("bench_histogram_open", &OPEN_NAMES);
    group.bench_function("prometheus", |b| {
        b.iter(|| {
            tikv.with_label_values(&["GET", black_box(ROUTE), "2xx"])
                .observe(black_box(OBSERVED))
        })
    });

    let pc_strings = pc_histogram_family::<PcOpenStrings>();
    group.bench_function("prometheus_client_string", |b| {
        b.iter(|| {
            pc_strings
                .get_or_create(&pc_open_strings(black_box(ROUTE)))
                .observe(black_box(OBSERVED))
        })
    });

    let pc_enums = pc_histogram_family::<PcOpenEnums>();
    group.bench_function("prometheus_client_enum", |b| {
        b.iter(|| {
            pc_enums
                .get_or_create(&pc_open_enums(black_box(ROUTE)))
                .observe(black_box(OBSERVED))
        })
    });

    group.bench_function("metrics", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let route = black_box(ROUTE).to_owned();
                metrics::histogram!("bench_histogram_open", "method" => "GET", "route" => route, "status" => "2xx")
                    .record(black_box(OBSERVED));
            }
            let elapsed = start.elapsed();
            handle.run_upkeep();
            elapsed
        })
    });
    group.finish();
}

/// One iteration is an increment and a decrement, each looking its labels up, as an in-flight gauge does.
fn gauge_inc_dec(c: &mut Criterion) {
    let mut group = c.benchmark_group("gauge_inc_dec_closed");
    let floor = Padded::new(AtomicI64::new(0));
    group.bench_function("floor", |b| {
        b.iter(|| {
            floor.fetch_add(1, Relaxed);
            floor.fetch_sub(1, Relaxed);
        })
    });

    let slogen = closed_family("bench_gauge", Gauge::default);
    group.bench_function("slogen", |b| {
        b.iter(|| {
            slogen.with(black_box(&CLOSED)).inc();
            slogen.with(black_box(&CLOSED)).dec();
        })
    });

    let tikv = prometheus::IntGaugeVec::new(
        prometheus::Opts::new("bench_gauge", "Benchmark gauge."),
        &CLOSED_NAMES,
    )
    .expect("valid gauge");
    group.bench_function("prometheus", |b| {
        b.iter(|| {
            tikv.with_label_values(black_box(&CLOSED_STR)).inc();
            tikv.with_label_values(black_box(&CLOSED_STR)).dec();
        })
    });

    let pc_strings =
        PcFamily::<PcClosedStrings, prometheus_client::metrics::gauge::Gauge>::default();
    group.bench_function("prometheus_client_string", |b| {
        b.iter(|| {
            pc_strings
                .get_or_create(&pc_closed_strings(black_box(CLOSED_STR)))
                .inc();
            pc_strings
                .get_or_create(&pc_closed_strings(black_box(CLOSED_STR)))
                .dec();
        })
    });

    let pc_enums = PcFamily::<PcClosedEnums, prometheus_client::metrics::gauge::Gauge>::default();
    group.bench_function("prometheus_client_enum", |b| {
        b.iter(|| {
            pc_enums.get_or_create(black_box(&PC_CLOSED_ENUMS)).inc();
            pc_enums.get_or_create(black_box(&PC_CLOSED_ENUMS)).dec();
        })
    });

    group.bench_function("metrics", |b| {
        b.iter(|| {
            let [method, status, outcome] = black_box(CLOSED_STR);
            metrics::gauge!("bench_gauge", "method" => method, "status" => status, "outcome" => outcome)
                .increment(1.0);
            let [method, status, outcome] = black_box(CLOSED_STR);
            metrics::gauge!("bench_gauge", "method" => method, "status" => status, "outcome" => outcome)
                .decrement(1.0);
        })
    });
    group.finish();
}

/// slogen's label paths side by side: closed arithmetic, an interned open value, and a full open label
/// folding a new value into `other` (the other clients have no such path: they would add a series).
fn open_label_paths(c: &mut Criterion) {
    let mut group = c.benchmark_group("open_label_lookup");
    let floor = Padded::new(AtomicU64::new(0));
    group.bench_function("floor", |b| {
        b.iter(|| {
            floor.fetch_add(1, Relaxed);
        })
    });

    let route = route_label(200);
    let family = open_family("bench_open_label", &route, Counter::default);
    group.bench_function("slogen", |b| {
        b.iter(|| family.with(&open_labels(black_box(ROUTE))).inc())
    });

    let closed = closed_family("bench_open_label_closed", Counter::default);
    group.bench_function("slogen_closed", |b| {
        b.iter(|| closed.with(black_box(&CLOSED)).inc())
    });

    let full = route_label(KNOWN_ROUTES);
    let overflowing = open_family("bench_open_label_full", &full, Counter::default);
    overflowing.with(&open_labels("/v1/users/8d2f1c7e")).inc();
    assert_eq!(
        full.dropped(),
        1,
        "a full label folds a new value into `other`"
    );
    group.bench_function("slogen_overflow", |b| {
        b.iter(|| {
            overflowing
                .with(&open_labels(black_box("/v1/users/8d2f1c7e")))
                .inc()
        })
    });
    group.finish();
}

/// Runs `op` `iters` times in total, split over two threads hammering the same series; returns the wall
/// time from the moment both threads are released, so criterion reports wall time per operation.
fn two_threads(iters: u64, op: &(dyn Fn() + Sync)) -> Duration {
    let start = Barrier::new(3);
    let per_thread = iters.div_ceil(2);
    let began = std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                start.wait();
                for _ in 0..per_thread {
                    op();
                }
            });
        }
        start.wait();
        // Leaving the scope joins both threads, so `began.elapsed()` below covers all their work.
        Instant::now()
    });
    began.elapsed()
}

fn contention(c: &mut Criterion) {
    let mut group = c.benchmark_group("counter_inc_closed_2_threads");
    let floor = Padded::new(AtomicU64::new(0));
    group.bench_function("floor", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, &|| {
                floor.fetch_add(1, Relaxed);
            })
        })
    });

    let slogen = closed_family("bench_contention", Counter::default);
    group.bench_function("slogen", |b| {
        b.iter_custom(|iters| two_threads(iters, &|| slogen.with(black_box(&CLOSED)).inc()))
    });

    let tikv = tikv_counter("bench_contention_total", &CLOSED_NAMES);
    group.bench_function("prometheus", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, &|| {
                tikv.with_label_values(black_box(&CLOSED_STR)).inc()
            })
        })
    });

    let pc_strings =
        PcFamily::<PcClosedStrings, prometheus_client::metrics::counter::Counter>::default();
    group.bench_function("prometheus_client_string", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, &|| {
                pc_strings
                    .get_or_create(&pc_closed_strings(black_box(CLOSED_STR)))
                    .inc();
            })
        })
    });

    let pc_enums =
        PcFamily::<PcClosedEnums, prometheus_client::metrics::counter::Counter>::default();
    group.bench_function("prometheus_client_enum", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, &|| {
                pc_enums.get_or_create(black_box(&PC_CLOSED_ENUMS)).inc();
            })
        })
    });

    group.bench_function("metrics", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, &|| {
                let [method, status, outcome] = black_box(CLOSED_STR);
                metrics::counter!("bench_contention_total", "method" => method, "status" => status, "outcome" => outcome)
                    .increment(1);
            })
        })
    });
    group.finish();
}

// ---------------------------------------------------------------------------------------------------------
// Exposition: the same series in every implementation, half counters, half histograms.
// ---------------------------------------------------------------------------------------------------------

/// The series of one exposition benchmark: `series / 2` counters `http_requests_total{method,route,status}`
/// and as many histograms `http_request_duration_seconds{method,route}`, route `/r/<i>`.
struct Exposition {
    series: usize,
}

impl Exposition {
    fn half(&self) -> usize {
        self.series / 2
    }

    fn route(i: usize) -> String {
        format!("/r/{i}")
    }

    fn count(i: usize) -> u64 {
        i as u64 + 1
    }

    fn observation(i: usize) -> f64 {
        [0.003, 0.042, 0.3, 2.0][i % 4]
    }
}

/// slogen's metric set for the exposition benchmarks.
struct SlogenSet {
    requests: Family<HttpRequestsLabels<'static>, Counter>,
    durations: Family<HttpRequestDurationLabels<'static>, Histogram>,
}

impl MetricSet for SlogenSet {
    fn visit(&self, visitor: &mut dyn Visitor) {
        visitor.family(&self.requests);
        visitor.family(&self.durations);
    }
}

impl Exposition {
    fn slogen(&self) -> SlogenSet {
        let route = OpenLabel::new("route", self.half());
        let set = SlogenSet {
            requests: Family::new(
                "http_requests",
                "HTTP requests.",
                None,
                vec![
                    Dimension::closed::<Method>(),
                    Dimension::open(&route),
                    Dimension::closed::<Status>(),
                ],
                Counter::default,
            ),
            durations: Family::new(
                "http_request_duration",
                "HTTP request latency.",
                Some("seconds"),
                vec![Dimension::closed::<Method>(), Dimension::open(&route)],
                || Histogram::new(BOUNDS),
            ),
        };
        for i in 0..self.half() {
            let route = Self::route(i);
            set.requests
                .with(&open_labels(&route))
                .inc_by(Self::count(i));
            set.durations
                .with(&HttpRequestDurationLabels {
                    method: Method::Get,
                    route: &route,
                })
                .observe(Self::observation(i));
        }
        assert_eq!(route.dropped(), 0, "every route fits the open label");
        set
    }

    fn prometheus(&self) -> prometheus::Registry {
        let registry = prometheus::Registry::new();
        let requests = tikv_counter("http_requests_total", &OPEN_NAMES);
        let durations = prometheus::HistogramVec::new(
            prometheus::HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency.",
            )
            .buckets(BOUNDS.to_vec()),
            &["method", "route"],
        )
        .expect("valid histogram");
        for i in 0..self.half() {
            let route = Self::route(i);
            requests
                .with_label_values(&["GET", &route, "2xx"])
                .inc_by(Self::count(i));
            durations
                .with_label_values(&["GET", &route])
                .observe(Self::observation(i));
        }
        registry.register(Box::new(requests)).expect("registered");
        registry.register(Box::new(durations)).expect("registered");
        registry
    }

    fn prometheus_client(&self) -> prometheus_client::registry::Registry {
        #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
        struct DurationLabels {
            method: String,
            route: String,
        }
        let mut registry = prometheus_client::registry::Registry::default();
        let requests =
            PcFamily::<PcOpenStrings, prometheus_client::metrics::counter::Counter>::default();
        let durations = pc_histogram_family::<DurationLabels>();
        for i in 0..self.half() {
            let route = Self::route(i);
            requests
                .get_or_create(&pc_open_strings(&route))
                .inc_by(Self::count(i));
            durations
                .get_or_create(&DurationLabels {
                    method: "GET".into(),
                    route,
                })
                .observe(Self::observation(i));
        }
        registry.register("http_requests", "HTTP requests.", requests);
        registry.register_with_unit(
            "http_request_duration",
            "HTTP request latency.",
            prometheus_client::registry::Unit::Seconds,
            durations,
        );
        registry
    }

    fn metrics(&self) -> PrometheusHandle {
        let recorder = PrometheusBuilder::new()
            .set_buckets(BOUNDS)
            .expect("valid buckets")
            .build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            metrics::describe_counter!("http_requests_total", "HTTP requests.");
            metrics::describe_histogram!("http_request_duration_seconds", "HTTP request latency.");
            for i in 0..self.half() {
                metrics::counter!("http_requests_total", "method" => "GET", "route" => Self::route(i), "status" => "2xx")
                    .increment(Self::count(i));
                metrics::histogram!("http_request_duration_seconds", "method" => "GET", "route" => Self::route(i))
                    .record(Self::observation(i));
            }
        });
        handle
    }

    /// The floor: every sample line's text up to the value precomputed, so encoding is copying those bytes
    /// and formatting the numbers (with the same `itoa`/`ryu` slogen uses), and nothing else.
    fn floor(&self) -> FloorSet {
        let counter_lines = (0..self.half())
            .map(|i| {
                let route = Self::route(i);
                format!("http_requests_total{{method=\"GET\",route=\"{route}\",status=\"2xx\"}} ")
                    .into_bytes()
            })
            .collect();
        let histogram_lines = (0..self.half())
            .map(|i| {
                let route = Self::route(i);
                let name = "http_request_duration_seconds";
                let labels = format!("method=\"GET\",route=\"{route}\"");
                let mut lines: Vec<Vec<u8>> = BOUNDS
                    .iter()
                    .map(|bound| format!("{bound:?}"))
                    .chain(["+Inf".to_owned()])
                    .map(|le| format!("{name}_bucket{{{labels},le=\"{le}\"}} ").into_bytes())
                    .collect();
                lines.push(format!("{name}_sum{{{labels}}} ").into_bytes());
                lines.push(format!("{name}_count{{{labels}}} ").into_bytes());
                lines
            })
            .collect();
        let set = FloorSet {
            counter_lines,
            counts: (0..self.half()).map(|_| AtomicU64::new(0)).collect(),
            histogram_lines,
            histograms: (0..self.half()).map(|_| FloorHistogram::new()).collect(),
        };
        for i in 0..self.half() {
            set.counts[i].fetch_add(Self::count(i), Relaxed);
            set.histograms[i].observe(Self::observation(i));
        }
        set
    }
}

/// Plain atomics and, per sample, its line's text up to the value.
struct FloorSet {
    counter_lines: Vec<Vec<u8>>,
    counts: Vec<AtomicU64>,
    /// Per histogram: one line per bucket, then `_sum`, then `_count`.
    histogram_lines: Vec<Vec<Vec<u8>>>,
    histograms: Vec<FloorHistogram>,
}

impl FloorSet {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut integer = itoa::Buffer::new();
        out.extend_from_slice(
            b"# HELP http_requests_total HTTP requests.\n# TYPE http_requests_total counter\n",
        );
        for (line, count) in self.counter_lines.iter().zip(&self.counts) {
            out.extend_from_slice(line);
            out.extend_from_slice(integer.format(count.load(Relaxed)).as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(b"# HELP http_request_duration_seconds HTTP request latency.\n# TYPE http_request_duration_seconds histogram\n");
        for (lines, histogram) in self.histogram_lines.iter().zip(&self.histograms) {
            let mut total = 0;
            for (line, bucket) in lines.iter().zip(&histogram.buckets) {
                total += bucket.load(Relaxed);
                out.extend_from_slice(line);
                out.extend_from_slice(integer.format(total).as_bytes());
                out.push(b'\n');
            }
            out.extend_from_slice(&lines[BOUNDS.len() + 1]);
            let sum = f64::from_bits(histogram.sum.load(Relaxed));
            out.extend_from_slice(ryu::Buffer::new().format_finite(sum).as_bytes());
            out.push(b'\n');
            out.extend_from_slice(&lines[BOUNDS.len() + 2]);
            out.extend_from_slice(integer.format(total).as_bytes());
            out.push(b'\n');
        }
        out
    }
}

/// Counts the sample lines of an exposition, so the setup can show every implementation exposes the same.
fn samples(text: &str) -> usize {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .count()
}

/// One scrape's encoding, into a fresh buffer as an endpoint without buffer reuse does. `slogen` is
/// `encode_prometheus` (text 0.0.4, what `/metrics` serves by default), `slogen_openmetrics` its OpenMetrics
/// twin, `slogen_registry` the set registered in a prometheus-client registry, `slogen_encode_text` the
/// copy-then-encode helper; `prometheus` includes `gather`, `metrics` includes folding queued observations.
fn exposition(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for series in [1_000, 10_000] {
        let exposition = Exposition { series };
        group.throughput(Throughput::Elements(series as u64));

        let floor = exposition.floor();
        let slogen = Arc::new(exposition.slogen());
        let mut slogen_registry = prometheus_client::registry::Registry::default();
        slogen_runtime::register(&mut slogen_registry, Arc::clone(&slogen));
        let tikv = exposition.prometheus();
        let pc = exposition.prometheus_client();
        let handle = exposition.metrics();

        let encode_slogen = || {
            let mut text = Vec::new();
            slogen_runtime::encode_prometheus(slogen.as_ref(), &mut text);
            text
        };
        let encode_slogen_registry = || {
            let mut text = String::new();
            prometheus_client::encoding::text::encode(&mut text, &slogen_registry)
                .expect("encodes");
            text
        };
        let encode_tikv = || {
            prometheus::TextEncoder::new()
                .encode_to_string(&tikv.gather())
                .expect("encodes")
        };
        let encode_pc = || {
            let mut text = String::new();
            prometheus_client::encoding::text::encode(&mut text, &pc).expect("encodes");
            text
        };
        eprintln!(
            "encode/{series}: sample lines: floor {}, slogen {}, prometheus {}, prometheus_client {}, metrics {}",
            samples(std::str::from_utf8(&floor.encode()).expect("UTF-8")),
            samples(std::str::from_utf8(&encode_slogen()).expect("UTF-8")),
            samples(&encode_tikv()),
            samples(&encode_pc()),
            samples(&handle.render()),
        );

        group.bench_function(BenchmarkId::new("floor", series), |b| {
            b.iter(|| floor.encode())
        });
        group.bench_function(BenchmarkId::new("slogen", series), |b| {
            b.iter(encode_slogen)
        });
        group.bench_function(BenchmarkId::new("slogen_openmetrics", series), |b| {
            b.iter(|| {
                let mut text = Vec::new();
                slogen_runtime::encode_openmetrics(slogen.as_ref(), &mut text);
                text
            })
        });
        group.bench_function(BenchmarkId::new("slogen_registry", series), |b| {
            b.iter(encode_slogen_registry)
        });
        group.bench_function(BenchmarkId::new("slogen_encode_text", series), |b| {
            b.iter(|| slogen_runtime::encode_text(slogen.as_ref()))
        });
        group.bench_function(BenchmarkId::new("prometheus", series), |b| {
            b.iter(encode_tikv)
        });
        group.bench_function(BenchmarkId::new("prometheus_client", series), |b| {
            b.iter(encode_pc)
        });
        group.bench_function(BenchmarkId::new("metrics", series), |b| {
            b.iter(|| handle.render())
        });
    }
    group.finish();
}

fn main() {
    eprintln!("machine: {}", machine());
    let handle = install_metrics_recorder();
    let mut c = Criterion::default().configure_from_args();
    counter_closed(&mut c);
    counter_open(&mut c);
    histogram_closed(&mut c, &handle);
    histogram_open(&mut c, &handle);
    gauge_inc_dec(&mut c);
    open_label_paths(&mut c);
    contention(&mut c);
    exposition(&mut c);
    c.final_summary();
}
