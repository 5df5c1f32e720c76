//! Real monitoring servers for the end-to-end tests: Alertmanager, single-node VictoriaMetrics and vmalert,
//! each a [`Server`] (the runtime tests' process handle: free loopback port, own directory and log, killed
//! and reaped on drop).
//!
//! Include it with `#[path = "support/servers.rs"] mod servers;`, beside
//! `#[path = "../../../runtime/tests/support/server.rs"] mod server;`.

// Each test binary compiles its own copy and uses only part of it.
#![allow(dead_code)]

use std::fs;
use std::net::SocketAddr;
use std::path::Path;

pub use crate::server::Server;

/// A real Alertmanager (Debian's `prometheus-alertmanager`) with `config` as its `alertmanager.yml`, its own
/// data directory, and clustering off (`--cluster.listen-address=` empty), so it neither gossips nor waits
/// for peers before it notifies.
pub fn alertmanager(config: &str) -> Server {
    Server::start(
        "alertmanager",
        "prometheus-alertmanager",
        "prometheus-alertmanager",
        |port, dir| {
            let file = dir.join("alertmanager.yml");
            fs::write(&file, config).expect("write alertmanager.yml");
            vec![
                format!("--config.file={}", file.display()),
                format!("--storage.path={}", dir.join("data").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
                "--cluster.listen-address=".to_owned(),
            ]
        },
        "/-/ready",
    )
}

/// A real single-node VictoriaMetrics (Debian's `victoria-metrics`) scraping `target`'s `/metrics` as job
/// `job` every second. Queries see a sample as soon as it is stored (`-search.latencyOffset=0s`; the
/// default 30 s hides the newest samples, which would delay every alert by as much).
pub fn victoria_metrics(job: &str, target: SocketAddr) -> Server {
    let scrape = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: {job}\n    \
         static_configs:\n      - targets: ['{target}']\n"
    );
    Server::start(
        "victoria-metrics",
        "victoria-metrics",
        "victoria-metrics",
        |port, dir| {
            let file = dir.join("scrape.yml");
            fs::write(&file, &scrape).expect("write the scrape config");
            vec![
                format!("-storageDataPath={}", dir.join("data").display()),
                format!("-httpListenAddr=127.0.0.1:{port}"),
                format!("-promscrape.config={}", file.display()),
                "-search.latencyOffset=0s".to_owned(),
                "-retentionPeriod=1d".to_owned(),
            ]
        },
        "/health",
    )
}

/// A real vmalert evaluating `rules` every second against `datasource` (VictoriaMetrics), writing recorded
/// series back to it (flushed every 500 ms, so the alerts that read them see them within about a second)
/// and sending alerts to the Alertmanager `notifier`.
pub fn vmalert(rules: &Path, datasource: &Server, notifier: &Server) -> Server {
    let rules = rules.to_owned();
    let (datasource, notifier) = (datasource.url(""), notifier.url(""));
    Server::start(
        "vmalert",
        "vmalert",
        "victoria-metrics",
        |port, _| {
            vec![
                format!("-rule={}", rules.display()),
                format!("-datasource.url={datasource}"),
                format!("-remoteWrite.url={datasource}"),
                "-remoteWrite.flushInterval=500ms".to_owned(),
                format!("-notifier.url={notifier}"),
                "-evaluationInterval=1s".to_owned(),
                format!("-httpListenAddr=127.0.0.1:{port}"),
            ]
        },
        "/health",
    )
}
