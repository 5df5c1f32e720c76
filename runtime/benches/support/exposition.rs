//! The exposition benchmark of `metrics.rs`: one scrape's encoding of the same series in every client.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use prometheus_client::encoding::EncodeLabelSet;
use slogen_reference_service::metrics::{
    HttpRequestDurationLabels, HttpRequestsLabels, Method, Status,
};
use slogen_runtime::{Counter, Dimension, Family, Histogram, MetricSet, OpenLabel, Visitor};

use crate::peers::*;

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
pub fn exposition(c: &mut Criterion) {
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
