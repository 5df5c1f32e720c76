//! The reference backend: the service slogen was first built for, instrumented through its generated module.
//!
//! An example application of `slogen-runtime`, depending on it as any service would. [`metrics`] is
//! `generated/backend/metrics.rs`, compiled as is; [`recorders`] implements the
//! [`slogen_runtime::record`] traits for it, the summary module implements
//! [`slogen_runtime::endpoints::Summary`], and [`service`] wires the runtime into an axum service that
//! exercises every metric.

#![deny(missing_docs)]

// Generated, and already in rustfmt's layout, so `cargo fmt` leaves it as `slogen check` expects.
#[path = "../../../generated/backend/metrics.rs"]
pub mod metrics;

pub mod recorders;
pub mod service;
mod summary;

pub use service::{
    app, schedule_jobs, AppState, FaultSettings, Settings, SettingsError, StartError,
};
