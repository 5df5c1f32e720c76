//! Recorders that count what the runtime's components report, so tests can assert on the counts.
//!
//! Include it with `#[path = "support/recorders.rs"] mod recorders;`.

// Each test binary compiles its own copy and uses only part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use slogen_runtime::record::{
    CacheOperation, CacheRecorder, CacheResult, Outcome, QueryRecorder, SqlOperation,
};

/// A map of counters, keyed by what was reported.
#[derive(Debug)]
struct Tally<K>(Mutex<HashMap<K, u64>>);

impl<K> Default for Tally<K> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<K: Eq + Hash> Tally<K> {
    fn add(&self, key: K) {
        *self.0.lock().unwrap().entry(key).or_default() += 1;
    }

    fn get(&self, key: &K) -> u64 {
        self.0.lock().unwrap().get(key).copied().unwrap_or(0)
    }

    fn total(&self) -> u64 {
        self.0.lock().unwrap().values().sum()
    }
}

/// Counts cache calls by operation and result.
#[derive(Debug, Default)]
pub struct CacheCounts {
    calls: Tally<(CacheOperation, CacheResult)>,
}

impl CacheCounts {
    /// How many `operation` calls ended with `result`.
    pub fn count(&self, operation: CacheOperation, result: CacheResult) -> u64 {
        self.calls.get(&(operation, result))
    }
}

impl CacheRecorder for CacheCounts {
    fn cache_call(&self, operation: CacheOperation, result: CacheResult, _: Duration) {
        self.calls.add((operation, result));
    }
}

/// Counts finished statements, slow statements and slow-query log failures.
#[derive(Debug, Default)]
pub struct QueryCounts {
    finished: Tally<(SqlOperation, String, Outcome)>,
    slow: Tally<(SqlOperation, String)>,
    log_failures: AtomicU64,
}

impl QueryCounts {
    /// How many `operation` statements on `table` ended with `outcome`.
    pub fn finished(&self, operation: SqlOperation, table: &str, outcome: Outcome) -> u64 {
        self.finished.get(&(operation, table.to_owned(), outcome))
    }

    /// How many statements finished, whatever their kind, table and outcome.
    pub fn finished_total(&self) -> u64 {
        self.finished.total()
    }

    /// How many `operation` statements on `table` were slow.
    pub fn slow(&self, operation: SqlOperation, table: &str) -> u64 {
        self.slow.get(&(operation, table.to_owned()))
    }

    /// How many slow statements there were in all.
    pub fn slow_total(&self) -> u64 {
        self.slow.total()
    }

    /// How many slow statements could not be written to the slow-query log.
    pub fn log_failures(&self) -> u64 {
        self.log_failures.load(Ordering::Relaxed)
    }
}

impl QueryRecorder for QueryCounts {
    fn query_finished(&self, operation: SqlOperation, table: &str, outcome: Outcome, _: Duration) {
        self.finished.add((operation, table.to_owned(), outcome));
    }

    fn slow_query(&self, operation: SqlOperation, table: &str) {
        self.slow.add((operation, table.to_owned()));
    }

    fn slow_query_log_failed(&self) {
        self.log_failures.fetch_add(1, Ordering::Relaxed);
    }
}
