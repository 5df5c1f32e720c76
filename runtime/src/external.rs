//! Tracking calls to external APIs.
