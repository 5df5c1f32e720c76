//! Timing background jobs: every run is reported when it starts and when it ends, however it ends.
//!
//! [`run_job`] wraps one run; [`every`] spawns a task running a job periodically through it. A run that
//! returns `Err`, panics, or is cancelled (its future dropped, e.g. at shutdown) counts as a failure, so
//! `jobs_running` always comes back down and no failure goes unnoticed.

use std::any::Any;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pin_project_lite::pin_project;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::record::JobRecorder;

/// What a job returns, telling whether the run succeeded.
pub trait JobOutcome {
    /// Whether the run counts as a success.
    fn succeeded(&self) -> bool;
}

/// A job that returns nothing succeeds unless it panics.
impl JobOutcome for () {
    fn succeeded(&self) -> bool {
        true
    }
}

/// A job returning a `Result` succeeds when it returns `Ok`.
impl<T, E> JobOutcome for Result<T, E> {
    fn succeeded(&self) -> bool {
        self.is_ok()
    }
}

/// The error of a run that panicked: the panic was caught and counted as a failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobPanicked {
    /// The panic message, when the payload was a string.
    pub message: String,
}

impl fmt::Display for JobPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "job panicked: {}", self.message)
    }
}

impl Error for JobPanicked {}

/// Runs `job` once as a run of `name`, reporting its start and end to `recorder`.
///
/// Returns the job's output, or [`JobPanicked`] if it panicked: a panic is caught so one bad run does not
/// take a scheduler down, and it is logged with the job name.
pub async fn run_job<R, F>(recorder: &R, name: &str, job: F) -> Result<F::Output, JobPanicked>
where
    R: JobRecorder + ?Sized,
    F: Future,
    F::Output: JobOutcome,
{
    let mut run = Run::start(recorder, name);
    let output = CatchUnwind { job }.await;
    run.finish(matches!(&output, Ok(value) if value.succeeded()));
    if let Err(panicked) = &output {
        tracing::error!(job_name = name, "{panicked}");
    }
    output
}

/// Spawns a task that runs `job` through [`run_job`] right away, then every `period`.
///
/// Runs never overlap: a run longer than `period` delays the next one rather than piling up. Abort the
/// returned handle to stop the schedule (a run in progress is then recorded as a failure).
pub fn every<R, J, F>(
    recorder: Arc<R>,
    period: Duration,
    name: impl Into<String>,
    mut job: J,
) -> JoinHandle<()>
where
    R: JobRecorder + ?Sized,
    J: FnMut() -> F + Send + 'static,
    F: Future + Send + 'static,
    F::Output: JobOutcome + Send,
{
    let name = name.into();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            // The outcome is recorded (and a panic logged) by `run_job`; the schedule goes on either way.
            let _ = run_job(&*recorder, &name, job()).await;
        }
    })
}

/// A run in progress; dropping it unfinished reports a failure, so a cancelled run is not left running.
struct Run<'a, R: JobRecorder + ?Sized> {
    recorder: &'a R,
    name: &'a str,
    started: Instant,
    finished: bool,
}

impl<'a, R: JobRecorder + ?Sized> Run<'a, R> {
    fn start(recorder: &'a R, name: &'a str) -> Self {
        recorder.job_started(name);
        Run {
            recorder,
            name,
            started: Instant::now(),
            finished: false,
        }
    }

    fn finish(&mut self, success: bool) {
        if self.finished {
            return;
        }
        self.finished = true;
        // A clock before 1970 is a broken host; report the epoch rather than fail the run.
        let finished_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        self.recorder
            .job_finished(self.name, success, self.started.elapsed(), finished_at);
    }
}

impl<R: JobRecorder + ?Sized> Drop for Run<'_, R> {
    fn drop(&mut self) {
        self.finish(false);
    }
}

pin_project! {
    /// Polls a job, turning a panic during a poll into `Err(JobPanicked)`.
    struct CatchUnwind<F> {
        #[pin]
        job: F,
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, JobPanicked>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let job = self.project().job;
        // Unwind safety: after a panic the job is never polled again, only dropped, so no broken invariant
        // of its state can be observed.
        match catch_unwind(AssertUnwindSafe(|| job.poll(cx))) {
            Ok(poll) => poll.map(Ok),
            Err(payload) => Poll::Ready(Err(JobPanicked {
                message: panic_message(payload.as_ref()),
            })),
        }
    }
}

/// The text of a panic payload: `panic!` with a literal gives a `&str`, with formatting a `String`.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}
