//! Emitters: one module per output, each reading only the [`Model`].
//!
//! Every output is a whole file's text with a trailing newline; [`emit_all`] returns them sorted by path so
//! that writing and checking are deterministic.

pub mod docs;
pub mod grafana;
pub mod prometheus;
pub mod rule_tests;
pub mod rust;
pub mod schema;
mod templates;

use anyhow::Result;

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
pub fn emit_all(model: &Model) -> Result<Vec<Output>> {
    let mut out = vec![
        Output {
            path: "slogen.schema.json".into(),
            contents: schema::emit()?,
        },
        Output {
            path: "README.md".into(),
            contents: docs::index(model)?,
        },
    ];
    for service in &model.services {
        let dir = &service.name;
        out.push(Output {
            path: format!("{dir}/metrics.rs"),
            contents: rust::emit(service)?,
        });
        out.push(Output {
            path: format!("{dir}/rules.yml"),
            contents: prometheus::emit(service)?,
        });
        for (name, contents) in rule_tests::emit(service)? {
            out.push(Output {
                path: format!("{dir}/{name}"),
                contents,
            });
        }
        out.push(Output {
            path: format!("{dir}/dashboard.json"),
            contents: grafana::emit(service)?,
        });
        out.push(Output {
            path: format!("{dir}/README.md"),
            contents: docs::service(model, service)?,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}
