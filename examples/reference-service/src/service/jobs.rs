//! The background jobs: the scheduled `refresh_user_count`, and `POST /jobs/{name}/run` to run one now.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use slogen_runtime::jobs::{every, run_job, JobPanicked};
use tokio::task::JoinHandle;

use super::{ApiError, AppResult, AppState};

/// The background jobs `POST /jobs/{name}/run` knows, so a client cannot invent `job_name` values.
pub const JOBS: [&str; 2] = [REFRESH_USER_COUNT, SEND_DIGEST_EMAILS];

/// Counts users into the cache; real work, scheduled by the binary.
pub(super) const REFRESH_USER_COUNT: &str = "refresh_user_count";

/// A stand-in for an email job, whose outcome the caller picks (`?outcome=failure`), to show failures.
const SEND_DIGEST_EMAILS: &str = "send_digest_emails";

/// Spawns the periodic `refresh_user_count` job.
pub fn schedule_jobs(state: &Arc<AppState>, period: Duration) -> JoinHandle<()> {
    let state = Arc::clone(state);
    every(
        Arc::clone(&state.metrics),
        period,
        REFRESH_USER_COUNT,
        move || {
            let state = Arc::clone(&state);
            async move { state.refresh_user_count().await }
        },
    )
}

/// `POST /jobs/{name}/run`.
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/jobs/{name}/run", post(run_named_job))
}

/// How the demonstration job should end.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum DemoOutcome {
    #[default]
    Success,
    Failure,
    Panic,
}

#[derive(Deserialize)]
struct RunParams {
    #[serde(default)]
    outcome: DemoOutcome,
}

/// Runs a known job now and reports how it ended (200 either way: the request itself succeeded, the
/// job's outcome is in the body and in `job_runs_total`).
async fn run_named_job(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Query(params): Query<RunParams>,
) -> AppResult<Json<Value>> {
    let recorder = &*state.metrics;
    let ran: Result<Result<Value, String>, JobPanicked> = match name.as_str() {
        REFRESH_USER_COUNT => {
            run_job(recorder, REFRESH_USER_COUNT, state.refresh_user_count()).await
        }
        SEND_DIGEST_EMAILS => {
            run_job(
                recorder,
                SEND_DIGEST_EMAILS,
                send_digest_emails(params.outcome),
            )
            .await
        }
        _ => return Err(ApiError::NotFound("job")),
    };
    let body = match ran {
        Ok(Ok(detail)) => json!({ "job": name, "status": "success", "detail": detail }),
        Ok(Err(error)) => json!({ "job": name, "status": "failure", "error": error }),
        Err(panicked) => json!({ "job": name, "status": "failure", "error": panicked.to_string() }),
    };
    Ok(Json(body))
}

async fn send_digest_emails(outcome: DemoOutcome) -> Result<Value, String> {
    match outcome {
        DemoOutcome::Success => Ok(json!({ "emails_sent": 0 })),
        DemoOutcome::Failure => Err("the mail relay refused the batch".to_owned()),
        DemoOutcome::Panic => panic!("the digest template is missing"),
    }
}
