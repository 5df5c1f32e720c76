//! The Grafana dashboard of one service.

use anyhow::Result;

use crate::model::Service;

/// The dashboard JSON of one service.
pub fn emit(service: &Service) -> Result<String> {
    Ok(format!("{{\"title\": \"{}\"}}\n", service.name))
}
