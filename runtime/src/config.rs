//! Configuration from the environment.
//!
//! Every setting has a default, so a service starts with no variable set; a variable that is set but
//! malformed stops startup with an error naming the variable, its value and what was expected, rather than
//! silently falling back to the default (a typo in `SLOW_QUERY_THRESHOLD_SECONDS` would otherwise hide every
//! slow query). All malformed variables are reported at once.
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `PROMETHEUS_ENABLED` | `true` | serve the metrics endpoint (`true`/`false`/`1`/`0`) |
//! | `METRICS_ENDPOINT` | `/metrics` | path of the metrics endpoint |
//! | `SLOW_QUERY_THRESHOLD_SECONDS` | `0.5` | statements slower than this are logged as slow |
//! | `SLOW_QUERY_LOG_FILE` | `logs/slow_queries.log` | where slow queries are written |
//! | `SLOW_QUERY_LOG_MAX_BYTES` | `10485760` (10 MiB) | size at which the slow-query log is rotated |
//! | `SLOW_QUERY_LOG_MAX_FILES` | `5` | how many rotated slow-query logs are kept |
//! | `APP_ENV` | `production` | `development` enables the metrics summary endpoint (and a service's demo routes) |
//! | `DB_POOL_SIZE` | `10` | PostgreSQL connections the pool keeps at most |
//! | `DB_CONNECT_TIMEOUT_SECONDS` | `5` | longest wait for a pooled connection, connecting included |
//! | `DB_STATEMENT_TIMEOUT_SECONDS` | `10` | longest a statement may run (server `statement_timeout` and client deadline) |
//! | `READINESS_TIMEOUT_SECONDS` | `2` | how long `/ready` waits for each dependency |

use std::env::VarError;
use std::error::Error;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The variable that turns the metrics endpoint on or off.
pub const PROMETHEUS_ENABLED: &str = "PROMETHEUS_ENABLED";
/// The variable holding the metrics endpoint's path.
pub const METRICS_ENDPOINT: &str = "METRICS_ENDPOINT";
/// The variable holding the slow-query threshold, in seconds.
pub const SLOW_QUERY_THRESHOLD_SECONDS: &str = "SLOW_QUERY_THRESHOLD_SECONDS";
/// The variable holding the slow-query log's path.
pub const SLOW_QUERY_LOG_FILE: &str = "SLOW_QUERY_LOG_FILE";
/// The variable holding the size at which the slow-query log is rotated.
pub const SLOW_QUERY_LOG_MAX_BYTES: &str = "SLOW_QUERY_LOG_MAX_BYTES";
/// The variable holding how many rotated slow-query logs are kept.
pub const SLOW_QUERY_LOG_MAX_FILES: &str = "SLOW_QUERY_LOG_MAX_FILES";
/// The variable naming the deployment environment.
pub const APP_ENV: &str = "APP_ENV";

/// The variable holding the PostgreSQL pool's size.
pub const DB_POOL_SIZE: &str = "DB_POOL_SIZE";
/// The variable holding how long a statement may wait for a connection, connecting included.
pub const DB_CONNECT_TIMEOUT_SECONDS: &str = "DB_CONNECT_TIMEOUT_SECONDS";
/// The variable holding how long a statement may run.
pub const DB_STATEMENT_TIMEOUT_SECONDS: &str = "DB_STATEMENT_TIMEOUT_SECONDS";
/// The variable holding how long the readiness check waits for each dependency.
pub const READINESS_TIMEOUT_SECONDS: &str = "READINESS_TIMEOUT_SECONDS";

/// The environment in which the summary endpoint is served.
pub const DEVELOPMENT: &str = "development";

/// The runtime's settings, read once at startup.
#[derive(Clone, Debug, PartialEq)]
pub struct RuntimeConfig {
    /// Whether the metrics endpoint is served; when off, scraping it answers 404 (recording still happens,
    /// so turning it back on loses no history within the process).
    pub prometheus_enabled: bool,
    /// Path of the metrics endpoint: starts with `/`, made of letters, digits and `-._~/`.
    pub metrics_endpoint: String,
    /// Statements slower than this are counted and written to the slow-query log.
    pub slow_query_threshold: Duration,
    /// Where slow queries are written.
    pub slow_query_log_file: PathBuf,
    /// Size in bytes at which the slow-query log is rotated; at least 1.
    pub slow_query_log_max_bytes: u64,
    /// How many rotated slow-query logs are kept; at least 1.
    pub slow_query_log_max_files: usize,
    /// The deployment environment, lowercased (`production`, `development`, `staging`, ...).
    pub app_env: String,
    /// PostgreSQL connections the pool keeps at most; at least 1.
    pub db_pool_size: usize,
    /// Longest wait for a pooled connection, connecting to the server included: past it a statement fails
    /// as unavailable instead of hanging on a server that is down or unreachable.
    pub db_connect_timeout: Duration,
    /// Longest a statement may run: sent as the session's `statement_timeout`, and enforced by the client
    /// too, so a server that stopped answering cannot hold a request longer.
    pub db_statement_timeout: Duration,
    /// How long the readiness check waits for each dependency to answer.
    pub readiness_timeout: Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            prometheus_enabled: true,
            metrics_endpoint: "/metrics".to_owned(),
            slow_query_threshold: Duration::from_millis(500),
            slow_query_log_file: PathBuf::from("logs/slow_queries.log"),
            slow_query_log_max_bytes: 10 * 1024 * 1024,
            slow_query_log_max_files: 5,
            app_env: "production".to_owned(),
            db_pool_size: 10,
            db_connect_timeout: Duration::from_secs(5),
            db_statement_timeout: Duration::from_secs(10),
            readiness_timeout: Duration::from_secs(2),
        }
    }
}

impl RuntimeConfig {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| match std::env::var(name) {
            Ok(value) => Lookup::Value(value),
            Err(VarError::NotPresent) => Lookup::Unset,
            Err(VarError::NotUnicode(raw)) => {
                Lookup::NotUnicode(raw.to_string_lossy().into_owned())
            }
        })
    }

    /// Reads the settings through `vars` (a variable's value, or `None` when unset), so tests and embedders
    /// need not touch the process environment.
    pub fn from_vars(vars: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| vars(name).map_or(Lookup::Unset, Lookup::Value))
    }

    /// Whether the service runs in development, where demonstration routes and the summary are served.
    pub fn development(&self) -> bool {
        self.app_env == DEVELOPMENT
    }

    /// An error naming `METRICS_ENDPOINT` when the metrics endpoint (or its summary) would be served at
    /// one of the service's own `routes`: axum would panic when merging the routers, after startup had
    /// looked fine. Call it at startup, before listening.
    pub fn check_routes(&self, routes: &[&str]) -> Result<(), ConfigError> {
        let summary = self.summary_endpoint();
        let taken = routes.iter().find(|route| {
            (self.prometheus_enabled && **route == self.metrics_endpoint)
                || (self.summary_enabled() && **route == summary)
        });
        match taken {
            None => Ok(()),
            Some(route) => Err(ConfigError {
                invalid: vec![InvalidVariable {
                    variable: METRICS_ENDPOINT,
                    value: self.metrics_endpoint.clone(),
                    expected: if *route == summary {
                        "a path whose `/summary` is not one of the service's own routes"
                    } else {
                        "a path that is not one of the service's own routes (`/health`, `/ready`, ...)"
                    },
                }],
            }),
        }
    }

    /// Whether `GET <metrics endpoint>/summary` is served: only in development, since it is a convenience
    /// for people, not an interface for tools.
    pub fn summary_enabled(&self) -> bool {
        self.development()
    }

    /// The path of the summary endpoint: the metrics endpoint followed by `/summary`.
    pub fn summary_endpoint(&self) -> String {
        format!("{}/summary", self.metrics_endpoint.trim_end_matches('/'))
    }

    fn from_lookup(lookup: impl Fn(&str) -> Lookup) -> Result<Self, ConfigError> {
        let mut reader = Reader {
            lookup,
            errors: Vec::new(),
        };
        let defaults = RuntimeConfig::default();
        let config = RuntimeConfig {
            prometheus_enabled: reader.read(
                PROMETHEUS_ENABLED,
                defaults.prometheus_enabled,
                parse_bool,
            ),
            metrics_endpoint: reader.read(
                METRICS_ENDPOINT,
                defaults.metrics_endpoint,
                parse_endpoint,
            ),
            slow_query_threshold: reader.read(
                SLOW_QUERY_THRESHOLD_SECONDS,
                defaults.slow_query_threshold,
                parse_seconds,
            ),
            slow_query_log_file: reader.read(
                SLOW_QUERY_LOG_FILE,
                defaults.slow_query_log_file,
                parse_path,
            ),
            slow_query_log_max_bytes: reader.read(
                SLOW_QUERY_LOG_MAX_BYTES,
                defaults.slow_query_log_max_bytes,
                parse_bytes,
            ),
            slow_query_log_max_files: reader.read(
                SLOW_QUERY_LOG_MAX_FILES,
                defaults.slow_query_log_max_files,
                parse_files,
            ),
            app_env: reader.read(APP_ENV, defaults.app_env, parse_app_env),
            db_pool_size: reader.read(DB_POOL_SIZE, defaults.db_pool_size, parse_pool_size),
            db_connect_timeout: reader.read(
                DB_CONNECT_TIMEOUT_SECONDS,
                defaults.db_connect_timeout,
                parse_seconds,
            ),
            db_statement_timeout: reader.read(
                DB_STATEMENT_TIMEOUT_SECONDS,
                defaults.db_statement_timeout,
                parse_seconds,
            ),
            readiness_timeout: reader.read(
                READINESS_TIMEOUT_SECONDS,
                defaults.readiness_timeout,
                parse_seconds,
            ),
        };
        if reader.errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError {
                invalid: reader.errors,
            })
        }
    }
}

/// What the environment holds for one variable.
enum Lookup {
    Unset,
    Value(String),
    /// Set, but not UTF-8; carries a lossy rendering for the error message.
    NotUnicode(String),
}

/// Reads variables one by one, keeping the default for each malformed one and remembering why.
struct Reader<F> {
    lookup: F,
    errors: Vec<InvalidVariable>,
}

impl<F: Fn(&str) -> Lookup> Reader<F> {
    fn read<T>(
        &mut self,
        variable: &'static str,
        default: T,
        parse: fn(&str) -> Result<T, &'static str>,
    ) -> T {
        let (value, result) = match (self.lookup)(variable) {
            Lookup::Unset => return default,
            Lookup::Value(value) => {
                let result = parse(&value);
                (value, result)
            }
            Lookup::NotUnicode(value) => (value, Err("valid UTF-8")),
        };
        result.unwrap_or_else(|expected| {
            self.errors.push(InvalidVariable {
                variable,
                value,
                expected,
            });
            default
        })
    }
}

fn parse_bool(value: &str) -> Result<bool, &'static str> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err("`true`, `false`, `1` or `0`"),
    }
}

fn parse_endpoint(value: &str) -> Result<String, &'static str> {
    const EXPECTED: &str = "a path starting with `/`, made of letters, digits and `-._~/`, without `//`, e.g. `/metrics`";
    let valid = value.starts_with('/')
        && !value.contains("//")
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte));
    if valid {
        Ok(value.to_owned())
    } else {
        Err(EXPECTED)
    }
}

fn parse_seconds(value: &str) -> Result<Duration, &'static str> {
    const EXPECTED: &str = "a positive number of seconds, e.g. `0.5`";
    let seconds: f64 = value.trim().parse().map_err(|_| EXPECTED)?;
    if seconds.is_nan() || seconds <= 0.0 {
        return Err(EXPECTED);
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| EXPECTED)
}

fn parse_path(value: &str) -> Result<PathBuf, &'static str> {
    if value.trim().is_empty() {
        Err("a file path, e.g. `logs/slow_queries.log`")
    } else {
        Ok(PathBuf::from(value))
    }
}

fn parse_bytes(value: &str) -> Result<u64, &'static str> {
    match value.trim().parse::<u64>() {
        Ok(bytes) if bytes > 0 => Ok(bytes),
        _ => Err("a positive whole number of bytes, e.g. `10485760`"),
    }
}

fn parse_pool_size(value: &str) -> Result<usize, &'static str> {
    match value.trim().parse::<usize>() {
        Ok(size) if size > 0 => Ok(size),
        _ => Err("a positive whole number of connections, e.g. `10`"),
    }
}

fn parse_files(value: &str) -> Result<usize, &'static str> {
    match value.trim().parse::<usize>() {
        Ok(files) if files > 0 => Ok(files),
        _ => Err("a positive whole number of files, e.g. `5`"),
    }
}

fn parse_app_env(value: &str) -> Result<String, &'static str> {
    let value = value.trim().to_ascii_lowercase();
    let valid = !value.is_empty()
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if valid {
        Ok(value)
    } else {
        Err("an environment name of letters, digits, `-` and `_`, e.g. `production` or `development`")
    }
}

/// Why a service cannot start with its environment: every malformed variable, in a fixed order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    invalid: Vec<InvalidVariable>,
}

impl ConfigError {
    /// The malformed variables, so a caller can report them in its own format.
    pub fn invalid(&self) -> &[InvalidVariable] {
        &self.invalid
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [only] = self.invalid.as_slice() {
            return write!(f, "{only}");
        }
        write!(f, "{} invalid environment variables:", self.invalid.len())?;
        for invalid in &self.invalid {
            write!(f, "\n  - {invalid}")?;
        }
        Ok(())
    }
}

impl Error for ConfigError {}

/// One malformed variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidVariable {
    /// The variable's name.
    pub variable: &'static str,
    /// The value it held.
    pub value: String,
    /// What a valid value looks like.
    pub expected: &'static str,
}

impl fmt::Display for InvalidVariable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {}={:?}: expected {}",
            self.variable, self.value, self.expected
        )
    }
}
