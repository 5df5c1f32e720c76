//! The /metrics and /metrics/summary endpoints.
