//! The seam between the runtime's instrumentation and a service's generated metrics.
//!
//! The HTTP layer, cache, database client, external API tracker and job runner know nothing of the
//! generated `Metrics` struct: they report what happened through these traits, and the service implements
//! them once for its own generated types (a few lines each, see the `slogen-reference-service` example). So the names in the
//! dashboards and rules stay exactly the names the service declared, and no recording path looks up a
//! metric by string.

use std::time::Duration;

/// How a call to a dependency ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// It answered, and the answer was a success.
    Ok,
    /// It answered with an error, or the call failed.
    Error,
    /// No answer in time.
    Timeout,
}

/// The kind of SQL statement, by its first keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SqlOperation {
    /// `SELECT` (and `WITH … SELECT`).
    Select,
    /// `INSERT`.
    Insert,
    /// `UPDATE`.
    Update,
    /// `DELETE`.
    Delete,
    /// Anything else (DDL, `COPY`, …).
    Other,
}

/// A cache call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CacheOperation {
    /// Read a key.
    Get,
    /// Write a key.
    Set,
    /// Remove a key.
    Delete,
}

/// What a cache call found or did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CacheResult {
    /// A read found the key.
    Hit,
    /// A read did not find the key.
    Miss,
    /// A write or delete succeeded.
    Ok,
    /// The cache failed (unreachable, timeout, bad reply).
    Error,
}

/// Receives what the HTTP layer observes about each request.
pub trait HttpRecorder: Send + Sync + 'static {
    /// A request entered the service; `route` is the matched route template, never the raw path.
    fn request_started(&self, method: &http::Method, route: &str);
    /// The request finished (also called when the handler panicked or the client went away: status 500
    /// or 499 then).
    fn request_finished(&self, method: &http::Method, route: &str, status: u16, elapsed: Duration);
}

/// A shared recorder records: so a service can hand the HTTP layer's `from_static` an `Arc` of its metrics
/// leaked once at startup.
impl<R: HttpRecorder + ?Sized> HttpRecorder for std::sync::Arc<R> {
    #[inline]
    fn request_started(&self, method: &http::Method, route: &str) {
        (**self).request_started(method, route);
    }

    #[inline]
    fn request_finished(&self, method: &http::Method, route: &str, status: u16, elapsed: Duration) {
        (**self).request_finished(method, route, status, elapsed);
    }
}

/// Receives what the database client observes about each statement.
pub trait QueryRecorder: Send + Sync + 'static {
    /// A statement finished.
    fn query_finished(
        &self,
        operation: SqlOperation,
        table: &str,
        outcome: Outcome,
        elapsed: Duration,
    );
    /// A statement was slower than the slow-query threshold.
    fn slow_query(&self, operation: SqlOperation, table: &str);
    /// A slow query could not be written to the slow-query log (the query itself still succeeded).
    fn slow_query_log_failed(&self);
}

/// Receives what the cache observes about each call.
pub trait CacheRecorder: Send + Sync + 'static {
    /// A cache call finished.
    fn cache_call(&self, operation: CacheOperation, result: CacheResult, elapsed: Duration);
}

/// Receives what the external API tracker observes. `P` is the service's provider type, usually the
/// generated enum of its `provider` label, so an unknown provider does not compile.
pub trait ExternalApiRecorder<P>: Send + Sync + 'static {
    /// A call to `provider` finished; `status` is the HTTP status when there was a response.
    fn external_call(
        &self,
        provider: P,
        endpoint: &str,
        outcome: Outcome,
        status: Option<u16>,
        elapsed: Duration,
    );
}

/// Receives what the job runner observes.
pub trait JobRecorder: Send + Sync + 'static {
    /// A run of `job` began.
    fn job_started(&self, job: &str);
    /// A run of `job` ended; `finished_at` is seconds since the Unix epoch.
    fn job_finished(&self, job: &str, success: bool, elapsed: Duration, finished_at: u64);
}
