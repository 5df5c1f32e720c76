//! The fault switch of the development service: a share of API requests answered with 500, and added
//! latency, so alerts and dashboards can be watched reacting.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppResult, AppState, MAX_FAULT_LATENCY_MS};

/// The fault switch, as set through `POST /admin/faults`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSettings {
    /// Share of API requests answered with 500, from 0 to 1; every request whose rank crosses a multiple
    /// of `1 / error_ratio` fails, so N requests fail exactly `floor(N × error_ratio)` times.
    #[serde(default)]
    pub error_ratio: f64,
    /// Latency added to every API request, in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
}

/// The live fault switch. The ratio is kept in parts per million so the failure pattern is exact integer
/// arithmetic.
#[derive(Debug, Default)]
pub(super) struct Faults {
    error_ppm: AtomicU64,
    latency_ms: AtomicU64,
    /// API requests seen since the switch was last set.
    seen: AtomicU64,
}

/// Parts per million: the unit of the stored ratio.
const PPM: u64 = 1_000_000;

impl Faults {
    fn set(&self, settings: FaultSettings) {
        self.error_ppm
            .store((settings.error_ratio * PPM as f64).round() as u64, Relaxed);
        self.latency_ms.store(settings.latency_ms, Relaxed);
        self.seen.store(0, Relaxed);
    }

    fn get(&self) -> FaultSettings {
        FaultSettings {
            error_ratio: self.error_ppm.load(Relaxed) as f64 / PPM as f64,
            latency_ms: self.latency_ms.load(Relaxed),
        }
    }

    /// Whether the next request fails: the `n`-th does when `floor(n × ratio)` goes up at `n`.
    fn next_fails(&self) -> bool {
        let ppm = self.error_ppm.load(Relaxed);
        if ppm == 0 {
            return false;
        }
        let n = self.seen.fetch_add(1, Relaxed) + 1;
        n * ppm / PPM > (n - 1) * ppm / PPM
    }
}

pub(super) async fn inject_faults(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let latency = state.faults.latency_ms.load(Relaxed);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if state.faults.next_fails() {
        return ApiError::InjectedFault.into_response();
    }
    next.run(request).await
}

pub(super) async fn faults(State(state): State<Arc<AppState>>) -> Json<FaultSettings> {
    Json(state.faults.get())
}

pub(super) async fn set_faults(
    State(state): State<Arc<AppState>>,
    Json(settings): Json<FaultSettings>,
) -> AppResult<Json<FaultSettings>> {
    if !(0.0..=1.0).contains(&settings.error_ratio) {
        return Err(ApiError::Invalid(
            "error_ratio must be between 0 and 1".to_owned(),
        ));
    }
    if settings.latency_ms > MAX_FAULT_LATENCY_MS {
        return Err(ApiError::Invalid(format!(
            "latency_ms must be at most {MAX_FAULT_LATENCY_MS}"
        )));
    }
    state.faults.set(settings);
    tracing::warn!(?settings, "fault switch set");
    Ok(Json(state.faults.get()))
}
