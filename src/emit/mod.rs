//! Emitters: one module per output, each reading only the [`Model`].
//!
//! Every output is a whole file's text with a trailing newline; [`emit_all`] returns them sorted by path so
//! that writing and checking are deterministic.

pub mod alertmanager;
pub mod deploy;
pub mod docs;
pub mod grafana;
pub mod prometheus;
pub mod rule_tests;
pub mod rust;
pub mod schema;
mod templates;
mod yaml;

use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;

use crate::conventions::{self, service_file};
use crate::model::Model;

/// One generated file: its path under the output directory and its full contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Path relative to the output directory, `/`-separated.
    pub path: String,
    /// File contents, LF line endings, one trailing newline.
    pub contents: String,
}

/// Every output for the model, sorted by path.
///
/// The rule tests are the costliest output (they replay the rules). A second thread emits them service by
/// service while this one writes the rest and then joins in, both taking the next service from one counter,
/// which keeps large specs within the generator's time budget on 2 cores.
pub fn emit_all(model: &Model) -> Result<Vec<Output>> {
    let next = AtomicUsize::new(0);
    let (rest, tests, more_tests) = std::thread::scope(|scope| {
        let helper = scope.spawn(|| rule_test_outputs(model, &next));
        let rest = other_outputs(model);
        let tests = rule_test_outputs(model, &next);
        let more_tests = helper
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (rest, tests, more_tests)
    });
    let mut out = rest?;
    out.extend(tests?);
    out.extend(more_tests?);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The `promtool test rules` files of the services this thread takes from `next`, one at a time.
fn rule_test_outputs(model: &Model, next: &AtomicUsize) -> Result<Vec<Output>> {
    let mut out = Vec::new();
    while let Some(service) = model.services.get(next.fetch_add(1, Ordering::Relaxed)) {
        for (name, contents) in rule_tests::emit(service)? {
            out.push(Output {
                path: service_file(&service.name, &name),
                contents,
            });
        }
    }
    Ok(out)
}

/// Every output except the rule tests.
fn other_outputs(model: &Model) -> Result<Vec<Output>> {
    let mut out = vec![
        Output {
            path: conventions::SCHEMA_FILE.into(),
            contents: schema::emit()?,
        },
        Output {
            path: conventions::DOCS_FILE.into(),
            contents: docs::index(model)?,
        },
    ];
    for service in &model.services {
        let dir = &service.name;
        out.push(Output {
            path: service_file(dir, conventions::METRICS_MODULE_FILE),
            contents: rust::emit(service)?,
        });
        out.push(Output {
            path: service_file(dir, conventions::RULES_FILE),
            contents: prometheus::emit(service)?,
        });
        let dashboard = grafana::emit(service)?;
        let o = &service.outputs;
        let deployed = [
            o.prometheus_rule.as_ref().map(|meta| {
                (
                    conventions::PROMETHEUS_RULE_FILE,
                    deploy::prometheus_rule(service, meta),
                )
            }),
            o.grafana_configmap.as_ref().map(|c| {
                (
                    conventions::GRAFANA_CONFIGMAP_FILE,
                    deploy::grafana_configmap(service, c, &dashboard),
                )
            }),
            o.grafana_operator.as_ref().map(|d| {
                (
                    conventions::GRAFANA_OPERATOR_FILE,
                    deploy::grafana_operator(service, d, &dashboard),
                )
            }),
            o.mimir
                .as_ref()
                .map(|m| (conventions::MIMIR_RULES_FILE, deploy::mimir(service, m))),
            o.thanos
                .as_ref()
                .map(|t| (conventions::THANOS_RULES_FILE, deploy::thanos(service, t))),
            o.alertmanager
                .then(|| (conventions::ALERTMANAGER_FILE, alertmanager::emit(service))),
        ];
        for (file, contents) in deployed.into_iter().flatten() {
            out.push(Output {
                path: service_file(dir, file),
                contents: contents?,
            });
        }
        out.push(Output {
            path: service_file(dir, conventions::DASHBOARD_FILE),
            contents: dashboard,
        });
        out.push(Output {
            path: service_file(dir, conventions::DOCS_FILE),
            contents: docs::service(model, service)?,
        });
    }
    Ok(out)
}
