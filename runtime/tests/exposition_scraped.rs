//! A real Prometheus scraping the crate's own encoders, in both formats, through an HTTP server in the test.

// The generator's exact output (a test in the generator keeps it current).
#[path = "contract/example_metrics.rs"]
mod example_metrics;
#[path = "support/labels.rs"]
mod labels;
#[path = "support/prometheus.rs"]
mod prometheus_server;
#[path = "support/samples.rs"]
mod samples;
#[path = "support/server.rs"]
mod server;

use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use example_metrics::{Method, Metrics, Status};
use labels::requests;
use prometheus_server::Prometheus;
use samples::{record_small, samples, Labels, Samples};
use serde_json::Value;
use slogen_runtime::{encode, Family, Format, Gauge, Histogram, MetricSet, NoLabels, Visitor};

/// A route exercising every character the label value escaping handles.
const AWKWARD_ROUTE: &str = "/a\"quoted\"/back\\slash/new\nline";

/// The example set plus a family whose help has quotes, which OpenMetrics escapes and the classic format
/// does not.
struct Served {
    example: Metrics,
    room: Family<NoLabels, Gauge>,
    /// Bounds whose `le` Prometheus 3 would respell if the exposition did not already use its spelling.
    sizes: Family<NoLabels, Histogram>,
}

const SIZE_BUCKETS: &[f64] = &[0.00005, 0.25, 1.0, 123_456.0, 1_000_000.0];

const ROOM_HELP: &str = "Temperature in \"degrees\", as measured.";

impl MetricSet for Served {
    fn visit(&self, visitor: &mut dyn Visitor) {
        self.example.visit(visitor);
        visitor.family(&self.room);
        visitor.family(&self.sizes);
    }
}

/// A tiny HTTP/1.1 server answering every request with the current exposition in one format.
struct ExpositionServer {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    /// The `Accept` header of every request, in order.
    accepts: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl ExpositionServer {
    fn start(metrics: Arc<Served>, format: Format) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the exposition server");
        let address = listener.local_addr().expect("the server's address");
        let stop = Arc::new(AtomicBool::new(false));
        let accepts = Arc::new(Mutex::new(Vec::new()));
        let thread = thread::spawn({
            let stop = Arc::clone(&stop);
            let accepts = Arc::clone(&accepts);
            move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    // A failed exchange shows up as a scrape error in Prometheus, which the test reports.
                    if let Ok(mut stream) = stream {
                        let _ = serve(&mut stream, &metrics, format, &accepts);
                    }
                }
            }
        });
        ExpositionServer {
            address,
            stop,
            accepts,
            thread: Some(thread),
        }
    }
}

fn serve(
    stream: &mut TcpStream,
    metrics: &Served,
    format: Format,
    accepts: &Mutex<Vec<String>>,
) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request = Vec::new();
    let mut buffer = [0; 4096];
    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buffer[..read]);
    }
    let head = String::from_utf8_lossy(&request);
    let accept = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("accept"))
        .map(|(_, value)| value.trim().to_owned());
    accepts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(accept.unwrap_or_default());
    let mut body = Vec::new();
    encode(metrics, format, &mut body);
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        format.content_type(),
        body.len()
    )?;
    stream.write_all(&body)
}

impl Drop for ExpositionServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking `accept` so the thread sees the flag.
        let _ = TcpStream::connect(self.address);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A series from a query result, in the shape of [`samples`]: labels without `__name__`, `job` and
/// `instance`, and the value's bits.
fn series_of(result: &Value) -> ((String, Labels), u64) {
    let metric = result["metric"].as_object().expect("a metric object");
    let name = metric["__name__"].as_str().expect("a name").to_owned();
    let mut labels: Labels = metric
        .iter()
        .filter(|(key, _)| !matches!(key.as_str(), "__name__" | "job" | "instance"))
        .map(|(key, value)| (key.clone(), value.as_str().expect("a string").to_owned()))
        .collect();
    labels.sort();
    let value: f64 = result["value"][1]
        .as_str()
        .expect("a value string")
        .parse()
        .expect("a number");
    ((name, labels), value.to_bits())
}

/// Serves a recording in `format` to a real Prometheus and checks that everything arrived intact.
fn scraped_by_prometheus(format: Format) {
    let served = Arc::new(Served {
        example: Metrics::new(),
        room: Family::new(
            "room",
            ROOM_HELP,
            Some("celsius"),
            Vec::new(),
            Gauge::default,
        ),
        sizes: Family::new("sizes", "Sizes.", Some("bytes"), Vec::new(), || {
            Histogram::new(SIZE_BUCKETS)
        }),
    });
    record_small(&served.example);
    served.sizes.observe(0.5);
    served
        .example
        .http_requests
        .with(&requests(Method::Get, AWKWARD_ROUTE, Status::Status4xx))
        .inc_by(2);
    served.room.set(21);
    let mut exposition = Vec::new();
    encode(&*served, format, &mut exposition);
    let expected = samples(std::str::from_utf8(&exposition).expect("UTF-8"));

    let server = ExpositionServer::start(Arc::clone(&served), format);
    let prometheus = Prometheus::start("slogen", server.address, &[]);

    // Bounded polling: Prometheus needs a few seconds to start and scrape once.
    let scraped = (0..120)
        .find_map(|_| {
            let everything = prometheus
                .query("{job=\"slogen\",__name__!~\"up|scrape_.*\"}")
                .filter(|everything| !everything.is_empty());
            if everything.is_none() {
                thread::sleep(Duration::from_millis(250));
            }
            everything
        })
        .unwrap_or_else(|| {
            panic!(
                "Prometheus never ingested a scrape; its log:\n{}",
                prometheus.log()
            )
        });

    // A counter and a histogram bucket, with the recorded values and labels.
    let counter = prometheus
        .query("http_requests_total{method=\"GET\",route=\"/users/{id}\",status=\"2xx\"}")
        .expect("query the counter");
    assert_eq!(counter.len(), 1, "{counter:?}");
    assert_eq!(counter[0]["value"][1], "3", "{counter:?}");
    let bucket = prometheus
        .query("http_request_duration_seconds_bucket{method=\"GET\",route=\"/users/{id}\",le=\"0.25\"}")
        .expect("query the bucket");
    assert_eq!(bucket.len(), 1, "{bucket:?}");
    assert_eq!(bucket[0]["value"][1], "2", "{bucket:?}");
    // PromQL unescapes the same three sequences the exposition escapes.
    let awkward = prometheus
        .query("http_requests_total{route=\"/a\\\"quoted\\\"/back\\\\slash/new\\nline\"}")
        .expect("query the awkward route");
    assert_eq!(awkward.len(), 1, "{awkward:?}");
    assert_eq!(awkward[0]["metric"]["route"], AWKWARD_ROUTE);
    assert_eq!(awkward[0]["value"][1], "2", "{awkward:?}");

    // Every served sample, and nothing else.
    let ingested: Samples = scraped.iter().map(series_of).collect();
    assert_eq!(ingested, expected);
    let scraped_count = prometheus
        .query("scrape_samples_scraped{job=\"slogen\"}")
        .expect("query scrape_samples_scraped");
    assert_eq!(
        scraped_count[0]["value"][1],
        expected.len().to_string().as_str()
    );

    let up = prometheus.query("up").expect("query up");
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(up[0]["value"][1], "1", "{up:?}");
    let targets = prometheus.api("/api/v1/targets").expect("list targets");
    let active = targets["data"]["activeTargets"]
        .as_array()
        .expect("active targets");
    assert_eq!(active.len(), 1, "{targets}");
    assert_eq!(active[0]["health"], "up", "{targets}");
    assert_eq!(active[0]["lastError"], "", "{targets}");

    // The help text arrives unescaped in both formats (OpenMetrics escaped its quotes).
    let metadata = prometheus
        .api("/api/v1/metadata?metric=room_celsius")
        .expect("query metadata");
    assert_eq!(
        metadata["data"]["room_celsius"][0]["help"], ROOM_HELP,
        "{metadata}"
    );

    // Prometheus asks for OpenMetrics first, so negotiation would pick it.
    let accepts = server
        .accepts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert!(!accepts.is_empty());
    for accept in &accepts {
        assert_eq!(
            Format::from_accept(Some(accept)),
            Format::OpenMetrics,
            "{accept}"
        );
    }
}

#[test]
fn prometheus_scrapes_the_classic_text() {
    scraped_by_prometheus(Format::Prometheus);
}

#[test]
fn prometheus_scrapes_openmetrics() {
    scraped_by_prometheus(Format::OpenMetrics);
}
