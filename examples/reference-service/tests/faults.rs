//! The reference service while its PostgreSQL server is stopped and started again: the real server the
//! harness runs, stopped as `pg_ctl stop -m fast` stops it, then restarted on the same port and data
//! directory. Short timeouts in the service's configuration keep the test as quick as the behaviour allows.

#[path = "support/reference.rs"]
mod reference;
#[path = "../../../runtime/tests/support/services.rs"]
mod services;

use std::time::{Duration, Instant};

use reference::Running;
use reqwest::StatusCode;
use serde_json::{json, Value};
use services::{unique_name, Postgres, RedisServer};

/// `DB_CONNECT_TIMEOUT_SECONDS`: the longest a request waits for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// `DB_STATEMENT_TIMEOUT_SECONDS`.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(1);
/// `READINESS_TIMEOUT_SECONDS`.
const READINESS_TIMEOUT: Duration = Duration::from_millis(500);
/// Scheduling slack on a shared two-core machine; small next to the timeouts a hang would exceed.
const SLACK: Duration = Duration::from_millis(500);
/// How long the service may take to serve again once the server is back.
const RECOVERY: Duration = Duration::from_secs(5);

/// Creates a user: a request that always reaches PostgreSQL (an insert, never served from the cache).
async fn create_user(service: &Running) -> (StatusCode, Value) {
    let email = format!("{}@example.com", unique_name("stopped"));
    service
        .post("/users", json!({"name": "Grace", "email": email}))
        .await
}

/// The `http_requests_total` of `POST /users` answered with `status` in the service's scrape.
async fn users_created(service: &Running, status: &str) -> f64 {
    let scrape = service
        .client
        .get(service.url("/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("read the scrape");
    let series =
        format!("http_requests_total{{method=\"POST\",route=\"/users\",status=\"{status}\"}} ");
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0.0, |value| value.parse().expect("a sample value"))
}

#[tokio::test]
async fn a_stopped_database_answers_503_reads_unready_and_recovers_after_a_restart() {
    let mut postgres = Postgres::start_own();
    let redis = RedisServer::start();
    let seconds = |duration: Duration| duration.as_secs_f64().to_string();
    let service = Running::start(
        postgres.url(),
        redis.url(),
        &[
            ("APP_ENV", "production".to_owned()),
            ("DB_POOL_SIZE", "2".to_owned()),
            ("DB_CONNECT_TIMEOUT_SECONDS", seconds(CONNECT_TIMEOUT)),
            ("DB_STATEMENT_TIMEOUT_SECONDS", seconds(STATEMENT_TIMEOUT)),
            ("READINESS_TIMEOUT_SECONDS", seconds(READINESS_TIMEOUT)),
        ],
    )
    .await;
    let (status, user) = create_user(&service).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(service.get_ready().await, (StatusCode::OK, true));

    postgres.stop();
    let failures = 3;
    for _ in 0..failures {
        let start = Instant::now();
        let (status, body) = create_user(&service).await;
        let elapsed = start.elapsed();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(
            elapsed < CONNECT_TIMEOUT + STATEMENT_TIMEOUT + SLACK,
            "answered after {elapsed:?}"
        );
    }
    let start = Instant::now();
    assert_eq!(
        service.get_ready().await,
        (StatusCode::SERVICE_UNAVAILABLE, false)
    );
    assert!(start.elapsed() < READINESS_TIMEOUT + SLACK);
    // The availability SLI sees the outage.
    assert_eq!(users_created(&service, "5xx").await, f64::from(failures));

    postgres.restart();
    let start = Instant::now();
    loop {
        let (status, body) = create_user(&service).await;
        if status == StatusCode::CREATED {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(
            start.elapsed() < RECOVERY,
            "still {status} {RECOVERY:?} after the restart: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(service.get_ready().await, (StatusCode::OK, true));
    assert_eq!(users_created(&service, "2xx").await, 2.0);
}

impl Running {
    /// `/ready`'s status and what it says of PostgreSQL; Redis must be reachable throughout.
    async fn get_ready(&self) -> (StatusCode, bool) {
        let (status, body) = self.send(reqwest::Method::GET, "/ready", None).await;
        assert_eq!(body["redis"], json!(true), "{body}");
        let postgres = body["postgres"].as_bool().expect("a PostgreSQL flag");
        (status, postgres)
    }
}
