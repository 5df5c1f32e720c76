//! The tower layer that instruments HTTP requests: request IDs, a tracing span, and the request metrics.
//!
//! # Where to apply it
//!
//! Apply [`HttpMetricsLayer`] with [`axum::Router::layer`], **after** every route and the fallback have been
//! added (and after merging other routers):
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use axum::{routing::get, Router};
//! use slogen_runtime::http::HttpMetricsLayer;
//! use slogen_runtime::record::HttpRecorder;
//!
//! struct Recorder;
//! impl HttpRecorder for Recorder {
//!     fn request_started(&self, _: &http::Method, _: &str) {}
//!     fn request_finished(&self, _: &http::Method, _: &str, _: u16, _: Duration) {}
//! }
//!
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "user" }))
//!     .layer(HttpMetricsLayer::new(Arc::new(Recorder)));
//! ```
//!
//! axum 0.8's `Router::layer` wraps each route's endpoint and the fallback individually, so the layer runs
//! *after* routing: axum has already put the matched route template ([`MatchedPath`]) in the request
//! extensions, and requests that match nothing reach the layer through the wrapped fallback, with no
//! `MatchedPath`, and are counted under [`UNMATCHED_ROUTE`]. The alternatives are worse:
//!
//! - [`axum::Router::route_layer`] also sees `MatchedPath`, but it does not wrap the fallback, so 404s for
//!   unknown paths (scanners, broken links) would not be counted at all;
//! - wrapping the whole router from outside (`ServiceBuilder::new().layer(..).service(router)`) runs before
//!   routing, so every request would be `unmatched`.
//!
//! Routes added after `layer` are not instrumented. Beware of `merge` after `layer`: when neither router has
//! a custom fallback, `a.layer(l).merge(b)` keeps `b`'s *unwrapped* default fallback, and unknown paths go
//! uncounted; merge first, then apply the layer.
//!
//! # What it records
//!
//! [`HttpRecorder::request_started`] when the request enters, and exactly one
//! [`HttpRecorder::request_finished`] per start, whatever happens: the response status when the handler
//! answers, 500 when it returns an error or panics (the panic still propagates), and 499 when the request
//! future is dropped before the handler answered (the client went away, or a timeout layer outside gave
//! up). So an in-flight gauge driven by the two calls always returns to zero. The elapsed time runs from
//! the layer seeing the request to the response head being ready; axum handlers build their whole body
//! first, so for them that is the time to the last byte.
//!
//! # Request IDs
//!
//! A valid incoming `X-Request-ID` (see [`RequestId::parse`]) is kept, so one ID follows a request across
//! services; otherwise a UUID v4 is generated. An invalid incoming value is dropped, never echoed or logged:
//! it is attacker-controlled text. The ID is echoed in the response's `X-Request-ID`, recorded on a
//! `request` tracing span wrapping the handler, put in the request extensions as a [`RequestId`] (an
//! extractor: `Extension<RequestId>`), and readable anywhere inside the request with
//! [`current_request_id`].
//!
//! # Cost
//!
//! Per request: one `Arc` clone of the recorder, one clone of the route template's `Arc<str>`, the request
//! ID (a reference-counted view of the incoming header; for a generated one, the 36-byte string and the
//! reference count `bytes` allocates when it is first shared), the extension insertion axum's extension
//! map requires, and two `Instant` reads. No locks. Generated IDs come from uuid's `fast-rng` (a
//! thread-local ChaCha generator seeded from the OS): a `getrandom` system call per request would cost
//! about half a microsecond on its own.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::MatchedPath;
use http::header::HeaderName;
use http::{HeaderValue, Method, Request, Response};
use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};
use tracing::instrument::Instrumented;
use tracing::Instrument;

use crate::record::HttpRecorder;

/// The header carrying the request ID, in and out.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The route label of requests that matched no route, so raw paths never become label values.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The status recorded when the handler panicked or its service returned an error.
pub const STATUS_INTERNAL_ERROR: u16 = 500;

/// The status recorded when the request was abandoned before the handler answered (nginx's "client closed
/// request"), so abandoned requests are counted apart from real answers.
pub const STATUS_CLIENT_CLOSED: u16 = 499;

/// The identifier of one request, shared by its logs, spans, response header and slow-query entries.
///
/// Always 1 to [`RequestId::MAX_LEN`] bytes of `[A-Za-z0-9._:-]`, so it is safe to log and to put in a
/// header as is.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The longest incoming ID kept; longer ones are replaced, so a client cannot bloat every log line.
    pub const MAX_LEN: usize = 128;

    /// A fresh random ID (a hyphenated UUID v4).
    pub fn generate() -> Self {
        let mut buffer = uuid::Uuid::encode_buffer();
        let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
        RequestId(HeaderValue::from_str(text).expect("a UUID is a valid header value"))
    }

    /// The ID carried by an incoming header, if it is acceptable: non-empty, at most
    /// [`MAX_LEN`](Self::MAX_LEN) bytes, only ASCII letters, digits and `._:-`.
    pub fn parse(value: &HeaderValue) -> Option<Self> {
        let bytes = value.as_bytes();
        let valid = !bytes.is_empty()
            && bytes.len() <= Self::MAX_LEN
            && bytes
                .iter()
                .all(|&byte| byte.is_ascii_alphanumeric() || b"._:-".contains(&byte));
        // Cloning a header that hyper parsed shares its buffer instead of copying it.
        valid.then(|| RequestId(value.clone()))
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        // `parse` and `generate` admit ASCII only.
        self.0.to_str().expect("a request ID is printable ASCII")
    }

    /// The ID as a header value, for forwarding it to the services this request calls.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestId").field(&self.as_str()).finish()
    }
}

tokio::task_local! {
    static CURRENT_REQUEST_ID: RequestId;
}

/// The ID of the request being served by the current task, so code deep inside a handler (the database
/// client's slow-query log, an outgoing API call) can tag its output without the ID being passed down.
///
/// `None` outside a request instrumented by [`HttpMetricsLayer`], and in tasks the handler spawned (task
/// locals do not follow `tokio::spawn`; pass the ID explicitly there).
pub fn current_request_id() -> Option<RequestId> {
    CURRENT_REQUEST_ID.try_with(RequestId::clone).ok()
}

/// Instruments every request of the services it wraps; see the [module documentation](self) for where to
/// apply it.
#[derive(Clone)]
pub struct HttpMetricsLayer {
    recorder: Arc<dyn HttpRecorder>,
}

impl HttpMetricsLayer {
    /// A layer reporting to `recorder`, usually the service's generated metrics.
    pub fn new<R: HttpRecorder>(recorder: Arc<R>) -> Self {
        HttpMetricsLayer { recorder }
    }
}

impl fmt::Debug for HttpMetricsLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpMetricsLayer").finish_non_exhaustive()
    }
}

impl<S> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetrics<S>;

    fn layer(&self, inner: S) -> HttpMetrics<S> {
        HttpMetrics {
            inner,
            recorder: Arc::clone(&self.recorder),
        }
    }
}

/// The service [`HttpMetricsLayer`] wraps around each route.
#[derive(Clone)]
pub struct HttpMetrics<S> {
    inner: S,
    recorder: Arc<dyn HttpRecorder>,
}

impl<S> fmt::Debug for HttpMetrics<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpMetrics").finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HttpMetrics<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let start = Instant::now();
        let id = request
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(RequestId::parse)
            .unwrap_or_else(RequestId::generate);
        let route = Route::of(&request);
        let method = request.method().clone();
        request.extensions_mut().insert(id.clone());
        let span = tracing::info_span!(
            "request",
            request_id = %id,
            method = %method,
            route = %route.as_str(),
        );
        self.recorder.request_started(&method, route.as_str());
        let mut finish = Finish {
            recorder: Arc::clone(&self.recorder),
            method,
            route,
            start,
            in_inner: true,
            done: false,
        };
        // The service may do work before returning its future: give it the same context as the future.
        let inner = span
            .in_scope(|| CURRENT_REQUEST_ID.sync_scope(id.clone(), || self.inner.call(request)));
        finish.in_inner = false;
        ResponseFuture {
            inner: CURRENT_REQUEST_ID.scope(id.clone(), inner).instrument(span),
            finish,
            id,
        }
    }
}

/// The route label: the template axum matched, shared rather than copied, or [`UNMATCHED_ROUTE`].
enum Route {
    Matched(MatchedPath),
    Unmatched,
}

impl Route {
    fn of<B>(request: &Request<B>) -> Self {
        request
            .extensions()
            .get::<MatchedPath>()
            .map_or(Route::Unmatched, |path| Route::Matched(path.clone()))
    }

    fn as_str(&self) -> &str {
        match self {
            Route::Matched(path) => path.as_str(),
            Route::Unmatched => UNMATCHED_ROUTE,
        }
    }
}

/// Reports the end of a request exactly once: when it answers, or when it is dropped unanswered.
struct Finish {
    recorder: Arc<dyn HttpRecorder>,
    method: Method,
    route: Route,
    start: Instant,
    /// Set while the inner service runs (its `call`, then each poll of its future): still set at drop means
    /// it unwound (a panic).
    in_inner: bool,
    done: bool,
}

impl Finish {
    fn record(&mut self, status: u16) {
        self.done = true;
        self.recorder.request_finished(
            &self.method,
            self.route.as_str(),
            status,
            self.start.elapsed(),
        );
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        if !self.done {
            let status = if self.in_inner {
                STATUS_INTERNAL_ERROR
            } else {
                STATUS_CLIENT_CLOSED
            };
            self.record(status);
        }
    }
}

pin_project! {
    /// The response future of [`HttpMetrics`]: the inner future, run inside the request's span and with
    /// its [`current_request_id`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Instrumented<TaskLocalFuture<RequestId, F>>,
        finish: Finish,
        id: RequestId,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        assert!(!this.finish.done, "ResponseFuture polled after completion");
        this.finish.in_inner = true;
        let result = this.inner.poll(cx);
        this.finish.in_inner = false;
        let Poll::Ready(result) = result else {
            return Poll::Pending;
        };
        match result {
            Ok(mut response) => {
                response
                    .headers_mut()
                    .insert(REQUEST_ID_HEADER, this.id.0.clone());
                this.finish.record(response.status().as_u16());
                Poll::Ready(Ok(response))
            }
            Err(error) => {
                this.finish.record(STATUS_INTERNAL_ERROR);
                Poll::Ready(Err(error))
            }
        }
    }
}
