//! Recording a small, known set into the generator's example module and parsing an exposition back into
//! samples, for the exposition tests.
//!
//! Include it with `#[path = "support/samples.rs"] mod samples;`, beside `example_metrics` and `labels`.

#![allow(dead_code)]

use std::collections::BTreeMap;

use crate::example_metrics::{CacheOperationsLabels, Method, Metrics, Status};
use crate::labels::{durations, requests};

/// A few recordings into every kind of family of the example set.
pub fn record_small(metrics: &Metrics) {
    metrics
        .cache_operations
        .with(&CacheOperationsLabels {
            status: Status::Status4xx,
        })
        .inc_by(7);
    metrics
        .http_requests
        .with(&requests(Method::Post, "/orders", Status::Status5xx))
        .inc();
    for _ in 0..3 {
        metrics
            .http_requests
            .with(&requests(Method::Get, "/users/{id}", Status::Status2xx))
            .inc();
    }
    let users = metrics
        .http_request_duration
        .with(&durations(Method::Get, "/users/{id}"));
    for seconds in [0.0625, 0.25, 0.5, 12.0] {
        users.observe(seconds);
    }
    metrics.http_requests_in_flight.set(2);
}

/// A series' labels, sorted by name.
pub type Labels = Vec<(String, String)>;

/// Every sample of an exposition: (sample name, labels) → value as `f64` bits.
pub type Samples = BTreeMap<(String, Labels), u64>;

/// Parses the sample lines of either format (comments skipped), unescaping label values; a series written
/// twice is an error.
pub fn samples(text: &str) -> Samples {
    let mut samples = Samples::new();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let (name, labels, value) = parse_sample(line);
        let previous = samples.insert((name, labels), value.to_bits());
        assert!(previous.is_none(), "series written twice: {line}");
    }
    samples
}

pub fn parse_sample(line: &str) -> (String, Labels, f64) {
    let name_end = line
        .find(['{', ' '])
        .unwrap_or_else(|| panic!("no value: {line:?}"));
    let name = line[..name_end].to_owned();
    let mut chars = line[name_end..].chars();
    let mut labels = Labels::new();
    let mut next = chars.next();
    if next == Some('{') {
        loop {
            let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
            assert_eq!(chars.next(), Some('"'), "label {key} of {line:?}");
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => value.push(match chars.next() {
                        Some('n') => '\n',
                        Some('\\') => '\\',
                        Some('"') => '"',
                        other => panic!("bad escape {other:?} in {line:?}"),
                    }),
                    Some(c) => value.push(c),
                    None => panic!("unterminated label value in {line:?}"),
                }
            }
            labels.push((key, value));
            match chars.next() {
                Some(',') => {}
                Some('}') => break,
                other => panic!("unexpected {other:?} after a label in {line:?}"),
            }
        }
        next = chars.next();
    }
    assert_eq!(next, Some(' '), "no space before the value in {line:?}");
    let value: String = chars.collect();
    let value = value
        .parse::<f64>()
        .unwrap_or_else(|error| panic!("value of {line:?}: {error}"));
    labels.sort();
    (name, labels, value)
}
