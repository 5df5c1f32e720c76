//! The job runner and scheduler, recording into the reference service's metrics.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use slogen_reference_service::metrics::{
    JobLastSuccessTimestampLabels, JobRunDurationLabels, JobRunsLabels, JobStatus,
    JobsRunningLabels, Metrics,
};
use slogen_runtime::encode_text;
use slogen_runtime::jobs::{every, run_job, JobPanicked};
use tokio::sync::{mpsc, oneshot};

fn runs(metrics: &Metrics, job_name: &str, job_status: JobStatus) -> u64 {
    metrics
        .job_runs
        .with(&JobRunsLabels {
            job_name,
            job_status,
        })
        .get()
}

fn running(metrics: &Metrics, job_name: &str) -> i64 {
    metrics
        .jobs_running
        .with(&JobsRunningLabels { job_name })
        .get()
}

fn timed(metrics: &Metrics, job_name: &str) -> u64 {
    metrics
        .job_run_duration
        .with(&JobRunDurationLabels { job_name })
        .count()
}

fn unix_now() -> i64 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    i64::try_from(seconds).expect("seconds fit an i64")
}

/// Whether the exposition has a `job_last_success_timestamp_seconds` series for `job`.
fn stamped(metrics: &Metrics, job: &str) -> bool {
    let series = format!("job_last_success_timestamp_seconds{{job_name=\"{job}\"}} ");
    encode_text(metrics)
        .lines()
        .any(|line| line.starts_with(&series))
}

#[tokio::test]
async fn a_successful_run_is_counted_timed_and_stamped() {
    let metrics = Metrics::new();
    let before = unix_now();
    let output = run_job(&metrics, "send_digest_emails", async {
        Ok::<_, String>(12)
    })
    .await;
    let after = unix_now();
    assert_eq!(output, Ok(Ok(12)));
    assert_eq!(runs(&metrics, "send_digest_emails", JobStatus::Success), 1);
    assert_eq!(runs(&metrics, "send_digest_emails", JobStatus::Failure), 0);
    assert_eq!(running(&metrics, "send_digest_emails"), 0);
    assert_eq!(timed(&metrics, "send_digest_emails"), 1);
    assert!(stamped(&metrics, "send_digest_emails"));
    let stamp = metrics
        .job_last_success_timestamp
        .with(&JobLastSuccessTimestampLabels {
            job_name: "send_digest_emails",
        })
        .get();
    assert!(
        (before..=after).contains(&stamp),
        "{stamp} not in {before}..={after}"
    );

    run_job(&metrics, "vacuum", async {})
        .await
        .expect("no panic");
    assert_eq!(runs(&metrics, "vacuum", JobStatus::Success), 1);
}

#[tokio::test]
async fn an_error_is_a_failure_and_leaves_the_last_success_alone() {
    let metrics = Metrics::new();
    let output = run_job(&metrics, "sync_stripe", async {
        Err::<(), _>("stripe down")
    })
    .await;
    assert_eq!(output, Ok(Err("stripe down")));
    assert!(!stamped(&metrics, "sync_stripe"), "no success yet");
    assert_eq!(runs(&metrics, "sync_stripe", JobStatus::Failure), 1);
    assert_eq!(runs(&metrics, "sync_stripe", JobStatus::Success), 0);
    assert_eq!(running(&metrics, "sync_stripe"), 0);
    assert_eq!(timed(&metrics, "sync_stripe"), 1);
}

#[tokio::test]
async fn a_panic_is_caught_and_counted_as_a_failure() {
    let metrics = Metrics::new();
    let rows = 3;
    let output = run_job(&metrics, "cleanup", async move {
        if rows > 2 {
            panic!("{rows} rows locked");
        }
        Ok::<(), String>(())
    })
    .await;
    assert_eq!(
        output,
        Err(JobPanicked {
            message: "3 rows locked".to_owned()
        })
    );
    assert_eq!(runs(&metrics, "cleanup", JobStatus::Failure), 1);
    assert_eq!(running(&metrics, "cleanup"), 0);
    assert!(!stamped(&metrics, "cleanup"));
}

#[tokio::test]
async fn a_run_in_progress_is_running_and_a_cancelled_one_fails() {
    let metrics = Arc::new(Metrics::new());
    let (started_tx, started_rx) = oneshot::channel();
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let finishing = tokio::spawn({
        let metrics = Arc::clone(&metrics);
        async move {
            run_job(&*metrics, "import_feed", async move {
                started_tx.send(()).expect("the test waits");
                release_rx.await.map_err(|_| "released")
            })
            .await
        }
    });
    started_rx.await.expect("the job starts");
    assert_eq!(running(&metrics, "import_feed"), 1);
    release_tx.send(()).expect("the job waits");
    let output = finishing.await.expect("the task completes");
    assert_eq!(output, Ok(Ok(())));
    assert_eq!(running(&metrics, "import_feed"), 0);
    assert_eq!(runs(&metrics, "import_feed", JobStatus::Success), 1);

    let (started_tx, started_rx) = oneshot::channel();
    let cancelled = tokio::spawn({
        let metrics = Arc::clone(&metrics);
        async move {
            run_job(&*metrics, "import_feed", async move {
                started_tx.send(()).expect("the test waits");
                std::future::pending::<()>().await;
            })
            .await
        }
    });
    started_rx.await.expect("the job starts");
    assert_eq!(running(&metrics, "import_feed"), 1);
    cancelled.abort();
    let error = cancelled.await.expect_err("the task was aborted");
    assert!(error.is_cancelled());
    assert_eq!(running(&metrics, "import_feed"), 0);
    assert_eq!(runs(&metrics, "import_feed", JobStatus::Failure), 1);
    assert_eq!(runs(&metrics, "import_feed", JobStatus::Success), 1);
}

#[tokio::test]
async fn the_scheduler_keeps_running_after_a_panic() {
    let metrics = Arc::new(Metrics::new());
    let attempts = Arc::new(AtomicUsize::new(0));
    let (third_tx, mut third_rx) = mpsc::unbounded_channel();
    let schedule = every(
        Arc::clone(&metrics),
        Duration::from_millis(5),
        "refresh_rates",
        move || {
            let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
            let third_tx = third_tx.clone();
            async move {
                match attempt {
                    1 => Ok::<(), String>(()),
                    2 => panic!("rates feed returned garbage"),
                    _ => {
                        third_tx.send(()).expect("the test waits");
                        std::future::pending().await
                    }
                }
            }
        },
    );
    third_rx.recv().await.expect("the third run starts");
    assert_eq!(runs(&metrics, "refresh_rates", JobStatus::Success), 1);
    assert_eq!(runs(&metrics, "refresh_rates", JobStatus::Failure), 1);
    assert_eq!(running(&metrics, "refresh_rates"), 1);
    schedule.abort();
    assert!(schedule.await.expect_err("aborted").is_cancelled());
    assert_eq!(runs(&metrics, "refresh_rates", JobStatus::Failure), 2);
    assert_eq!(running(&metrics, "refresh_rates"), 0);
}
