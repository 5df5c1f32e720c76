//! The slow-query log: failures never reach the query, rotation keeps a bounded number of whole lines.

#[path = "support/db.rs"]
mod db_settings;
#[path = "support/recorders.rs"]
mod recorders;
#[path = "support/services.rs"]
mod services;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use recorders::QueryCounts;
use services::Postgres;
use slogen_runtime::db::{Database, NO_TABLE};
use slogen_runtime::record::Outcome::Ok;
use slogen_runtime::record::SqlOperation::{self, Select};
use slogen_runtime::slow_query::{SlowQuery, SlowQueryConfig, SlowQueryLog};

fn entry(statement: &str) -> SlowQuery<'_> {
    SlowQuery {
        request_id: Some("req-1"),
        operation: SqlOperation::Update,
        table: "accounts",
        duration: Duration::from_millis(750),
        statement,
    }
}

/// A log path that cannot be created, even by root: its parent is a regular file.
fn unwritable_path(dir: &Path) -> PathBuf {
    let blocker = dir.join("not-a-directory");
    std::fs::write(&blocker, "").unwrap();
    blocker.join("slow.log")
}

#[tokio::test]
async fn an_unwritable_log_is_counted_and_the_query_still_succeeds() {
    let postgres = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let counts = Arc::new(QueryCounts::default());
    let every_statement_is_slow = SlowQueryConfig::new(Duration::ZERO, unwritable_path(dir.path()));
    let slow_log = Arc::new(SlowQueryLog::new(every_statement_is_slow));
    let db = Database::connect(
        db_settings::settings(&postgres),
        Arc::clone(&counts),
        slow_log,
    )
    .await
    .expect("connect to postgres");

    for expected in 1..=2 {
        let row = db
            .query_one("SELECT 41 + $1::int", &[&1])
            .await
            .expect("the query succeeds");
        assert_eq!(row.get::<_, i32>(0), 42);
        assert_eq!(counts.log_failures(), expected);
    }
    assert_eq!(counts.slow(Select, NO_TABLE), 2);
    assert_eq!(counts.finished(Select, NO_TABLE, Ok), 2);
}

#[test]
fn record_reports_an_unwritable_path_as_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = SlowQueryLog::new(SlowQueryConfig::new(
        Duration::ZERO,
        unwritable_path(dir.path()),
    ));
    assert!(log.record(&entry("SELECT 1")).is_err());
}

#[test]
fn the_directory_is_created_and_lines_carry_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("var").join("log").join("slow.jsonl");
    let log = SlowQueryLog::new(SlowQueryConfig::new(Duration::ZERO, &path));

    log.record(&entry("UPDATE accounts SET balance = $1 WHERE id = $2"))
        .unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    let line: serde_json::Value =
        serde_json::from_str(text.strip_suffix('\n').expect("one whole line")).unwrap();
    let mut fields: Vec<&str> = line
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "duration_seconds",
            "operation",
            "request_id",
            "statement",
            "table",
            "timestamp"
        ]
    );
    assert_eq!(line["request_id"], "req-1");
    assert_eq!(line["operation"], "update");
    assert_eq!(line["table"], "accounts");
    assert_eq!(line["duration_seconds"], 0.75);
    assert_eq!(
        line["statement"],
        "UPDATE accounts SET balance = $1 WHERE id = $2"
    );
}

#[test]
fn a_log_moved_or_deleted_from_outside_is_reopened_at_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.log");
    let log = SlowQueryLog::new(SlowQueryConfig::new(Duration::ZERO, &path));
    let lines = |path: &Path| std::fs::read_to_string(path).unwrap().lines().count();

    log.record(&entry("SELECT 1")).unwrap();
    // logrotate without copytruncate: rename, and the writer must notice.
    let moved = dir.path().join("slow.log.2026-12-05");
    std::fs::rename(&path, &moved).unwrap();
    log.record(&entry("SELECT 2")).unwrap();
    assert_eq!((lines(&moved), lines(&path)), (1, 1));
    assert!(std::fs::read_to_string(&path).unwrap().contains("SELECT 2"));

    // Deleted outright: the next line recreates it.
    std::fs::remove_file(&path).unwrap();
    log.record(&entry("SELECT 3")).unwrap();
    assert!(std::fs::read_to_string(&path).unwrap().contains("SELECT 3"));
    assert_eq!(lines(&path), 1);
}

/// The log's files, oldest first: `file.N-1`, …, `file.1`, `file`.
fn files_oldest_first(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut files: Vec<(usize, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .map(|path| {
            let file_name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let age = match file_name.strip_prefix(name) {
                Some("") => 0,
                Some(suffix) => suffix
                    .strip_prefix('.')
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("unexpected file {file_name}")),
                None => panic!("unexpected file {file_name}"),
            };
            (age, path)
        })
        .collect();
    files.sort_by_key(|(age, _)| std::cmp::Reverse(*age));
    files.into_iter().map(|(_, path)| path).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_rotate_into_at_most_max_files_of_whole_lines() {
    const WRITERS: usize = 8;
    const LINES_PER_WRITER: usize = 60;
    const MAX_BYTES: u64 = 2_000;
    const MAX_FILES: usize = 3;

    let dir = tempfile::tempdir().unwrap();
    let config = SlowQueryConfig {
        max_bytes: MAX_BYTES,
        max_files: MAX_FILES,
        ..SlowQueryConfig::new(Duration::ZERO, dir.path().join("slow.log"))
    };
    let log = Arc::new(SlowQueryLog::new(config));

    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                for seq in 0..LINES_PER_WRITER {
                    let statement =
                        format!("SELECT * FROM t WHERE writer = {writer} AND seq = {seq}");
                    log.record(&entry(&statement)).unwrap();
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }

    let files = files_oldest_first(dir.path(), "slow.log");
    let names: Vec<String> = files
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["slow.log.2", "slow.log.1", "slow.log"],
        "rotated well past the limit"
    );

    // Every line of every file is whole JSON, each file within the limit, and each writer's lines
    // appear in the order it wrote them, oldest file first.
    let mut last_seq: HashMap<u64, u64> = HashMap::new();
    let mut kept = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(
            text.len() as u64 <= MAX_BYTES,
            "{} holds {} bytes",
            path.display(),
            text.len()
        );
        assert!(
            text.ends_with('\n'),
            "{} ends in a whole line",
            path.display()
        );
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("torn line in {}: {error}: {line}", path.display()));
            let statement = value["statement"].as_str().unwrap();
            let numbers: Vec<u64> = statement
                .split(' ')
                .filter_map(|word| word.parse().ok())
                .collect();
            let [writer, seq] = numbers[..] else {
                panic!("unexpected statement {statement}")
            };
            if let Some(previous) = last_seq.insert(writer, seq) {
                assert!(previous < seq, "writer {writer}: {seq} after {previous}");
            }
            kept += 1;
        }
    }
    assert!(
        kept < WRITERS * LINES_PER_WRITER,
        "the oldest lines were dropped"
    );
}

#[test]
fn a_line_longer_than_the_limit_gets_a_file_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.log");
    let config = SlowQueryConfig {
        max_bytes: 100,
        max_files: 2,
        ..SlowQueryConfig::new(Duration::ZERO, &path)
    };
    let log = SlowQueryLog::new(config);
    let long = format!("SELECT '{}'", "x".repeat(200));

    log.record(&entry(&long)).unwrap();
    log.record(&entry("SELECT 1")).unwrap();

    let rotated = std::fs::read_to_string(dir.path().join("slow.log.1")).unwrap();
    let live = std::fs::read_to_string(&path).unwrap();
    assert_eq!(rotated.lines().count(), 1);
    assert!(rotated.contains(&long));
    assert_eq!(live.lines().count(), 1);
    assert!(live.contains("SELECT 1"));
}
