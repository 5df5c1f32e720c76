//! Markdown SLO docs: one page per service and an index.

use anyhow::Result;

use crate::model::{Model, Service};

/// The index page listing every service and SLO.
pub fn index(model: &Model) -> Result<String> {
    Ok(format!("# SLOs\n\n{} services\n", model.services.len()))
}

/// The page of one service.
pub fn service(_model: &Model, service: &Service) -> Result<String> {
    Ok(format!("# {}\n", service.name))
}
