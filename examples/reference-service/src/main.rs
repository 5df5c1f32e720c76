//! The reference backend as a process: `DATABASE_URL=postgres://… cargo run -p slogen-reference-service --bin
//! reference-service`.
//!
//! Configuration is read from the environment: the runtime's variables (see `slogen_runtime::config`),
//! plus `DATABASE_URL` (required), `REDIS_URL`, `BIND`, `STRIPE_BASE_URL`, `BEEHIIV_BASE_URL`,
//! `EXTERNAL_API_TIMEOUT_SECONDS`,
//! `JOB_PERIOD_SECONDS` (how often `refresh_user_count` runs, default 60), `LOG_FORMAT` (`json` or
//! `pretty`; default `pretty` in development, `json` elsewhere) and `RUST_LOG` (default `info`). Invalid
//! configuration exits with status 1 and one line per problem; Redis may be down at startup.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use slogen_reference_service::{app, schedule_jobs, AppState, Settings};
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    Json,
    Pretty,
}

/// What the binary adds to the service's settings.
struct Process {
    log_format: LogFormat,
    job_period: Duration,
}

impl Process {
    /// Reads `LOG_FORMAT` and `JOB_PERIOD_SECONDS`, adding any problem to `problems`.
    fn from_env(settings: Option<&Settings>, problems: &mut Vec<String>) -> Self {
        let development = settings.is_some_and(|settings| settings.runtime.summary_enabled());
        let log_format = match std::env::var("LOG_FORMAT").ok().as_deref() {
            None if development => LogFormat::Pretty,
            None => LogFormat::Json,
            Some("json") => LogFormat::Json,
            Some("pretty") => LogFormat::Pretty,
            Some(other) => {
                problems.push(format!(
                    "invalid LOG_FORMAT={other:?}: expected `json` or `pretty`"
                ));
                LogFormat::Json
            }
        };
        let job_period = match std::env::var("JOB_PERIOD_SECONDS").ok() {
            None => Duration::from_secs(60),
            Some(value) => match value.trim().parse::<u64>() {
                Ok(seconds) if seconds > 0 => Duration::from_secs(seconds),
                _ => {
                    problems.push(format!(
                        "invalid JOB_PERIOD_SECONDS={value:?}: expected a positive whole number of seconds"
                    ));
                    Duration::from_secs(60)
                }
            },
        };
        Process {
            log_format,
            job_period,
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let (settings, mut problems) = match Settings::from_env() {
        Ok(settings) => (Some(settings), Vec::new()),
        Err(error) => (None, error.problems().to_vec()),
    };
    let process = Process::from_env(settings.as_ref(), &mut problems);
    let settings = match settings {
        Some(settings) if problems.is_empty() => settings,
        _ => {
            eprintln!("reference-service: invalid configuration:");
            for problem in &problems {
                eprintln!("  - {problem}");
            }
            return ExitCode::FAILURE;
        }
    };
    init_logging(process.log_format);

    let state = match AppState::connect(&settings).await {
        Ok(state) => Arc::new(state),
        Err(error) => {
            tracing::error!(%error, "cannot start");
            eprintln!("reference-service: {error}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(settings.bind).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, bind = %settings.bind, "cannot listen");
            eprintln!(
                "reference-service: cannot listen on {}: {error}",
                settings.bind
            );
            return ExitCode::FAILURE;
        }
    };
    let jobs = schedule_jobs(&state, process.job_period);
    tracing::info!(
        bind = %settings.bind,
        metrics = %settings.runtime.metrics_endpoint,
        environment = %settings.runtime.app_env,
        "reference service listening"
    );
    let served = axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await;
    jobs.abort();
    match served {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "the server failed");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM, so in-flight requests finish before the process exits.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install the SIGTERM handler");
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
}
