//! A real HTTP peer standing in for an external provider: a tiny axum server on 127.0.0.1 answering the
//! way Stripe's test mode does, so the tracker and the reference service talk to an actual socket.

// Each test crate uses its own subset of the peer.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// Stripe's test card that always succeeds.
pub const CARD_OK: &str = "4242424242424242";
/// Stripe's test card that is always declined (402).
pub const CARD_DECLINED: &str = "4000000000000002";
/// Stripe's test card that fails with a processing error; the peer answers 500 as an outage would.
pub const CARD_PROVIDER_ERROR: &str = "4000000000000119";
/// A card the peer never answers for, to exercise timeouts.
pub const CARD_HANG: &str = "4000000000006975";

/// The domain of emails the newsletter peer rejects (422), as an invalid address would be.
pub const REJECTED_DOMAIN: &str = "@invalid.test";

/// A running peer.
pub struct Peer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Notified each time a request reaches a handler that never answers.
    pub hanging: Arc<Notify>,
}

impl Peer {
    /// `http://127.0.0.1:<port>`, the provider base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A URL on the peer.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }
}

/// Starts the peer on a free port; it lives as long as the test's runtime.
///
/// Routes: `GET /status/{code}` answers `code`; `GET /hang` never answers; `POST /v1/charges` takes
/// `{"amount": .., "currency": .., "card": ..}` and answers by test card; `POST /v2/subscriptions` takes
/// `{"email": ..}` and answers 201, or 422 for an address at [`REJECTED_DOMAIN`].
pub async fn start() -> Peer {
    let hanging = Arc::new(Notify::new());
    let app = Router::new()
        .route("/status/{code}", get(status))
        .route(
            "/hang",
            get({
                let hanging = Arc::clone(&hanging);
                move || hang(hanging)
            }),
        )
        .route(
            "/v1/charges",
            post({
                let hanging = Arc::clone(&hanging);
                move |body: Json<Value>| charge(hanging, body)
            }),
        )
        .route("/v2/subscriptions", post(subscribe));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the provider peer");
    let addr = listener.local_addr().expect("peer address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Peer { addr, hanging }
}

/// An address where nothing listens: bound, then released.
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a port to release");
    listener.local_addr().expect("released address")
}

async fn status(Path(code): Path<u16>) -> StatusCode {
    StatusCode::from_u16(code).expect("a valid status code in the test URL")
}

async fn hang(hanging: Arc<Notify>) -> StatusCode {
    hanging.notify_one();
    std::future::pending().await
}

async fn charge(hanging: Arc<Notify>, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    match body["card"].as_str() {
        Some(CARD_OK) => (
            StatusCode::OK,
            Json(json!({"id": "ch_test", "status": "succeeded", "amount": body["amount"]})),
        ),
        Some(CARD_DECLINED) => (
            StatusCode::PAYMENT_REQUIRED,
            Json(json!({"error": {"code": "card_declined"}})),
        ),
        Some(CARD_PROVIDER_ERROR) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": {"code": "processing_error"}})),
        ),
        Some(CARD_HANG) => {
            hanging.notify_one();
            std::future::pending().await
        }
        _ => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"code": "invalid_number"}})),
        ),
    }
}

async fn subscribe(Json(body): Json<Value>) -> StatusCode {
    match body["email"].as_str() {
        Some(email) if !email.ends_with(REJECTED_DOMAIN) => StatusCode::CREATED,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}
