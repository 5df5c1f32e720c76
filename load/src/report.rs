//! The result of a run: per-endpoint numbers, a verdict per SLO, and the table `slogen-load` prints.

use std::collections::BTreeMap;

use serde::Serialize;
use slogen::model::{Exact, Sli, Slo};

use crate::engine::{EndpointStats, RunResult};
use crate::plan::{status_matches, Plan};

/// Send lag, in milliseconds, above which the table warns that the generator fell behind.
const LAG_WORTH_NOTING_MS: f64 = 10.0;

/// The whole result: settings, per-endpoint numbers and one verdict per SLO. Field names are stable.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Target base URL.
    pub base_url: String,
    /// Service whose SLOs were checked.
    pub service: String,
    /// Arrival rate, requests per second.
    pub rate: u32,
    /// Measured phase, seconds.
    pub duration_s: f64,
    /// Warm-up phase, seconds.
    pub warmup_s: f64,
    /// Cap on measured requests.
    pub max_requests: Option<u64>,
    /// Per-request timeout, seconds.
    pub timeout_s: f64,
    /// Concurrency bound.
    pub max_in_flight: usize,
    /// What happens to a request due while `max_in_flight` are outstanding: always `dropped` (not sent).
    pub over_limit: &'static str,
    /// Per endpoint, in the order driven.
    pub endpoints: Vec<EndpointReport>,
    /// All endpoints together.
    pub overall: EndpointReport,
    /// The latest a measured request went out after its due time, in milliseconds: the generator's own
    /// delay, already counted in the latencies.
    pub max_send_lag_ms: f64,
    /// One entry per SLO of the service, in name order.
    pub slos: Vec<SloReport>,
    /// `met`, `missed`, or `nothing_measured`.
    pub verdict: Verdict,
}

/// Numbers for one endpoint (or `all`).
#[derive(Debug, Clone, Serialize)]
pub struct EndpointReport {
    /// `METHOD /path`, or `all`.
    pub endpoint: String,
    /// Requests due in the measured phase.
    pub scheduled: u64,
    /// Requests sent.
    pub sent: u64,
    /// Requests not sent because `max_in_flight` were outstanding.
    pub dropped: u64,
    /// Requests that got a response or failed.
    pub completed: u64,
    /// Failures plus 5xx responses.
    pub errors: u64,
    /// Responses by status code.
    pub statuses: BTreeMap<String, u64>,
    /// Requests that timed out.
    pub timeouts: u64,
    /// Requests that could not connect.
    pub connect_errors: u64,
    /// Requests that failed otherwise.
    pub other_errors: u64,
    /// Latency percentiles from the due time, `null` when nothing completed.
    pub latency_ms: Option<Latency>,
}

/// Latency percentiles in milliseconds (microsecond resolution, 3 significant digits).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

impl EndpointReport {
    pub(crate) fn new(name: String, s: &EndpointStats) -> EndpointReport {
        let ms = |micros: u64| micros as f64 / 1000.0;
        EndpointReport {
            endpoint: name,
            scheduled: s.scheduled,
            sent: s.sent,
            dropped: s.dropped,
            completed: s.completed(),
            errors: s.errors(),
            statuses: s
                .statuses
                .iter()
                .map(|(code, n)| (code.to_string(), *n))
                .collect(),
            timeouts: s.timeouts,
            connect_errors: s.connect_errors,
            other_errors: s.other_errors,
            latency_ms: (!s.latency.is_empty()).then(|| Latency {
                p50: ms(s.latency.value_at_quantile(0.50)),
                p95: ms(s.latency.value_at_quantile(0.95)),
                p99: ms(s.latency.value_at_quantile(0.99)),
                max: ms(s.latency.max()),
            }),
        }
    }
}

/// Whether the run kept its promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every measured SLO was met.
    Met,
    /// At least one measured SLO was missed.
    Missed,
    /// No SLO could be measured from the client.
    NothingMeasured,
}

/// The verdict on one SLO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SloStatus {
    /// The measured bad share is within the error budget ratio.
    Met,
    /// The measured bad share is above it.
    Missed,
    /// Not measurable from the client side.
    NotMeasured,
}

/// One SLO, judged on the run.
#[derive(Debug, Clone, Serialize)]
pub struct SloReport {
    /// SLO name.
    pub name: String,
    /// What it promises.
    pub description: String,
    /// `latency` or `ratio`.
    pub sli: &'static str,
    /// The verdict.
    pub status: SloStatus,
    /// Objective, percent, exact as written.
    pub objective_percent: String,
    /// Share of requests allowed to be bad: `1 - objective/100`, exact.
    pub allowed_bad_share: String,
    /// Latency threshold in seconds, for latency SLIs.
    pub threshold_s: Option<f64>,
    /// Endpoints counted.
    pub endpoints: Vec<String>,
    /// Bad requests.
    pub bad: Option<u64>,
    /// Requests counted.
    pub total: Option<u64>,
    /// `bad / total`.
    pub bad_share: Option<f64>,
    /// Why it was not measured.
    pub reason: Option<String>,
}

impl SloReport {
    pub(crate) fn judge(slo: &Slo, plan: &Plan, run: &RunResult) -> SloReport {
        let mut report = SloReport {
            name: slo.name.clone(),
            description: slo.description.clone(),
            sli: match slo.sli {
                Sli::Latency { .. } => "latency",
                Sli::Ratio { .. } => "ratio",
                Sli::Events { .. } => "events",
                Sli::Raw { .. } => "raw",
            },
            status: SloStatus::NotMeasured,
            objective_percent: slo.objective.to_string(),
            allowed_bad_share: slo.budget.ratio.to_string(),
            threshold_s: None,
            endpoints: Vec::new(),
            bad: None,
            total: None,
            bad_share: None,
            reason: None,
        };
        let (bad, total, endpoints): (u64, u64, Vec<usize>) = match plan {
            Plan::NotMeasured(reason) => {
                report.reason = Some(reason.clone());
                return report;
            }
            Plan::Latency {
                threshold,
                index,
                endpoints,
            } => {
                report.threshold_s = Some(threshold.as_secs_f64());
                let of = |i: &usize| &run.endpoints[*i];
                (
                    endpoints
                        .iter()
                        .map(|i| of(i).slower_than[*index] + of(i).unanswered())
                        .sum(),
                    endpoints.iter().map(|i| of(i).scheduled).sum(),
                    endpoints.clone(),
                )
            }
            Plan::Ratio {
                endpoints,
                total_status,
                error_status,
            } => {
                let (mut bad, mut total) = (0, 0);
                for (i, in_errors) in endpoints {
                    let s = &run.endpoints[*i];
                    let outcomes = s
                        .statuses
                        .iter()
                        .map(|(code, n)| (Some(*code), *n))
                        .chain([(None, s.unanswered())]);
                    for (code, n) in outcomes {
                        if total_status
                            .as_ref()
                            .is_none_or(|values| status_matches(values, code))
                        {
                            total += n;
                            if *in_errors && status_matches(error_status, code) {
                                bad += n;
                            }
                        }
                    }
                }
                (bad, total, endpoints.iter().map(|(i, _)| *i).collect())
            }
        };
        report.endpoints = endpoints
            .iter()
            .map(|i| run.endpoints[*i].endpoint.to_string())
            .collect();
        report.bad = Some(bad);
        report.total = Some(total);
        if total == 0 {
            report.reason = Some("no request was counted".to_string());
            return report;
        }
        report.bad_share = Some(bad as f64 / total as f64);
        let share = Exact::new(u128::from(bad), u128::from(total));
        report.status = if share.cmp_value(slo.budget.ratio).is_le() {
            SloStatus::Met
        } else {
            SloStatus::Missed
        };
        report
    }
}

impl Report {
    /// Process exit status: 1 when a measured SLO was missed, else 0.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.verdict == Verdict::Missed)
    }

    /// The report as pretty JSON, ending in a newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("the report serializes");
        text.push('\n');
        text
    }

    /// The report as aligned text tables: endpoints, then SLOs, then the verdict.
    pub fn to_table(&self) -> String {
        let mut out = format!(
            "{} ({}) at {} req/s for {}s after {}s warm-up, timeout {}s, at most {} in flight (more are dropped, not sent)\n\n",
            self.base_url,
            self.service,
            self.rate,
            self.duration_s,
            self.warmup_s,
            self.timeout_s,
            self.max_in_flight
        );
        let mut rows = vec![[
            "endpoint", "count", "sent", "dropped", "errors", "p50", "p95", "p99", "max",
        ]
        .map(String::from)
        .to_vec()];
        for e in self.endpoints.iter().chain([&self.overall]) {
            let lat = |f: fn(&Latency) -> f64| {
                e.latency_ms
                    .as_ref()
                    .map(|l| format!("{:.2} ms", f(l)))
                    .unwrap_or_else(|| "-".to_string())
            };
            rows.push(vec![
                e.endpoint.clone(),
                e.scheduled.to_string(),
                e.sent.to_string(),
                e.dropped.to_string(),
                e.errors.to_string(),
                lat(|l| l.p50),
                lat(|l| l.p95),
                lat(|l| l.p99),
                lat(|l| l.max),
            ]);
        }
        out.push_str(&align(&rows, 1));
        for e in &self.endpoints {
            let mut notes: Vec<String> = e
                .statuses
                .iter()
                .filter(|(code, _)| !code.starts_with('2'))
                .map(|(code, n)| format!("{n} answered {code}"))
                .collect();
            for (n, what) in [
                (e.timeouts, "timed out"),
                (e.connect_errors, "could not connect"),
                (e.other_errors, "failed otherwise"),
                (e.dropped, "dropped"),
            ] {
                if n > 0 {
                    notes.push(format!("{n} {what}"));
                }
            }
            if !notes.is_empty() {
                out.push_str(&format!("  {}: {}\n", e.endpoint, notes.join(", ")));
            }
        }
        if self.max_send_lag_ms >= LAG_WORTH_NOTING_MS {
            out.push_str(&format!(
                "  note: this machine sent some requests up to {:.2} ms after their due time; \
                 their latency counts from the due time\n",
                self.max_send_lag_ms
            ));
        }
        out.push('\n');
        let mut rows = vec![["SLO", "status", "bad", "allowed", "objective", "detail"]
            .map(String::from)
            .to_vec()];
        for s in &self.slos {
            let status = match s.status {
                SloStatus::Met => "met",
                SloStatus::Missed => "MISSED",
                SloStatus::NotMeasured => "not measured here",
            };
            let bad = match (s.bad, s.total, s.bad_share) {
                (Some(bad), Some(total), Some(share)) => {
                    format!("{bad}/{total} ({:.3}%)", share * 100.0)
                }
                _ => "-".to_string(),
            };
            let detail = match (&s.reason, s.threshold_s) {
                (Some(reason), _) => reason.clone(),
                (None, Some(t)) => format!("slower than {t}s or unanswered"),
                (None, None) => "error responses or unanswered".to_string(),
            };
            let measured = s.status != SloStatus::NotMeasured;
            rows.push(vec![
                s.name.clone(),
                status.to_string(),
                bad,
                if measured {
                    format!("{}%", percent(&s.allowed_bad_share))
                } else {
                    "-".to_string()
                },
                format!("{}%", s.objective_percent),
                detail,
            ]);
        }
        out.push_str(&align(&rows, 0));
        let measured: Vec<&SloReport> = self
            .slos
            .iter()
            .filter(|s| s.status != SloStatus::NotMeasured)
            .collect();
        let missed = measured
            .iter()
            .filter(|s| s.status == SloStatus::Missed)
            .count();
        out.push_str(&match self.verdict {
            Verdict::Met => format!("\nverdict: met ({} measured SLOs met)\n", measured.len()),
            Verdict::Missed => format!(
                "\nverdict: missed ({missed} of {} measured SLOs missed)\n",
                measured.len()
            ),
            Verdict::NothingMeasured => {
                "\nverdict: nothing measured (no SLO reads an HTTP server metric)\n".to_string()
            }
        });
        out
    }
}

/// An exact share (`0.0005`) as an exact percentage (`0.05`).
fn percent(share: &str) -> String {
    Exact::parse_decimal(share)
        .map(|e| (e * Exact::int(100)).to_string())
        .unwrap_or_else(|| share.to_string())
}

/// Left-aligns text columns two spaces apart; columns from `numeric_from` on are right-aligned.
fn align(rows: &[Vec<String>], numeric_from: usize) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|v| v.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, v)| {
                if numeric_from > 0 && c >= numeric_from {
                    format!("{v:>width$}", width = widths[c])
                } else if c + 1 == row.len() {
                    v.clone()
                } else {
                    format!("{v:<width$}", width = widths[c])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

pub(crate) fn format_ms(micros: u64) -> String {
    format!("{:.2} ms", micros as f64 / 1000.0)
}
