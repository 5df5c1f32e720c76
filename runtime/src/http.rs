//! The tower layer that instruments HTTP requests: request IDs, a tracing span, and the request metrics.
//!
//! # Where to apply it
//!
//! Apply [`HttpMetricsLayer`] with [`axum::Router::layer`], **after** every route and the fallback have been
//! added (and after merging other routers):
//!
//! ```
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
//! // A service's generated metrics live as long as the process: `static METRICS: LazyLock<Metrics>`.
//! static RECORDER: Recorder = Recorder;
//!
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "user" }))
//!     .layer(HttpMetricsLayer::from_static(&RECORDER));
//! ```
//!
//! [`HttpMetricsLayer::new`] takes the recorder by `Arc` instead, for recorders that do not live as long as
//! the process (tests building many apps), at some cost per request (see [Cost](#cost)).
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
//! `request` tracing span wrapping the handler, readable anywhere inside the request with
//! [`current_request_id`], and a handler can take it as an argument: [`RequestId`] is an extractor.
//!
//! # Cost
//!
//! Per request, besides the recorder's own work:
//!
//! - the state the requests of a route share (the recorder, and the route template learnt from the route's
//!   first request): with [`HttpMetricsLayer::from_static`] reached by plain reference, with no reference
//!   count; with [`HttpMetricsLayer::new`] one `Arc` clone in the layer and one in axum's clone of the
//!   wrapped service, each an atomic increment and decrement;
//! - the request ID: a reference-counted view of the incoming header, or for a generated one a
//!   reference-counted slice of a per-thread buffer holding the text of 64 IDs, so one allocation per 64
//!   requests;
//! - two `Instant` reads.
//!
//! No locks, no system calls. The span and the current ID are entered and left around each poll of the
//! handler's future by the layer's own future, with no per-poll clone; on a thread without a tracing
//! subscriber the span is not even created. The ID is not put in the request's extensions: the extractor
//! reads the current ID instead, which spares every request an insertion into axum's extension map (an
//! allocation, and usually the map's growth from the three entries axum itself puts there).
//!
//! Generated IDs are UUID v4s built from 128 random bits drawn once per thread (uuid's `fast-rng`, seeded
//! from the OS) and a per-thread counter passed through a bijection: they never repeat within a thread and
//! do not read as a sequence, for a few multiplications instead of a draw from a ChaCha generator. They are
//! unique, not secret: never let one authorize anything.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::ptr;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::MatchedPath;
use http::header::HeaderName;
use http::{Method, Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tracing::subscriber::NoSubscriber;
use tracing::Span;

use crate::record::HttpRecorder;

mod request_id;
pub use request_id::{MissingRequestId, RequestId};

/// The header carrying the request ID, in and out.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The route label of requests that matched no route, so raw paths never become label values.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The status recorded when the handler panicked or its service returned an error.
pub const STATUS_INTERNAL_ERROR: u16 = 500;

/// The status recorded when the request was abandoned before the handler answered (nginx's "client closed
/// request"), so abandoned requests are counted apart from real answers.
pub const STATUS_CLIENT_CLOSED: u16 = 499;

thread_local! {
    /// The ID of the request whose future (or service call) this thread is running, swapped in and out by
    /// [`Scope`] around every poll, as tokio's task locals do.
    static CURRENT_REQUEST_ID: Cell<Option<RequestId>> = const { Cell::new(None) };
}

/// The ID of the request being served by the current task, so code deep inside a handler (the database
/// client's slow-query log, an outgoing API call) can tag its output without the ID being passed down.
///
/// `None` outside a request instrumented by [`HttpMetricsLayer`], and in tasks the handler spawned (the ID
/// is set only while the request's own future runs; pass the ID explicitly there).
pub fn current_request_id() -> Option<RequestId> {
    CURRENT_REQUEST_ID
        .try_with(|current| {
            let id = current.take();
            let copy = id.clone();
            current.set(id);
            copy
        })
        .ok()
        .flatten()
}

/// Makes a request's ID the [`current_request_id`] while it lives: it swaps the request's slot with the
/// thread's current value on entry and swaps back on drop, also when unwinding. Owning the slot, rather
/// than using a tokio task local, lets the ID move in and out without a clone per poll.
struct Scope<'a> {
    slot: &'a mut Option<RequestId>,
}

impl<'a> Scope<'a> {
    #[inline]
    fn enter(slot: &'a mut Option<RequestId>) -> Self {
        swap_current(slot);
        Scope { slot }
    }
}

impl Drop for Scope<'_> {
    #[inline]
    fn drop(&mut self) {
        swap_current(self.slot);
    }
}

#[inline]
fn swap_current(slot: &mut Option<RequestId>) {
    // Fails only while the thread's locals are being destroyed; both swaps then leave the slot alone.
    let _ = CURRENT_REQUEST_ID.try_with(|current| *slot = current.replace(slot.take()));
}

/// Instruments every request of the services it wraps; see the [module documentation](self) for where to
/// apply it.
#[derive(Clone)]
pub struct HttpMetricsLayer {
    recorder: RecorderRef,
}

impl HttpMetricsLayer {
    /// A layer reporting to `recorder`, usually the service's generated metrics.
    ///
    /// Each request then clones and drops a reference count (twice: axum also clones the wrapped service per
    /// request). A service whose metrics live as long as the process should use
    /// [`from_static`](Self::from_static), which spares those atomic operations.
    pub fn new<R: HttpRecorder>(recorder: Arc<R>) -> Self {
        HttpMetricsLayer {
            recorder: RecorderRef::Counted(recorder),
        }
    }

    /// A layer reporting to a recorder that lives as long as the process: a `static`
    /// (`LazyLock<Metrics>`), or leaked once at startup (`Box::leak(Box::new(metrics))`; an `Arc` of a
    /// recorder is a recorder too).
    ///
    /// Requests then reach the recorder and their route by plain reference, with no reference count to
    /// update: four atomic operations fewer per request than [`new`](Self::new), 15–25 ns in alternating
    /// runs on a 2-core Intel Xeon, where one costs about 6 ns. The price is that the state of each route it
    /// wraps (the route template, under 100 bytes) is kept for good too, so build the router once, not per
    /// request.
    pub fn from_static<R: HttpRecorder>(recorder: &'static R) -> Self {
        HttpMetricsLayer {
            recorder: RecorderRef::Static(recorder),
        }
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
        let endpoint = Endpoint {
            recorder: self.recorder.clone(),
            route: OnceLock::new(),
        };
        let endpoint = match self.recorder {
            RecorderRef::Counted(_) => EndpointRef::Counted(Arc::new(endpoint)),
            RecorderRef::Static(_) => EndpointRef::Static(Box::leak(Box::new(endpoint))),
        };
        HttpMetrics { inner, endpoint }
    }
}

/// The recorder, reference-counted or `'static`.
#[derive(Clone)]
enum RecorderRef {
    Counted(Arc<dyn HttpRecorder>),
    Static(&'static dyn HttpRecorder),
}

impl Deref for RecorderRef {
    type Target = dyn HttpRecorder;

    #[inline]
    fn deref(&self) -> &(dyn HttpRecorder + 'static) {
        match self {
            RecorderRef::Counted(recorder) => &**recorder,
            RecorderRef::Static(recorder) => *recorder,
        }
    }
}

/// The [`Endpoint`] a wrapped service and its requests share: reference-counted, or, under a `'static`
/// recorder, kept for good so that cloning it is a copy.
#[derive(Clone)]
enum EndpointRef {
    Counted(Arc<Endpoint>),
    Static(&'static Endpoint),
}

impl Deref for EndpointRef {
    type Target = Endpoint;

    #[inline]
    fn deref(&self) -> &Endpoint {
        match self {
            EndpointRef::Counted(endpoint) => endpoint,
            EndpointRef::Static(endpoint) => endpoint,
        }
    }
}

/// The service [`HttpMetricsLayer`] wraps around each route.
#[derive(Clone)]
pub struct HttpMetrics<S> {
    inner: S,
    endpoint: EndpointRef,
}

/// What the requests through one wrapped service share: the recorder, and the route template the service
/// serves. axum wraps each route's endpoint separately and hands every request of a route the same
/// `Arc<str>` as its [`MatchedPath`], so the template is learnt from the first request, with its text
/// [pinned](crate::pin): later requests point at it instead of holding a reference-counted clone each,
/// and the recorder's open `route` label finds the pinned text by position, with one load.
struct Endpoint {
    recorder: RecorderRef,
    route: OnceLock<(MatchedPath, &'static str)>,
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

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let start = Instant::now();
        let id = request
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(RequestId::parse)
            .unwrap_or_else(RequestId::generate);
        let route = Route::of(&request, &self.endpoint);
        let method = request.method().clone();
        let mut finish = Finish {
            endpoint: self.endpoint.clone(),
            method,
            route,
            start,
            in_inner: true,
            done: false,
        };
        let span = request_span(&id, &finish.method, finish.route());
        finish
            .endpoint
            .recorder
            .request_started(&finish.method, finish.route());
        let mut id = Some(id);
        // The service may do work before returning its future: give it the same context as the future.
        let inner = {
            let _entered = span.enter();
            let _scope = Scope::enter(&mut id);
            self.inner.call(request)
        };
        finish.in_inner = false;
        ResponseFuture {
            inner: Some(inner),
            span,
            id,
            finish,
        }
    }
}

/// The `request` span, or a disabled span without asking tracing when no subscriber wants `info` spans or
/// this thread has no subscriber at all.
///
/// Besides skipping the macro's checks, this keeps a thread with no subscriber from being the one that
/// registers the span's callsite: tracing-core caches the interest it computes then for every thread, and
/// while a single scoped subscriber exists (tests using `set_default`) it asks only the registering
/// thread's subscriber, so one request served without a subscriber would disable the span everywhere.
fn request_span(id: &RequestId, method: &Method, route: &str) -> Span {
    // First the check tracing's own macros start with: one load of the highest level any subscriber wants.
    if !tracing::level_enabled!(tracing::Level::INFO)
        || tracing::dispatcher::get_default(|dispatch| dispatch.is::<NoSubscriber>())
    {
        return Span::none();
    }
    tracing::info_span!("request", request_id = %id, method = %method, route = %route)
}

/// The route label: the template axum matched, or [`UNMATCHED_ROUTE`].
enum Route {
    /// The template of the request's [`Endpoint`], the usual case: nothing to hold.
    Endpoint,
    /// Another template, when one wrapped service is reached through several routes (a layered
    /// `MethodRouter` given its state, then mounted twice): shared rather than copied.
    Matched(MatchedPath),
    Unmatched,
}

impl Route {
    fn of<B>(request: &Request<B>, endpoint: &Endpoint) -> Self {
        let Some(path) = request.extensions().get::<MatchedPath>() else {
            return Route::Unmatched;
        };
        // The endpoint keeps its template alive, so the same address means the same text.
        let (known, _) = endpoint
            .route
            .get_or_init(|| (path.clone(), crate::pinned::pin(path.as_str())));
        if ptr::eq(known.as_str(), path.as_str()) {
            Route::Endpoint
        } else {
            Route::Matched(path.clone())
        }
    }
}

/// Reports the end of a request exactly once: when it answers, or when it is dropped unanswered.
struct Finish {
    endpoint: EndpointRef,
    method: Method,
    route: Route,
    start: Instant,
    /// Set while the inner service runs (its `call`, then each poll of its future): still set at drop means
    /// it unwound (a panic).
    in_inner: bool,
    done: bool,
}

impl Finish {
    /// The route label of the request.
    #[inline]
    fn route(&self) -> &str {
        match &self.route {
            Route::Endpoint => self
                .endpoint
                .route
                .get()
                .map_or(UNMATCHED_ROUTE, |(_, pinned)| pinned),
            Route::Matched(path) => path.as_str(),
            Route::Unmatched => UNMATCHED_ROUTE,
        }
    }

    fn record(&mut self, status: u16) {
        self.done = true;
        self.endpoint.recorder.request_finished(
            &self.method,
            self.route(),
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
    ///
    /// The span and the ID are applied here rather than by `Instrumented` and a `TaskLocalFuture` around
    /// the inner future, which would move the (large) inner future twice more and clone the ID.
    pub struct ResponseFuture<F> {
        // `None` once the inner future has finished, so it is dropped inside its span and scope.
        #[pin]
        inner: Option<F>,
        span: Span,
        // The request's ID between polls; during a poll, whatever [`Scope`] swapped out of the thread.
        id: Option<RequestId>,
        finish: Finish,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if this.inner.is_some() {
                // An abandoned or panicked request: its future's destructors still see the request's context.
                let _entered = this.span.enter();
                let _scope = Scope::enter(this.id);
                this.inner.set(None);
            }
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("ResponseFuture");
        if let Some(id) = &self.id {
            debug.field("id", id);
        }
        debug.finish_non_exhaustive()
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        assert!(!this.finish.done, "ResponseFuture polled after completion");
        let result = {
            let _entered = this.span.enter();
            let _scope = Scope::enter(this.id);
            let inner = this
                .inner
                .as_mut()
                .as_pin_mut()
                .expect("the inner future runs until the response future completes");
            this.finish.in_inner = true;
            let result = inner.poll(cx);
            this.finish.in_inner = false;
            if result.is_ready() {
                this.inner.set(None);
            }
            result
        };
        let Poll::Ready(mut result) = result else {
            return Poll::Pending;
        };
        let status = match &mut result {
            Ok(response) => {
                let id = this
                    .id
                    .take()
                    .expect("the request's ID is back in its slot");
                response.headers_mut().insert(REQUEST_ID_HEADER, id.0);
                response.status().as_u16()
            }
            Err(_) => STATUS_INTERNAL_ERROR,
        };
        this.finish.record(status);
        Poll::Ready(result)
    }
}
