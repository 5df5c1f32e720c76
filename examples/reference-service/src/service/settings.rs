//! The reference service's settings: the runtime's, plus where its dependencies are, all from the
//! environment and all problems reported at once.

use std::error::Error;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use slogen_runtime::config::{ConfigError, RuntimeConfig};

use super::OWN_ROUTES;

/// The variable holding the PostgreSQL URL (required).
pub const DATABASE_URL: &str = "DATABASE_URL";
/// The variable holding the Redis URL.
pub const REDIS_URL: &str = "REDIS_URL";
/// The variable holding the listen address.
pub const BIND: &str = "BIND";
/// The variable holding the payment provider's base URL.
pub const STRIPE_BASE_URL: &str = "STRIPE_BASE_URL";
/// The variable holding the newsletter provider's base URL.
pub const BEEHIIV_BASE_URL: &str = "BEEHIIV_BASE_URL";
/// The variable holding the timeout of calls to external APIs, in seconds.
pub const EXTERNAL_API_TIMEOUT_SECONDS: &str = "EXTERNAL_API_TIMEOUT_SECONDS";

/// The reference service's settings: the runtime's plus where its dependencies are.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// The runtime's settings (metrics endpoint, slow-query log, environment).
    pub runtime: RuntimeConfig,
    /// `DATABASE_URL`: a `postgres://` URL or `key=value` connection string.
    pub database_url: String,
    /// `REDIS_URL`, default `redis://127.0.0.1:6379/`; Redis may be down at startup.
    pub redis_url: String,
    /// `BIND`, default `127.0.0.1:8000`.
    pub bind: SocketAddr,
    /// `STRIPE_BASE_URL`, default `http://127.0.0.1:12111` (stripe-mock's port): the service posts JSON
    /// to `<base>/v1/charges`. Plain `http://` only: the runtime builds `reqwest` without TLS.
    pub stripe_base_url: String,
    /// `BEEHIIV_BASE_URL`, default `http://127.0.0.1:12112`: the service posts to `<base>/v2/subscriptions`.
    pub beehiiv_base_url: String,
    /// `EXTERNAL_API_TIMEOUT_SECONDS`, default 10: past it a provider call is abandoned and counted as a
    /// timeout.
    pub external_api_timeout: Duration,
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `vars` (a variable's value, or `None` when unset), reporting every
    /// malformed or missing variable at once.
    pub fn from_vars(vars: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut problems = Vec::new();
        let runtime = RuntimeConfig::from_vars(&vars)
            .and_then(|runtime| runtime.check_routes(OWN_ROUTES).map(|()| runtime))
            .unwrap_or_else(|error: ConfigError| {
                problems.extend(error.invalid().iter().map(ToString::to_string));
                RuntimeConfig::default()
            });
        let mut read = |name: &str,
                        default: Option<&str>,
                        check: fn(&str) -> Result<(), String>| {
            match vars(name).or_else(|| default.map(str::to_owned)) {
                None => {
                    problems.push(format!("{name} is not set"));
                    String::new()
                }
                Some(value) => {
                    if let Err(expected) = check(&value) {
                        problems.push(format!("invalid {name}={value:?}: expected {expected}"));
                    }
                    value
                }
            }
        };
        let database_url = read(DATABASE_URL, None, check_database_url);
        let redis_url = read(REDIS_URL, Some("redis://127.0.0.1:6379/"), check_redis_url);
        let bind = read(BIND, Some("127.0.0.1:8000"), check_bind);
        let stripe_base_url = read(
            STRIPE_BASE_URL,
            Some("http://127.0.0.1:12111"),
            check_http_url,
        );
        let beehiiv_base_url = read(
            BEEHIIV_BASE_URL,
            Some("http://127.0.0.1:12112"),
            check_http_url,
        );
        let timeout = read(EXTERNAL_API_TIMEOUT_SECONDS, Some("10"), check_seconds);
        if !problems.is_empty() {
            return Err(SettingsError { problems });
        }
        Ok(Settings {
            runtime,
            database_url,
            redis_url,
            bind: bind.parse().expect("checked above"),
            stripe_base_url: stripe_base_url.trim_end_matches('/').to_owned(),
            beehiiv_base_url: beehiiv_base_url.trim_end_matches('/').to_owned(),
            external_api_timeout: Duration::from_secs_f64(
                timeout.trim().parse().expect("checked above"),
            ),
        })
    }
}

fn check_database_url(value: &str) -> Result<(), String> {
    tokio_postgres::Config::from_str(value)
        .map(drop)
        .map_err(|error| format!("a PostgreSQL URL such as `postgres://user@host/db` ({error})"))
}

fn check_redis_url(value: &str) -> Result<(), String> {
    redis::Client::open(value)
        .map(drop)
        .map_err(|error| format!("a `redis://host:port/` URL ({error})"))
}

fn check_bind(value: &str) -> Result<(), String> {
    value
        .parse::<SocketAddr>()
        .map(drop)
        .map_err(|_| "an address and port such as `127.0.0.1:8000`".to_owned())
}

fn check_http_url(value: &str) -> Result<(), String> {
    match reqwest::Url::parse(value) {
        Ok(url) if url.scheme() == "http" && url.host().is_some() => Ok(()),
        _ => Err("an `http://host:port` URL (this build has no TLS)".to_owned()),
    }
}

fn check_seconds(value: &str) -> Result<(), String> {
    match value.trim().parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && Duration::try_from_secs_f64(seconds).is_ok() => Ok(()),
        _ => Err("a positive number of seconds, e.g. `10`".to_owned()),
    }
}

/// Why the settings are unusable: every problem, one per variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsError {
    problems: Vec<String>,
}

impl SettingsError {
    /// The problems, one line each, so a caller can report them its own way.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid configuration:")?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl Error for SettingsError {}
