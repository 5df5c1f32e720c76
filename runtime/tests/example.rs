//! The generator's example module (`contract/example_metrics.rs`, compiled unchanged) against the runtime.

// The generator's exact output (a test in the generator keeps it current).
#[path = "contract/example_metrics.rs"]
mod example_metrics;
#[path = "support/labels.rs"]
mod labels;
mod support;

use std::sync::Arc;
use std::thread;

use example_metrics::{CacheOperationsLabels, Method, Metrics, Status};
use labels::{durations, le_values, requests};
use slogen_runtime::{encode_text, register, NoLabels, OpenLabel};

/// The counters of the example set, whose `_total` samples promtool 2.42 reports as lacking help.
const COUNTERS: &[&str] = &[
    "cache_operations",
    "http_requests",
    "slogen_label_values_dropped",
];

/// The exposition lines of one family's samples (`name_total{`, `name_bucket{`, ...).
fn samples<'t>(text: &'t str, prefix: &str) -> Vec<&'t str> {
    text.lines()
        .filter(|line| line.starts_with(prefix))
        .collect()
}

#[test]
fn exposition_of_every_metric_kind() {
    let metrics = Metrics::new();
    metrics
        .cache_operations
        .with(&CacheOperationsLabels {
            status: Status::Status2xx,
        })
        .inc_by(5);
    metrics
        .cache_operations
        .with(&CacheOperationsLabels {
            status: Status::Status5xx,
        })
        .inc();
    for _ in 0..3 {
        metrics
            .http_requests
            .with(&requests(Method::Get, "/users/{id}", Status::Status2xx))
            .inc();
    }
    metrics
        .http_requests
        .with(&requests(Method::Post, "/orders", Status::Status5xx))
        .inc();
    metrics
        .http_requests
        .with(&requests(Method::Get, "/users/{id}", Status::Status4xx))
        .inc();
    let users = metrics
        .http_request_duration
        .with(&durations(Method::Get, "/users/{id}"));
    for seconds in [0.0625, 0.25, 0.5, 12.0] {
        users.observe(seconds);
    }
    metrics
        .http_request_duration
        .with(&durations(Method::Post, "/orders"))
        .observe(1.5);
    metrics.http_requests_in_flight.inc();
    metrics.http_requests_in_flight.inc();
    metrics.http_requests_in_flight.dec();

    let expected = r#"# HELP cache_operations Cache operations, by outcome.
# TYPE cache_operations counter
cache_operations_total{status="2xx"} 5
cache_operations_total{status="4xx"} 0
cache_operations_total{status="5xx"} 1
# HELP http_request_duration_seconds HTTP request latency, from first byte in to last byte out.
# TYPE http_request_duration_seconds histogram
# UNIT http_request_duration_seconds seconds
http_request_duration_seconds_sum{method="GET",route="/users/{id}"} 12.8125
http_request_duration_seconds_count{method="GET",route="/users/{id}"} 4
http_request_duration_seconds_bucket{le="0.005",method="GET",route="/users/{id}"} 0
http_request_duration_seconds_bucket{le="0.01",method="GET",route="/users/{id}"} 0
http_request_duration_seconds_bucket{le="0.025",method="GET",route="/users/{id}"} 0
http_request_duration_seconds_bucket{le="0.05",method="GET",route="/users/{id}"} 0
http_request_duration_seconds_bucket{le="0.1",method="GET",route="/users/{id}"} 1
http_request_duration_seconds_bucket{le="0.25",method="GET",route="/users/{id}"} 2
http_request_duration_seconds_bucket{le="0.5",method="GET",route="/users/{id}"} 3
http_request_duration_seconds_bucket{le="1.0",method="GET",route="/users/{id}"} 3
http_request_duration_seconds_bucket{le="2.5",method="GET",route="/users/{id}"} 3
http_request_duration_seconds_bucket{le="5.0",method="GET",route="/users/{id}"} 3
http_request_duration_seconds_bucket{le="10.0",method="GET",route="/users/{id}"} 3
http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/users/{id}"} 4
http_request_duration_seconds_sum{method="POST",route="/orders"} 1.5
http_request_duration_seconds_count{method="POST",route="/orders"} 1
http_request_duration_seconds_bucket{le="0.005",method="POST",route="/orders"} 0
http_request_duration_seconds_bucket{le="0.01",method="POST",route="/orders"} 0
http_request_duration_seconds_bucket{le="0.025",method="POST",route="/orders"} 0
http_request_duration_seconds_bucket{le="0.05",method="POST",route="/orders"} 0
http_request_duration_seconds_bucket{le="0.1",method="POST",route="/orders"} 0
http_request_duration_seconds_bucket{le="0.25",method="POST",route="/orders"} 0
http_request_duration_seconds_bucket{le="0.5",method="POST",route="/orders"} 0
http_request_duration_seconds_bucket{le="1.0",method="POST",route="/orders"} 0
http_request_duration_seconds_bucket{le="2.5",method="POST",route="/orders"} 1
http_request_duration_seconds_bucket{le="5.0",method="POST",route="/orders"} 1
http_request_duration_seconds_bucket{le="10.0",method="POST",route="/orders"} 1
http_request_duration_seconds_bucket{le="+Inf",method="POST",route="/orders"} 1
# HELP http_requests HTTP requests handled.
# TYPE http_requests counter
http_requests_total{method="GET",route="/users/{id}",status="2xx"} 3
http_requests_total{method="GET",route="/users/{id}",status="4xx"} 1
http_requests_total{method="POST",route="/orders",status="5xx"} 1
# HELP http_requests_in_flight HTTP requests being served right now.
# TYPE http_requests_in_flight gauge
http_requests_in_flight 1
# HELP slogen_label_values_dropped Recordings whose open label value was replaced by `other` because the label had reached its maximum number of values.
# TYPE slogen_label_values_dropped counter
slogen_label_values_dropped_total{label="route"} 0
# EOF
"#;
    assert_eq!(encode_text(&metrics), expected);
}

#[test]
fn le_is_written_as_rust_debug_formats_the_bound() {
    let metrics = Metrics::new();
    metrics
        .http_request_duration
        .with(&durations(Method::Get, "/"))
        .observe(0.0);
    let text = encode_text(&metrics);
    let le: Vec<String> = samples(&text, "http_request_duration_seconds_bucket{")
        .iter()
        .map(|line| {
            line.split('"')
                .nth(1)
                .expect("le is the first label")
                .to_owned()
        })
        .collect();
    assert_eq!(
        le,
        le_values(&[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
    );
}

#[test]
fn closed_families_start_complete_and_open_families_empty() {
    let metrics = Metrics::new();
    let text = encode_text(&metrics);
    assert_eq!(
        samples(&text, "cache_operations_total"),
        [
            r#"cache_operations_total{status="2xx"} 0"#,
            r#"cache_operations_total{status="4xx"} 0"#,
            r#"cache_operations_total{status="5xx"} 0"#,
        ]
    );
    assert_eq!(
        samples(&text, "http_requests_in_flight"),
        ["http_requests_in_flight 0"]
    );
    assert!(samples(&text, "http_requests_total").is_empty(), "{text}");
    assert!(
        samples(&text, "http_request_duration_seconds_").is_empty(),
        "{text}"
    );
    // The descriptors are still there, so dashboards and rules see the metric exist.
    assert!(
        text.contains("# TYPE http_requests counter\n# HELP http_requests_in_flight"),
        "{text}"
    );

    metrics
        .http_requests
        .with(&requests(Method::Post, "/login", Status::Status4xx))
        .inc();
    let text = encode_text(&metrics);
    assert_eq!(
        samples(&text, "http_requests_total"),
        [r#"http_requests_total{method="POST",route="/login",status="4xx"} 1"#]
    );
    assert!(
        samples(&text, "http_request_duration_seconds_").is_empty(),
        "a shared label does not touch other families"
    );
}

#[test]
fn open_label_overflow_is_bounded_and_counted() {
    let metrics = Metrics::new();
    for route in 0..205 {
        metrics
            .http_requests
            .with(&requests(
                Method::Get,
                &format!("/r{route}"),
                Status::Status2xx,
            ))
            .inc();
    }
    // Known values keep their slot after the label is full; new ones keep landing in `other`.
    metrics
        .http_requests
        .with(&requests(Method::Get, "/r0", Status::Status2xx))
        .inc();
    metrics
        .http_request_duration
        .with(&durations(Method::Get, "/r300"))
        .observe(1.0);
    // A caller passing `other` itself shares the overflow series; it is not a dropped value.
    metrics
        .http_requests
        .with(&requests(Method::Get, "other", Status::Status2xx))
        .inc_by(2);

    let text = encode_text(&metrics);
    let series = samples(&text, "http_requests_total");
    assert_eq!(series.len(), 201, "200 routes plus `other`");
    assert_eq!(
        series[0],
        r#"http_requests_total{method="GET",route="/r0",status="2xx"} 2"#
    );
    assert_eq!(
        series[199],
        r#"http_requests_total{method="GET",route="/r199",status="2xx"} 1"#
    );
    assert_eq!(
        series[200],
        r#"http_requests_total{method="GET",route="other",status="2xx"} 7"#
    );
    assert!(!text.contains("/r200"), "{text}");
    assert_eq!(
        samples(&text, "http_request_duration_seconds_count"),
        [r#"http_request_duration_seconds_count{method="GET",route="other"} 1"#],
        "the limit is shared by every family using the label"
    );
    assert_eq!(
        samples(&text, "slogen_label_values_dropped_total"),
        [r#"slogen_label_values_dropped_total{label="route"} 6"#]
    );
    support::assert_promtool_accepts(&text, COUNTERS);
}

#[test]
fn open_label_ids_are_stable_and_shared_by_clones() {
    let label = OpenLabel::new("route", 2);
    let clone = label.clone();
    assert_eq!(
        (label.intern("/a"), clone.intern("/b"), label.intern("/a")),
        (0, 1, 0)
    );
    assert_eq!(
        (
            clone.intern("/c"),
            label.intern("/d"),
            label.intern("other")
        ),
        (2, 2, 2)
    );
    assert_eq!((label.dropped(), clone.dropped()), (2, 2));
    assert_eq!((label.name(), label.max_values()), ("route", 2));
}

#[test]
fn promtool_accepts_the_exposition() {
    let metrics = Metrics::new();
    for (method, route, status) in [
        (Method::Get, "/users/{id}", Status::Status2xx),
        (Method::Post, "/users", Status::Status4xx),
        (Method::Post, "/users", Status::Status5xx),
    ] {
        metrics
            .http_requests
            .with(&requests(method, route, status))
            .inc();
        metrics
            .http_request_duration
            .with(&durations(method, route))
            .observe(0.2);
    }
    metrics
        .cache_operations
        .with(&CacheOperationsLabels {
            status: Status::Status4xx,
        })
        .inc();
    metrics.http_requests_in_flight.set(7);
    support::assert_promtool_accepts(&encode_text(&metrics), COUNTERS);
}

#[test]
fn registered_set_encodes_live_values_like_encode_text() {
    let metrics = Arc::new(Metrics::new());
    let mut registry = prometheus_client::registry::Registry::default();
    register(&mut registry, Arc::clone(&metrics));
    metrics
        .http_requests
        .with(&requests(Method::Get, "/", Status::Status2xx))
        .inc();
    metrics.http_requests_in_flight.add(3);

    let mut scraped = String::new();
    prometheus_client::encoding::text::encode(&mut scraped, &registry)
        .expect("encode the registry");
    assert_eq!(scraped, encode_text(&*metrics));
    assert!(scraped.ends_with("http_requests_in_flight 3\n# HELP slogen_label_values_dropped Recordings whose open label value was replaced by `other` because the label had reached its maximum number of values.\n# TYPE slogen_label_values_dropped counter\nslogen_label_values_dropped_total{label=\"route\"} 0\n# EOF\n"));
}

#[test]
fn concurrent_recordings_add_up() {
    const PER_THREAD: u64 = 100_000;
    let metrics = Arc::new(Metrics::new());
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let metrics = Arc::clone(&metrics);
            thread::spawn(move || {
                for _ in 0..PER_THREAD {
                    metrics
                        .http_requests
                        .with(&requests(Method::Get, "/hot", Status::Status2xx))
                        .inc();
                    metrics
                        .http_request_duration
                        .with(&durations(Method::Get, "/hot"))
                        .observe(0.5);
                    metrics.http_requests_in_flight.inc();
                    metrics.http_requests_in_flight.sub(1);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker thread");
    }
    assert_eq!(
        metrics
            .http_requests
            .with(&requests(Method::Get, "/hot", Status::Status2xx))
            .get(),
        2 * PER_THREAD
    );
    let histogram = metrics
        .http_request_duration
        .with(&durations(Method::Get, "/hot"));
    assert_eq!(histogram.count(), 2 * PER_THREAD);
    // Halves add exactly in f64 at this magnitude, so any lost CAS update would show.
    assert_eq!(histogram.sum(), PER_THREAD as f64);
    assert_eq!(histogram.buckets()[6], (0.5, 2 * PER_THREAD));
    // `Family::get` shadows `Gauge::get` through `Deref`, so an unlabelled read names the empty label set.
    assert_eq!(metrics.http_requests_in_flight.with(&NoLabels).get(), 0);
}
