//! The Redis cache against a real `redis-server`: hits, misses, errors, and outages.

#[path = "support/recorders.rs"]
mod recorders;
#[path = "support/services.rs"]
mod services;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use recorders::CacheCounts;
use serde::{Deserialize, Serialize};
use services::{unique_name, RedisServer};
use slogen_runtime::cache::{Cache, CacheConfig, CacheError};
use slogen_runtime::record::CacheOperation::{self, Delete, Get, Set};
use slogen_runtime::record::CacheResult::{self, Error, Hit, Miss, Ok};

const TTL: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Profile {
    name: String,
    visits: u32,
}

fn profile() -> Profile {
    Profile {
        name: "Ada".to_owned(),
        visits: 3,
    }
}

fn cache_for(
    redis: &RedisServer,
    config: impl FnOnce(&mut CacheConfig),
) -> (Cache<CacheCounts>, Arc<CacheCounts>) {
    let counts = Arc::new(CacheCounts::default());
    let mut settings = CacheConfig::new(redis.url());
    config(&mut settings);
    let cache = Cache::new(settings, Arc::clone(&counts)).expect("a valid redis URL");
    (cache, counts)
}

/// A plain connection for arranging what the cache will find.
async fn raw_connection(redis: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis.url())
        .expect("a valid redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to redis")
}

/// `get_or_compute` with a computation that counts its runs in `runs`.
async fn compute(cache: &Cache<CacheCounts>, key: &str, runs: &AtomicUsize) -> Profile {
    let counting = || {
        runs.fetch_add(1, Ordering::SeqCst);
        std::future::ready(profile())
    };
    cache.get_or_compute(key, TTL, counting).await
}

/// Calls [`compute`] until it answers from the cache; bounded, and panics when it never does.
async fn until_hit(cache: &Cache<CacheCounts>, key: &str, runs: &AtomicUsize) -> Profile {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Result::Ok(Some(value)) = cache.get::<Profile>(key).await {
            return value;
        }
        compute(cache, key, runs).await;
        assert!(Instant::now() < deadline, "the cache never hit again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A short reconnect backoff, so the outage tests see Redis again soon after it is back.
fn reconnect_quickly(config: &mut CacheConfig) {
    config.reconnect_max = Duration::from_millis(200);
}

/// The counts of several outcomes, in the order given, for one assertion that shows them all.
fn tally<const N: usize>(
    counts: &CacheCounts,
    outcomes: [(CacheOperation, CacheResult); N],
) -> [u64; N] {
    outcomes.map(|(operation, result)| counts.count(operation, result))
}

#[tokio::test]
async fn a_miss_then_a_hit() {
    let redis = RedisServer::start();
    let (cache, counts) = cache_for(&redis, |_| {});
    let key = unique_name("profile");

    assert_eq!(cache.get::<Profile>(&key).await.unwrap(), None);
    cache.set(&key, &profile(), TTL).await.unwrap();
    assert_eq!(cache.get::<Profile>(&key).await.unwrap(), Some(profile()));

    assert_eq!(
        tally(&counts, [(Get, Miss), (Set, Ok), (Get, Hit)]),
        [1, 1, 1]
    );
    assert_eq!(counts.count(Get, Error) + counts.count(Set, Error), 0);
}

#[tokio::test]
async fn set_applies_the_ttl_and_delete_removes_the_key() {
    let redis = RedisServer::start();
    let (cache, counts) = cache_for(&redis, |_| {});
    let mut raw = raw_connection(&redis).await;
    let key = unique_name("session");

    cache.set(&key, "token", TTL).await.unwrap();
    let ttl_ms: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(
        ttl_ms > 0 && ttl_ms <= TTL.as_millis() as i64,
        "PTTL {ttl_ms}"
    );

    assert!(cache.delete(&key).await.unwrap(), "the key existed");
    assert_eq!(cache.get::<String>(&key).await.unwrap(), None);
    assert!(!cache.delete(&key).await.unwrap(), "the key is gone");

    assert_eq!(
        tally(&counts, [(Set, Ok), (Delete, Ok), (Get, Miss)]),
        [1, 2, 1]
    );
}

#[tokio::test]
async fn get_or_compute_computes_once_then_hits() {
    let redis = RedisServer::start();
    let (cache, counts) = cache_for(&redis, |_| {});
    let key = unique_name("profile");
    let runs = AtomicUsize::new(0);

    for _ in 0..3 {
        assert_eq!(compute(&cache, &key, &runs).await, profile());
    }

    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(
        tally(&counts, [(Get, Miss), (Set, Ok), (Get, Hit)]),
        [1, 1, 2]
    );
}

#[tokio::test]
async fn a_failed_computation_is_returned_and_not_cached() {
    let redis = RedisServer::start();
    let (cache, counts) = cache_for(&redis, |_| {});
    let key = unique_name("profile");

    let failed = cache
        .get_or_try_compute(&key, TTL, || async { Err::<Profile, _>("database down") })
        .await;
    assert_eq!(failed, Err("database down"));
    let computed = cache
        .get_or_try_compute(&key, TTL, || async { Result::<_, &str>::Ok(profile()) })
        .await;
    assert_eq!(computed, Result::Ok(profile()));

    assert_eq!(tally(&counts, [(Get, Miss), (Set, Ok)]), [2, 1]);
}

#[tokio::test]
async fn values_of_the_wrong_type_are_counted_as_errors_and_recomputed() {
    let redis = RedisServer::start();
    let (cache, counts) = cache_for(&redis, |_| {});
    let mut raw = raw_connection(&redis).await;
    let runs = AtomicUsize::new(0);

    // JSON of another shape, as an older deployment might have stored it.
    let text_key = unique_name("profile");
    cache.set(&text_key, "not a profile", TTL).await.unwrap();
    let decoded = cache.get::<Profile>(&text_key).await;
    assert!(matches!(decoded, Err(CacheError::Decode(_))), "{decoded:?}");

    // Not a string at all: Redis answers WRONGTYPE.
    let list_key = unique_name("profile");
    let _: () = redis::cmd("RPUSH")
        .arg(&list_key)
        .arg("x")
        .query_async(&mut raw)
        .await
        .unwrap();
    let wrong_type = cache.get::<Profile>(&list_key).await;
    assert!(
        matches!(wrong_type, Err(CacheError::Redis(_))),
        "{wrong_type:?}"
    );

    assert_eq!(counts.count(Get, Error), 2);

    // Both are recomputed and overwritten, after which they hit.
    for key in [&text_key, &list_key] {
        assert_eq!(compute(&cache, key, &runs).await, profile());
        assert_eq!(cache.get::<Profile>(key).await.unwrap(), Some(profile()));
    }
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(
        tally(&counts, [(Get, Error), (Set, Ok), (Get, Hit)]),
        [4, 3, 2]
    );
}

#[tokio::test]
async fn a_redis_outage_falls_back_to_computing_and_hits_resume_after_it() {
    let mut redis = RedisServer::start_own();
    let (cache, counts) = cache_for(&redis, reconnect_quickly);
    let key = unique_name("profile");
    let runs = AtomicUsize::new(0);

    compute(&cache, &key, &runs).await;
    assert_eq!(compute(&cache, &key, &runs).await, profile());
    assert_eq!(
        [runs.load(Ordering::SeqCst), counts.count(Get, Hit) as usize],
        [1, 1]
    );

    redis.stop();
    for _ in 0..5 {
        assert_eq!(compute(&cache, &key, &runs).await, profile());
    }
    assert_eq!(runs.load(Ordering::SeqCst), 6, "every call computed");
    assert_eq!(tally(&counts, [(Get, Error), (Set, Error)]), [5, 5]);

    redis.restart();
    assert_eq!(until_hit(&cache, &key, &runs).await, profile());
    assert_eq!(counts.count(Get, Hit), 2);
}

#[tokio::test]
async fn a_hung_redis_times_out_and_hits_resume_when_it_answers_again() {
    let mut redis = RedisServer::start_own();
    let (cache, counts) = cache_for(&redis, reconnect_quickly);
    let key = unique_name("profile");
    let runs = AtomicUsize::new(0);
    compute(&cache, &key, &runs).await;

    redis.pause();
    let frozen = cache.get::<Profile>(&key).await;
    assert!(matches!(frozen, Err(CacheError::Timeout)), "{frozen:?}");
    assert_eq!(compute(&cache, &key, &runs).await, profile());
    assert_eq!(tally(&counts, [(Get, Error), (Set, Error)]), [2, 1]);
    assert_eq!(runs.load(Ordering::SeqCst), 2, "computed while redis hung");

    redis.resume();
    assert_eq!(until_hit(&cache, &key, &runs).await, profile());
}

#[tokio::test]
async fn a_service_starts_with_redis_down_and_connects_once_it_is_up() {
    let mut redis = RedisServer::start_own();
    redis.stop();
    let (cache, counts) = cache_for(&redis, reconnect_quickly);
    let key = unique_name("profile");
    let runs = AtomicUsize::new(0);

    assert_eq!(compute(&cache, &key, &runs).await, profile());
    assert_eq!(tally(&counts, [(Get, Error), (Set, Error)]), [1, 1]);

    redis.restart();
    assert_eq!(until_hit(&cache, &key, &runs).await, profile());
}

#[tokio::test]
async fn after_a_failed_connect_calls_fail_at_once_until_the_next_attempt_is_due() {
    let mut redis = RedisServer::start_own();
    redis.stop();
    let (cache, counts) = cache_for(&redis, |config| {
        config.reconnect_min = Duration::from_secs(3600);
        config.reconnect_max = Duration::from_secs(3600);
    });
    let key = unique_name("profile");

    let refused = cache.get::<Profile>(&key).await;
    assert!(matches!(refused, Err(CacheError::Redis(_))), "{refused:?}");
    redis.restart();
    let backing_off = cache.get::<Profile>(&key).await;
    assert!(
        matches!(backing_off, Err(CacheError::Unavailable)),
        "{backing_off:?}"
    );
    assert_eq!(counts.count(Get, Error), 2);
}
