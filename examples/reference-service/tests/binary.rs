//! The reference service's binary and its settings: bad configuration is reported whole with status 1, and
//! the binary serves with Redis down.

#[path = "../../../runtime/tests/provider/mod.rs"]
mod provider;
#[path = "support/scrape.rs"]
mod scrape;
#[path = "../../../runtime/tests/support/services.rs"]
mod services;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use scrape::Scrape;
use serde_json::{json, Value};
use services::{unique_name, Postgres};
use slogen_reference_service::Settings;

#[test]
fn invalid_settings_are_all_reported() {
    let vars = BTreeMap::from([
        ("BIND", "localhost"),
        ("STRIPE_BASE_URL", "https://api.stripe.com"),
        ("EXTERNAL_API_TIMEOUT_SECONDS", "-1"),
        ("PROMETHEUS_ENABLED", "maybe"),
    ]);
    let error = Settings::from_vars(|name| vars.get(name).map(|value| (*value).to_owned()))
        .expect_err("four bad variables and a missing one");
    let variables: Vec<&str> = error
        .problems()
        .iter()
        .map(|problem| {
            problem
                .trim_start_matches("invalid ")
                .split(['=', ' '])
                .next()
                .expect("a variable name")
        })
        .collect();
    assert_eq!(
        variables,
        [
            "PROMETHEUS_ENABLED",
            "DATABASE_URL",
            "BIND",
            "STRIPE_BASE_URL",
            "EXTERNAL_API_TIMEOUT_SECONDS"
        ],
        "{error}"
    );
}

/// The binary, as a child process this test owns and kills.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        // Already exited is fine: it is gone either way.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_binary_rejects_bad_configuration_with_status_1() {
    let output = Command::new(env!("CARGO_BIN_EXE_reference-service"))
        .env_clear()
        .env("BIND", "nowhere")
        .env("LOG_FORMAT", "xml")
        .output()
        .expect("run reference-service");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for variable in [
        "DATABASE_URL is not set",
        "invalid BIND=\"nowhere\"",
        "invalid LOG_FORMAT=\"xml\"",
    ] {
        assert!(
            stderr.contains(variable),
            "{variable} missing from:\n{stderr}"
        );
    }
}

#[test]
fn a_metrics_endpoint_on_a_service_route_stops_startup_with_status_1() {
    for taken in ["/health", "/ready", "/users"] {
        let output = Command::new(env!("CARGO_BIN_EXE_reference-service"))
            .env_clear()
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
            .env("METRICS_ENDPOINT", taken)
            .output()
            .expect("run reference-service");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{taken}: {stderr}");
        assert!(
            stderr.contains(&format!("METRICS_ENDPOINT=\"{taken}\"")),
            "{taken}: {stderr}"
        );
        assert!(!stderr.contains("listening"), "{taken}: {stderr}");
    }
}

#[tokio::test]
async fn the_binary_serves_with_redis_down() {
    let postgres = Postgres::start();
    let redis_port = provider::closed_port().await;
    let bind: SocketAddr = provider::closed_port().await;
    let dir = tempfile::tempdir().expect("create a scratch directory");
    let child = Child(
        Command::new(env!("CARGO_BIN_EXE_reference-service"))
            .env_clear()
            .env("DATABASE_URL", postgres.url())
            .env("REDIS_URL", format!("redis://{redis_port}/"))
            .env("BIND", bind.to_string())
            .env("SLOW_QUERY_LOG_FILE", dir.path().join("slow.log"))
            .env("LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start reference-service"),
    );
    let client = reqwest::Client::new();
    let base = format!("http://{bind}");
    let mut healthy = false;
    for _ in 0..600 {
        if let Ok(response) = client.get(format!("{base}/health")).send().await {
            healthy = response.status() == StatusCode::OK;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(healthy, "the service never answered /health");
    let (status, created) = {
        let response = client
            .post(format!("{base}/users"))
            .json(&json!({"name": "Barbara", "email": format!("{}@example.com", unique_name("barbara"))}))
            .send()
            .await
            .expect("create a user");
        (
            response.status(),
            response.json::<Value>().await.expect("a user"),
        )
    };
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_i64().expect("an id");
    let read = client
        .get(format!("{base}/users/{id}"))
        .send()
        .await
        .expect("read the user");
    assert_eq!(read.status(), StatusCode::OK, "served from PostgreSQL");
    let scrape = Scrape::parse(
        client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .expect("scrape")
            .text()
            .await
            .expect("read the scrape"),
    );
    assert_eq!(
        scrape.value(
            "cache_operations_total",
            &[("cache_operation", "get"), ("cache_result", "error")]
        ),
        1.0
    );
    drop(child);
}
