//! An instrumented Redis cache.
