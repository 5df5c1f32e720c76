//! An instrumented, pooled PostgreSQL client.
//!
//! [`Database`] keeps a [`deadpool_postgres`] pool of connections and times every statement it sends,
//! waiting for a connection included. Each call reports [`QueryRecorder::query_finished`] with the
//! statement's kind and table, and a call slower than the slow-query threshold also reports
//! [`QueryRecorder::slow_query`] and is written to the [`SlowQueryLog`]. The kind and table come from the
//! SQL text itself (first keyword; `FROM`, `INTO` or `UPDATE` target), so call sites stay plain
//! `db.query(sql, params)`; a statement whose main table the text does not show can name it with
//! [`Database::table`].
//!
//! # Failures
//!
//! Every call is bounded: at most [`DbSettings::connect_timeout`] to get a connection (a pooled one, or a
//! new one when the pool has room), then at most [`DbSettings::statement_timeout`] for the statement, which
//! is also the session's `statement_timeout` so the server cancels it itself. A call fails with
//! [`DbError::Unavailable`] when no connection could be had in time (server down, unreachable, pool
//! exhausted), [`DbError::Timeout`] when the statement ran out of time (a connection abandoned that way is
//! closed, never reused), and [`DbError::Query`] for anything PostgreSQL said. A connection the server
//! closed (restart, `pg_terminate_backend`) is dropped from the pool when next checked out, so service
//! resumes as soon as the server accepts connections again, without a restart.
//!
//! Statements use `$1`-style parameters, so the text that reaches the slow-query log never holds user
//! data. A call whose future is dropped before the answer (the request was abandoned) is not reported: it
//! neither succeeded nor failed.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Config, NoTls, Row};

use crate::config::RuntimeConfig;
use crate::record::{Outcome, QueryRecorder, SqlOperation};
use crate::slow_query::{SlowQuery, SlowQueryLog};

mod classify;
use classify::classify;

/// The table reported for a statement that names none (`SELECT 1`, `SELECT pg_sleep(1)`, `BEGIN`), so
/// the `collection` label is never empty.
pub const NO_TABLE: &str = "none";

/// The statement parameters, as `tokio_postgres` takes them.
pub type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Where and how the pool connects, and how long anything may take.
#[derive(Clone, Debug, PartialEq)]
pub struct DbSettings {
    /// A `postgres://` URL or a `key=value` connection string.
    pub url: String,
    /// The `application_name` the connections report (in `pg_stat_activity` and the server's log),
    /// unless the URL sets one.
    pub application_name: String,
    /// Connections kept at most.
    pub pool_size: usize,
    /// Longest wait for a connection, connecting included.
    pub connect_timeout: Duration,
    /// Longest a statement may run, on the server (`statement_timeout`) and on the client.
    pub statement_timeout: Duration,
}

impl DbSettings {
    /// The settings for `url` with the pool size and timeouts of `config` (`DB_*` variables).
    pub fn from_runtime(url: &str, application_name: &str, config: &RuntimeConfig) -> Self {
        DbSettings {
            url: url.to_owned(),
            application_name: application_name.to_owned(),
            pool_size: config.db_pool_size,
            connect_timeout: config.db_connect_timeout,
            statement_timeout: config.db_statement_timeout,
        }
    }
}

/// Why a call to the database failed.
#[derive(Debug)]
pub enum DbError {
    /// No connection within the connect timeout: the server is down, unreachable or refuses, or every
    /// pooled connection stayed busy.
    Unavailable(String),
    /// The statement did not finish within the statement timeout.
    Timeout,
    /// PostgreSQL answered with an error, or the connection broke during the statement.
    Query(tokio_postgres::Error),
}

impl DbError {
    /// The SQLSTATE PostgreSQL answered with, if it answered.
    pub fn code(&self) -> Option<&SqlState> {
        match self {
            DbError::Query(error) => error.code(),
            DbError::Unavailable(_) | DbError::Timeout => None,
        }
    }

    /// Whether the call ran out of time, on the client or by the server's `statement_timeout`.
    pub fn is_timeout(&self) -> bool {
        matches!(self, DbError::Timeout) || self.code() == Some(&SqlState::QUERY_CANCELED)
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Unavailable(why) => write!(f, "PostgreSQL is unavailable: {why}"),
            DbError::Timeout => f.write_str("the statement ran past the statement timeout"),
            DbError::Query(error) => write!(f, "{error}"),
        }
    }
}

impl StdError for DbError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            DbError::Query(error) => Some(error),
            DbError::Unavailable(_) | DbError::Timeout => None,
        }
    }
}

/// A pooled PostgreSQL client that reports every statement to a [`QueryRecorder`].
///
/// `R` is usually the service's recorder type; `Arc<dyn QueryRecorder>` works too.
pub struct Database<R: ?Sized> {
    pool: Pool,
    settings: DbSettings,
    recorder: Arc<R>,
    slow_log: Arc<SlowQueryLog>,
}

impl<R: ?Sized> fmt::Debug for Database<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("pool", &self.pool.status())
            .field("slow_log", &self.slow_log)
            .finish_non_exhaustive()
    }
}

/// Runs `$call` (an expression using the connection `$client`) for the [`OnTable`] `$on`, bounded and
/// reported as the module documentation says. A macro because each statement kind returns its own type
/// and the call borrows the connection it runs on.
macro_rules! bounded_call {
    ($on:expr, $statement:expr, |$client:ident| $call:expr) => {{
        let database = $on.database;
        let start = Instant::now();
        let result = match database.connection().await {
            Ok($client) => {
                let answer = tokio::time::timeout(database.settings.statement_timeout, $call).await;
                match answer {
                    Ok(result) => result.map_err(DbError::Query),
                    Err(_) => {
                        // Mid-statement, the connection's state is unknown: close it.
                        drop(Object::take($client));
                        Err(DbError::Timeout)
                    }
                }
            }
            Err(error) => Err(error),
        };
        database.report($statement, $on.table, start.elapsed(), &result);
        result
    }};
}

impl<R: QueryRecorder + ?Sized> Database<R> {
    /// Creates the pool (without TLS) and checks that one connection can be made, so a wrong URL or
    /// password stops startup instead of failing every request.
    pub async fn connect(
        settings: DbSettings,
        recorder: Arc<R>,
        slow_log: Arc<SlowQueryLog>,
    ) -> Result<Self, DbError> {
        let mut config: Config = settings.url.parse().map_err(DbError::Query)?;
        if config.get_application_name().is_none() {
            config.application_name(&settings.application_name);
        }
        config.connect_timeout(settings.connect_timeout);
        let timeout = format!(
            "-c statement_timeout={}",
            settings.statement_timeout.as_millis().max(1)
        );
        let options = match config.get_options() {
            Some(options) => format!("{options} {timeout}"),
            None => timeout,
        };
        config.options(&options);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size)
            .build()
            .map_err(|error| DbError::Unavailable(error.to_string()))?;
        let database = Self {
            pool,
            settings,
            recorder,
            slow_log,
        };
        drop(database.connection().await?);
        Ok(database)
    }

    /// The settings the pool was made with.
    pub fn settings(&self) -> &DbSettings {
        &self.settings
    }

    /// Whether PostgreSQL answers an empty statement within `deadline`: for readiness checks, so not
    /// reported as a query.
    pub async fn ping(&self, deadline: Duration) -> bool {
        let ping = async {
            let client = self.pool.get().await.ok()?;
            client.simple_query("").await.ok()
        };
        matches!(tokio::time::timeout(deadline, ping).await, Ok(Some(_)))
    }

    /// The statements of this handle reported under `table` instead of the table the SQL text names.
    pub fn table<'a>(&'a self, table: &'a str) -> OnTable<'a, R> {
        OnTable {
            database: self,
            table: Some(table),
        }
    }

    /// Runs a statement and returns all its rows.
    pub async fn query(&self, statement: &str, params: &Params<'_>) -> Result<Vec<Row>, DbError> {
        self.inferred().query(statement, params).await
    }

    /// Runs a statement that returns exactly one row; any other number of rows is an error.
    pub async fn query_one(&self, statement: &str, params: &Params<'_>) -> Result<Row, DbError> {
        self.inferred().query_one(statement, params).await
    }

    /// Runs a statement that returns at most one row.
    pub async fn query_opt(
        &self,
        statement: &str,
        params: &Params<'_>,
    ) -> Result<Option<Row>, DbError> {
        self.inferred().query_opt(statement, params).await
    }

    /// Runs a statement and returns the number of rows it modified.
    pub async fn execute(&self, statement: &str, params: &Params<'_>) -> Result<u64, DbError> {
        self.inferred().execute(statement, params).await
    }

    fn inferred(&self) -> OnTable<'_, R> {
        OnTable {
            database: self,
            table: None,
        }
    }

    /// A connection from the pool within the connect timeout.
    async fn connection(&self) -> Result<Object, DbError> {
        match tokio::time::timeout(self.settings.connect_timeout, self.pool.get()).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(error)) => Err(DbError::Unavailable(error.to_string())),
            Err(_) => Err(DbError::Unavailable(format!(
                "no connection within {:?}",
                self.settings.connect_timeout
            ))),
        }
    }

    /// Reports a finished call: outcome and duration always, slowness when over the threshold.
    fn report<T>(
        &self,
        statement: &str,
        table: Option<&str>,
        elapsed: Duration,
        result: &Result<T, DbError>,
    ) {
        let (operation, named) = classify(statement);
        let table = match table {
            Some(table) => Cow::Borrowed(table),
            None => named.map_or(Cow::Borrowed(NO_TABLE), Cow::Owned),
        };
        let outcome = match result {
            Ok(_) => Outcome::Ok,
            Err(error) if error.is_timeout() => Outcome::Timeout,
            Err(_) => Outcome::Error,
        };
        self.recorder
            .query_finished(operation, &table, outcome, elapsed);
        if self.slow_log.is_slow(elapsed) {
            self.report_slow(operation, &table, elapsed, statement);
        }
    }

    fn report_slow(
        &self,
        operation: SqlOperation,
        table: &str,
        elapsed: Duration,
        statement: &str,
    ) {
        self.recorder.slow_query(operation, table);
        // The request's ID when the statement runs inside the HTTP layer (feature `axum`); only on this
        // slow path, so the copy costs nothing that matters.
        #[cfg(feature = "axum")]
        let request_id = crate::http::current_request_id().map(|id| id.as_str().to_owned());
        #[cfg(not(feature = "axum"))]
        let request_id: Option<String> = None;
        let entry = SlowQuery {
            request_id: request_id.as_deref(),
            operation,
            table,
            duration: elapsed,
            statement,
        };
        if let Err(error) = self.slow_log.record(&entry) {
            tracing::warn!(%error, path = %self.slow_log.config().path.display(), "cannot write to the slow-query log");
            self.recorder.slow_query_log_failed();
        }
    }
}

/// The statements of a [`Database`] reported under an explicit table; made by [`Database::table`].
pub struct OnTable<'a, R: ?Sized> {
    database: &'a Database<R>,
    table: Option<&'a str>,
}

impl<R: QueryRecorder + ?Sized> OnTable<'_, R> {
    /// Runs a statement and returns all its rows.
    pub async fn query(&self, statement: &str, params: &Params<'_>) -> Result<Vec<Row>, DbError> {
        bounded_call!(self, statement, |client| client.query(statement, params))
    }

    /// Runs a statement that returns exactly one row; any other number of rows is an error.
    pub async fn query_one(&self, statement: &str, params: &Params<'_>) -> Result<Row, DbError> {
        bounded_call!(self, statement, |client| client
            .query_one(statement, params))
    }

    /// Runs a statement that returns at most one row.
    pub async fn query_opt(
        &self,
        statement: &str,
        params: &Params<'_>,
    ) -> Result<Option<Row>, DbError> {
        bounded_call!(self, statement, |client| client
            .query_opt(statement, params))
    }

    /// Runs a statement and returns the number of rows it modified.
    pub async fn execute(&self, statement: &str, params: &Params<'_>) -> Result<u64, DbError> {
        bounded_call!(self, statement, |client| client.execute(statement, params))
    }
}
