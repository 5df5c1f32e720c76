//! A webhook receiver for Alertmanager's notifications: a tiny HTTP server on a loopback port that keeps
//! every JSON body POSTed to `/<receiver>`, with the path and the time it arrived.
//!
//! Include it with `#[path = "support/webhook.rs"] mod webhook;`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;
use tokio::task::JoinHandle;

/// One notification as Alertmanager's webhook integration sent it.
#[derive(Debug, Clone)]
pub struct Notification {
    /// The path it was POSTed to, without the `/`: which receiver sent it.
    pub receiver: String,
    /// When it arrived.
    pub at: Instant,
    /// The body: `status`, `alerts` (each with `status`, `labels`, `annotations`), `groupLabels`, …
    pub body: Value,
}

impl Notification {
    /// `firing` or `resolved`.
    pub fn status(&self) -> &str {
        self.body["status"].as_str().unwrap_or_default()
    }

    /// The labels of every alert it carries.
    pub fn alert_labels(&self) -> Vec<&serde_json::Map<String, Value>> {
        self.body["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|alert| alert["labels"].as_object())
            .collect()
    }
}

type Received = Arc<Mutex<Vec<Notification>>>;

/// The receiver, served by a task of the test's runtime until it is dropped.
pub struct Webhook {
    address: SocketAddr,
    received: Received,
    task: JoinHandle<()>,
}

impl Webhook {
    pub async fn start() -> Self {
        let received = Received::default();
        let app = Router::new()
            .route("/{receiver}", post(keep))
            .with_state(Arc::clone(&received));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the webhook receiver");
        let address = listener.local_addr().expect("its address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the webhook receiver serves");
        });
        Webhook {
            address,
            received,
            task,
        }
    }

    /// The URL Alertmanager posts `receiver`'s notifications to.
    pub fn url(&self, receiver: &str) -> String {
        format!("http://{}/{receiver}", self.address)
    }

    /// Every notification so far, in arrival order.
    pub fn received(&self) -> Vec<Notification> {
        self.received
            .lock()
            .expect("the list is not poisoned")
            .clone()
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn keep(
    State(received): State<Received>,
    Path(receiver): Path<String>,
    Json(body): Json<Value>,
) {
    received
        .lock()
        .expect("the list is not poisoned")
        .push(Notification {
            receiver,
            at: Instant::now(),
            body,
        });
}
