//! The reference backend: the service slogen was first built for, instrumented through its generated module.
//!
//! [`metrics`] is `generated/backend/metrics.rs`, compiled as is; the rest of this module implements the
//! [`crate::record`] traits for it and wires the runtime into an axum service.

#[rustfmt::skip] // generated: `cargo fmt` must not rewrite it, or `slogen check` fails
#[path = "../../../generated/backend/metrics.rs"]
pub mod metrics;
