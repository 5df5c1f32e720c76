//! The pooled PostgreSQL client when the server misbehaves, against a real server: backends terminated
//! under it, the server stopped and restarted, a server that stops answering, and a slow statement next to
//! fast ones. For the hung server a TCP proxy in front of it holds every byte, as a stalled network or a
//! frozen host does.

#[path = "support/recorders.rs"]
mod recorders;
#[path = "support/services.rs"]
mod services;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use recorders::QueryCounts;
use services::{unique_name, Postgres};
use slogen_runtime::db::{Database, DbError, DbSettings, NO_TABLE};
use slogen_runtime::record::Outcome;
use slogen_runtime::record::SqlOperation::Select;
use slogen_runtime::slow_query::{SlowQueryConfig, SlowQueryLog};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(1);
/// Scheduling slack on a shared two-core machine; small next to the timeouts a hang would exceed.
const SLACK: Duration = Duration::from_millis(500);
/// How long recovery may take once the server is back.
const RECOVERY: Duration = Duration::from_secs(5);

/// A TCP proxy to PostgreSQL on 127.0.0.1, run on the test's runtime, that passes bytes until it is
/// told to stall: then it holds them, so the server looks alive (connections stay open) but never answers.
struct Proxy {
    address: SocketAddr,
    stalled: watch::Sender<bool>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let address = listener.local_addr().expect("the proxy's address");
        let (stalled, watching) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(target).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                for (from, to) in [(client_read, server_write), (server_read, client_write)] {
                    tokio::spawn(pump(from, to, watching.clone()));
                }
            }
        });
        Proxy { address, stalled }
    }

    fn stall(&self, stalled: bool) {
        self.stalled.send_replace(stalled);
    }
}

/// Copies `from` to `to`, holding each chunk while the proxy is stalled.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut stalled: watch::Receiver<bool>) {
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if stalled.wait_for(|stalled| !stalled).await.is_err()
            || to.write_all(&buffer[..read]).await.is_err()
        {
            return;
        }
    }
}

/// The server's address, from the harness' `postgres://user@host:port/db` URL.
fn server_address(postgres: &Postgres) -> SocketAddr {
    let config: tokio_postgres::Config = postgres.url().parse().expect("a PostgreSQL URL");
    let tokio_postgres::config::Host::Tcp(host) = &config.get_hosts()[0] else {
        panic!("the harness serves TCP");
    };
    format!("{host}:{}", config.get_ports()[0])
        .parse()
        .expect("an IP address")
}

/// Connects through `url` with short timeouts and a pool of `pool_size`.
async fn connect(
    url: String,
    application_name: &str,
    pool_size: usize,
) -> (Database<QueryCounts>, Arc<QueryCounts>) {
    let counts = Arc::new(QueryCounts::default());
    let never_slow = SlowQueryConfig::new(Duration::from_secs(3600), "/nonexistent/slow.log");
    let settings = DbSettings {
        url,
        application_name: application_name.to_owned(),
        pool_size,
        connect_timeout: CONNECT_TIMEOUT,
        statement_timeout: STATEMENT_TIMEOUT,
    };
    let database = Database::connect(
        settings,
        Arc::clone(&counts),
        Arc::new(SlowQueryLog::new(never_slow)),
    )
    .await
    .expect("connect to postgres");
    (database, counts)
}

/// The URL of the harness' server with its address replaced by `address`.
fn through(postgres: &Postgres, address: SocketAddr) -> String {
    let server = server_address(postgres);
    postgres
        .url()
        .replace(&server.to_string(), &address.to_string())
}

/// Polls `SELECT 1` until it succeeds, failing the test after [`RECOVERY`]; returns how many failed.
async fn until_answered(db: &Database<QueryCounts>) -> usize {
    let start = Instant::now();
    let mut failures = 0;
    while let Err(error) = db.query_one("SELECT 1", &[]).await {
        failures += 1;
        assert!(
            start.elapsed() < RECOVERY,
            "still failing after {RECOVERY:?}: {error}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    failures
}

#[tokio::test]
async fn terminated_backends_are_replaced_without_a_restart() {
    let postgres = Postgres::start();
    let name = unique_name("terminated");
    let (db, _) = connect(postgres.url().to_owned(), &name, 2).await;
    db.query_one("SELECT 1", &[]).await.expect("answers");

    // From an administrator's session: every backend of this application, found by its name.
    let (admin, connection) = tokio_postgres::connect(postgres.url(), tokio_postgres::NoTls)
        .await
        .expect("an administrator's connection");
    tokio::spawn(connection);
    let terminated = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .await
        .expect("terminate the backends");
    assert!(
        !terminated.is_empty(),
        "application_name is set on the pool's connections"
    );

    let failures = until_answered(&db).await;
    assert!(failures <= 2, "{failures} failures before recovery");
    // And it stays answered: no dead connection is handed out again.
    for _ in 0..5 {
        db.query_one("SELECT 1", &[])
            .await
            .expect("answers after recovery");
    }
}

#[tokio::test]
async fn a_stopped_server_fails_fast_reads_unready_and_recovers() {
    let mut postgres = Postgres::start_own();
    let (db, counts) = connect(postgres.url().to_owned(), "stopped", 2).await;
    db.query_one("SELECT 1", &[]).await.expect("answers");
    assert!(db.ping(SLACK).await);

    // The runtime waits while the server shuts down, as for `pg_ctl stop`: nothing is in flight.
    postgres.stop();
    for _ in 0..3 {
        let start = Instant::now();
        let error = db
            .query_one("SELECT 1", &[])
            .await
            .expect_err("the server is gone");
        assert!(
            start.elapsed() < CONNECT_TIMEOUT + STATEMENT_TIMEOUT + SLACK,
            "{:?}: {error}",
            start.elapsed()
        );
    }
    assert!(!db.ping(SLACK).await, "not ready while the server is gone");
    assert_eq!(counts.finished(Select, NO_TABLE, Outcome::Ok), 1);
    assert_eq!(counts.finished_total(), 4, "every failure is counted");

    postgres.restart();
    until_answered(&db).await;
    assert!(db.ping(SLACK).await, "ready again");
}

#[tokio::test]
async fn a_hung_server_is_answered_within_the_timeout() {
    let postgres = Postgres::start();
    let proxy = Proxy::start(server_address(&postgres)).await;
    let (db, counts) = connect(through(&postgres, proxy.address), "hung", 2).await;
    db.query_one("SELECT 1", &[]).await.expect("answers");

    proxy.stall(true);
    // More callers than connections: the ones waiting for a connection are bounded too.
    let db = Arc::new(db);
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let db = Arc::clone(&db);
            tokio::spawn(async move {
                let start = Instant::now();
                let result = db.query_one("SELECT 1", &[]).await.map(drop);
                (start.elapsed(), result)
            })
        })
        .collect();
    for call in calls {
        let (elapsed, result) = call.await.expect("joined");
        let error = result.expect_err("the server never answers");
        assert!(
            matches!(error, DbError::Timeout | DbError::Unavailable(_)),
            "{error}"
        );
        assert!(
            elapsed < CONNECT_TIMEOUT + STATEMENT_TIMEOUT + SLACK,
            "{elapsed:?}: {error}"
        );
    }
    assert!(counts.finished(Select, NO_TABLE, Outcome::Timeout) >= 1);

    // The abandoned connections were closed, not pooled: once the server answers, so does the client.
    proxy.stall(false);
    until_answered(&db).await;
}

#[tokio::test]
async fn a_slow_statement_holds_one_connection_not_the_others() {
    let postgres = Postgres::start();
    let (db, _) = connect(postgres.url().to_owned(), "slow", 2).await;
    let db = Arc::new(db);
    let slow = tokio::spawn({
        let db = Arc::clone(&db);
        async move { db.execute("SELECT pg_sleep(0.9)", &[]).await }
    });
    // Let the slow statement take its connection first.
    let start = Instant::now();
    while !slow_started(&postgres).await {
        assert!(
            start.elapsed() < RECOVERY,
            "the slow statement never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for _ in 0..5 {
        db.query_one("SELECT 1", &[])
            .await
            .expect("the other connection answers");
    }
    assert!(
        !slow.is_finished(),
        "five statements ran while the slow one still held its connection"
    );
    slow.await
        .expect("joined")
        .expect("the slow statement finishes");
}

/// Whether the `slow` application's `pg_sleep` is running on the server.
async fn slow_started(postgres: &Postgres) -> bool {
    let (admin, connection) = tokio_postgres::connect(postgres.url(), tokio_postgres::NoTls)
        .await
        .expect("an administrator's connection");
    tokio::spawn(connection);
    let rows = admin
        .query(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = 'slow' AND query LIKE 'SELECT pg_sleep%' AND state = 'active'",
            &[],
        )
        .await
        .expect("read pg_stat_activity");
    !rows.is_empty()
}
