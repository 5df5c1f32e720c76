//! What a run is asked to do: the endpoints, the target and the limits, checked before anything is sent.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use reqwest::{Method, Url};

/// Longest measured phase a run may have.
const MAX_DURATION: Duration = Duration::from_secs(600);
/// Longest warm-up a run may have.
const MAX_WARMUP: Duration = Duration::from_secs(60);
/// Highest arrival rate, in requests per second; beyond it the generator, not the server, is measured.
const MAX_RATE: u32 = 10_000;
/// Most requests in flight at once.
const MAX_IN_FLIGHT: usize = 10_000;
/// Longest per-request timeout.
const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// A problem with the command line or the inputs: nothing was sent, or the run could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

pub(crate) fn usage<T>(message: impl Into<String>) -> Result<T, UsageError> {
    Err(UsageError(message.into()))
}

/// One request to drive, written `METHOD:/path` on the command line so the path may contain anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// HTTP method.
    pub method: Method,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl FromStr for Endpoint {
    type Err = UsageError;

    fn from_str(text: &str) -> Result<Endpoint, UsageError> {
        let Some((method, path)) = text.split_once(':') else {
            return usage(format!(
                "endpoint `{text}` is not METHOD:/path, e.g. GET:/users/1"
            ));
        };
        let method = method.to_ascii_uppercase();
        let Ok(method) = Method::from_bytes(method.as_bytes()) else {
            return usage(format!(
                "endpoint `{text}`: `{method}` is not an HTTP method"
            ));
        };
        if !path.starts_with('/') {
            return usage(format!("endpoint `{text}`: the path must start with `/`"));
        }
        Ok(Endpoint {
            method,
            path: path.to_string(),
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// Parses a duration written `500ms`, `30s` or `5m`: whole numbers and one unit, like the rest of the specs.
pub fn parse_duration(text: &str) -> Result<Duration, UsageError> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let Ok(n) = digits.parse::<u64>() else {
        return usage(format!(
            "`{text}` is not a duration such as 500ms, 30s or 5m"
        ));
    };
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        _ => usage(format!(
            "`{text}` is not a duration such as 500ms, 30s or 5m"
        )),
    }
}

/// Checks that `base_url` is plain HTTP to a loopback host (127.0.0.0/8, `localhost`, `::1`) or to a host
/// named in `allow_hosts`, so a typo cannot aim the load at someone else's server.
pub fn check_target(base_url: &str, allow_hosts: &[String]) -> Result<Url, UsageError> {
    let url = match Url::parse(base_url) {
        Ok(url) => url,
        Err(e) => return usage(format!("--base-url `{base_url}` is not a URL: {e}")),
    };
    if url.scheme() != "http" {
        return usage(format!(
            "--base-url `{base_url}`: only http:// is supported (the load client has no TLS)"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return usage(format!(
            "--base-url `{base_url}`: put queries in --endpoint paths, not in the base URL"
        ));
    }
    let Some(shown) = url.host_str() else {
        return usage(format!("--base-url `{base_url}` has no host"));
    };
    let bare = shown.trim_start_matches('[').trim_end_matches(']');
    let loopback = match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    };
    let allowed = allow_hosts.iter().any(|h| {
        let h = h.trim_start_matches('[').trim_end_matches(']');
        h.eq_ignore_ascii_case(bare)
            || (h
                .parse::<IpAddr>()
                .ok()
                .is_some_and(|a| Some(a) == bare.parse().ok()))
    });
    if !loopback && !allowed {
        return usage(format!(
            "refusing to send load to `{shown}`: only loopback hosts (127.0.0.0/8, localhost, ::1) are \
             targets unless `--allow-host {bare}` names the host explicitly"
        ));
    }
    Ok(url)
}

/// What to send, where, how fast and for how long.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Base URL; endpoint paths are appended to it.
    pub base_url: String,
    /// Non-loopback hosts the user explicitly allowed.
    pub allow_hosts: Vec<String>,
    /// Endpoints, driven round-robin in this order.
    pub endpoints: Vec<Endpoint>,
    /// Arrival rate in requests per second.
    pub rate: u32,
    /// Length of the measured phase.
    pub duration: Duration,
    /// Requests sent at the same rate before measuring, to fill connection pools and caches.
    pub warmup: Duration,
    /// Stop after this many measured requests, even if the duration is not over.
    pub max_requests: Option<u64>,
    /// Per-request timeout, from sending to the last byte of the response.
    pub timeout: Duration,
    /// Requests outstanding at once; a request due beyond this is dropped.
    pub max_in_flight: usize,
}

impl LoadConfig {
    /// Checks every bound and the target, before anything is sent; returns the base URL.
    pub fn check(&self) -> Result<Url, UsageError> {
        let url = check_target(&self.base_url, &self.allow_hosts)?;
        if self.endpoints.is_empty() {
            return usage("no --endpoint to drive");
        }
        if self.rate == 0 || self.rate > MAX_RATE {
            return usage(format!(
                "--rate {} is out of range: 1 to {MAX_RATE} requests per second",
                self.rate
            ));
        }
        if self.duration.is_zero() || self.duration > MAX_DURATION {
            return usage(format!(
                "--duration {:?} is out of range: more than 0 and at most {}s",
                self.duration,
                MAX_DURATION.as_secs()
            ));
        }
        if self.warmup > MAX_WARMUP {
            return usage(format!(
                "--warmup {:?} is too long: at most {}s",
                self.warmup,
                MAX_WARMUP.as_secs()
            ));
        }
        if self.max_requests == Some(0) {
            return usage("--max-requests must be at least 1");
        }
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return usage(format!(
                "--timeout {:?} is out of range: more than 0 and at most {}s",
                self.timeout,
                MAX_TIMEOUT.as_secs()
            ));
        }
        if self.max_in_flight == 0 || self.max_in_flight > MAX_IN_FLIGHT {
            return usage(format!(
                "--max-in-flight {} is out of range: 1 to {MAX_IN_FLIGHT}",
                self.max_in_flight
            ));
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_method_and_path() {
        let e: Endpoint = "post:/payments?x=1".parse().unwrap();
        assert_eq!((e.method, e.path.as_str()), (Method::POST, "/payments?x=1"));
        assert!("GET/users".parse::<Endpoint>().is_err());
        assert!("GET:users".parse::<Endpoint>().is_err());
        assert!("G ET:/".parse::<Endpoint>().is_err());
    }

    #[test]
    fn durations_take_one_unit() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        for bad in ["", "s", "5", "1.5s", "5h", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_loopback_or_named_hosts_are_targets() {
        for ok in [
            "http://127.0.0.1:8000",
            "http://127.8.9.10/",
            "http://localhost:1",
            "http://[::1]:80",
            "http://[::ffff:127.0.0.1]/",
        ] {
            assert!(check_target(ok, &[]).is_ok(), "{ok}");
        }
        for refused in [
            "http://10.0.0.1",
            "http://example.com",
            "http://[::2]",
            "http://0.0.0.0",
        ] {
            let e = check_target(refused, &[]).unwrap_err();
            assert!(e.0.contains("refusing"), "{e}");
        }
        assert!(check_target("http://10.0.0.1:9", &["10.0.0.1".into()]).is_ok());
        assert!(check_target("http://[fd00::1]:9", &["fd00::1".into()]).is_ok());
        assert!(check_target("http://Example.COM", &["example.com".into()]).is_ok());
        assert!(check_target("http://10.0.0.2", &["10.0.0.1".into()]).is_err());
        assert!(check_target("https://127.0.0.1", &[]).is_err());
        assert!(check_target("http://127.0.0.1/?a=1", &[]).is_err());
    }
}
