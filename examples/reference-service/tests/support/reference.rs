//! The reference service as the end-to-end tests see it: its model as the generator lowers it, the rules
//! generated for it, and the service itself on a loopback port against real PostgreSQL and Redis.
//!
//! Include it with `#[path = "support/reference.rs"] mod reference;` next to `mod services;`
//! (`support/services.rs`), which starts the stores and names the test data.

// Each test binary compiles its own copy and uses only part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use promql_parser::parser::VectorSelector;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use slogen::model::Service;
use slogen_reference_service::{app, AppState, Settings};
use tempfile::TempDir;
use tokio::net::TcpListener;

use crate::services::unique_name;

/// The repository root, where `slos/` and `generated/` live.
#[allow(dead_code, reason = "e2e_vmalert reads nothing from the repository")]
pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the example sits two levels below the repository root")
}

/// The `backend` service of the spec directory `dir`, as the generator models it: what the reference service
/// must expose. A spec that does not lower fails with the diagnostics a user would see.
pub fn backend(dir: &Path) -> Service {
    let files = slogen::load::spec_dir(dir)
        .unwrap_or_else(|error| panic!("read {}: {error:#}", dir.display()));
    let model = slogen::model::lower(&files).unwrap_or_else(|problems| {
        panic!(
            "{} does not lower:\n{}",
            dir.display(),
            slogen::diagnostics::render(&files, &problems)
        )
    });
    model
        .services
        .into_iter()
        .find(|service| service.name == "backend")
        .unwrap_or_else(|| panic!("{} declares no `backend` service", dir.display()))
}

/// Every rule of the rules file `yaml` as its record or alert name and its expression, in file order.
pub fn rule_exprs(yaml: &str) -> Vec<(String, String)> {
    let rules: serde_norway::Value = serde_norway::from_str(yaml).expect("the rules are YAML");
    let mut exprs = Vec::new();
    for group in rules["groups"].as_sequence().expect("rule groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            let name = rule["record"]
                .as_str()
                .or_else(|| rule["alert"].as_str())
                .expect("a rule records or alerts");
            let expr = rule["expr"].as_str().expect("a rule has an expr");
            exprs.push((name.to_owned(), expr.to_owned()));
        }
    }
    exprs
}

/// Whether `selector` selects the service's series: it matches every label of the service selector, so a
/// query with it reads what the service exposes.
pub fn selects_service(selector: &VectorSelector, service: &Service) -> bool {
    service.selector.iter().all(|(label, value)| {
        selector
            .matchers
            .matchers
            .iter()
            .any(|matcher| &matcher.name == label && matcher.is_match(value))
    })
}

/// The reference service on a loopback port, served by a task of the test's runtime.
pub struct Running {
    /// Where it listens.
    pub address: SocketAddr,
    /// A client for requests the helpers below do not shape, such as ones with extra headers.
    pub client: reqwest::Client,
    /// Its scratch directory, which holds the slow-query log `slow.log`.
    pub dir: TempDir,
}

impl Running {
    /// Starts the service against PostgreSQL at `database_url` and Redis at `redis_url`, logging slow queries
    /// to `slow.log` in its scratch directory; `vars` set the rest of its configuration (`APP_ENV` at least).
    pub async fn start(
        database_url: &str,
        redis_url: &str,
        vars: &[(&'static str, String)],
    ) -> Self {
        let dir = tempfile::tempdir().expect("create a scratch directory");
        let mut all: BTreeMap<&str, String> = BTreeMap::from([
            ("DATABASE_URL", database_url.to_owned()),
            ("REDIS_URL", redis_url.to_owned()),
            (
                "SLOW_QUERY_LOG_FILE",
                dir.path().join("slow.log").display().to_string(),
            ),
        ]);
        all.extend(vars.iter().cloned());
        let settings = Settings::from_vars(|name| all.get(name).cloned()).expect("valid settings");
        let state = Arc::new(
            AppState::connect(&settings)
                .await
                .expect("the service starts"),
        );
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the service");
        let address = listener.local_addr().expect("the service's address");
        tokio::spawn(async move { axum::serve(listener, app(state)).await });
        Running {
            address,
            client: reqwest::Client::new(),
            dir,
        }
    }

    /// The URL of `path` on the service.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Sends a request, with `body` as JSON if given; returns the status and the JSON answer (`null` when the
    /// body is not JSON).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the service answers");
        let status = response.status();
        let text = response.text().await.expect("read the body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Posts `body` as JSON to `path`.
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    /// Creates a user named `name`, with an e-mail address no other test uses, and returns its id.
    pub async fn create_user(&self, name: &str) -> i64 {
        let (status, user) = self
            .post(
                "/users",
                json!({"name": name, "email": format!("{}@example.com", unique_name(name))}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        user["id"].as_i64().expect("a user id")
    }
}
