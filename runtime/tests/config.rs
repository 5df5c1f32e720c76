//! `RuntimeConfig` from environment variables: defaults, every variable's valid forms, and errors that name
//! the variable, the value and what was expected.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use slogen_runtime::config::{ConfigError, RuntimeConfig};

/// Reads a configuration from exactly these variables.
fn read(vars: &[(&str, &str)]) -> Result<RuntimeConfig, ConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    RuntimeConfig::from_vars(|name| vars.get(name).cloned())
}

/// The configuration read with only `name=value` set.
fn with(name: &str, value: &str) -> RuntimeConfig {
    read(&[(name, value)]).unwrap_or_else(|error| panic!("{name}={value:?}: {error}"))
}

/// The error message for `name=value`, asserting it is the only invalid variable.
fn error(name: &str, value: &str) -> String {
    let error = read(&[(name, value)]).expect_err(&format!("{name}={value:?} is invalid"));
    assert_eq!(error.invalid().len(), 1);
    assert_eq!(error.invalid()[0].variable, name);
    assert_eq!(error.invalid()[0].value, value);
    error.to_string()
}

#[test]
fn nothing_set_gives_the_documented_defaults() {
    let config = read(&[]).expect("the defaults are valid");
    assert_eq!(
        config,
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
    );
    assert_eq!(config, RuntimeConfig::default());
    assert!(!config.summary_enabled());
    assert_eq!(config.summary_endpoint(), "/metrics/summary");
}

#[test]
fn prometheus_enabled() {
    for (value, enabled) in [
        ("true", true),
        ("TRUE", true),
        ("1", true),
        (" true ", true),
        ("false", false),
        ("False", false),
        ("0", false),
    ] {
        assert_eq!(
            with("PROMETHEUS_ENABLED", value).prometheus_enabled,
            enabled,
            "{value:?}"
        );
    }
    for value in ["yes", "2", "", "on"] {
        assert_eq!(
            error("PROMETHEUS_ENABLED", value),
            format!("invalid PROMETHEUS_ENABLED={value:?}: expected `true`, `false`, `1` or `0`")
        );
    }
}

#[test]
fn metrics_endpoint() {
    for value in ["/metrics", "/internal/prometheus", "/", "/a-b_c.d~e/"] {
        assert_eq!(with("METRICS_ENDPOINT", value).metrics_endpoint, value);
    }
    assert_eq!(
        with("METRICS_ENDPOINT", "/internal/prom").summary_endpoint(),
        "/internal/prom/summary"
    );
    assert_eq!(with("METRICS_ENDPOINT", "/").summary_endpoint(), "/summary");
    for value in [
        "metrics",
        "",
        "/my metrics",
        "/metrics ",
        "//metrics",
        "/metrics/{id}",
        "/metrics?x=1",
        "/:metrics",
        "/*rest",
    ] {
        let message = error("METRICS_ENDPOINT", value);
        assert!(
            message.starts_with(&format!(
                "invalid METRICS_ENDPOINT={value:?}: expected a path starting with `/`"
            )),
            "{message}"
        );
    }
}

#[test]
fn database_pool_and_timeouts() {
    let config = read(&[
        ("DB_POOL_SIZE", "3"),
        ("DB_CONNECT_TIMEOUT_SECONDS", "0.25"),
        ("DB_STATEMENT_TIMEOUT_SECONDS", "1.5"),
        ("READINESS_TIMEOUT_SECONDS", "0.5"),
    ])
    .expect("valid");
    assert_eq!(config.db_pool_size, 3);
    assert_eq!(config.db_connect_timeout, Duration::from_millis(250));
    assert_eq!(config.db_statement_timeout, Duration::from_millis(1500));
    assert_eq!(config.readiness_timeout, Duration::from_millis(500));
    assert_eq!(
        error("DB_POOL_SIZE", "0"),
        "invalid DB_POOL_SIZE=\"0\": expected a positive whole number of connections, e.g. `10`"
    );
    assert!(error("DB_STATEMENT_TIMEOUT_SECONDS", "-1").contains("positive number of seconds"));
}

#[test]
fn a_metrics_endpoint_on_a_service_route_is_rejected() {
    let routes = ["/health", "/ready", "/users"];
    assert!(RuntimeConfig::default().check_routes(&routes).is_ok());
    let taken = with("METRICS_ENDPOINT", "/health")
        .check_routes(&routes)
        .expect_err("/health is taken");
    assert_eq!(taken.invalid()[0].variable, "METRICS_ENDPOINT");
    assert_eq!(taken.invalid()[0].value, "/health");
    // The summary, served in development, must not land on a route either.
    let development = read(&[("METRICS_ENDPOINT", "/"), ("APP_ENV", "development")]).unwrap();
    assert!(development.check_routes(&["/summary"]).is_err());
    let production = with("METRICS_ENDPOINT", "/");
    assert!(production.check_routes(&["/summary"]).is_ok());
    // With the endpoint off, nothing collides.
    let off = read(&[
        ("METRICS_ENDPOINT", "/health"),
        ("PROMETHEUS_ENABLED", "false"),
    ])
    .unwrap();
    assert!(off.check_routes(&routes).is_ok());
}

#[test]
fn slow_query_threshold_seconds() {
    for (value, threshold) in [
        ("0.5", Duration::from_millis(500)),
        ("2", Duration::from_secs(2)),
        ("0.001", Duration::from_millis(1)),
        (" 1.5 ", Duration::from_millis(1500)),
        ("1e-1", Duration::from_millis(100)),
    ] {
        assert_eq!(
            with("SLOW_QUERY_THRESHOLD_SECONDS", value).slow_query_threshold,
            threshold,
            "{value:?}"
        );
    }
    for value in ["0", "-1", "abc", "", "NaN", "inf", "1e300", "500ms"] {
        assert_eq!(
            error("SLOW_QUERY_THRESHOLD_SECONDS", value),
            format!("invalid SLOW_QUERY_THRESHOLD_SECONDS={value:?}: expected a positive number of seconds, e.g. `0.5`")
        );
    }
}

#[test]
fn slow_query_log_file() {
    for value in ["/var/log/app/slow.log", "slow.log", "logs/with space.log"] {
        assert_eq!(
            with("SLOW_QUERY_LOG_FILE", value).slow_query_log_file,
            PathBuf::from(value)
        );
    }
    for value in ["", "   "] {
        assert_eq!(
            error("SLOW_QUERY_LOG_FILE", value),
            format!("invalid SLOW_QUERY_LOG_FILE={value:?}: expected a file path, e.g. `logs/slow_queries.log`")
        );
    }
}

#[test]
fn slow_query_log_max_bytes() {
    for (value, bytes) in [("1", 1), ("1048576", 1 << 20), (" 42 ", 42)] {
        assert_eq!(
            with("SLOW_QUERY_LOG_MAX_BYTES", value).slow_query_log_max_bytes,
            bytes
        );
    }
    for value in ["0", "-5", "10MiB", "1.5", "", "99999999999999999999999"] {
        assert_eq!(
            error("SLOW_QUERY_LOG_MAX_BYTES", value),
            format!("invalid SLOW_QUERY_LOG_MAX_BYTES={value:?}: expected a positive whole number of bytes, e.g. `10485760`")
        );
    }
}

#[test]
fn slow_query_log_max_files() {
    for (value, files) in [("1", 1), ("5", 5), ("100", 100)] {
        assert_eq!(
            with("SLOW_QUERY_LOG_MAX_FILES", value).slow_query_log_max_files,
            files
        );
    }
    for value in ["0", "-1", "five", "2.5", ""] {
        assert_eq!(
            error("SLOW_QUERY_LOG_MAX_FILES", value),
            format!("invalid SLOW_QUERY_LOG_MAX_FILES={value:?}: expected a positive whole number of files, e.g. `5`")
        );
    }
}

#[test]
fn app_env() {
    for (value, app_env, summary) in [
        ("development", "development", true),
        ("Development", "development", true),
        ("production", "production", false),
        ("staging", "staging", false),
        ("dev", "dev", false),
        ("qa-2", "qa-2", false),
    ] {
        let config = with("APP_ENV", value);
        assert_eq!(config.app_env, app_env);
        assert_eq!(config.summary_enabled(), summary, "{value:?}");
    }
    for value in ["", "prod env", "dev!"] {
        assert_eq!(
            error("APP_ENV", value),
            format!("invalid APP_ENV={value:?}: expected an environment name of letters, digits, `-` and `_`, e.g. `production` or `development`")
        );
    }
}

#[test]
fn every_invalid_variable_is_reported_at_once() {
    let error = read(&[
        ("PROMETHEUS_ENABLED", "maybe"),
        ("METRICS_ENDPOINT", "/metrics"),
        ("SLOW_QUERY_THRESHOLD_SECONDS", "fast"),
        ("SLOW_QUERY_LOG_MAX_FILES", "0"),
    ])
    .expect_err("three variables are invalid");
    let variables: Vec<&str> = error
        .invalid()
        .iter()
        .map(|invalid| invalid.variable)
        .collect();
    assert_eq!(
        variables,
        [
            "PROMETHEUS_ENABLED",
            "SLOW_QUERY_THRESHOLD_SECONDS",
            "SLOW_QUERY_LOG_MAX_FILES"
        ]
    );
    assert_eq!(
        error.to_string(),
        "3 invalid environment variables:\n  \
         - invalid PROMETHEUS_ENABLED=\"maybe\": expected `true`, `false`, `1` or `0`\n  \
         - invalid SLOW_QUERY_THRESHOLD_SECONDS=\"fast\": expected a positive number of seconds, e.g. `0.5`\n  \
         - invalid SLOW_QUERY_LOG_MAX_FILES=\"0\": expected a positive whole number of files, e.g. `5`"
    );
    let boxed: Box<dyn std::error::Error> = Box::new(error);
    assert!(boxed.to_string().contains("SLOW_QUERY_LOG_MAX_FILES"));
}

/// The only test touching the process environment: every other reads through `from_vars`, so no other
/// thread reads these variables while they change.
#[test]
fn from_env_reads_the_process_environment() {
    use std::os::unix::ffi::OsStrExt as _;

    std::env::set_var("SLOW_QUERY_LOG_MAX_FILES", "7");
    std::env::set_var("APP_ENV", "development");
    let config = RuntimeConfig::from_env();
    std::env::set_var(
        "SLOW_QUERY_LOG_FILE",
        std::ffi::OsStr::from_bytes(b"logs/\xff.log"),
    );
    let not_unicode = RuntimeConfig::from_env();
    for name in ["SLOW_QUERY_LOG_MAX_FILES", "APP_ENV", "SLOW_QUERY_LOG_FILE"] {
        std::env::remove_var(name);
    }

    let config = config.expect("valid variables");
    assert_eq!(config.slow_query_log_max_files, 7);
    assert!(config.summary_enabled());
    assert_eq!(
        not_unicode.expect_err("not UTF-8").to_string(),
        "invalid SLOW_QUERY_LOG_FILE=\"logs/\u{fffd}.log\": expected valid UTF-8"
    );
}
