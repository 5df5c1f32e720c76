//! The reference backend's HTTP API, wired to PostgreSQL, Redis and a payment provider through the
//! runtime, so every metric of `slos/backend.toml` is fed by real traffic.
//!
//! | Route | What it does | Feeds |
//! |---|---|---|
//! | `GET /health` | liveness: the process serves requests | `http_*` |
//! | `GET /ready` | readiness: PostgreSQL and Redis answer within `READINESS_TIMEOUT_SECONDS` (503 if not) | `http_*` |
//! | `POST /users` | inserts a user, caches it | `db_*` (insert), `cache_*` (set) |
//! | `GET /users/{id}` | reads a user through the cache | `cache_*` (get), `db_*` (select) on a miss |
//! | `PATCH /users/{id}` | renames a user, evicts it | `db_*` (update), `cache_*` (delete) |
//! | `DELETE /users/{id}` | deletes a user, evicts it | `db_*` (delete), `cache_*` (delete) |
//! | `POST /payments` | charges a card at the provider | `external_api_*` (`stripe`, `create_charge`) |
//! | `POST /newsletter/subscriptions` | subscribes an email | `external_api_*` (`beehiiv`, `add_subscriber`) |
//! | `POST /jobs/{name}/run` | runs a background job now | `job_*`, `jobs_running` |
//! | `GET /slow?ms=` | a statement sleeping `ms` in PostgreSQL (development only) | latency, `db_slow_queries` |
//! | `GET`/`POST /admin/faults` | reads or sets the fault switch (development only) | — |
//! | `GET /metrics`, `GET /metrics/summary` | exposition, development digest | — |
//!
//! The fault switch makes a share of API requests (the routes above `/admin`, except `/health`) answer 500
//! and adds latency to all of them, so alerts and dashboards can be watched reacting. It is
//! unauthenticated, so it and `/slow` exist only with `APP_ENV=development`.
//!
//! # Failures and the availability SLI
//!
//! The availability SLI counts `status="5xx"` answers as errors, so every failure of the service's own
//! making must be a 5xx and every client mistake a 4xx:
//!
//! | Failure | Answer |
//! |---|---|
//! | PostgreSQL unreachable, down, or no pooled connection within `DB_CONNECT_TIMEOUT_SECONDS` | 503 |
//! | a statement past `DB_STATEMENT_TIMEOUT_SECONDS` (server hung or slow) | 503 |
//! | any other PostgreSQL error | 500 |
//! | an injected fault | 500 |
//! | a provider refusing or failing / not answering in time | 502 / 504 |
//! | malformed JSON, a NUL character in a string, a too-long `/slow` | 400 or 422 |
//!
//! A request touching PostgreSQL therefore answers within connect timeout + statement timeout (per
//! statement), never waiting for the client to give up (which would be counted as 499, outside the SLI).

use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;

use super::metrics::{Metrics, Provider};
use slogen_runtime::cache::{Cache, CacheConfig, CacheError};
use slogen_runtime::config::RuntimeConfig;
use slogen_runtime::db::{Database, DbError, DbSettings};
use slogen_runtime::endpoints::{metrics_router, Summary};
use slogen_runtime::external::{ExternalApiTracker, TimedOut};
use slogen_runtime::http::{current_request_id, HttpMetricsLayer, REQUEST_ID_HEADER};
use slogen_runtime::jobs::{every, run_job, JobPanicked};
use slogen_runtime::slow_query::{SlowQueryConfig, SlowQueryLog};

mod faults;
mod settings;
pub use faults::FaultSettings;
use faults::{faults, inject_faults, set_faults, Faults};
pub use settings::{
    Settings, SettingsError, BEEHIIV_BASE_URL, BIND, DATABASE_URL, EXTERNAL_API_TIMEOUT_SECONDS,
    REDIS_URL, STRIPE_BASE_URL,
};

/// How long a user stays cached.
const USER_TTL: Duration = Duration::from_secs(60);

/// The longest `/slow` sleeps, so the demo route cannot hold a connection for minutes.
const MAX_SLOW_MS: u64 = 10_000;

/// The longest latency the fault switch adds.
const MAX_FAULT_LATENCY_MS: u64 = 60_000;

/// The background jobs `POST /jobs/{name}/run` knows, so a client cannot invent `job_name` values.
pub const JOBS: [&str; 2] = [REFRESH_USER_COUNT, SEND_DIGEST_EMAILS];

/// Counts users into the cache; real work, scheduled by the binary.
const REFRESH_USER_COUNT: &str = "refresh_user_count";

/// A stand-in for an email job, whose outcome the caller picks (`?outcome=failure`), to show failures.
const SEND_DIGEST_EMAILS: &str = "send_digest_emails";

/// Serializes the schema creation of concurrent instances sharing a database.
const MIGRATION_LOCK: i64 = 0x5106_0001;

/// The `application_name` of the service's PostgreSQL sessions, unless `DATABASE_URL` sets one.
const APPLICATION_NAME: &str = "reference-service";

/// Why the service could not start.
#[derive(Debug)]
pub enum StartError {
    /// PostgreSQL is unreachable or refused the schema.
    Database(DbError),
    /// The Redis URL is unusable (an unreachable Redis is not an error: the cache reconnects).
    Cache(CacheError),
    /// The HTTP client for the payment provider could not be built.
    Http(reqwest::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Database(error) => write!(f, "cannot use PostgreSQL: {error}"),
            StartError::Cache(error) => write!(f, "cannot set up the Redis cache: {error}"),
            StartError::Http(error) => write!(f, "cannot build the HTTP client: {error}"),
        }
    }
}

impl Error for StartError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            StartError::Database(error) => Some(error),
            StartError::Cache(error) => Some(error),
            StartError::Http(error) => Some(error),
        }
    }
}

/// Everything the handlers share: the metrics and the instrumented clients.
pub struct AppState {
    metrics: Arc<Metrics>,
    config: RuntimeConfig,
    db: Database<Metrics>,
    cache: Cache<Metrics>,
    stripe: Upstream,
    beehiiv: Upstream,
    faults: Faults,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .field("db", &self.db)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Connects to PostgreSQL and creates the schema; the cache connects lazily, so Redis may be down.
    pub async fn connect(settings: &Settings) -> Result<Self, StartError> {
        let metrics = Arc::new(Metrics::new());
        let slow_log = Arc::new(SlowQueryLog::new(SlowQueryConfig::from_runtime(
            &settings.runtime,
        )));
        let db_settings =
            DbSettings::from_runtime(&settings.database_url, APPLICATION_NAME, &settings.runtime);
        let db = Database::connect(db_settings, Arc::clone(&metrics), slow_log)
            .await
            .map_err(StartError::Database)?;
        migrate(&db).await.map_err(StartError::Database)?;
        let cache = Cache::new(
            CacheConfig::new(settings.redis_url.as_str()),
            Arc::clone(&metrics),
        )
        .map_err(StartError::Cache)?;
        let http = reqwest::Client::builder()
            .build()
            .map_err(StartError::Http)?;
        let upstream = |url: String| Upstream {
            http: http.clone(),
            url,
            timeout: settings.external_api_timeout,
            tracker: ExternalApiTracker::new(Arc::clone(&metrics)),
        };
        Ok(AppState {
            stripe: upstream(format!("{}/v1/charges", settings.stripe_base_url)),
            beehiiv: upstream(format!("{}/v2/subscriptions", settings.beehiiv_base_url)),
            metrics,
            config: settings.runtime.clone(),
            db,
            cache,
            faults: Faults::default(),
        })
    }

    /// The service's metrics, shared with the recorders of every component.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Counts the users and caches the count: the `refresh_user_count` job. Fails when either store does.
    pub async fn refresh_user_count(&self) -> Result<Value, String> {
        let row = self
            .db
            .query_one("SELECT count(*) FROM users", &[])
            .await
            .map_err(|error| format!("counting users: {error}"))?;
        let users: i64 = row.get(0);
        self.cache
            .set("stats:user_count", &users, USER_TTL)
            .await
            .map_err(|error| format!("caching the user count: {error}"))?;
        Ok(json!({ "users": users }))
    }
}

/// Creates the `users` table once, under a transaction-scoped advisory lock so instances starting together
/// do not race: one statement, so lock and creation share the pooled connection and the transaction.
async fn migrate(db: &Database<Metrics>) -> Result<(), DbError> {
    let statement = format!(
        "DO $$ BEGIN PERFORM pg_advisory_xact_lock({MIGRATION_LOCK}); \
         CREATE TABLE IF NOT EXISTS users (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE); \
         END $$"
    );
    db.table("users").execute(&statement, &[]).await.map(drop)
}

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

/// The reference service: every route, the fault switch on the API routes, the metrics routes, all
/// behind the HTTP metrics layer (applied last, so unknown paths are counted too).
pub fn app(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/users", post(create_user))
        .route(
            "/users/{id}",
            get(get_user).patch(rename_user).delete(delete_user),
        )
        .route("/payments", post(create_payment))
        .route("/newsletter/subscriptions", post(subscribe))
        .route("/jobs/{name}/run", post(run_named_job))
        .merge(development_routes(&state.config))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            inject_faults,
        ));
    let mut operations = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready));
    if state.config.development() {
        operations = operations.route("/admin/faults", get(faults).post(set_faults));
    }
    let summary: Arc<dyn Summary> = Arc::clone(&state.metrics) as Arc<dyn Summary>;
    let exposition = metrics_router(Arc::clone(&state.metrics), Some(summary), &state.config);
    let layer = HttpMetricsLayer::new(Arc::clone(&state.metrics));
    api.merge(operations)
        .with_state(state)
        .merge(exposition)
        .layer(layer)
}

/// What a handler can fail with, and the answer each failure gets.
#[derive(Debug)]
enum ApiError {
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

type AppResult<T> = Result<T, ApiError>;

/// Liveness: answers as long as the process serves requests, whatever its dependencies do (restarting
/// the process would not bring them back).
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: whether PostgreSQL and Redis both answer within the readiness timeout, checked together.
async fn ready(State(state): State<Arc<AppState>>) -> (StatusCode, Json<Value>) {
    let deadline = state.config.readiness_timeout;
    let (postgres, redis) = tokio::join!(state.db.ping(deadline), state.cache.ping(deadline));
    let status = if postgres && redis {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({ "postgres": postgres, "redis": redis })),
    )
}

/// The demonstration routes that would be a liability in production: `/slow` holds a connection on
/// request. Only with `APP_ENV=development`.
fn development_routes(config: &RuntimeConfig) -> Router<Arc<AppState>> {
    if config.development() {
        Router::new().route("/slow", get(slow))
    } else {
        Router::new()
    }
}

/// The paths the service serves itself, which `METRICS_ENDPOINT` must not take.
pub const OWN_ROUTES: &[&str] = &[
    "/users",
    "/payments",
    "/newsletter/subscriptions",
    "/slow",
    "/health",
    "/ready",
    "/admin/faults",
];

/// Rejects text PostgreSQL cannot store (a NUL character), as the client's mistake rather than a 500.
fn storable(field: &str, value: &str) -> AppResult<()> {
    if value.contains('\0') {
        return Err(ApiError::Invalid(format!(
            "{field} must not contain a NUL character"
        )));
    }
    Ok(())
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

/// The client of one provider operation: where to post, and how long to wait.
struct Upstream {
    http: reqwest::Client,
    url: String,
    timeout: Duration,
    tracker: ExternalApiTracker<Provider, Metrics>,
}

impl Upstream {
    /// A POST of `body` carrying the current request ID, so the provider's logs can be matched with ours.
    fn post(&self, body: &impl Serialize) -> reqwest::RequestBuilder {
        let request = self.http.post(&self.url).json(body);
        match current_request_id() {
            Some(id) => request.header(REQUEST_ID_HEADER, id.header_value().clone()),
            None => request,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Payment {
    amount: u64,
    currency: String,
    card: String,
}

/// Charges a card: 201 with the charge, 402 when the provider declines, 502 when it fails or cannot be
/// reached, 504 when it does not answer in time.
async fn create_payment(
    State(state): State<Arc<AppState>>,
    Json(payment): Json<Payment>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let stripe = &state.stripe;
    let answer = stripe
        .tracker
        .track_with_timeout(
            Provider::Stripe,
            "create_charge",
            stripe.timeout,
            read_answer(stripe.post(&payment)),
        )
        .await;
    let provider_failed =
        |status: StatusCode, error: &str| ApiError::Upstream(status, json!({ "error": error }));
    match answer {
        Ok(Ok(response)) => {
            let status = response.status();
            let body: Value = serde_json::from_str(response.body()).unwrap_or(Value::Null);
            if status.is_success() {
                Ok((StatusCode::CREATED, Json(json!({ "charge": body }))))
            } else if status.is_client_error() {
                Err(ApiError::Upstream(
                    StatusCode::PAYMENT_REQUIRED,
                    json!({ "error": "payment declined", "provider_status": status.as_u16(), "provider_error": body }),
                ))
            } else {
                tracing::warn!(
                    provider_status = status.as_u16(),
                    "the payment provider failed"
                );
                Err(ApiError::Upstream(
                    StatusCode::BAD_GATEWAY,
                    json!({ "error": "payment provider failed", "provider_status": status.as_u16() }),
                ))
            }
        }
        Ok(Err(error)) if error.is_timeout() => Err(provider_failed(
            StatusCode::GATEWAY_TIMEOUT,
            "payment provider timed out",
        )),
        Ok(Err(error)) => {
            tracing::warn!(%error, "cannot reach the payment provider");
            Err(provider_failed(
                StatusCode::BAD_GATEWAY,
                "payment provider unreachable",
            ))
        }
        Err(TimedOut { .. }) => Err(provider_failed(
            StatusCode::GATEWAY_TIMEOUT,
            "payment provider timed out",
        )),
    }
}

#[derive(Serialize, Deserialize)]
struct Subscription {
    email: String,
}

/// Subscribes an email to the newsletter: 201, 422 when the provider rejects the address, 502 or 504
/// when it fails. Tracks the plain `send()`, the shortest form of tracking.
async fn subscribe(
    State(state): State<Arc<AppState>>,
    Json(subscription): Json<Subscription>,
) -> AppResult<StatusCode> {
    let beehiiv = &state.beehiiv;
    let answer = beehiiv
        .tracker
        .track_with_timeout(
            Provider::Beehiiv,
            "add_subscriber",
            beehiiv.timeout,
            beehiiv.post(&subscription).send(),
        )
        .await;
    let failed =
        |status: StatusCode, error: &str| ApiError::Upstream(status, json!({ "error": error }));
    match answer {
        Ok(Ok(response)) if response.status().is_success() => Ok(StatusCode::CREATED),
        Ok(Ok(response)) if response.status().is_client_error() => Err(failed(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the newsletter provider rejected the address",
        )),
        Ok(Ok(_)) => Err(failed(
            StatusCode::BAD_GATEWAY,
            "newsletter provider failed",
        )),
        Ok(Err(error)) if !error.is_timeout() => Err(failed(
            StatusCode::BAD_GATEWAY,
            "newsletter provider unreachable",
        )),
        Ok(Err(_)) | Err(TimedOut { .. }) => Err(failed(
            StatusCode::GATEWAY_TIMEOUT,
            "newsletter provider timed out",
        )),
    }
}

/// Sends `request` and reads the whole body, so the tracked latency covers the full answer.
async fn read_answer(
    request: reqwest::RequestBuilder,
) -> Result<http::Response<String>, reqwest::Error> {
    let response = request.send().await?;
    let status = response.status();
    let body = response.text().await?;
    let mut answer = http::Response::new(body);
    *answer.status_mut() = status;
    Ok(answer)
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

#[derive(Deserialize)]
struct SlowParams {
    ms: Option<u64>,
}

/// Sleeps in PostgreSQL, so one request shows up in the latency histograms and, past the threshold, as a
/// slow query with its request ID in the slow-query log.
async fn slow(
    State(state): State<Arc<AppState>>,
    Query(params): Query<SlowParams>,
) -> AppResult<Json<Value>> {
    let ms = params.ms.unwrap_or(600);
    if ms > MAX_SLOW_MS {
        return Err(ApiError::Invalid(format!(
            "ms must be at most {MAX_SLOW_MS}"
        )));
    }
    let seconds = ms as f64 / 1000.0;
    state.db.execute("SELECT pg_sleep($1)", &[&seconds]).await?;
    Ok(Json(json!({ "slept_ms": ms })))
}
