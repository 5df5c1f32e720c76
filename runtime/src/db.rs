//! An instrumented PostgreSQL client.
