//! Open-loop load generation checked against the service's SLOs: the engine behind `slogen-load`.
//!
//! # Why open loop
//!
//! A closed-loop tool sends the next request when the previous one returns, so while the server stalls it
//! stops sending and records one slow request instead of the hundreds users would have sent meanwhile
//! ("coordinated omission"). Here requests are due at fixed times, `start + i / rate`, whatever the server
//! does; each one's latency is measured from the time it was *due*, not from when it actually went out, so a
//! stall shows up in every request that should have been sent during it (as in wrk2 and k6's
//! constant-arrival-rate executor). Requests run concurrently, at most `max_in_flight` at once: a request due
//! while that many are outstanding is **dropped** (never sent) and counted, never silently delayed.
//!
//! # What is checked
//!
//! The SLOs are read through the generator's own model ([`slogen::load::spec_dir`], [`slogen::model::lower()`]),
//! so the tool judges exactly the SLOs the rules alert on. An SLO is measured here when its SLI reads an HTTP
//! server metric (one with a `route` or `method` label) and matches only on `method`, `route` and `status`,
//! which a client can see; its matchers pick which of the driven endpoints count. Everything else (database,
//! cache, jobs) is reported as not measured here.
//!
//! - Latency SLI: a request is bad when its response was not complete within the threshold of its due time.
//! - Ratio SLI: a request is bad when it matches the `errors` selector, whose `status` matcher is compared with
//!   the response's status class (`5xx`) or code (`503`).
//!
//! A request that got no response (timeout, connection error) or was dropped is bad for both: the user got no
//! answer in time, and a gateway in front of the service would have answered it with a 5xx.
//!
//! # Bounds
//!
//! Runs are capped in time, rate and concurrency (see [`LoadConfig::check`]), and only loopback hosts are
//! targets unless a host is named explicitly. Redirects are not followed and proxies are ignored, so no
//! request leaves for a host that was not checked.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::path::Path;

use reqwest::Method;

mod config;
mod engine;
mod plan;
mod report;
pub use config::{check_target, parse_duration, Endpoint, LoadConfig, UsageError};
pub use engine::{run, EndpointStats, Progress, RunResult};
pub use plan::load_service;
use plan::plan;
pub use report::{EndpointReport, Latency, Report, SloReport, SloStatus, Verdict};

/// Loads the SLOs, runs the load and judges every SLO: what `slogen-load` does.
pub async fn check(
    config: &LoadConfig,
    slos: &Path,
    service: Option<&str>,
    progress: impl FnMut(&Progress),
) -> Result<Report, UsageError> {
    let base = config.check()?;
    let service = load_service(slos, service)?;
    let (plans, thresholds) = plan(&service, &config.endpoints);
    let run = run(config, &thresholds, progress).await?;
    let mut overall = EndpointStats::new(
        Endpoint {
            method: Method::GET,
            path: String::new(),
        },
        thresholds.len(),
    );
    for s in &run.endpoints {
        overall.add(s);
    }
    let slos: Vec<SloReport> = service
        .slos
        .iter()
        .zip(&plans)
        .map(|(slo, plan)| SloReport::judge(slo, plan, &run))
        .collect();
    let verdict = if slos.iter().any(|s| s.status == SloStatus::Missed) {
        Verdict::Missed
    } else if slos.iter().any(|s| s.status == SloStatus::Met) {
        Verdict::Met
    } else {
        Verdict::NothingMeasured
    };
    Ok(Report {
        base_url: base.to_string(),
        service: service.name.clone(),
        rate: config.rate,
        duration_s: config.duration.as_secs_f64(),
        warmup_s: config.warmup.as_secs_f64(),
        max_requests: config.max_requests,
        timeout_s: config.timeout.as_secs_f64(),
        max_in_flight: config.max_in_flight,
        over_limit: "dropped",
        endpoints: run
            .endpoints
            .iter()
            .map(|s| EndpointReport::new(s.endpoint.to_string(), s))
            .collect(),
        overall: EndpointReport::new("all".to_string(), &overall),
        max_send_lag_ms: run.max_send_lag.as_micros() as f64 / 1000.0,
        slos,
        verdict,
    })
}
