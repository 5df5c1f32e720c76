//! The provider routes: a payment and a newsletter subscription, each one tracked external API call.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use slogen_runtime::external::{ExternalApiTracker, TimedOut};
use slogen_runtime::http::{current_request_id, REQUEST_ID_HEADER};

use super::super::metrics::{Metrics, Provider};
use super::{ApiError, AppResult, AppState};

/// `POST /payments` and `POST /newsletter/subscriptions`.
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/payments", post(create_payment))
        .route("/newsletter/subscriptions", post(subscribe))
}

/// The client of one provider operation: where to post, and how long to wait.
pub(super) struct Upstream {
    pub(super) http: reqwest::Client,
    pub(super) url: String,
    pub(super) timeout: Duration,
    pub(super) tracker: ExternalApiTracker<Provider, Metrics>,
}

impl Upstream {
    /// A POST of `body` carrying the current request ID, so the provider's logs can be matched with ours.
    fn post(&self, body: &impl Serialize) -> reqwest::RequestBuilder {
        let request = self.http.post(&self.url).json(body);
        match current_request_id() {
            Some(id) => request.header(REQUEST_ID_HEADER, id.header_value().clone()),
            None => request,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Payment {
    amount: u64,
    currency: String,
    card: String,
}

/// Charges a card: 201 with the charge, 402 when the provider declines, 502 when it fails or cannot be
/// reached, 504 when it does not answer in time.
async fn create_payment(
    State(state): State<Arc<AppState>>,
    Json(payment): Json<Payment>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let stripe = &state.stripe;
    let answer = stripe
        .tracker
        .track_with_timeout(
            Provider::Stripe,
            "create_charge",
            stripe.timeout,
            read_answer(stripe.post(&payment)),
        )
        .await;
    let provider_failed =
        |status: StatusCode, error: &str| ApiError::Upstream(status, json!({ "error": error }));
    match answer {
        Ok(Ok(response)) => {
            let status = response.status();
            let body: Value = serde_json::from_str(response.body()).unwrap_or(Value::Null);
            if status.is_success() {
                Ok((StatusCode::CREATED, Json(json!({ "charge": body }))))
            } else if status.is_client_error() {
                Err(ApiError::Upstream(
                    StatusCode::PAYMENT_REQUIRED,
                    json!({ "error": "payment declined", "provider_status": status.as_u16(), "provider_error": body }),
                ))
            } else {
                tracing::warn!(
                    provider_status = status.as_u16(),
                    "the payment provider failed"
                );
                Err(ApiError::Upstream(
                    StatusCode::BAD_GATEWAY,
                    json!({ "error": "payment provider failed", "provider_status": status.as_u16() }),
                ))
            }
        }
        Ok(Err(error)) if error.is_timeout() => Err(provider_failed(
            StatusCode::GATEWAY_TIMEOUT,
            "payment provider timed out",
        )),
        Ok(Err(error)) => {
            tracing::warn!(%error, "cannot reach the payment provider");
            Err(provider_failed(
                StatusCode::BAD_GATEWAY,
                "payment provider unreachable",
            ))
        }
        Err(TimedOut { .. }) => Err(provider_failed(
            StatusCode::GATEWAY_TIMEOUT,
            "payment provider timed out",
        )),
    }
}

#[derive(Serialize, Deserialize)]
struct Subscription {
    email: String,
}

/// Subscribes an email to the newsletter: 201, 422 when the provider rejects the address, 502 or 504
/// when it fails. Tracks the plain `send()`, the shortest form of tracking.
async fn subscribe(
    State(state): State<Arc<AppState>>,
    Json(subscription): Json<Subscription>,
) -> AppResult<StatusCode> {
    let beehiiv = &state.beehiiv;
    let answer = beehiiv
        .tracker
        .track_with_timeout(
            Provider::Beehiiv,
            "add_subscriber",
            beehiiv.timeout,
            beehiiv.post(&subscription).send(),
        )
        .await;
    let failed =
        |status: StatusCode, error: &str| ApiError::Upstream(status, json!({ "error": error }));
    match answer {
        Ok(Ok(response)) if response.status().is_success() => Ok(StatusCode::CREATED),
        Ok(Ok(response)) if response.status().is_client_error() => Err(failed(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the newsletter provider rejected the address",
        )),
        Ok(Ok(_)) => Err(failed(
            StatusCode::BAD_GATEWAY,
            "newsletter provider failed",
        )),
        Ok(Err(error)) if !error.is_timeout() => Err(failed(
            StatusCode::BAD_GATEWAY,
            "newsletter provider unreachable",
        )),
        Ok(Err(_)) | Err(TimedOut { .. }) => Err(failed(
            StatusCode::GATEWAY_TIMEOUT,
            "newsletter provider timed out",
        )),
    }
}

/// Sends `request` and reads the whole body, so the tracked latency covers the full answer.
async fn read_answer(
    request: reqwest::RequestBuilder,
) -> Result<http::Response<String>, reqwest::Error> {
    let response = request.send().await?;
    let status = response.status();
    let body = response.text().await?;
    let mut answer = http::Response::new(body);
    *answer.status_mut() = status;
    Ok(answer)
}
