//! The [`slogen_runtime::record`] traits for the reference `Metrics`: the only place where runtime events meet
//! generated metric names, one short mapping per trait.

use std::time::Duration;

use super::metrics::{
    CacheOperation, CacheOperationDurationLabels, CacheOperationsLabels, CacheResult, DbOperation,
    DbQueriesLabels, DbQueryDurationLabels, DbSlowQueriesLabels, ExternalApiRequestDurationLabels,
    ExternalApiRequestsLabels, HttpRequestDurationLabels, HttpRequestsLabels,
    JobLastSuccessTimestampLabels, JobRunDurationLabels, JobRunsLabels, JobStatus,
    JobsRunningLabels, Method, Metrics, Outcome, Provider, Status, StatusClass,
};
use slogen_runtime::record::{
    self, CacheRecorder, ExternalApiRecorder, HttpRecorder, JobRecorder, QueryRecorder,
};

/// The `method` label: the eight standard methods by name, anything else (WebDAV, custom verbs) as `OTHER`
/// so a client cannot create series.
pub fn method(method: &http::Method) -> Method {
    match *method {
        http::Method::GET => Method::Get,
        http::Method::POST => Method::Post,
        http::Method::PUT => Method::Put,
        http::Method::PATCH => Method::Patch,
        http::Method::DELETE => Method::Delete,
        http::Method::HEAD => Method::Head,
        http::Method::OPTIONS => Method::Options,
        _ => Method::Other,
    }
}

/// The `status` label of the API's own responses. Codes past 599 (which `http` accepts up to 999) are
/// server-side oddities and count as `5xx`.
pub fn status(code: u16) -> Status {
    match code {
        ..=199 => Status::Status1xx,
        200..=299 => Status::Status2xx,
        300..=399 => Status::Status3xx,
        400..=499 => Status::Status4xx,
        _ => Status::Status5xx,
    }
}

/// The `status_class` label of an external API's answer; `no_response` when none arrived.
pub fn status_class(code: Option<u16>) -> StatusClass {
    match code {
        None => StatusClass::NoResponse,
        Some(..=199) => StatusClass::StatusClass1xx,
        Some(200..=299) => StatusClass::StatusClass2xx,
        Some(300..=399) => StatusClass::StatusClass3xx,
        Some(400..=499) => StatusClass::StatusClass4xx,
        Some(_) => StatusClass::StatusClass5xx,
    }
}

/// The `outcome` label.
pub fn outcome(outcome: record::Outcome) -> Outcome {
    match outcome {
        record::Outcome::Ok => Outcome::Ok,
        record::Outcome::Error => Outcome::Error,
        record::Outcome::Timeout => Outcome::Timeout,
    }
}

/// The `db_operation` label.
pub fn db_operation(operation: record::SqlOperation) -> DbOperation {
    match operation {
        record::SqlOperation::Select => DbOperation::Select,
        record::SqlOperation::Insert => DbOperation::Insert,
        record::SqlOperation::Update => DbOperation::Update,
        record::SqlOperation::Delete => DbOperation::Delete,
        record::SqlOperation::Other => DbOperation::Other,
    }
}

/// The `cache_operation` label.
pub fn cache_operation(operation: record::CacheOperation) -> CacheOperation {
    match operation {
        record::CacheOperation::Get => CacheOperation::Get,
        record::CacheOperation::Set => CacheOperation::Set,
        record::CacheOperation::Delete => CacheOperation::Delete,
    }
}

/// The `cache_result` label.
pub fn cache_result(result: record::CacheResult) -> CacheResult {
    match result {
        record::CacheResult::Hit => CacheResult::Hit,
        record::CacheResult::Miss => CacheResult::Miss,
        record::CacheResult::Ok => CacheResult::Ok,
        record::CacheResult::Error => CacheResult::Error,
    }
}

impl HttpRecorder for Metrics {
    fn request_started(&self, _method: &http::Method, _route: &str) {
        self.http_requests_in_flight.inc();
    }

    fn request_finished(
        &self,
        http_method: &http::Method,
        route: &str,
        code: u16,
        elapsed: Duration,
    ) {
        self.http_requests_in_flight.dec();
        let method = method(http_method);
        self.http_requests
            .with(&HttpRequestsLabels {
                method,
                route,
                status: status(code),
            })
            .inc();
        self.http_request_duration
            .with(&HttpRequestDurationLabels { method, route })
            .observe(elapsed.as_secs_f64());
    }
}

impl QueryRecorder for Metrics {
    fn query_finished(
        &self,
        operation: record::SqlOperation,
        table: &str,
        result: record::Outcome,
        elapsed: Duration,
    ) {
        let db_operation = db_operation(operation);
        self.db_queries
            .with(&DbQueriesLabels {
                db_operation,
                collection: table,
                outcome: outcome(result),
            })
            .inc();
        self.db_query_duration
            .with(&DbQueryDurationLabels {
                db_operation,
                collection: table,
            })
            .observe(elapsed.as_secs_f64());
    }

    fn slow_query(&self, operation: record::SqlOperation, table: &str) {
        self.db_slow_queries
            .with(&DbSlowQueriesLabels {
                db_operation: db_operation(operation),
                collection: table,
            })
            .inc();
    }

    fn slow_query_log_failed(&self) {
        self.db_slow_query_log_write_errors.inc();
    }
}

impl CacheRecorder for Metrics {
    fn cache_call(
        &self,
        operation: record::CacheOperation,
        result: record::CacheResult,
        elapsed: Duration,
    ) {
        let cache_operation = cache_operation(operation);
        self.cache_operations
            .with(&CacheOperationsLabels {
                cache_operation,
                cache_result: cache_result(result),
            })
            .inc();
        self.cache_operation_duration
            .with(&CacheOperationDurationLabels { cache_operation })
            .observe(elapsed.as_secs_f64());
    }
}

impl ExternalApiRecorder<Provider> for Metrics {
    fn external_call(
        &self,
        provider: Provider,
        endpoint: &str,
        result: record::Outcome,
        status: Option<u16>,
        elapsed: Duration,
    ) {
        self.external_api_requests
            .with(&ExternalApiRequestsLabels {
                provider,
                endpoint,
                outcome: outcome(result),
                status_class: status_class(status),
            })
            .inc();
        self.external_api_request_duration
            .with(&ExternalApiRequestDurationLabels { provider, endpoint })
            .observe(elapsed.as_secs_f64());
    }
}

impl JobRecorder for Metrics {
    fn job_started(&self, job_name: &str) {
        self.jobs_running
            .with(&JobsRunningLabels { job_name })
            .inc();
    }

    fn job_finished(&self, job_name: &str, success: bool, elapsed: Duration, finished_at: u64) {
        self.jobs_running
            .with(&JobsRunningLabels { job_name })
            .dec();
        self.job_runs
            .with(&JobRunsLabels {
                job_name,
                job_status: if success {
                    JobStatus::Success
                } else {
                    JobStatus::Failure
                },
            })
            .inc();
        self.job_run_duration
            .with(&JobRunDurationLabels { job_name })
            .observe(elapsed.as_secs_f64());
        if success {
            // Unix time fits an i64 until long after this code is gone; saturate rather than wrap.
            let timestamp = i64::try_from(finished_at).unwrap_or(i64::MAX);
            self.job_last_success_timestamp
                .with(&JobLastSuccessTimestampLabels { job_name })
                .set(timestamp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_set_are_other() {
        assert_eq!(method(&http::Method::PATCH), Method::Patch);
        let propfind = http::Method::from_bytes(b"PROPFIND").expect("a valid method");
        assert_eq!(method(&propfind), Method::Other);
        assert_eq!(method(&http::Method::CONNECT), Method::Other);
    }

    #[test]
    fn statuses_map_to_their_class_and_odd_codes_to_the_nearest() {
        let classes: Vec<Status> = [100, 199, 200, 304, 404, 499, 500, 599, 999]
            .into_iter()
            .map(status)
            .collect();
        assert_eq!(
            classes,
            [
                Status::Status1xx,
                Status::Status1xx,
                Status::Status2xx,
                Status::Status3xx,
                Status::Status4xx,
                Status::Status4xx,
                Status::Status5xx,
                Status::Status5xx,
                Status::Status5xx,
            ]
        );
        assert_eq!(status_class(None), StatusClass::NoResponse);
        assert_eq!(status_class(Some(429)), StatusClass::StatusClass4xx);
        assert_eq!(status_class(Some(101)), StatusClass::StatusClass1xx);
    }
}
