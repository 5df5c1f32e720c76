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
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::Criterion;
use metrics_exporter_prometheus::PrometheusHandle;
use slogen_reference_service::metrics::Metrics;
use slogen_runtime::{Counter, Gauge, Histogram};

#[path = "support/peers.rs"]
mod peers;
use peers::*;

#[path = "support/exposition.rs"]
mod exposition;
use exposition::exposition;

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
