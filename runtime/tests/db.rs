//! The PostgreSQL client against a real server: what it reports for each statement, errors and slow
//! statements.

#[path = "support/db.rs"]
mod db_settings;
#[path = "support/recorders.rs"]
mod recorders;
#[path = "support/services.rs"]
mod services;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use http::Request;
use recorders::QueryCounts;
use services::{unique_name, Postgres};
use slogen_runtime::db::{Database, NO_TABLE};
use slogen_runtime::http::HttpMetricsLayer;
use slogen_runtime::record::HttpRecorder;
use slogen_runtime::record::Outcome::{Error, Ok, Timeout};
use slogen_runtime::record::SqlOperation::{Delete, Insert, Other, Select, Update};
use slogen_runtime::slow_query::{SlowQueryConfig, SlowQueryLog};
use tokio_postgres::error::SqlState;
use tower::ServiceExt as _;

/// A threshold no statement of these tests reaches.
const NEVER_SLOW: Duration = Duration::from_secs(3600);

async fn connect(
    postgres: &Postgres,
    threshold: Duration,
    log: &Path,
) -> (Database<QueryCounts>, Arc<QueryCounts>) {
    let counts = Arc::new(QueryCounts::default());
    let slow_log = Arc::new(SlowQueryLog::new(SlowQueryConfig::new(threshold, log)));
    let database = Database::connect(
        db_settings::settings(postgres),
        Arc::clone(&counts),
        slow_log,
    )
    .await
    .expect("connect to postgres");
    (database, counts)
}

/// The slow-query log's lines, parsed.
fn log_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("read the slow-query log")
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is JSON"))
        .collect()
}

#[tokio::test]
async fn each_statement_is_reported_with_its_operation_and_table() {
    let postgres = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let (db, counts) = connect(&postgres, NEVER_SLOW, &dir.path().join("slow.log")).await;
    let table = unique_name("widgets");

    db.execute(
        &format!("CREATE TABLE {table} (id int PRIMARY KEY, name text NOT NULL)"),
        &[],
    )
    .await
    .unwrap();
    for (id, name) in [(1, "bolt"), (2, "nut")] {
        let inserted = db
            .execute(
                &format!("INSERT INTO {table} (id, name) VALUES ($1, $2)"),
                &[&id, &name],
            )
            .await
            .unwrap();
        assert_eq!(inserted, 1);
    }
    let names: Vec<String> = db
        .query(&format!("SELECT name FROM {table} ORDER BY id"), &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(names, ["bolt", "nut"]);
    let updated = db
        .execute(
            &format!("UPDATE {table} SET name = $1 WHERE id = $2"),
            &[&"screw", &2],
        )
        .await
        .unwrap();
    assert_eq!(updated, 1);
    let row = db
        .query_one(
            &format!("SELECT name FROM public.{table} WHERE id = $1"),
            &[&2],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "screw");
    let deleted = db
        .execute(&format!("DELETE FROM {table} WHERE id = $1"), &[&1])
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    let gone = db
        .query_opt(&format!("SELECT name FROM {table} WHERE id = $1"), &[&1])
        .await
        .unwrap();
    assert!(gone.is_none());
    db.execute(&format!("DROP TABLE {table}"), &[])
        .await
        .unwrap();

    assert_eq!(
        counts.finished(Other, &table, Ok),
        2,
        "CREATE and DROP TABLE"
    );
    assert_eq!(counts.finished(Insert, &table, Ok), 2);
    assert_eq!(counts.finished(Select, &table, Ok), 2);
    assert_eq!(counts.finished(Select, &format!("public.{table}"), Ok), 1);
    assert_eq!(counts.finished(Update, &table, Ok), 1);
    assert_eq!(counts.finished(Delete, &table, Ok), 1);
    assert_eq!(counts.finished_total(), 9);
    assert_eq!(counts.slow_total(), 0);
}

#[tokio::test]
async fn an_explicit_table_overrides_the_one_in_the_text() {
    let postgres = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let (db, counts) = connect(&postgres, NEVER_SLOW, &dir.path().join("slow.log")).await;

    let total: i64 = db
        .table("reports")
        .query_one(
            "SELECT sum(n)::bigint FROM generate_series(1, $1::int) AS n",
            &[&4],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(total, 10);
    let one: i32 = db.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);

    assert_eq!(counts.finished(Select, "reports", Ok), 1);
    assert_eq!(counts.finished(Select, NO_TABLE, Ok), 1);
}

#[tokio::test]
async fn a_failing_statement_is_counted_and_its_error_returned_unchanged() {
    let postgres = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let (db, counts) = connect(&postgres, NEVER_SLOW, &dir.path().join("slow.log")).await;
    let missing = unique_name("missing");

    let error = db
        .query(&format!("SELECT * FROM {missing} WHERE id = $1"), &[&1])
        .await
        .expect_err("the table does not exist");
    assert_eq!(error.code(), Some(&SqlState::UNDEFINED_TABLE));

    let no_row = db.query_one("SELECT 1 WHERE false", &[]).await;
    assert!(no_row.is_err(), "query_one wants exactly one row");

    db.execute("SET statement_timeout = '50ms'", &[])
        .await
        .unwrap();
    let cancelled = db
        .query("SELECT pg_sleep(5)", &[])
        .await
        .expect_err("cancelled");
    assert_eq!(cancelled.code(), Some(&SqlState::QUERY_CANCELED));
    assert!(cancelled.is_timeout());

    assert_eq!(counts.finished(Select, &missing, Error), 1);
    assert_eq!(counts.finished(Select, NO_TABLE, Error), 1);
    assert_eq!(counts.finished(Select, NO_TABLE, Timeout), 1);
    assert_eq!(counts.finished(Other, NO_TABLE, Ok), 1, "SET");
}

/// Counts nothing: the HTTP layer needs a recorder, and these tests look at the slow-query log only.
struct IgnoreHttp;

impl HttpRecorder for IgnoreHttp {
    fn request_started(&self, _: &http::Method, _: &str) {}
    fn request_finished(&self, _: &http::Method, _: &str, _: u16, _: Duration) {}
}

#[tokio::test]
async fn a_slow_statement_is_counted_and_logged_without_its_parameters() {
    let postgres = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("logs").join("slow.log");
    let (db, counts) = connect(&postgres, Duration::from_millis(100), &log).await;
    let db = Arc::new(db);

    // Run inside an instrumented request, so the log line carries its request ID.
    let app = Router::new()
        .route(
            "/slow",
            get(|State(db): State<Arc<Database<QueryCounts>>>| async move {
                let row = db
                    .query_one(
                        "SELECT pg_sleep($1), $2::text AS secret",
                        &[&0.3_f64, &"hunter2"],
                    )
                    .await
                    .unwrap();
                row.get::<_, String>("secret")
            }),
        )
        .with_state(Arc::clone(&db))
        .layer(HttpMetricsLayer::new(Arc::new(IgnoreHttp)));
    let request = Request::get("/slow")
        .header("x-request-id", "req-42")
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);

    assert_eq!(counts.slow(Select, NO_TABLE), 1);
    assert_eq!(counts.finished(Select, NO_TABLE, Ok), 1);
    assert_eq!(counts.log_failures(), 0);
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert_eq!(line["request_id"], "req-42");
    assert_eq!(line["operation"], "select");
    assert_eq!(line["table"], NO_TABLE);
    assert_eq!(line["statement"], "SELECT pg_sleep($1), $2::text AS secret");
    assert!(!line.to_string().contains("hunter2"), "{line}");
    let seconds = line["duration_seconds"].as_f64().expect("a number");
    assert!(seconds >= 0.3, "pg_sleep(0.3) logged as {seconds} s");
    let timestamp = line["timestamp"].as_str().expect("a string");
    assert!(
        timestamp.len() == 24 && timestamp.as_bytes()[10] == b'T' && timestamp.ends_with('Z'),
        "RFC 3339 UTC: {timestamp}"
    );
}

#[tokio::test]
async fn statements_under_the_threshold_are_not_logged() {
    let postgres = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("slow.log");
    let (db, counts) = connect(&postgres, NEVER_SLOW, &log).await;

    db.query("SELECT pg_sleep(0.3)", &[]).await.unwrap();

    assert_eq!(counts.finished(Select, NO_TABLE, Ok), 1);
    assert_eq!(counts.slow_total(), 0);
    assert!(!log.exists(), "nothing was written");
}
