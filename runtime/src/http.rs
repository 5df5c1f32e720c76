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
//! `request` tracing span wrapping the handler, readable anywhere inside the request with
//! [`current_request_id`], and a handler can take it as an argument: [`RequestId`] is an extractor.
//!
//! # Cost
//!
//! Per request, besides the recorder's own work: one `Arc` clone of the state the requests of a route share
//! (the recorder and the route template, learnt from the route's first request), the request ID (a reference-counted view of the incoming header, or for a
//! generated one a reference-counted slice of a per-thread buffer holding the text of 64 IDs, so one
//! allocation per 64 requests), and two `Instant` reads. No locks, no system calls. The span and the current ID are entered and left around each poll of
//! the handler's future by the layer's own future, with no per-poll clone; on a thread without a tracing
//! subscriber the span is not even created. The ID is not put in the request's extensions: the extractor
//! reads the current ID instead, which spares every request an insertion into axum's extension map (an
//! allocation, and usually the map's growth from the three entries axum itself puts there).
//!
//! Generated IDs are UUID v4s built from 128 random bits drawn once per thread (uuid's `fast-rng`, seeded
//! from the OS) and a per-thread counter passed through a bijection: they never repeat within a thread and
//! do not read as a sequence, for a few multiplications instead of a draw from a ChaCha generator. They are
//! unique, not secret: never let one authorize anything.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, MatchedPath};
use axum::response::IntoResponse;
use http::header::HeaderName;
use http::request::Parts;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tracing::subscriber::NoSubscriber;
use tracing::Span;

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

    /// A fresh ID: a hyphenated UUID v4, unique without a system call or a lock (see the
    /// [module documentation](self#cost)).
    pub fn generate() -> Self {
        let text = ID_BLOCK
            .try_with(|block| {
                let mut block = block.borrow_mut();
                if block.is_empty() {
                    *block = id_block(IDS_PER_BLOCK);
                }
                block.split_to(UUID_LEN)
            })
            // While the thread's locals are being destroyed: a block of one.
            .unwrap_or_else(|_| id_block(1));
        RequestId(HeaderValue::from_maybe_shared(text).expect("a UUID is a valid header value"))
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

/// A handler's request ID: `async fn handler(id: RequestId)`. It is the [`current_request_id`], so it is
/// there when the handler runs under [`HttpMetricsLayer`]; elsewhere extraction fails with a 500 that
/// says the layer is missing (a wiring mistake, as with a missing `Extension`).
impl<S: Sync> FromRequestParts<S> for RequestId {
    type Rejection = MissingRequestId;

    fn from_request_parts(
        _parts: &mut Parts,
        _state: &S,
    ) -> impl Future<Output = Result<Self, MissingRequestId>> + Send {
        // Read now: extraction runs inside the handler's future, which the layer polls with the ID current.
        std::future::ready(current_request_id().ok_or(MissingRequestId))
    }
}

/// The rejection of the [`RequestId`] extractor outside [`HttpMetricsLayer`]: a 500, since it is a
/// mistake in the service's wiring, not in the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MissingRequestId;

impl fmt::Display for MissingRequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no request ID: the route is not wrapped by HttpMetricsLayer")
    }
}

impl std::error::Error for MissingRequestId {}

impl IntoResponse for MissingRequestId {
    fn into_response(self) -> Response<Body> {
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

/// The length of a hyphenated UUID.
const UUID_LEN: usize = 36;

/// How many generated IDs share one allocation (2,304 bytes of text).
const IDS_PER_BLOCK: usize = 64;

/// The text of `count` fresh IDs, back to back, in one shared buffer: each ID is a reference-counted slice
/// of it, so generating one costs no allocation, and the buffer is freed with the last of its IDs.
fn id_block(count: usize) -> Bytes {
    let mut text = Vec::with_capacity(count * UUID_LEN);
    // During thread teardown the source may be gone: a fresh one then, still unique with probability
    // 1 - 2^-60 per pair of sources.
    let mut source = ID_SOURCE
        .try_with(Cell::get)
        .ok()
        .flatten()
        .unwrap_or_else(IdSource::seeded);
    for _ in 0..count {
        let uuid = uuid::Builder::from_random_bytes(source.next().to_be_bytes()).into_uuid();
        text.extend_from_slice(&hyphenated(uuid.as_u128()));
    }
    let _ = ID_SOURCE.try_with(|cell| cell.set(Some(source)));
    Bytes::from(text)
}

/// The low 62 bits: what a UUID v4's second half keeps once its variant bits are set.
const LOW_62: u64 = (1 << 62) - 1;

/// Where a thread's generated IDs come from: 128 random bits drawn once per thread (uuid's `fast-rng`,
/// seeded from the OS), and a counter.
///
/// The first half of every ID is the thread's random half; the second is the counter, masked to the 62 bits
/// a UUID v4 keeps there, XORed with the thread's random key and passed through [`mix62`], a bijection. So
/// the IDs of one thread never repeat (for 2^62 requests), two threads share a first half with probability
/// 2^-60, and successive IDs do not read as a sequence in logs. Unique, not secret: an ID is echoed to the
/// client and logged, and must never authorize anything.
#[derive(Clone, Copy)]
struct IdSource {
    high: u64,
    key: u64,
    count: u64,
}

impl IdSource {
    fn seeded() -> Self {
        let (high, key) = uuid::Uuid::new_v4().as_u64_pair();
        IdSource {
            high,
            key: key & LOW_62,
            count: 0,
        }
    }

    fn next(&mut self) -> u128 {
        let low = mix62(self.count ^ self.key);
        self.count = (self.count + 1) & LOW_62;
        (u128::from(self.high) << 64) | u128::from(low)
    }
}

/// A bijection of `0..2^62` onto itself that scatters neighbouring inputs: odd multipliers are invertible
/// modulo 2^62, and so is each xorshift of a 62-bit value.
fn mix62(mut x: u64) -> u64 {
    x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15) & LOW_62;
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9) & LOW_62;
    x ^ (x >> 29)
}

/// `uuid` as lowercase hyphenated text (8-4-4-4-12 hex digits), as `Uuid::hyphenated` writes it but
/// without a loop over the digits.
fn hyphenated(uuid: u128) -> [u8; UUID_LEN] {
    let high = hex_digits((uuid >> 64) as u64);
    let low = hex_digits(uuid as u64);
    let mut text = [b'-'; UUID_LEN];
    text[..8].copy_from_slice(&high[..8]);
    text[9..13].copy_from_slice(&high[8..12]);
    text[14..18].copy_from_slice(&high[12..]);
    text[19..23].copy_from_slice(&low[..4]);
    text[24..].copy_from_slice(&low[4..]);
    text
}

/// The 16 lowercase hex digits of `word`, most significant first, computed on all digits at once.
fn hex_digits(word: u64) -> [u8; 16] {
    const BYTES: u128 = u128::from_ne_bytes([1; 16]);
    // Spread the nibbles out, one per byte, keeping their order: halves, then quarters, and so on.
    let mut x = u128::from(word);
    x = (x | x << 32) & 0x0000_0000_ffff_ffff_0000_0000_ffff_ffff;
    x = (x | x << 16) & 0x0000_ffff_0000_ffff_0000_ffff_0000_ffff;
    x = (x | x << 8) & 0x00ff_00ff_00ff_00ff_00ff_00ff_00ff_00ff;
    x = (x | x << 4) & 0x0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0f;
    // A byte holding 10 to 15 reaches 16 once 6 is added: those are the digits written as letters, which
    // start `b'a' - b'0' - 10` further than the others. No byte ever carries into the next.
    let letters = ((x + 6 * BYTES) >> 4) & BYTES;
    (x + u128::from(b'0') * BYTES + letters * u128::from(b'a' - b'0' - 10)).to_be_bytes()
}

thread_local! {
    /// Plain `Copy` state without a destructor, so every access after the first is a load and a store.
    static ID_SOURCE: Cell<Option<IdSource>> = const { Cell::new(None) };

    /// The text of the IDs this thread generated ahead (see [`id_block`]), not yet handed out.
    static ID_BLOCK: RefCell<Bytes> = const { RefCell::new(Bytes::new()) };

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
            endpoint: Arc::new(Endpoint {
                recorder: Arc::clone(&self.recorder),
                route: OnceLock::new(),
            }),
        }
    }
}

/// The service [`HttpMetricsLayer`] wraps around each route.
#[derive(Clone)]
pub struct HttpMetrics<S> {
    inner: S,
    endpoint: Arc<Endpoint>,
}

/// What the requests through one wrapped service share: the recorder, and the route template the service
/// serves. axum wraps each route's endpoint separately and hands every request of a route the same
/// `Arc<str>` as its [`MatchedPath`], so the template is learnt from the first request, with its text
/// [pinned](crate::pin): later requests point at it instead of holding a reference-counted clone each,
/// and the recorder's open `route` label finds the pinned text by position, with one load.
struct Endpoint {
    recorder: Arc<dyn HttpRecorder>,
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
            endpoint: Arc::clone(&self.endpoint),
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
    endpoint: Arc<Endpoint>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_text_is_uuid_formatting() {
        let samples = [0, u128::MAX, 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210]
            .into_iter()
            .chain((0..128).map(|shift| 1 << shift))
            .chain((0..1000).map(|_| uuid::Uuid::new_v4().as_u128()));
        for bits in samples {
            let expected = uuid::Uuid::from_u128(bits).hyphenated().to_string();
            assert_eq!(hyphenated(bits), expected.as_bytes(), "{bits:#x}");
        }
    }

    #[test]
    fn generated_ids_are_distinct_uuid_v4s() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100_000 {
            let id = RequestId::generate();
            let uuid = uuid::Uuid::parse_str(id.as_str()).expect("a UUID");
            assert_eq!(uuid.get_version_num(), 4);
            assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122);
            assert!(seen.insert(uuid), "{id} repeated");
        }
    }

    #[test]
    fn the_counter_mix_is_injective_at_both_ends_of_its_range() {
        let mut seen = std::collections::HashSet::new();
        for count in (0..100_000).chain(LOW_62 - 100_000..=LOW_62) {
            let low = mix62(count);
            assert!(low <= LOW_62, "{count}");
            assert!(seen.insert(low), "{count} collides");
        }
    }
}
