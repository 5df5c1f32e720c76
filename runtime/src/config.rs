//! Configuration from the environment.
