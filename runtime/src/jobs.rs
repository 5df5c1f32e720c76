//! Timing background jobs.
