//! The reference backend: the service slogen was first built for, instrumented through its generated module.
//!
//! [`metrics`] is `generated/backend/metrics.rs`, compiled as is; [`recorders`] implements the
//! [`crate::record`] traits for it, the summary module implements [`crate::endpoints::Summary`], and
//! [`service`] wires the runtime into an axum service that exercises every metric.

// Generated, and already in rustfmt's layout, so `cargo fmt` leaves it as `slogen check` expects.
#[path = "../../../generated/backend/metrics.rs"]
pub mod metrics;

pub mod recorders;
pub mod service;
mod summary;

pub use service::{
    app, schedule_jobs, AppState, FaultSettings, Settings, SettingsError, StartError,
};
