//! The user routes: PostgreSQL as the source of truth, Redis as a write-through cache.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio_postgres::error::SqlState;

use super::{ApiError, AppResult, AppState};

/// How long a user stays cached.
pub(super) const USER_TTL: Duration = Duration::from_secs(60);

/// Rejects text PostgreSQL cannot store (a NUL character), as the client's mistake rather than a 500.
fn storable(field: &str, value: &str) -> AppResult<()> {
    if value.contains('\0') {
        return Err(ApiError::Invalid(format!(
            "{field} must not contain a NUL character"
        )));
    }
    Ok(())
}

/// `POST /users` and `GET|PATCH|DELETE /users/{id}`.
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/users", post(create_user)).route(
        "/users/{id}",
        get(get_user).patch(rename_user).delete(delete_user),
    )
}

/// A user as stored and cached.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct User {
    id: i64,
    name: String,
    email: String,
}

impl User {
    fn from_row(row: &tokio_postgres::Row) -> Self {
        User {
            id: row.get("id"),
            name: row.get("name"),
            email: row.get("email"),
        }
    }
}

fn user_key(id: i64) -> String {
    format!("user:{id}")
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
    email: String,
}

async fn create_user(
    State(state): State<Arc<AppState>>,
    Json(new): Json<NewUser>,
) -> AppResult<(StatusCode, Json<User>)> {
    storable("name", &new.name)?;
    storable("email", &new.email)?;
    let inserted = state
        .db
        .query_one(
            "INSERT INTO users (name, email) VALUES ($1, $2) RETURNING id, name, email",
            &[&new.name, &new.email],
        )
        .await;
    let user = match inserted {
        Ok(row) => User::from_row(&row),
        Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            return Err(ApiError::Conflict("a user with this email exists"));
        }
        Err(error) => return Err(error.into()),
    };
    // Write-through; a cache failure is counted by the cache and costs only a later miss.
    let _ = state.cache.set(&user_key(user.id), &user, USER_TTL).await;
    Ok((StatusCode::CREATED, Json(user)))
}

async fn get_user(
    State(state): State<Arc<AppState>>,
    Path(id): Path<i64>,
) -> AppResult<Json<User>> {
    let user = state
        .cache
        .get_or_try_compute(&user_key(id), USER_TTL, || async {
            let row = state
                .db
                .query_opt("SELECT id, name, email FROM users WHERE id = $1", &[&id])
                .await?;
            row.as_ref()
                .map(User::from_row)
                .ok_or(ApiError::NotFound("user"))
        })
        .await?;
    Ok(Json(user))
}

#[derive(Deserialize)]
struct Rename {
    name: String,
}

async fn rename_user(
    State(state): State<Arc<AppState>>,
    Path(id): Path<i64>,
    Json(rename): Json<Rename>,
) -> AppResult<Json<User>> {
    storable("name", &rename.name)?;
    let row = state
        .db
        .query_opt(
            "UPDATE users SET name = $2 WHERE id = $1 RETURNING id, name, email",
            &[&id, &rename.name],
        )
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    // A failed eviction leaves the old name cached until the TTL; it is counted as a cache error.
    let _ = state.cache.delete(&user_key(id)).await;
    Ok(Json(User::from_row(&row)))
}

async fn delete_user(
    State(state): State<Arc<AppState>>,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    let deleted = state
        .db
        .execute("DELETE FROM users WHERE id = $1", &[&id])
        .await?;
    if deleted == 0 {
        return Err(ApiError::NotFound("user"));
    }
    // As in `rename_user`: a stale entry expires with its TTL.
    let _ = state.cache.delete(&user_key(id)).await;
    Ok(StatusCode::NO_CONTENT)
}
