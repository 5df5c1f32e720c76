//! The metrics endpoint (`GET /metrics`, path configurable) and the development summary
//! (`GET /metrics/summary`).
//!
//! [`metrics_router`] builds both from a [`RuntimeConfig`]: the metrics route exists only when
//! `PROMETHEUS_ENABLED` is on, the summary only when `APP_ENV=development` (whatever `PROMETHEUS_ENABLED`
//! says: it reads the live values, not the scrape); an absent route answers 404
//! through the application's fallback. Merge the router into the application *before* applying
//! [`HttpMetricsLayer`](crate::http::HttpMetricsLayer), so that unknown paths stay counted (see
//! [`crate::http`]); scrapes are then counted too, under their own route.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};

use crate::config::RuntimeConfig;
use crate::{encode, Format, MetricSet};

/// A human-readable digest of a service's metrics, served as JSON at `/metrics/summary` in development.
///
/// The runtime cannot compute it: which counters are requests and which histogram is latency is known only
/// to the service's generated module, so the service implements this (see [`quantile`] for percentiles).
pub trait Summary: Send + Sync + 'static {
    /// The current summary: request totals, error rate, latency percentiles per route, cache hit ratio,
    /// slow query count, or whatever the service finds useful.
    fn summary(&self) -> serde_json::Value;
}

/// The format to answer a scrape with, from all of its `Accept` headers (see [`Format::from_accept`]).
pub fn negotiate(headers: &HeaderMap) -> Format {
    let accept: Vec<&str> = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    Format::from_accept(Some(&accept.join(",")))
}

/// The routes serving `metrics` (and `summary`, in development) as `config` says; merge it into the
/// application's router.
pub fn metrics_router<S, M>(
    metrics: Arc<M>,
    summary: Option<Arc<dyn Summary>>,
    config: &RuntimeConfig,
) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    M: MetricSet + Send + Sync + 'static,
{
    let mut router = Router::new();
    if config.prometheus_enabled {
        let last_size = Arc::new(AtomicUsize::new(0));
        router = router.route(
            &config.metrics_endpoint,
            get(move |headers: HeaderMap| async move {
                let format = negotiate(&headers);
                // Start from the previous scrape's size, so the buffer rarely grows while encoding.
                let mut body = Vec::with_capacity(last_size.load(Relaxed));
                encode(&*metrics, format, &mut body);
                last_size.store(body.len(), Relaxed);
                ([(CONTENT_TYPE, format.content_type())], body)
            }),
        );
    }
    if let Some(summary) = summary.filter(|_| config.summary_enabled()) {
        router = router.route(
            &config.summary_endpoint(),
            get(move || async move { Json(summary.summary()) }),
        );
    }
    router
}

/// The `q`-quantile (0 ≤ q ≤ 1) of a histogram given as cumulative `(upper bound, count)` buckets in
/// increasing bound order, the last bound being `+Inf` (as [`Histogram::buckets`](crate::Histogram::buckets)
/// returns them).
///
/// Computed as PromQL's `histogram_quantile` does, so the summary agrees with the dashboards: find the
/// bucket holding the rank `q × count` and interpolate linearly inside it, the first bucket starting at 0;
/// a rank in the `+Inf` bucket yields the highest finite bound. `None` when it is undefined: no
/// observation, fewer than two buckets, a last bound that is not `+Inf`, `q` outside `[0, 1]`, or `q = 0`
/// with an empty first bucket (PromQL's NaN cases).
pub fn quantile(buckets: &[(f64, u64)], q: f64) -> Option<f64> {
    let (&(last_bound, observations), finite) = buckets.split_last()?;
    if !(0.0..=1.0).contains(&q) || finite.is_empty() || last_bound != f64::INFINITY {
        return None;
    }
    if observations == 0 {
        return None;
    }
    let rank = q * observations as f64;
    let Some(index) = finite.iter().position(|&(_, count)| count as f64 >= rank) else {
        return Some(finite[finite.len() - 1].0);
    };
    let (end, count) = finite[index];
    if index == 0 && end <= 0.0 {
        return Some(end);
    }
    let (start, below) = match index {
        0 => (0.0, 0),
        _ => finite[index - 1],
    };
    let in_bucket = count.saturating_sub(below);
    // Empty only for q = 0 with an empty first bucket, where PromQL divides 0 by 0.
    (in_bucket > 0).then(|| start + (end - start) * ((rank - below as f64) / in_bucket as f64))
}

#[cfg(test)]
mod tests {
    use super::quantile;

    /// 10 observations ≤ 0.1, 30 more ≤ 0.5, 50 more ≤ 1, 10 above 1: 100 in all.
    const BUCKETS: &[(f64, u64)] = &[(0.1, 10), (0.5, 40), (1.0, 90), (f64::INFINITY, 100)];

    /// Asserts `actual` is `expected` up to floating-point rounding.
    fn assert_near(actual: Option<f64>, expected: f64) {
        let actual = actual.expect("a defined quantile");
        assert!(
            (actual - expected).abs() < 1e-12,
            "{actual} is not {expected}"
        );
    }

    #[test]
    fn interpolates_inside_the_bucket_holding_the_rank() {
        // Rank 50 is the 10th of 50 observations in (0.5, 1]: 0.5 + 0.5 × 10/50.
        assert_near(quantile(BUCKETS, 0.5), 0.6);
        // Rank 5 is the 5th of 10 in [0, 0.1]: the first bucket starts at 0.
        assert_near(quantile(BUCKETS, 0.05), 0.05);
        // Rank 40 is the upper edge of (0.1, 0.5].
        assert_near(quantile(BUCKETS, 0.4), 0.5);
        // Rank 25 is the 15th of 30 in (0.1, 0.5]: 0.1 + 0.4 × 15/30.
        assert_near(quantile(BUCKETS, 0.25), 0.3);
        // Rank 99 is the 9th of 10 past 1: the +Inf bucket has no width, so its lower edge.
        assert_near(quantile(BUCKETS, 0.99), 1.0);
    }

    #[test]
    fn a_rank_in_the_inf_bucket_gives_the_highest_finite_bound() {
        assert_near(quantile(BUCKETS, 0.95), 1.0);
        assert_near(quantile(BUCKETS, 1.0), 1.0);
    }

    #[test]
    fn q_zero_is_the_lower_edge_of_a_non_empty_first_bucket() {
        assert_near(quantile(BUCKETS, 0.0), 0.0);
        let leading_empty = [(0.1, 0), (0.5, 4), (f64::INFINITY, 4)];
        assert_eq!(quantile(&leading_empty, 0.0), None);
        // Rank 2 is the 2nd of the 4 in (0.1, 0.5]: 0.1 + 0.4 × 2/4.
        assert_near(quantile(&leading_empty, 0.5), 0.3);
    }

    #[test]
    fn a_non_positive_first_bound_is_returned_as_is() {
        let negative = [(-1.0, 3), (1.0, 4), (f64::INFINITY, 4)];
        assert_near(quantile(&negative, 0.5), -1.0);
    }

    #[test]
    fn undefined_quantiles_are_none() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[(f64::INFINITY, 3)], 0.5), None);
        assert_eq!(quantile(&[(0.1, 0), (f64::INFINITY, 0)], 0.5), None);
        assert_eq!(quantile(&[(0.1, 1), (1.0, 2)], 0.5), None);
        assert_eq!(quantile(BUCKETS, -0.1), None);
        assert_eq!(quantile(BUCKETS, 1.5), None);
        assert_eq!(quantile(BUCKETS, f64::NAN), None);
    }
}
