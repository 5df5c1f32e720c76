//! The reference service end to end: real PostgreSQL and Redis (started by the harness), a real provider
//! peer, the server on a 127.0.0.1 listener, and the scrape checked against what the generator emitted.

#[path = "support/exposed.rs"]
mod exposed;
#[path = "support/reference.rs"]
mod reference;
#[path = "support/scrape.rs"]
mod scrape;
#[path = "../../../runtime/tests/support/services.rs"]
mod services;

#[path = "../../../runtime/tests/provider/mod.rs"]
mod provider;

use exposed::{backend_model, check_expr, generated_exprs};
use reference::Running;
use reqwest::{Method, StatusCode};
use scrape::{Sample, Scrape};
use serde_json::{json, Value};
use services::{unique_name, Postgres, RedisServer};

/// Starts the reference service against the given stores, in `app_env`, with a slow-query threshold of
/// `slow_seconds` and a provider peer (which lives as long as the test's runtime) that it gives up on after
/// 200 ms.
async fn start(database_url: &str, redis_url: &str, app_env: &str, slow_seconds: &str) -> Running {
    let peer = provider::start().await;
    Running::start(
        database_url,
        redis_url,
        &[
            ("APP_ENV", app_env.to_owned()),
            ("STRIPE_BASE_URL", peer.base_url()),
            ("BEEHIIV_BASE_URL", peer.base_url()),
            ("EXTERNAL_API_TIMEOUT_SECONDS", "0.2".to_owned()),
            ("SLOW_QUERY_THRESHOLD_SECONDS", slow_seconds.to_owned()),
        ],
    )
    .await
}

impl Running {
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }

    async fn scrape(&self) -> Scrape {
        let response = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("scrape");
        assert_eq!(response.status(), StatusCode::OK);
        Scrape::parse(response.text().await.expect("read the scrape"))
    }
}

#[tokio::test]
async fn every_metric_of_the_rules_and_dashboard_is_exposed_with_its_labels() {
    let postgres = Postgres::start();
    let mut redis = RedisServer::start_own();
    let service = start(postgres.url(), redis.url(), "development", "0.5").await;

    // Users: insert (and a duplicate), cached reads, a miss, update, delete.
    let email = format!("{}@example.com", unique_name("ada"));
    let (status, ada) = service
        .post("/users", json!({"name": "Ada", "email": email}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ada}");
    let id = ada["id"].as_i64().expect("an id");
    let (status, _) = service
        .post("/users", json!({"name": "Ada again", "email": email}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, read) = service.get(&format!("/users/{id}")).await;
    assert_eq!((status, &read["name"]), (StatusCode::OK, &json!("Ada")));
    assert_eq!(service.get("/users/0").await.0, StatusCode::NOT_FOUND);
    let (status, renamed) = service
        .send(
            Method::PATCH,
            &format!("/users/{id}"),
            Some(json!({"name": "Ada L."})),
        )
        .await;
    assert_eq!(
        (status, &renamed["name"]),
        (StatusCode::OK, &json!("Ada L."))
    );
    let (status, read) = service.get(&format!("/users/{id}")).await;
    assert_eq!(
        (status, &read["name"]),
        (StatusCode::OK, &json!("Ada L.")),
        "evicted on rename"
    );
    assert_eq!(service.get(&format!("/users/{id}")).await.0, StatusCode::OK);
    assert_eq!(
        service
            .send(Method::DELETE, &format!("/users/{id}"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        service
            .send(Method::DELETE, &format!("/users/{id}"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        service.get("/users/not-a-number").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        service
            .send(Method::PUT, "/users/1", Some(json!({})))
            .await
            .0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        service
            .send(
                Method::from_bytes(b"PURGE").expect("a method"),
                "/users/1",
                None
            )
            .await
            .0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(service.get("/no/such/route").await.0, StatusCode::NOT_FOUND);
    assert_eq!(service.get("/health").await.0, StatusCode::OK);

    // Payments through the tracked provider: ok, declined, provider failure, timeout.
    let charge = |card: &str| json!({"amount": 1200, "currency": "eur", "card": card});
    assert_eq!(
        service.post("/payments", charge(provider::CARD_OK)).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        service
            .post("/payments", charge(provider::CARD_DECLINED))
            .await
            .0,
        StatusCode::PAYMENT_REQUIRED
    );
    assert_eq!(
        service
            .post("/payments", charge(provider::CARD_PROVIDER_ERROR))
            .await
            .0,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(
        service
            .post("/payments", charge(provider::CARD_HANG))
            .await
            .0,
        StatusCode::GATEWAY_TIMEOUT
    );
    let subscribe = |email: String| json!({ "email": email });
    assert_eq!(
        service
            .post(
                "/newsletter/subscriptions",
                subscribe("ada@example.com".to_owned())
            )
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(
        service
            .post(
                "/newsletter/subscriptions",
                subscribe(format!("ada{}", provider::REJECTED_DOMAIN))
            )
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // Jobs: a real one, a failing one, a panicking one, an unknown one.
    let (status, ran) = service
        .post("/jobs/refresh_user_count/run", json!({}))
        .await;
    assert_eq!(
        (status, &ran["status"]),
        (StatusCode::OK, &json!("success")),
        "{ran}"
    );
    for outcome in ["failure", "panic"] {
        let (status, ran) = service
            .post(
                &format!("/jobs/send_digest_emails/run?outcome={outcome}"),
                json!({}),
            )
            .await;
        assert_eq!(
            (status, &ran["status"]),
            (StatusCode::OK, &json!("failure")),
            "{ran}"
        );
    }
    assert_eq!(
        service.post("/jobs/mine_bitcoin/run", json!({})).await.0,
        StatusCode::NOT_FOUND
    );

    // A slow statement, logged with the request's ID.
    let response = service
        .client
        .get(service.url("/slow?ms=600"))
        .header("x-request-id", "slow-request-1")
        .send()
        .await
        .expect("the slow route answers");
    assert_eq!(response.status(), StatusCode::OK);
    let slow_log = std::fs::read_to_string(service.dir.path().join("slow.log"))
        .expect("the slow query was logged");
    assert!(
        slow_log
            .lines()
            .any(|line| line.contains("\"request_id\":\"slow-request-1\"")
                && line.contains("pg_sleep")),
        "{slow_log}"
    );

    // One injected fault, then Redis down: the read falls back to PostgreSQL.
    let (status, set) = service
        .post("/admin/faults", json!({"error_ratio": 1.0}))
        .await;
    assert_eq!((status, &set["error_ratio"]), (StatusCode::OK, &json!(1.0)));
    assert_eq!(
        service.get("/users/0").await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        service.post("/admin/faults", json!({})).await.0,
        StatusCode::OK
    );
    let bob = service.create_user("bob").await;
    redis.stop();
    let (status, read) = service.get(&format!("/users/{bob}")).await;
    assert_eq!((status, &read["name"]), (StatusCode::OK, &json!("bob")));

    let scrape = service.scrape().await;

    // Every metric the model declares, under every name it exposes, with exactly its labels.
    let backend = backend_model();
    let mut problems = Vec::new();
    for metric in &backend.metrics {
        for name in metric.exposed_names() {
            let series: Vec<&Sample> = scrape.named(&name).collect();
            if series.is_empty() {
                problems.push(format!("metric `{}`: `{name}` is not exposed", metric.name));
            }
            for sample in series {
                let mut labels: Vec<&str> = sample
                    .labels
                    .keys()
                    .map(String::as_str)
                    .filter(|label| !(name.ends_with("_bucket") && *label == "le"))
                    .collect();
                let mut expected: Vec<&str> = metric.labels.iter().map(String::as_str).collect();
                labels.sort_unstable();
                expected.sort_unstable();
                if labels != expected {
                    problems.push(format!(
                        "metric `{}`: `{name}` has labels {labels:?}, the model says {expected:?}",
                        metric.name
                    ));
                }
            }
        }
    }
    // Every selector of the generated rules and dashboard finds series with the labels it uses.
    let exprs = generated_exprs();
    assert!(exprs.len() > 50, "only {} expressions found", exprs.len());
    for (origin, expr) in &exprs {
        problems.extend(check_expr(origin, expr, &backend, &scrape));
    }
    assert!(
        problems.is_empty(),
        "{}\n\nscrape:\n{}",
        problems.join("\n"),
        scrape.text
    );

    // The traffic above, counted under the right labels.
    let external = |provider: &str, endpoint: &str, outcome: &str, class: &str| {
        scrape.value(
            "external_api_requests_total",
            &[
                ("provider", provider),
                ("endpoint", endpoint),
                ("outcome", outcome),
                ("status_class", class),
            ],
        )
    };
    assert_eq!(external("stripe", "create_charge", "ok", "2xx"), 1.0);
    assert_eq!(external("stripe", "create_charge", "error", "4xx"), 1.0);
    assert_eq!(external("stripe", "create_charge", "error", "5xx"), 1.0);
    assert_eq!(
        external("stripe", "create_charge", "timeout", "no_response"),
        1.0
    );
    assert_eq!(external("beehiiv", "add_subscriber", "ok", "2xx"), 1.0);
    assert_eq!(external("beehiiv", "add_subscriber", "error", "4xx"), 1.0);
    assert_eq!(
        scrape.value(
            "external_api_request_duration_seconds_count",
            &[("provider", "stripe"), ("endpoint", "create_charge")]
        ),
        4.0
    );
    let job =
        |name: &'static str, status: &'static str| [("job_name", name), ("job_status", status)];
    assert_eq!(
        scrape.value("job_runs_total", &job("refresh_user_count", "success")),
        1.0
    );
    assert!(scrape.absent("job_runs_total", &job("refresh_user_count", "failure")));
    assert!(scrape.absent("job_runs_total", &job("send_digest_emails", "success")));
    assert_eq!(
        scrape.value("job_runs_total", &job("send_digest_emails", "failure")),
        2.0
    );
    for name in ["refresh_user_count", "send_digest_emails"] {
        assert_eq!(scrape.value("jobs_running", &[("job_name", name)]), 0.0);
    }
    assert!(
        scrape.value(
            "job_last_success_timestamp_seconds",
            &[("job_name", "refresh_user_count")]
        ) > 1.7e9
    );
    assert!(
        scrape.absent(
            "job_last_success_timestamp_seconds",
            &[("job_name", "send_digest_emails")]
        ),
        "a job that never succeeded has no last success"
    );
    let requests = |method: &str, route: &str, status: &str| {
        scrape.value(
            "http_requests_total",
            &[("method", method), ("route", route), ("status", status)],
        )
    };
    assert_eq!(requests("POST", "/payments", "2xx"), 1.0);
    assert_eq!(requests("POST", "/payments", "4xx"), 1.0);
    assert_eq!(requests("POST", "/payments", "5xx"), 2.0);
    assert_eq!(
        requests("GET", "/users/{id}", "5xx"),
        1.0,
        "the injected fault"
    );
    assert_eq!(
        requests("GET", "/users/{id}", "4xx"),
        2.0,
        "the missing user and the bad id"
    );
    assert_eq!(
        requests("PUT", "/users/{id}", "4xx"),
        1.0,
        "405 under its route"
    );
    assert_eq!(
        requests("OTHER", "/users/{id}", "4xx"),
        1.0,
        "a custom method"
    );
    assert_eq!(requests("GET", "unmatched", "4xx"), 1.0);
    assert_eq!(requests("POST", "/jobs/{name}/run", "2xx"), 3.0);
    assert_eq!(
        scrape.value("http_requests_in_flight", &[]),
        1.0,
        "only the scrape itself is in flight"
    );
    let queries = |operation: &str, collection: &str, outcome: &str| {
        scrape.value(
            "db_queries_total",
            &[
                ("db_operation", operation),
                ("collection", collection),
                ("outcome", outcome),
            ],
        )
    };
    assert_eq!(
        queries("insert", "users", "error"),
        1.0,
        "the duplicate email"
    );
    assert_eq!(queries("insert", "users", "ok"), 2.0);
    assert_eq!(queries("update", "users", "ok"), 1.0);
    assert_eq!(queries("delete", "users", "ok"), 2.0);
    let slow_lines = slow_log.lines().count() as f64;
    let slow_total: f64 = scrape
        .named("db_slow_queries_total")
        .map(|sample| sample.value)
        .sum();
    assert!(slow_total >= 1.0);
    assert_eq!(slow_total, slow_lines, "every slow query is in the log");
    let cache = |operation: &str, result: &str| {
        scrape.value(
            "cache_operations_total",
            &[("cache_operation", operation), ("cache_result", result)],
        )
    };
    assert_eq!(
        cache("get", "hit"),
        2.0,
        "after the write-through and after the re-read"
    );
    assert_eq!(cache("get", "error"), 1.0, "the read while Redis was down");
    assert_eq!(cache("delete", "ok"), 2.0, "evictions on rename and delete");
    assert!(cache("set", "ok") >= 3.0);
}

#[tokio::test]
async fn the_fault_switch_fails_exactly_the_requested_share() {
    let postgres = Postgres::start();
    let redis = RedisServer::start();
    let service = start(postgres.url(), redis.url(), "development", "0.5").await;
    let id = service.create_user("grace").await;

    let (status, set) = service
        .post(
            "/admin/faults",
            json!({"error_ratio": 0.25, "latency_ms": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(set, json!({"error_ratio": 0.25, "latency_ms": 0}));
    assert_eq!(service.get("/admin/faults").await.1, set);
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(service.get(&format!("/users/{id}")).await.0.as_u16());
        assert_eq!(
            service.get("/health").await.0,
            StatusCode::OK,
            "health is not an API route"
        );
    }
    let expected: Vec<u16> = (1..=20)
        .map(|n| if n % 4 == 0 { 500 } else { 200 })
        .collect();
    assert_eq!(statuses, expected, "every 4th request fails");

    assert_eq!(
        service.post("/admin/faults", json!({})).await.0,
        StatusCode::OK
    );
    for _ in 0..4 {
        assert_eq!(service.get(&format!("/users/{id}")).await.0, StatusCode::OK);
    }
    for invalid in [
        json!({"error_ratio": 1.5}),
        json!({"latency_ms": 600_000}),
        json!({"ratio": 1}),
    ] {
        assert!(service
            .post("/admin/faults", invalid)
            .await
            .0
            .is_client_error());
    }

    let scrape = service.scrape().await;
    let users = |status: &str| {
        scrape.value(
            "http_requests_total",
            &[
                ("method", "GET"),
                ("route", "/users/{id}"),
                ("status", status),
            ],
        )
    };
    assert_eq!(users("5xx"), 5.0);
    assert_eq!(users("2xx"), 19.0);
    let health = |status| [("method", "GET"), ("route", "/health"), ("status", status)];
    assert_eq!(scrape.value("http_requests_total", &health("2xx")), 20.0);
    assert!(scrape.absent("http_requests_total", &health("5xx")));
}

#[tokio::test]
async fn the_summary_is_served_in_development_only() {
    let postgres = Postgres::start();
    let redis = RedisServer::start();
    let development = start(postgres.url(), redis.url(), "development", "0.5").await;
    let id = development.create_user("edsger").await;
    for _ in 0..3 {
        assert_eq!(
            development.get(&format!("/users/{id}")).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(development.get("/users/0").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        development
            .post("/admin/faults", json!({"error_ratio": 1.0}))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        development.get(&format!("/users/{id}")).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );

    let (status, summary) = development.get("/metrics/summary").await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    let requests = &summary["requests"];
    // POST /users, 3 + 1 + 1 reads, POST /admin/faults; the summary request itself is still in flight.
    assert_eq!(requests["total"], json!(7), "{summary:#}");
    assert_eq!(requests["by_status"]["5xx"], json!(1));
    assert_eq!(requests["error_rate"], json!(1.0 / 7.0));
    assert_eq!(requests["in_flight"], json!(1));
    let route = &summary["latency_seconds"]["/users/{id}"];
    assert_eq!(route["count"], json!(5));
    for percentile in ["p50", "p95", "p99"] {
        let seconds = route[percentile].as_f64().expect("a percentile");
        assert!(seconds > 0.0, "{percentile} = {seconds}");
    }
    // Reads: three hits after the write-through, one miss for the missing user.
    assert_eq!(summary["cache"]["lookups"], json!(4));
    assert_eq!(summary["cache"]["hits"], json!(3));
    assert_eq!(summary["cache"]["hit_ratio"], json!(0.75));
    assert_eq!(summary["database"]["slow_queries"], json!(0));

    let production = start(postgres.url(), redis.url(), "production", "0.5").await;
    assert_eq!(
        production.get("/metrics/summary").await.0,
        StatusCode::NOT_FOUND
    );
    // The demonstration routes are development-only too.
    assert_eq!(production.get("/slow?ms=1").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        production.get("/admin/faults").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        production
            .post("/admin/faults", json!({"error_ratio": 1.0}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // A NUL in a JSON string is the client's mistake, not the service's.
    let (status, body) = production
        .post(
            "/users",
            json!({"name": "nul\u{0}byte", "email": "nul@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, ready) = production.get("/ready").await;
    assert_eq!(
        (status, &ready),
        (StatusCode::OK, &json!({"postgres": true, "redis": true}))
    );
    drop(development);
}
