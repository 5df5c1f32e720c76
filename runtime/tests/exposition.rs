//! The crate's own encoders (`encode_prometheus`, `encode_openmetrics`): exact output, agreement with
//! prometheus-client's encoder, `promtool check metrics`, and a real Prometheus scraping them.

// The generator's exact output (a test in the generator keeps it current).
#[path = "contract/example_metrics.rs"]
mod example_metrics;
#[path = "support/labels.rs"]
mod labels;
#[path = "support/samples.rs"]
mod samples;
mod support;

use example_metrics::{CacheOperationsLabels, Method, Metrics, Status};
use labels::{durations, le_values, requests};
use samples::{record_small, samples, Samples};
use slogen_runtime::{
    encode, encode_openmetrics, encode_prometheus, encode_text, le_value, Counter, Dimension,
    Family, Format, Gauge, Histogram, LabelSet, LabelValue, MetricSet, NoLabels, OpenLabel, Slot,
    Visitor, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE,
};

/// A route exercising every character the label value escaping handles.
const AWKWARD_ROUTE: &str = "/a\"quoted\"/back\\slash/new\nline";

fn prometheus_text<M: MetricSet + ?Sized>(metrics: &M) -> String {
    let mut out = Vec::new();
    encode_prometheus(metrics, &mut out);
    String::from_utf8(out).expect("the exposition is UTF-8")
}

fn openmetrics_text<M: MetricSet + ?Sized>(metrics: &M) -> String {
    let mut out = Vec::new();
    encode_openmetrics(metrics, &mut out);
    String::from_utf8(out).expect("the exposition is UTF-8")
}

/// The sample lines both formats share for [`record_small`].
const SMALL_SAMPLES: [&str; 4] = [
    "cache_operations_total{status=\"2xx\"} 0\n\
     cache_operations_total{status=\"4xx\"} 7\n\
     cache_operations_total{status=\"5xx\"} 0\n",
    "http_request_duration_seconds_bucket{method=\"GET\",route=\"/users/{id}\",le=\"0.005\"} 0\n\
     http_request_duration_seconds_bucket{method=\"GET\",route=\"/users/{id}\",le=\"0.01\"} 0\n\
     http_request_duration_seconds_bucket{method=\"GET\",route=\"/users/{id}\",le=\"0.025\"} 0\n\
     http_request_duration_seconds_bucket{method=\"GET\",route=\"/users/{id}\",le=\"0.05\"} 0\n\
     http_request_duration_seconds_bucket{method=\"GET\",route=\"/users/{id}\",le=\"0.1\"} 1\n\
     http_request_duration_seconds_bucket{method=\"GET\",route=\"/users/{id}\",le=\"0.25\"} 2\n\
     http_request_duration_seconds_bucket{method=\"GET\",route=\"/users/{id}\",le=\"0.5\"} 3\n\
     http_request_duration_seconds_bucket{method=\"GET\",route=\"/users/{id}\",le=\"1.0\"} 3\n\
     http_request_duration_seconds_bucket{method=\"GET\",route=\"/users/{id}\",le=\"2.5\"} 3\n\
     http_request_duration_seconds_bucket{method=\"GET\",route=\"/users/{id}\",le=\"5.0\"} 3\n\
     http_request_duration_seconds_bucket{method=\"GET\",route=\"/users/{id}\",le=\"10.0\"} 3\n\
     http_request_duration_seconds_bucket{method=\"GET\",route=\"/users/{id}\",le=\"+Inf\"} 4\n\
     http_request_duration_seconds_sum{method=\"GET\",route=\"/users/{id}\"} 12.8125\n\
     http_request_duration_seconds_count{method=\"GET\",route=\"/users/{id}\"} 4\n",
    // `/orders` was interned first, but `GET` slots come before `POST` ones.
    "http_requests_total{method=\"GET\",route=\"/users/{id}\",status=\"2xx\"} 3\n\
     http_requests_total{method=\"POST\",route=\"/orders\",status=\"5xx\"} 1\n",
    "http_requests_in_flight 2\n",
];

const DROPPED_HELP: &str = "Recordings whose open label value was replaced by `other` because the label had reached its maximum number of values.";

#[test]
fn classic_text_of_a_small_recording() {
    let metrics = Metrics::new();
    record_small(&metrics);
    let [cache, duration, requests, in_flight] = SMALL_SAMPLES;
    let expected = format!(
        "# HELP cache_operations_total Cache operations, by outcome.\n\
         # TYPE cache_operations_total counter\n\
         {cache}\
         # HELP http_request_duration_seconds HTTP request latency, from first byte in to last byte out.\n\
         # TYPE http_request_duration_seconds histogram\n\
         {duration}\
         # HELP http_requests_total HTTP requests handled.\n\
         # TYPE http_requests_total counter\n\
         {requests}\
         # HELP http_requests_in_flight HTTP requests being served right now.\n\
         # TYPE http_requests_in_flight gauge\n\
         {in_flight}\
         # HELP slogen_label_values_dropped_total {DROPPED_HELP}\n\
         # TYPE slogen_label_values_dropped_total counter\n\
         slogen_label_values_dropped_total{{label=\"route\"}} 0\n"
    );
    assert_eq!(prometheus_text(&metrics), expected);
}

#[test]
fn openmetrics_text_of_a_small_recording() {
    let metrics = Metrics::new();
    record_small(&metrics);
    let [cache, duration, requests, in_flight] = SMALL_SAMPLES;
    let expected = format!(
        "# HELP cache_operations Cache operations, by outcome.\n\
         # TYPE cache_operations counter\n\
         {cache}\
         # HELP http_request_duration_seconds HTTP request latency, from first byte in to last byte out.\n\
         # TYPE http_request_duration_seconds histogram\n\
         # UNIT http_request_duration_seconds seconds\n\
         {duration}\
         # HELP http_requests HTTP requests handled.\n\
         # TYPE http_requests counter\n\
         {requests}\
         # HELP http_requests_in_flight HTTP requests being served right now.\n\
         # TYPE http_requests_in_flight gauge\n\
         {in_flight}\
         # HELP slogen_label_values_dropped {DROPPED_HELP}\n\
         # TYPE slogen_label_values_dropped counter\n\
         slogen_label_values_dropped_total{{label=\"route\"}} 0\n\
         # EOF\n"
    );
    assert_eq!(openmetrics_text(&metrics), expected);
}

#[test]
fn encode_appends_in_the_requested_format() {
    let metrics = Metrics::new();
    record_small(&metrics);
    let mut out = b"kept\n".to_vec();
    encode(&metrics, Format::OpenMetrics, &mut out);
    assert_eq!(
        out,
        format!("kept\n{}", openmetrics_text(&metrics)).as_bytes()
    );
    out.clear();
    encode(&metrics, Format::Prometheus, &mut out);
    assert_eq!(out, prometheus_text(&metrics).as_bytes());
    assert_eq!(Format::Prometheus.content_type(), PROMETHEUS_CONTENT_TYPE);
    assert_eq!(Format::OpenMetrics.content_type(), OPENMETRICS_CONTENT_TYPE);
}

#[test]
fn accept_header_negotiation() {
    // What Prometheus 2.42 sends; the scrape tests below also check the header it really sent.
    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let cases = [
        (None, Format::Prometheus),
        (Some(""), Format::Prometheus),
        (Some("*/*"), Format::Prometheus),
        (Some("text/plain; version=0.0.4"), Format::Prometheus),
        (Some(prometheus), Format::OpenMetrics),
        (
            Some("Application/OpenMetrics-Text; version=1.0.0"),
            Format::OpenMetrics,
        ),
        (
            Some("application/openmetrics-text;q=0, text/plain"),
            Format::Prometheus,
        ),
        (
            Some("text/plain;q=0.5, application/openmetrics-text;q=0.4"),
            Format::Prometheus,
        ),
        (
            Some("text/plain;q=0.5, application/openmetrics-text; Q=0.6"),
            Format::OpenMetrics,
        ),
    ];
    for (accept, expected) in cases {
        assert_eq!(Format::from_accept(accept), expected, "Accept: {accept:?}");
    }
}

// ---------------------------------------------------------------------------------------------------------
// A hand-built set with many series: 10^4 closed-label counter series, an open-label histogram, and units.

/// One decimal digit; four labels of it make a 10 × 10 × 10 × 10 grid of closed series.
#[derive(Clone, Copy)]
struct Digit(u8);

impl LabelValue for Digit {
    const VALUES: &'static [&'static str] =
        &["d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9"];

    fn index(self) -> usize {
        usize::from(self.0)
    }
}

struct CellLabels {
    shard: Digit,
    replica: Digit,
    zone: Digit,
    disk: Digit,
}

impl LabelSet for CellLabels {
    type Borrowed<'a> = CellLabels;
    const NAMES: &'static [&'static str] = &["shard", "replica", "zone", "disk"];

    fn slot(labels: &CellLabels, slot: &mut Slot<'_>) {
        slot.closed(labels.shard);
        slot.closed(labels.replica);
        slot.closed(labels.zone);
        slot.closed(labels.disk);
    }
}

#[derive(Clone, Copy)]
enum Op {
    Read,
    Write,
    Scan,
}

impl LabelValue for Op {
    const VALUES: &'static [&'static str] = &["read", "write", "scan"];

    fn index(self) -> usize {
        self as usize
    }
}

struct TenantLabels<'a> {
    op: Op,
    tenant: &'a str,
}

impl LabelSet for TenantLabels<'static> {
    type Borrowed<'a> = TenantLabels<'a>;
    const NAMES: &'static [&'static str] = &["op", "tenant"];

    fn slot(labels: &TenantLabels<'_>, slot: &mut Slot<'_>) {
        slot.closed(labels.op);
        slot.open(labels.tenant);
    }
}

const FLEET_BUCKETS: &[f64] = &[0.001, 0.01, 0.1, 1.0, 10.0];

/// The number of distinct tenants the `tenant` label admits; recordings use more, so some overflow.
const TENANTS: usize = 300;

struct Fleet {
    cells: Family<CellLabels, Counter>,
    operations: Family<TenantLabels<'static>, Histogram>,
    sent: Family<NoLabels, Counter>,
    temperature: Family<NoLabels, Gauge>,
}

impl Fleet {
    fn new() -> Self {
        let tenant = OpenLabel::new("tenant", TENANTS);
        Fleet {
            cells: Family::new(
                "fleet_cell_requests",
                "Requests \"served\", by grid cell.",
                None,
                vec![Dimension::closed::<Digit>(); 4],
                Counter::default,
            ),
            operations: Family::new(
                "fleet_operation_duration",
                "Operation latency, by operation and tenant.",
                Some("seconds"),
                vec![Dimension::closed::<Op>(), Dimension::open(&tenant)],
                || Histogram::new(FLEET_BUCKETS),
            ),
            sent: Family::new(
                "fleet_sent",
                "Payload sent.",
                Some("bytes"),
                Vec::new(),
                Counter::default,
            ),
            temperature: Family::new(
                "fleet_temperature",
                "Rack temperature.",
                Some("celsius"),
                Vec::new(),
                Gauge::default,
            ),
        }
    }
}

impl MetricSet for Fleet {
    fn visit(&self, visitor: &mut dyn Visitor) {
        visitor.family(&self.cells);
        visitor.family(&self.operations);
        visitor.family(&self.sent);
        visitor.family(&self.temperature);
    }
}

/// SplitMix64: a deterministic pseudo-random sequence without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(bound).expect("bound fits u64"))
            .expect("below a usize bound")
    }

    fn pick<T: Copy>(&mut self, values: &[T]) -> T {
        values[self.below(values.len())]
    }

    fn digit(&mut self) -> Digit {
        Digit(u8::try_from(self.below(10)).expect("a digit"))
    }

    /// A duration in seconds with millisecond resolution, spanning every bucket.
    fn seconds(&mut self) -> f64 {
        u32::try_from(self.below(20_000)).expect("small") as f64 / 1000.0
    }
}

/// Routes for the example set: more than its `route` label admits (200), and the awkward one.
fn routes() -> Vec<String> {
    let mut routes = vec![AWKWARD_ROUTE.to_owned()];
    routes.extend((0..260).map(|i| format!("/items/{i}")));
    routes
}

fn record_randomly(metrics: &Metrics, fleet: &Fleet, seed: u64) {
    let mut rng = Rng(seed);
    let routes = routes();
    let tenants: Vec<String> = (0..TENANTS + 40).map(|i| format!("tenant-{i}")).collect();
    let methods = [Method::Get, Method::Post];
    let statuses = [Status::Status2xx, Status::Status4xx, Status::Status5xx];
    let ops = [Op::Read, Op::Write, Op::Scan];
    // The awkward route first, so it is interned before the label fills up, and every operation with every
    // tenant, so every open slot of the fleet (and `other`) exists.
    metrics
        .http_request_duration
        .with(&durations(Method::Post, AWKWARD_ROUTE))
        .observe(rng.seconds());
    for op in ops {
        for tenant in &tenants {
            fleet
                .operations
                .with(&TenantLabels { op, tenant })
                .observe(rng.seconds());
        }
    }
    for _ in 0..20_000 {
        match rng.below(8) {
            0 => metrics
                .cache_operations
                .with(&CacheOperationsLabels {
                    status: rng.pick(&statuses),
                })
                .inc_by(u64::try_from(rng.below(5)).expect("small")),
            1 => {
                let route = &routes[rng.below(routes.len())];
                metrics
                    .http_requests
                    .with(&requests(rng.pick(&methods), route, rng.pick(&statuses)))
                    .inc();
            }
            2 => {
                let route = &routes[rng.below(routes.len())];
                metrics
                    .http_request_duration
                    .with(&durations(rng.pick(&methods), route))
                    .observe(rng.seconds());
            }
            3 => metrics
                .http_requests_in_flight
                .set(i64::try_from(rng.below(100)).expect("small") - 50),
            4 => fleet
                .cells
                .with(&CellLabels {
                    shard: rng.digit(),
                    replica: rng.digit(),
                    zone: rng.digit(),
                    disk: rng.digit(),
                })
                .inc(),
            5 => {
                let tenant = &tenants[rng.below(tenants.len())];
                fleet
                    .operations
                    .with(&TenantLabels {
                        op: rng.pick(&ops),
                        tenant,
                    })
                    .observe(rng.seconds());
            }
            6 => fleet
                .sent
                .inc_by(u64::try_from(rng.below(1 << 20)).expect("small")),
            _ => fleet
                .temperature
                .set(i64::try_from(rng.below(80)).expect("small") - 20),
        }
    }
}

/// The lines that are not comments: what differs between the formats is only in comments.
fn sample_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|line| !line.starts_with('#')).collect()
}

#[test]
fn samples_match_prometheus_client_on_a_random_recording() {
    let metrics = Metrics::new();
    let fleet = Fleet::new();
    record_randomly(&metrics, &fleet, 0x5106_e4a7);

    let example = prometheus_text(&metrics);
    assert_eq!(samples(&example), samples(&encode_text(&metrics)));
    assert_eq!(
        sample_lines(&example),
        sample_lines(&openmetrics_text(&metrics))
    );
    let fleet_text = prometheus_text(&fleet);
    assert_eq!(samples(&fleet_text), samples(&encode_text(&fleet)));
    assert_eq!(
        sample_lines(&fleet_text),
        sample_lines(&openmetrics_text(&fleet))
    );

    // The recording reached what the comparison is meant to cover.
    let example_samples = samples(&example);
    let dropped = |set: &Samples| {
        set[&(
            "slogen_label_values_dropped_total".to_owned(),
            vec![("label".to_owned(), "route".to_owned())],
        )]
    };
    assert!(f64::from_bits(dropped(&example_samples)) > 0.0, "{example}");
    assert!(
        example_samples
            .keys()
            .any(|(_, labels)| labels.contains(&("route".to_owned(), AWKWARD_ROUTE.to_owned()))),
        "{example}"
    );
    let fleet_samples = samples(&fleet_text);
    let count = |prefix: &str| {
        fleet_samples
            .keys()
            .filter(|(name, _)| name.starts_with(prefix))
            .count()
    };
    assert_eq!(count("fleet_cell_requests_total"), 10_000);
    // Every open slot was touched: 3 operations × (300 tenants + `other`), 5 bounds + `+Inf` + sum + count.
    assert_eq!(
        count("fleet_operation_duration_seconds_"),
        3 * (TENANTS + 1) * 8
    );
}

#[test]
fn le_is_spelt_as_prometheus_3_normalises_it() {
    // Go's strconv.FormatFloat(f, 'g', -1, 64), plus `.0` when that reads as an integer.
    let spellings = [
        (1.0, "1.0"),
        (0.00005, "5e-05"),
        (0.0001, "0.0001"),
        (1_000_000.0, "1e+06"),
        (123_456.0, "123456.0"),
        (0.25, "0.25"),
        (10.0, "10.0"),
        (1.5e-7, "1.5e-07"),
        (2.5e21, "2.5e+21"),
        (-3.0, "-3.0"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
    ];
    for (bound, text) in spellings {
        assert_eq!(le_value(bound), text, "{bound:?}");
    }
}

#[test]
fn histogram_le_is_normalised_and_last() {
    let fleet = Fleet::new();
    fleet
        .operations
        .with(&TenantLabels {
            op: Op::Scan,
            tenant: "t",
        })
        .observe(0.5);
    let text = prometheus_text(&fleet);
    let le: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("fleet_operation_duration_seconds_bucket{"))
        .map(|line| {
            line.strip_prefix(
                "fleet_operation_duration_seconds_bucket{op=\"scan\",tenant=\"t\",le=\"",
            )
            .and_then(|rest| rest.split_once('"'))
            .unwrap_or_else(|| panic!("le is not the last label: {line}"))
            .0
        })
        .collect();
    assert_eq!(le, le_values(FLEET_BUCKETS));
}

#[test]
fn special_sums_and_escaped_labels_pass_promtool() {
    let metrics = Metrics::new();
    metrics
        .http_requests
        .with(&requests(Method::Get, AWKWARD_ROUTE, Status::Status2xx))
        .inc();
    let sums = [
        ("/nan", f64::NAN),
        ("/inf", f64::INFINITY),
        ("/-inf", f64::NEG_INFINITY),
    ];
    for (route, value) in sums {
        metrics
            .http_request_duration
            .with(&durations(Method::Post, route))
            .observe(value);
    }
    let text = prometheus_text(&metrics);
    assert!(
        text.contains(
            "http_requests_total{method=\"GET\",route=\"/a\\\"quoted\\\"/back\\\\slash/new\\nline\",status=\"2xx\"} 1\n"
        ),
        "{text}"
    );
    for (route, written) in [("/nan", "NaN"), ("/inf", "+Inf"), ("/-inf", "-Inf")] {
        let line = format!(
            "http_request_duration_seconds_sum{{method=\"POST\",route=\"{route}\"}} {written}\n"
        );
        assert!(text.contains(&line), "{line} in {text}");
    }
    let parsed = samples(&text);
    assert!(parsed.contains_key(&(
        "http_requests_total".to_owned(),
        vec![
            ("method".to_owned(), "GET".to_owned()),
            ("route".to_owned(), AWKWARD_ROUTE.to_owned()),
            ("status".to_owned(), "2xx".to_owned()),
        ]
    )));
    support::assert_promtool_accepts(&text, &[]);
}

#[test]
fn promtool_finds_nothing_in_the_classic_text() {
    let metrics = Metrics::new();
    support::assert_promtool_accepts(&prometheus_text(&metrics), &[]);
    record_small(&metrics);
    support::assert_promtool_accepts(&prometheus_text(&metrics), &[]);

    let fleet = Fleet::new();
    record_randomly(&metrics, &fleet, 7);
    let text = prometheus_text(&fleet);
    assert!(sample_lines(&text).len() > 10_000, "{}", text.len());
    support::assert_promtool_accepts(&text, &[]);
    support::assert_promtool_accepts(&prometheus_text(&metrics), &[]);
}
