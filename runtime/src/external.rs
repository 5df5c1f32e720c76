//! Tracking calls to external APIs: latency, outcome and status class of every call, however it ends.
//!
//! Wrap the request future, keep the result:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use slogen_runtime::external::ExternalApiTracker;
//! # use slogen_reference_service::metrics::{Metrics, Provider};
//! # async fn charge(client: reqwest::Client, url: &str) -> Result<(), reqwest::Error> {
//! let tracker = ExternalApiTracker::new(Arc::new(Metrics::new()));
//! let response = tracker
//!     .track(Provider::Stripe, "create_charge", client.post(url).send())
//!     .await?;
//! # let _ = response; Ok(()) }
//! ```
//!
//! The clock starts at the first poll, when the request is actually sent, and stops when the future
//! completes. A call abandoned half-way (its future dropped, e.g. because the handler awaiting it was
//! cancelled) is still recorded, as an error without a response, so cancelled calls neither vanish from
//! the error ratio nor leave a hole in the latency histogram.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

use crate::record::{ExternalApiRecorder, Outcome};

/// What a finished call amounted to: how it ended, and the HTTP status when a response arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Classified {
    /// Ok, error or timeout.
    pub outcome: Outcome,
    /// The status of the response, `None` when the call failed before one arrived.
    pub status: Option<u16>,
}

/// The result of a call that can tell by itself how the call went, so [`ExternalApiTracker::track`] needs
/// no classifier. Other results go through [`ExternalApiTracker::track_with`] and a function such as
/// [`classify_result`].
pub trait ClassifyCall {
    /// How the call that produced `self` ended.
    fn classify(&self) -> Classified;
}

/// A `reqwest` send: a non-2xx response is an error (the provider refused or failed), a client-side
/// timeout is a timeout, and any other failure is an error with the status `reqwest` attached, if any.
impl ClassifyCall for Result<reqwest::Response, reqwest::Error> {
    fn classify(&self) -> Classified {
        match self {
            Ok(response) => answered(response.status()),
            Err(error) => failed(error),
        }
    }
}

/// A `reqwest` call whose body was read into an [`http::Response`], so the latency covers the whole
/// answer: classified like a plain send, a failure while reading the body being an error (or a timeout).
impl<B> ClassifyCall for Result<http::Response<B>, reqwest::Error> {
    fn classify(&self) -> Classified {
        match self {
            Ok(response) => answered(response.status()),
            Err(error) => failed(error),
        }
    }
}

/// A call bounded by [`ExternalApiTracker::track_with_timeout`]: the deadline passing is a timeout,
/// otherwise the inner result decides.
impl<T: ClassifyCall> ClassifyCall for Result<T, TimedOut> {
    fn classify(&self) -> Classified {
        match self {
            Ok(inner) => inner.classify(),
            Err(TimedOut { .. }) => Classified {
                outcome: Outcome::Timeout,
                status: None,
            },
        }
    }
}

/// A response arrived: a success when it is 2xx.
fn answered(status: http::StatusCode) -> Classified {
    Classified {
        outcome: if status.is_success() {
            Outcome::Ok
        } else {
            Outcome::Error
        },
        status: Some(status.as_u16()),
    }
}

/// `reqwest` failed: a timeout when its own timeout fired, an error otherwise, with the status `reqwest`
/// attached (after `error_for_status`), if any.
fn failed(error: &reqwest::Error) -> Classified {
    Classified {
        outcome: if error.is_timeout() {
            Outcome::Timeout
        } else {
            Outcome::Error
        },
        status: error.status().map(|status| status.as_u16()),
    }
}

/// The classifier [`ExternalApiTracker::track`] uses: the result's own [`ClassifyCall`] impl.
pub type Classifier<T> = fn(&T) -> Classified;

/// The future [`ExternalApiTracker::track_with_timeout`] returns.
pub type TrackedWithTimeout<'a, P, R, F> =
    Tracked<'a, P, R, Deadline<F>, Classifier<Result<<F as Future>::Output, TimedOut>>>;

/// Classifies any `Result` by its variant alone, for SDK calls that return their own types: `Ok` is a
/// success, `Err` an error, and neither carries a status.
pub fn classify_result<T, E>(result: &Result<T, E>) -> Classified {
    Classified {
        outcome: if result.is_ok() {
            Outcome::Ok
        } else {
            Outcome::Error
        },
        status: None,
    }
}

/// The error of a call that [`ExternalApiTracker::track_with_timeout`] gave up on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimedOut {
    /// The timeout that passed.
    pub after: Duration,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "external call timed out after {:?}", self.after)
    }
}

impl Error for TimedOut {}

/// Records every call to an external API through the service's [`ExternalApiRecorder`].
///
/// `P` is the service's provider type (the generated enum of its `provider` label), so a typo in a
/// provider name does not compile. Cloning shares the recorder.
pub struct ExternalApiTracker<P, R: ?Sized> {
    recorder: Arc<R>,
    provider: PhantomData<fn(P)>,
}

impl<P, R: ?Sized> Clone for ExternalApiTracker<P, R> {
    fn clone(&self) -> Self {
        ExternalApiTracker {
            recorder: Arc::clone(&self.recorder),
            provider: PhantomData,
        }
    }
}

impl<P, R: ?Sized> fmt::Debug for ExternalApiTracker<P, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalApiTracker").finish_non_exhaustive()
    }
}

impl<P: Copy, R: ExternalApiRecorder<P> + ?Sized> ExternalApiTracker<P, R> {
    /// A tracker reporting to `recorder`, usually the service's shared `Metrics`.
    pub fn new(recorder: Arc<R>) -> Self {
        ExternalApiTracker {
            recorder,
            provider: PhantomData,
        }
    }

    /// Runs `call` and records it as a call to `endpoint` of `provider`, returning its result unchanged.
    ///
    /// `endpoint` names the operation (`create_charge`), never a URL: it is an open label.
    pub fn track<'a, F>(
        &'a self,
        provider: P,
        endpoint: &'a str,
        call: F,
    ) -> Tracked<'a, P, R, F, Classifier<F::Output>>
    where
        F: Future,
        F::Output: ClassifyCall,
    {
        self.track_with(provider, endpoint, call, <F::Output>::classify)
    }

    /// Like [`track`](Self::track), for results that do not implement [`ClassifyCall`]: `classify` tells
    /// how the call went (e.g. [`classify_result`], or a closure reading an SDK's error kinds).
    pub fn track_with<'a, F, C>(
        &'a self,
        provider: P,
        endpoint: &'a str,
        call: F,
        classify: C,
    ) -> Tracked<'a, P, R, F, C>
    where
        F: Future,
        C: FnOnce(&F::Output) -> Classified,
    {
        Tracked {
            call,
            classify: Some(classify),
            pending: Pending {
                recorder: &*self.recorder,
                record: R::external_call,
                provider,
                endpoint,
                started: None,
            },
        }
    }

    /// Like [`track`](Self::track), giving up after `timeout`: the call is then dropped, recorded as a
    /// timeout, and the result is `Err(TimedOut)`.
    pub fn track_with_timeout<'a, F>(
        &'a self,
        provider: P,
        endpoint: &'a str,
        timeout: Duration,
        call: F,
    ) -> TrackedWithTimeout<'a, P, R, F>
    where
        F: Future,
        F::Output: ClassifyCall,
    {
        let call = Deadline {
            inner: tokio::time::timeout(timeout, call),
            after: timeout,
        };
        self.track(provider, endpoint, call)
    }
}

pin_project! {
    /// The future returned by [`ExternalApiTracker::track`] and its variants: the call's own output,
    /// recorded when it completes or when it is dropped unfinished.
    #[must_use = "futures do nothing unless awaited"]
    pub struct Tracked<'a, P: Copy, R: ?Sized, F, C> {
        #[pin]
        call: F,
        classify: Option<C>,
        pending: Pending<'a, P, R>,
    }
}

impl<P: Copy, R: ?Sized, F, C> fmt::Debug for Tracked<'_, P, R, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracked")
            .field("endpoint", &self.pending.endpoint)
            .field("started", &self.pending.started)
            .finish_non_exhaustive()
    }
}

impl<P, R, F, C> Future for Tracked<'_, P, R, F, C>
where
    P: Copy,
    R: ExternalApiRecorder<P> + ?Sized,
    F: Future,
    C: FnOnce(&F::Output) -> Classified,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        this.pending.started.get_or_insert_with(Instant::now);
        let output = std::task::ready!(this.call.poll(cx));
        let classify = this
            .classify
            .take()
            .expect("a tracked call is not polled after it completed");
        this.pending.finish(classify(&output));
        Poll::Ready(output)
    }
}

/// The signature of [`ExternalApiRecorder::external_call`], captured where the bound holds so that
/// `Drop`, which cannot add bounds, can still record.
type RecordFn<P, R> = fn(&R, P, &str, Outcome, Option<u16>, Duration);

/// The record of a call in progress; dropping it unfinished records the call as abandoned.
struct Pending<'a, P: Copy, R: ?Sized> {
    recorder: &'a R,
    record: RecordFn<P, R>,
    provider: P,
    endpoint: &'a str,
    /// Set at the first poll; `None` again once recorded, so a call is recorded exactly once.
    started: Option<Instant>,
}

impl<P: Copy, R: ?Sized> Pending<'_, P, R> {
    fn finish(&mut self, classified: Classified) {
        if let Some(started) = self.started.take() {
            (self.record)(
                self.recorder,
                self.provider,
                self.endpoint,
                classified.outcome,
                classified.status,
                started.elapsed(),
            );
        }
    }
}

/// A call dropped after it was sent and before it completed is an error without a response; one never
/// polled was never sent and is not recorded.
impl<P: Copy, R: ?Sized> Drop for Pending<'_, P, R> {
    fn drop(&mut self) {
        if let Some(started) = self.started.take() {
            (self.record)(
                self.recorder,
                self.provider,
                self.endpoint,
                Outcome::Error,
                None,
                started.elapsed(),
            );
        }
    }
}

pin_project! {
    /// A call bounded by a timeout, as [`ExternalApiTracker::track_with_timeout`] builds it.
    #[must_use = "futures do nothing unless awaited"]
    #[derive(Debug)]
    pub struct Deadline<F> {
        #[pin]
        inner: tokio::time::Timeout<F>,
        after: Duration,
    }
}

impl<F: Future> Future for Deadline<F> {
    type Output = Result<F::Output, TimedOut>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let after = *this.after;
        this.inner
            .poll(cx)
            .map(|result| result.map_err(|_| TimedOut { after }))
    }
}
