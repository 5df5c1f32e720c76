//! A real `prometheus` for tests: one scrape job on a loopback target, optional rule files, a temporary
//! data directory, a free loopback port; killed and reaped when the handle is dropped, panics included.
//!
//! It scrapes and evaluates every second, so a test sees a change within seconds. Calls to its HTTP API
//! block, so async tests wrap them in `tokio::task::block_in_place`.
//!
//! Include it with `#[path = "support/prometheus.rs"] mod prometheus_server;` (not `prometheus`, the
//! name of a dev-dependency), beside `#[path = "support/server.rs"] mod server;`.

// Each test binary compiles its own copy and uses only part of it.
#![allow(dead_code)]

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

pub use crate::server::percent_encode;
use crate::server::Server;

/// The real `prometheus` binary, killed on drop.
pub struct Prometheus {
    server: Server,
}

impl Prometheus {
    /// Starts Prometheus scraping `target`'s `/metrics` as job `job` every second, evaluating `rules`
    /// (copied into its directory) every second, and waits until it is ready.
    pub fn start(job: &str, target: SocketAddr, rules: &[&Path]) -> Self {
        Self::start_alerting(job, target, rules, None)
    }

    /// [`Prometheus::start`], sending its alerts to the Alertmanager at `alertmanager` when given.
    pub fn start_alerting(
        job: &str,
        target: SocketAddr,
        rules: &[&Path],
        alertmanager: Option<SocketAddr>,
    ) -> Self {
        let server = Server::start(
            "prometheus",
            "prometheus",
            "prometheus",
            |port, dir| {
                let mut rule_files = Vec::new();
                for (n, rules) in rules.iter().enumerate() {
                    let copy = dir.join(format!("rules-{n}.yml"));
                    fs::copy(rules, &copy)
                        .unwrap_or_else(|error| panic!("copy {}: {error}", rules.display()));
                    rule_files.push(copy);
                }
                let config = dir.join("prometheus.yml");
                fs::write(&config, config_text(job, target, &rule_files, alertmanager))
                    .expect("write prometheus.yml");
                vec![
                    format!("--config.file={}", config.display()),
                    format!("--storage.tsdb.path={}", dir.join("data").display()),
                    format!("--web.listen-address=127.0.0.1:{port}"),
                ]
            },
            "/-/ready",
        );
        Prometheus { server }
    }

    /// The process ID, so a test can check that the process is gone after drop.
    pub fn pid(&self) -> u32 {
        self.server.pid()
    }

    /// GETs `path` from the HTTP API; `None` while Prometheus is not answering or answers an error.
    pub fn api(&self, path: &str) -> Option<Value> {
        self.server.get_json(path)
    }

    /// The result vector of an instant query evaluated now.
    pub fn query(&self, query: &str) -> Option<Vec<Value>> {
        let value = self.api(&format!("/api/v1/query?query={}", percent_encode(query)))?;
        value["data"]["result"].as_array().cloned()
    }

    /// The result matrix of a range query from `start` to `end` every `step`.
    pub fn query_range(
        &self,
        query: &str,
        start: SystemTime,
        end: SystemTime,
        step: Duration,
    ) -> Option<Vec<Value>> {
        let value = self.api(&format!(
            "/api/v1/query_range?query={}&start={}&end={}&step={}",
            percent_encode(query),
            unix_seconds(start),
            unix_seconds(end),
            step.as_secs_f64()
        ))?;
        value["data"]["result"].as_array().cloned()
    }

    /// The series matching the selector `selector` that have a sample since `since`.
    pub fn series(&self, selector: &str, since: SystemTime) -> Option<Vec<Value>> {
        let value = self.api(&format!(
            "/api/v1/series?match%5B%5D={}&start={}",
            percent_encode(selector),
            unix_seconds(since)
        ))?;
        value["data"].as_array().cloned()
    }

    /// Prometheus' log so far, for failure messages.
    pub fn log(&self) -> String {
        self.server.log()
    }
}

/// `prometheus.yml`: one job scraping `target` every second, rules evaluated every second, alerts sent to
/// `alertmanager` if any.
fn config_text(
    job: &str,
    target: SocketAddr,
    rule_files: &[PathBuf],
    alertmanager: Option<SocketAddr>,
) -> String {
    let mut text =
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
            .to_owned();
    if !rule_files.is_empty() {
        text.push_str("rule_files:\n");
        for file in rule_files {
            text.push_str(&format!("  - '{}'\n", file.display()));
        }
    }
    if let Some(alertmanager) = alertmanager {
        text.push_str(&format!(
            "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{alertmanager}']\n"
        ));
    }
    text.push_str(&format!(
        "scrape_configs:\n  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
    ));
    text
}

/// Seconds since the epoch with millisecond precision, as the API takes times.
fn unix_seconds(time: SystemTime) -> String {
    let since = time
        .duration_since(UNIX_EPOCH)
        .expect("a time after the epoch");
    format!("{}.{:03}", since.as_secs(), since.subsec_millis())
}
