//! The development summary of the reference service: the numbers a developer checks first, computed from
//! the live metrics with the same arithmetic as the dashboards.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::metrics::Metrics;
use slogen_runtime::endpoints::{quantile, Summary};
use slogen_runtime::Histogram;

/// The percentiles reported per route, with their JSON keys.
const PERCENTILES: [(&str, f64); 3] = [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)];

impl Summary for Metrics {
    fn summary(&self) -> Value {
        json!({
            "requests": self.requests(),
            "latency_seconds": self.latency_by_route(),
            "cache": self.cache(),
            "database": self.database(),
            "external_apis": self.external_apis(),
            "jobs": self.jobs(),
        })
    }
}

impl Metrics {
    /// Totals by status class, the 5xx share and the requests in flight.
    fn requests(&self) -> Value {
        let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
        self.http_requests.for_each(|labels, counter| {
            *by_status.entry(labels[2].to_owned()).or_default() += counter.get();
        });
        let total: u64 = by_status.values().sum();
        let errors = by_status.get("5xx").copied().unwrap_or(0);
        json!({
            "total": total,
            "by_status": by_status,
            "error_rate": ratio(errors, total),
            "in_flight": self.http_requests_in_flight.get(),
        })
    }

    /// p50/p95/p99 and the request count per route, all methods together, interpolated inside buckets as
    /// `histogram_quantile` does, so the numbers match the dashboard's.
    fn latency_by_route(&self) -> Value {
        let mut routes: BTreeMap<String, Vec<(f64, u64)>> = BTreeMap::new();
        self.http_request_duration.for_each(|labels, histogram| {
            add_buckets(routes.entry(labels[1].to_owned()).or_default(), histogram);
        });
        routes
            .into_iter()
            .map(|(route, buckets)| {
                let mut entry = serde_json::Map::new();
                entry.insert(
                    "count".to_owned(),
                    json!(buckets.last().map_or(0, |&(_, count)| count)),
                );
                for (key, q) in PERCENTILES {
                    entry.insert(key.to_owned(), json!(quantile(&buckets, q)));
                }
                (route, Value::Object(entry))
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    /// Lookups, hits and the hit ratio the `cache_hit_ratio` SLO measures (errors count as misses), plus
    /// failed calls of any kind.
    fn cache(&self) -> Value {
        let (mut lookups, mut hits, mut errors) = (0, 0, 0);
        self.cache_operations.for_each(|labels, counter| {
            let count = counter.get();
            if labels[0] == "get" {
                lookups += count;
                if labels[1] == "hit" {
                    hits += count;
                }
            }
            if labels[1] == "error" {
                errors += count;
            }
        });
        json!({
            "lookups": lookups,
            "hits": hits,
            "hit_ratio": ratio(hits, lookups),
            "errors": errors,
        })
    }

    /// Statements, failed ones, slow ones and slow-query log write failures.
    fn database(&self) -> Value {
        let (mut queries, mut failed) = (0, 0);
        self.db_queries.for_each(|labels, counter| {
            queries += counter.get();
            if labels[2] != "ok" {
                failed += counter.get();
            }
        });
        let mut slow = 0;
        self.db_slow_queries
            .for_each(|_, counter| slow += counter.get());
        json!({
            "queries": queries,
            "failed": failed,
            "slow_queries": slow,
            "slow_query_log_write_errors": self.db_slow_query_log_write_errors.get(),
        })
    }

    /// Calls and failed calls (errors and timeouts) per provider.
    fn external_apis(&self) -> Value {
        let mut providers: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        self.external_api_requests.for_each(|labels, counter| {
            let entry = providers.entry(labels[0].to_owned()).or_default();
            entry.0 += counter.get();
            if labels[2] != "ok" {
                entry.1 += counter.get();
            }
        });
        providers
            .into_iter()
            .filter(|&(_, (calls, _))| calls > 0)
            .map(|(provider, (calls, failed))| {
                (
                    provider,
                    json!({"calls": calls, "failed": failed, "error_rate": ratio(failed, calls)}),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    /// Successful and failed runs, runs in progress and the last success per job.
    fn jobs(&self) -> Value {
        let mut jobs: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
        self.job_runs.for_each(|labels, counter| {
            jobs.entry(labels[0].to_owned())
                .or_default()
                .insert(labels[1].to_owned(), json!(counter.get()));
        });
        self.jobs_running.for_each(|labels, gauge| {
            jobs.entry(labels[0].to_owned())
                .or_default()
                .insert("running".to_owned(), json!(gauge.get()));
        });
        self.job_last_success_timestamp.for_each(|labels, gauge| {
            jobs.entry(labels[0].to_owned())
                .or_default()
                .insert("last_success_unix_seconds".to_owned(), json!(gauge.get()));
        });
        jobs.into_iter()
            .map(|(job, entry)| (job, Value::Object(entry)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

/// Adds `histogram`'s cumulative buckets into `total` (all histograms of a family share their bounds).
fn add_buckets(total: &mut Vec<(f64, u64)>, histogram: &Histogram) {
    let buckets = histogram.buckets();
    if total.is_empty() {
        *total = buckets;
    } else {
        for (sum, (_, count)) in total.iter_mut().zip(buckets) {
            sum.1 += count;
        }
    }
}

/// `part / whole`, or `null` when nothing happened, so an idle service shows no made-up 0% or 100%.
fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}
