//! An instrumented Redis cache.
//!
//! [`Cache`] stores JSON values in Redis and reports every call to a [`CacheRecorder`]: reads as hit or
//! miss, writes and deletes as ok, and any failure as [`CacheResult::Error`], each with its duration.
//!
//! # Resilience
//!
//! A cache is an optimisation, so Redis being down must cost little and break nothing:
//!
//! - every call is bounded by [`CacheConfig::call_timeout`] (250 ms by default), connecting included;
//! - the connection is lazy: [`Cache::new`] touches no network, so a service starts with Redis down;
//! - after a failed connect, further attempts back off exponentially (from
//!   [`CacheConfig::reconnect_min`] up to [`CacheConfig::reconnect_max`]); until the next attempt is due,
//!   calls fail at once without touching the network, so an outage does not make every request wait;
//! - a connection that returned an I/O error or timed out is dropped, and the next due call reconnects, so
//!   hits resume on their own once Redis is back;
//! - [`Cache::get_or_compute`] treats a failed read as a miss and a failed write as harmless: the caller
//!   always gets the computed value.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::record::{CacheOperation, CacheRecorder, CacheResult};

/// How to reach Redis and how hard to try.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// A `redis://` URL.
    pub url: String,
    /// The most one call may take, connecting included; past it the call fails as an error.
    pub call_timeout: Duration,
    /// The wait before retrying after the first failed connect; doubled after each further failure.
    pub reconnect_min: Duration,
    /// The longest wait between connect attempts, so recovery is noticed within this time.
    pub reconnect_max: Duration,
}

impl CacheConfig {
    /// Defaults for a cache in the request path: 250 ms per call, reconnects backing off from 100 ms to
    /// 5 s.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            call_timeout: Duration::from_millis(250),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
        }
    }
}

/// Why a cache call failed. The caller usually ignores it (the recorder has counted it) and falls back to
/// the source of truth.
#[derive(Debug)]
pub enum CacheError {
    /// Redis answered with an error, or the connection failed.
    Redis(RedisError),
    /// The call did not finish within [`CacheConfig::call_timeout`].
    Timeout,
    /// Redis was unreachable recently and the next connect attempt is not due yet.
    Unavailable,
    /// The stored value is not JSON of the requested type.
    Decode(serde_json::Error),
    /// The value could not be serialized to JSON.
    Encode(serde_json::Error),
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheError::Redis(error) => write!(f, "redis: {error}"),
            CacheError::Timeout => f.write_str("the cache call timed out"),
            CacheError::Unavailable => {
                f.write_str("redis is unreachable; waiting before reconnecting")
            }
            CacheError::Decode(error) => write!(f, "the cached value does not decode: {error}"),
            CacheError::Encode(error) => write!(f, "the value does not encode: {error}"),
        }
    }
}

impl std::error::Error for CacheError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CacheError::Redis(error) => Some(error),
            CacheError::Decode(error) | CacheError::Encode(error) => Some(error),
            CacheError::Timeout | CacheError::Unavailable => None,
        }
    }
}

impl From<RedisError> for CacheError {
    fn from(error: RedisError) -> Self {
        CacheError::Redis(error)
    }
}

/// A JSON cache in Redis that reports every call. Cloning is cheap and shares the connection.
///
/// `R` is usually the service's recorder type; `dyn CacheRecorder` works too.
pub struct Cache<R: ?Sized> {
    link: Arc<Link>,
    recorder: Arc<R>,
    call_timeout: Duration,
}

impl<R: ?Sized> Clone for Cache<R> {
    fn clone(&self) -> Self {
        Self {
            link: Arc::clone(&self.link),
            recorder: Arc::clone(&self.recorder),
            call_timeout: self.call_timeout,
        }
    }
}

impl<R: ?Sized> fmt::Debug for Cache<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("addr", self.link.client.get_connection_info().addr())
            .field("call_timeout", &self.call_timeout)
            .finish_non_exhaustive()
    }
}

impl<R: CacheRecorder + ?Sized> Cache<R> {
    /// Creates the cache without connecting: only a malformed URL fails here.
    pub fn new(config: CacheConfig, recorder: Arc<R>) -> Result<Self, CacheError> {
        let client = Client::open(config.url.as_str())?;
        // The call timeout bounds every call from outside; the client's own response timeout would only
        // race it and turn some timeouts into I/O errors.
        let connection_config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(config.call_timeout))
            .set_response_timeout(None);
        Ok(Self {
            link: Arc::new(Link {
                client,
                connection_config,
                reconnect_min: config.reconnect_min,
                reconnect_max: config.reconnect_max.max(config.reconnect_min),
                live: Mutex::new(None),
                reconnect: tokio::sync::Mutex::new(Backoff {
                    next_attempt: None,
                    delay: config.reconnect_min,
                    generation: 0,
                }),
            }),
            recorder,
            call_timeout: config.call_timeout,
        })
    }

    /// Reads `key`: `Ok(None)` on a miss. A value that is not JSON of type `T` is an error, so a type
    /// change between deployments shows up in the error count instead of as a panic.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, CacheError> {
        let start = Instant::now();
        let mut command = redis::cmd("GET");
        command.arg(key);
        let result = self
            .run::<Option<Vec<u8>>>(&command)
            .await
            .and_then(|bytes| {
                bytes
                    .map(|bytes| serde_json::from_slice(&bytes).map_err(CacheError::Decode))
                    .transpose()
            });
        let outcome = match &result {
            Ok(Some(_)) => CacheResult::Hit,
            Ok(None) => CacheResult::Miss,
            Err(_) => CacheResult::Error,
        };
        self.report(CacheOperation::Get, outcome, start, &result, key);
        result
    }

    /// Stores `value` as JSON under `key`, expiring after `ttl` (rounded to whole milliseconds, at least
    /// one).
    pub async fn set<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        let start = Instant::now();
        let result = match serde_json::to_vec(value) {
            Ok(bytes) => {
                let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
                let mut command = redis::cmd("SET");
                command.arg(key).arg(bytes).arg("PX").arg(millis);
                self.run::<()>(&command).await
            }
            Err(error) => Err(CacheError::Encode(error)),
        };
        let outcome = ok_or_error(&result);
        self.report(CacheOperation::Set, outcome, start, &result, key);
        result
    }

    /// Removes `key`; `Ok(true)` when it existed.
    pub async fn delete(&self, key: &str) -> Result<bool, CacheError> {
        let start = Instant::now();
        let mut command = redis::cmd("DEL");
        command.arg(key);
        let result = self.run::<u64>(&command).await.map(|removed| removed > 0);
        let outcome = ok_or_error(&result);
        self.report(CacheOperation::Delete, outcome, start, &result, key);
        result
    }

    /// The cached value of `key`, or else `compute()`'s, which is then cached for `ttl`. Cache failures
    /// are counted and otherwise ignored: the value is computed and returned all the same.
    pub async fn get_or_compute<T, F, Fut>(&self, key: &str, ttl: Duration, compute: F) -> T
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        if let Ok(Some(value)) = self.get(key).await {
            return value;
        }
        let value = compute().await;
        // Already counted and logged; the computed value is what matters.
        let _ = self.set(key, &value, ttl).await;
        value
    }

    /// Like [`get_or_compute`](Self::get_or_compute) for a computation that can fail (a database
    /// query): its error is returned as is and nothing is cached.
    pub async fn get_or_try_compute<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        compute: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Ok(Some(value)) = self.get(key).await {
            return Ok(value);
        }
        let value = compute().await?;
        // Already counted and logged; the computed value is what matters.
        let _ = self.set(key, &value, ttl).await;
        Ok(value)
    }

    /// Whether Redis answers `PING` within `deadline` (and the call timeout): for readiness checks, so not
    /// reported as a cache call.
    pub async fn ping(&self, deadline: Duration) -> bool {
        let command = redis::cmd("PING");
        let pong = self.run::<String>(&command);
        matches!(tokio::time::timeout(deadline, pong).await, Ok(Ok(_)))
    }

    /// Sends `command` on the shared connection, connecting first if needed, all within the call
    /// timeout. A connection that failed at the transport level is dropped so the next call reconnects.
    async fn run<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, CacheError> {
        let mut used = None;
        let call = async {
            let (generation, mut connection) = self.link.connection().await?;
            used = Some(generation);
            Ok::<T, CacheError>(command.query_async(&mut connection).await?)
        };
        let result = match tokio::time::timeout(self.call_timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(CacheError::Timeout),
        };
        if let (Err(error), Some(generation)) = (&result, used) {
            if breaks_connection(error) {
                self.link.discard(generation);
            }
        }
        result
    }

    fn report<T>(
        &self,
        operation: CacheOperation,
        outcome: CacheResult,
        start: Instant,
        result: &Result<T, CacheError>,
        key: &str,
    ) {
        self.recorder
            .cache_call(operation, outcome, start.elapsed());
        if let Err(error) = result {
            tracing::debug!(%error, key, ?operation, "cache call failed");
        }
    }
}

fn ok_or_error<T>(result: &Result<T, CacheError>) -> CacheResult {
    match result {
        Ok(_) => CacheResult::Ok,
        Err(_) => CacheResult::Error,
    }
}

/// Whether the connection that produced `error` should be replaced: transport failures and timeouts
/// (a reply that never came may yet arrive and answer the wrong request), not Redis's own error replies.
fn breaks_connection(error: &CacheError) -> bool {
    match error {
        CacheError::Timeout => true,
        CacheError::Redis(error) => {
            error.is_io_error() || error.is_connection_dropped() || error.is_unrecoverable_error()
        }
        CacheError::Unavailable | CacheError::Decode(_) | CacheError::Encode(_) => false,
    }
}

/// The shared connection and the reconnect policy.
struct Link {
    client: Client,
    connection_config: AsyncConnectionConfig,
    reconnect_min: Duration,
    reconnect_max: Duration,
    /// The connection in use and its generation; read on every call, so a plain mutex held for a clone.
    live: Mutex<Option<(u64, MultiplexedConnection)>>,
    /// Held across a connect attempt, so concurrent callers wait for that one attempt instead of each
    /// starting their own.
    reconnect: tokio::sync::Mutex<Backoff>,
}

/// When the next connect attempt may start.
struct Backoff {
    /// `None`: now.
    next_attempt: Option<Instant>,
    /// The wait after the next failure.
    delay: Duration,
    /// The generation the next connection gets, so a late failure report cannot drop its successor.
    generation: u64,
}

impl Link {
    fn current(&self) -> Option<(u64, MultiplexedConnection)> {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn connection(&self) -> Result<(u64, MultiplexedConnection), CacheError> {
        if let Some(live) = self.current() {
            return Ok(live);
        }
        let mut backoff = self.reconnect.lock().await;
        if let Some(live) = self.current() {
            return Ok(live);
        }
        let now = Instant::now();
        if backoff.next_attempt.is_some_and(|at| now < at) {
            return Err(CacheError::Unavailable);
        }
        // Set before trying, so an attempt cut short by the call timeout still counts as a failure.
        backoff.next_attempt = Some(now + backoff.delay);
        backoff.delay = (backoff.delay * 2).min(self.reconnect_max);
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&self.connection_config)
            .await?;
        backoff.next_attempt = None;
        backoff.delay = self.reconnect_min;
        backoff.generation += 1;
        let live = (backoff.generation, connection);
        *self.live.lock().unwrap_or_else(PoisonError::into_inner) = Some(live.clone());
        tracing::info!("connected to redis");
        Ok(live)
    }

    /// Drops the connection of `generation` if it is still the one in use.
    fn discard(&self, generation: u64) {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if live
            .as_ref()
            .is_some_and(|(current, _)| *current == generation)
        {
            *live = None;
            tracing::warn!("lost the redis connection; reconnecting on the next call");
        }
    }
}
