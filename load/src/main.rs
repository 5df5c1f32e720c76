//! `slogen-load`: sends open-loop load at a constant arrival rate and checks the service's SLOs on it.
//!
//! See [`slogen_load`] for how latency is measured and how SLOs are judged. Exit status: 0 when every
//! measured SLO was met, 1 when one was missed, 2 on a usage error (nothing or not everything was sent).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use slogen_load::{self as load, Endpoint, LoadConfig};

/// Open-loop load test of a service, judged against its SLOs.
///
/// Requests are due at fixed times (start + i/rate) and each one's latency is measured from its due time, so
/// a stall is not hidden by coordinated omission. Only loopback hosts are targets unless --allow-host names
/// the host.
#[derive(Debug, Parser)]
#[command(name = "slogen-load", version)]
struct Args {
    /// Base URL of the service, e.g. http://127.0.0.1:8000.
    #[arg(long)]
    base_url: String,
    /// Directory of SLO specs (`*.toml`), read through the generator.
    #[arg(long, default_value = "slos")]
    slos: PathBuf,
    /// Service whose SLOs to check; needed only when the specs describe several.
    #[arg(long)]
    service: Option<String>,
    /// Arrival rate in requests per second (1 to 10000).
    #[arg(long)]
    rate: u32,
    /// Length of the measured phase, e.g. 30s or 5m (at most 10m).
    #[arg(long, default_value = "5m", value_parser = load::parse_duration)]
    duration: Duration,
    /// Endpoint to drive as METHOD:/path; repeat to drive several round-robin in the order given.
    #[arg(long = "endpoint", default_value = "GET:/health")]
    endpoints: Vec<Endpoint>,
    /// Stop after this many measured requests, even before the duration is over.
    #[arg(long)]
    max_requests: Option<u64>,
    /// Per-request timeout, from sending to the last byte of the response (at most 60s).
    #[arg(long, default_value = "2s", value_parser = load::parse_duration)]
    timeout: Duration,
    /// Send at the same rate for this long first, without measuring (at most 1m).
    #[arg(long, default_value = "0s", value_parser = load::parse_duration)]
    warmup: Duration,
    /// Most requests outstanding at once; a request due beyond this is dropped, not sent, and counted.
    #[arg(long, default_value_t = 1000)]
    max_in_flight: usize,
    /// A non-loopback host that may be targeted; repeat for several.
    #[arg(long = "allow-host")]
    allow_hosts: Vec<String>,
    /// Print the whole result as JSON instead of tables.
    #[arg(long)]
    json: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = LoadConfig {
        base_url: args.base_url,
        allow_hosts: args.allow_hosts,
        endpoints: args.endpoints,
        rate: args.rate,
        duration: args.duration,
        warmup: args.warmup,
        max_requests: args.max_requests,
        timeout: args.timeout,
        max_in_flight: args.max_in_flight,
    };
    let progress = |p: &load::Progress| eprintln!("{p}");
    match load::check(&config, &args.slos, args.service.as_deref(), progress).await {
        Ok(report) => {
            if args.json {
                print!("{}", report.to_json());
            } else {
                print!("{}", report.to_table());
            }
            ExitCode::from(report.exit_code())
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
