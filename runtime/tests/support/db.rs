//! The database settings the PostgreSQL tests give the client.

use std::time::Duration;

use slogen_runtime::db::DbSettings;

use crate::services::Postgres;

/// The test server with the defaults a service gets, but a short connect timeout.
pub fn settings(postgres: &Postgres) -> DbSettings {
    DbSettings {
        url: postgres.url().to_owned(),
        application_name: "slogen-test".to_owned(),
        pool_size: 4,
        connect_timeout: Duration::from_secs(2),
        statement_timeout: Duration::from_secs(10),
    }
}
