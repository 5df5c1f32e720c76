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

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::metrics::Metrics;
use slogen_runtime::cache::{Cache, CacheConfig, CacheError};
use slogen_runtime::config::RuntimeConfig;
use slogen_runtime::db::{Database, DbError, DbSettings};
use slogen_runtime::endpoints::{metrics_router, Summary};
use slogen_runtime::external::ExternalApiTracker;
use slogen_runtime::http::HttpMetricsLayer;
use slogen_runtime::slow_query::{SlowQueryConfig, SlowQueryLog};

mod errors;
mod faults;
mod jobs;
mod providers;
mod settings;
mod users;
use errors::{ApiError, AppResult};
pub use faults::FaultSettings;
use faults::{faults, inject_faults, set_faults, Faults};
pub use jobs::{schedule_jobs, JOBS};
use providers::Upstream;
pub use settings::{
    Settings, SettingsError, BEEHIIV_BASE_URL, BIND, DATABASE_URL, EXTERNAL_API_TIMEOUT_SECONDS,
    REDIS_URL, STRIPE_BASE_URL,
};
use users::USER_TTL;

/// The longest `/slow` sleeps, so the demo route cannot hold a connection for minutes.
const MAX_SLOW_MS: u64 = 10_000;

/// The longest latency the fault switch adds.
const MAX_FAULT_LATENCY_MS: u64 = 60_000;

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

/// The reference service: every route, the fault switch on the API routes, the metrics routes, all
/// behind the HTTP metrics layer (applied last, so unknown paths are counted too).
///
/// The layer keeps `state`'s metrics for the life of the process, as a service's metrics are: build the
/// app once per state.
pub fn app(state: Arc<AppState>) -> Router {
    let api = users::routes()
        .merge(providers::routes())
        .merge(jobs::routes())
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
    // The metrics live as long as the process, so the layer reaches them by plain reference, with no
    // reference count to update per request; an app built again (as tests do) keeps its metrics for good.
    let recorder: &'static Arc<Metrics> = Box::leak(Box::new(Arc::clone(&state.metrics)));
    let layer = HttpMetricsLayer::from_static(recorder);
    api.merge(operations)
        .with_state(state)
        .merge(exposition)
        .layer(layer)
}

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
