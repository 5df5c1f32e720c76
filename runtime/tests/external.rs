//! The external API tracker against a real HTTP peer, recording into the reference service's metrics.

mod provider;

use std::sync::Arc;
use std::time::Duration;

use slogen_reference_service::metrics::{
    ExternalApiRequestDurationLabels, ExternalApiRequestsLabels, Metrics, Outcome, Provider,
    StatusClass,
};
use slogen_runtime::encode_text;
use slogen_runtime::external::{classify_result, ExternalApiTracker, TimedOut};
use slogen_runtime::record::ExternalApiRecorder;

fn tracker() -> (Arc<Metrics>, ExternalApiTracker<Provider, Metrics>) {
    let metrics = Arc::new(Metrics::new());
    (Arc::clone(&metrics), ExternalApiTracker::new(metrics))
}

/// Calls recorded for `provider`/`endpoint` with this outcome and status class.
fn calls(
    metrics: &Metrics,
    provider: Provider,
    endpoint: &str,
    outcome: Outcome,
    status_class: StatusClass,
) -> u64 {
    metrics
        .external_api_requests
        .with(&ExternalApiRequestsLabels {
            provider,
            endpoint,
            outcome,
            status_class,
        })
        .get()
}

/// Latency observations recorded for `provider`/`endpoint`.
fn timed(metrics: &Metrics, provider: Provider, endpoint: &str) -> u64 {
    metrics
        .external_api_request_duration
        .with(&ExternalApiRequestDurationLabels { provider, endpoint })
        .count()
}

/// Every `external_api_requests_total` sample of the exposition.
fn request_samples(metrics: &Metrics) -> Vec<String> {
    encode_text(metrics)
        .lines()
        .filter(|line| line.starts_with("external_api_requests_total{"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_reqwest_call_is_returned_unchanged_and_classified_by_status() {
    let peer = provider::start().await;
    let (metrics, tracker) = tracker();
    let client = reqwest::Client::new();

    let response = tracker
        .track(
            Provider::Stripe,
            "create_charge",
            client.get(peer.url("/status/200")).send(),
        )
        .await
        .expect("the peer answers");
    assert_eq!(response.status(), 200);
    let response = tracker
        .track(
            Provider::Stripe,
            "create_charge",
            client.get(peer.url("/status/503")).send(),
        )
        .await
        .expect("a 503 is still a response");
    assert_eq!(response.status(), 503);
    tracker
        .track(
            Provider::Beehiiv,
            "add_subscriber",
            client.get(peer.url("/status/404")).send(),
        )
        .await
        .expect("a 404 is still a response");
    tracker
        .track(
            Provider::Cloudflare,
            "purge_cache",
            client.get(peer.url("/status/302")).send(),
        )
        .await
        .expect("a 302 without `Location` is returned, not followed");

    assert_eq!(
        request_samples(&metrics),
        [
            r#"external_api_requests_total{provider="stripe",endpoint="create_charge",outcome="ok",status_class="2xx"} 1"#,
            r#"external_api_requests_total{provider="stripe",endpoint="create_charge",outcome="error",status_class="5xx"} 1"#,
            r#"external_api_requests_total{provider="beehiiv",endpoint="add_subscriber",outcome="error",status_class="4xx"} 1"#,
            r#"external_api_requests_total{provider="cloudflare",endpoint="purge_cache",outcome="error",status_class="3xx"} 1"#,
        ]
    );
    assert_eq!(timed(&metrics, Provider::Stripe, "create_charge"), 2);
    assert_eq!(timed(&metrics, Provider::Beehiiv, "add_subscriber"), 1);
}

#[tokio::test]
async fn a_connection_failure_is_an_error_without_response() {
    let closed = provider::closed_port().await;
    let (metrics, tracker) = tracker();
    let result = tracker
        .track(
            Provider::AiRegistry,
            "list_models",
            reqwest::Client::new()
                .get(format!("http://{closed}/models"))
                .send(),
        )
        .await;
    let error = result.expect_err("nothing listens on a released port");
    assert!(error.is_connect(), "{error}");
    assert_eq!(
        calls(
            &metrics,
            Provider::AiRegistry,
            "list_models",
            Outcome::Error,
            StatusClass::NoResponse
        ),
        1
    );
    assert_eq!(timed(&metrics, Provider::AiRegistry, "list_models"), 1);
}

#[tokio::test]
async fn the_tracker_timeout_gives_up_and_records_a_timeout() {
    let peer = provider::start().await;
    let (metrics, tracker) = tracker();
    let timeout = Duration::from_millis(50);
    let result = tracker
        .track_with_timeout(
            Provider::Stripe,
            "create_charge",
            timeout,
            reqwest::Client::new().get(peer.url("/hang")).send(),
        )
        .await;
    assert_eq!(
        result.expect_err("the peer never answers"),
        TimedOut { after: timeout }
    );
    assert_eq!(
        calls(
            &metrics,
            Provider::Stripe,
            "create_charge",
            Outcome::Timeout,
            StatusClass::NoResponse
        ),
        1
    );

    let answered = tracker
        .track_with_timeout(
            Provider::Stripe,
            "create_charge",
            Duration::from_secs(30),
            reqwest::Client::new().get(peer.url("/status/201")).send(),
        )
        .await
        .expect("answered before the timeout")
        .expect("the peer answers");
    assert_eq!(answered.status(), 201);
    assert_eq!(
        calls(
            &metrics,
            Provider::Stripe,
            "create_charge",
            Outcome::Ok,
            StatusClass::StatusClass2xx
        ),
        1
    );
}

#[tokio::test]
async fn a_client_timeout_is_a_timeout() {
    let peer = provider::start().await;
    let (metrics, tracker) = tracker();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(50))
        .build()
        .expect("build a client");
    let error = tracker
        .track(
            Provider::Cloudflare,
            "purge_cache",
            client.get(peer.url("/hang")).send(),
        )
        .await
        .expect_err("the peer never answers");
    assert!(error.is_timeout(), "{error}");
    assert_eq!(
        calls(
            &metrics,
            Provider::Cloudflare,
            "purge_cache",
            Outcome::Timeout,
            StatusClass::NoResponse
        ),
        1
    );
}

#[tokio::test]
async fn a_call_dropped_midway_is_recorded_as_an_error() {
    let peer = provider::start().await;
    let (metrics, tracker) = tracker();
    let client = reqwest::Client::new();
    {
        let call = tracker.track(
            Provider::Stripe,
            "refund",
            client.get(peer.url("/hang")).send(),
        );
        tokio::pin!(call);
        tokio::select! {
            _ = &mut call => panic!("the peer never answers"),
            () = peer.hanging.notified() => {}
        }
        assert_eq!(
            timed(&metrics, Provider::Stripe, "refund"),
            0,
            "nothing is recorded while the call is in flight"
        );
    }
    assert_eq!(
        calls(
            &metrics,
            Provider::Stripe,
            "refund",
            Outcome::Error,
            StatusClass::NoResponse
        ),
        1
    );
    assert_eq!(timed(&metrics, Provider::Stripe, "refund"), 1);
}

#[tokio::test]
async fn a_call_never_polled_was_never_made() {
    let peer = provider::start().await;
    let (metrics, tracker) = tracker();
    drop(tracker.track(
        Provider::Beehiiv,
        "add_subscriber",
        reqwest::Client::new().get(peer.url("/status/200")).send(),
    ));
    assert_eq!(request_samples(&metrics), Vec::<String>::new());
}

#[tokio::test]
async fn any_result_is_tracked_with_a_classifier() {
    let (metrics, tracker) = tracker();
    let declined: Result<u32, &str> = tracker
        .track_with(
            Provider::AiRegistry,
            "generate",
            async { Err("quota exceeded") },
            classify_result,
        )
        .await;
    assert_eq!(declined, Err("quota exceeded"));
    let answered: Result<u32, &str> = tracker
        .track_with(
            Provider::AiRegistry,
            "generate",
            async { Ok(7) },
            classify_result,
        )
        .await;
    assert_eq!(answered, Ok(7));
    assert_eq!(
        request_samples(&metrics),
        [
            r#"external_api_requests_total{provider="ai_registry",endpoint="generate",outcome="ok",status_class="no_response"} 1"#,
            r#"external_api_requests_total{provider="ai_registry",endpoint="generate",outcome="error",status_class="no_response"} 1"#,
        ]
    );
}

/// Sends `request` and reads the whole body, as a client that times the full answer does.
async fn whole_answer(
    request: reqwest::RequestBuilder,
) -> Result<http::Response<String>, reqwest::Error> {
    let response = request.send().await?;
    let status = response.status();
    let mut answer = http::Response::new(response.text().await?);
    *answer.status_mut() = status;
    Ok(answer)
}

#[tokio::test]
async fn a_call_including_its_body_is_classified_by_status_through_a_shared_recorder() {
    let peer = provider::start().await;
    let metrics = Arc::new(Metrics::new());
    let shared: Arc<dyn ExternalApiRecorder<Provider>> = Arc::clone(&metrics) as _;
    let tracker = ExternalApiTracker::new(shared);
    let client = reqwest::Client::new();
    for code in ["204", "500"] {
        let answer = tracker
            .track(
                Provider::Cloudflare,
                "purge_cache",
                whole_answer(client.get(peer.url(&format!("/status/{code}")))),
            )
            .await
            .expect("the peer answers");
        assert_eq!(answer.status().as_str(), code);
    }
    assert_eq!(
        request_samples(&metrics),
        [
            r#"external_api_requests_total{provider="cloudflare",endpoint="purge_cache",outcome="ok",status_class="2xx"} 1"#,
            r#"external_api_requests_total{provider="cloudflare",endpoint="purge_cache",outcome="error",status_class="5xx"} 1"#,
        ]
    );
}
