//! The errors a handler can fail with, and the status each maps to (see the failure table of the
//! [service](super) documentation).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use slogen_runtime::db::DbError;

/// What a handler can fail with, and the answer each failure gets.
#[derive(Debug)]
pub(super) enum ApiError {
    NotFound(&'static str),
    Conflict(&'static str),
    Invalid(String),
    Database(DbError),
    Upstream(StatusCode, Value),
    InjectedFault,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                json!({ "error": format!("{what} not found") }),
            ),
            ApiError::Conflict(what) => (StatusCode::CONFLICT, json!({ "error": what })),
            ApiError::Invalid(why) => (StatusCode::UNPROCESSABLE_ENTITY, json!({ "error": why })),
            ApiError::Database(error) => {
                tracing::error!(%error, "database error");
                match error {
                    DbError::Unavailable(_) => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        json!({ "error": "database unavailable" }),
                    ),
                    error if error.is_timeout() => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        json!({ "error": "database timeout" }),
                    ),
                    _ => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        json!({ "error": "database error" }),
                    ),
                }
            }
            ApiError::Upstream(status, body) => (status, body),
            ApiError::InjectedFault => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({ "error": "injected fault" }),
            ),
        };
        (status, Json(body)).into_response()
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        ApiError::Database(error)
    }
}

pub(super) type AppResult<T> = Result<T, ApiError>;
