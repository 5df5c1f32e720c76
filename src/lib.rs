//! slogen compiles SLO and metric definitions written in TOML into monitoring assets: a typed Rust metrics
//! module, Prometheus recording and alerting rules, a Grafana dashboard and markdown docs.
//!
//! The pipeline is one module per stage: [`spec`] (TOML types) → [`model`] (validated) → [`emit`] (outputs)
//! → [`write`](mod@write) (atomic write or drift check). [`import`] and [`openslo`] turn other tools' SLO
//! files into specs, reading YAML with [`yaml`].
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod cli;
pub mod conventions;
pub mod diagnostics;
pub mod emit;
pub mod import;
pub mod load;
pub mod model;
pub mod openslo;
pub mod spec;
pub mod write;
pub mod yaml;
