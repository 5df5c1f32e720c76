//! The markdown docs: rendered for the real specs, every valid fixture and an inline spec, then checked as
//! markdown (tables, links, anchors, whitespace) and, for the inline spec, against burn-rate numbers worked
//! out by hand.

mod common;
#[path = "common/inline.rs"]
mod inline;
#[path = "common/spec_dirs.rs"]
mod spec_dirs;

use std::collections::{BTreeMap, BTreeSet};

use slogen::emit::{docs, emit_all, Output};
use slogen::model::{promql, Model};

/// One service with a 99.9% / 30d ratio SLO, a latency SLO, both kinds of label and a threshold alert.
const INLINE_SPEC: &str = r#"
version = 1

[tiers.standard]
objective = 99.9
description = "Users notice | failures."

[tiers.quiet]
objective = 99.0
page = false
ticket = false

[service]
name = "shop"
tier = "standard"
team = "storefront"
description = "Sells things."
runbook_base_url = "https://runbooks.example.com/shop/"
selector = { job = "shop" }

[labels.status]
help = "Response class."
values = ["2xx", "5xx"]

[labels.route]
help = "Route template."
max_values = 30

[metrics.requests]
type = "counter"
help = "Requests served."
labels = ["status", "route"]

[metrics.request_duration]
type = "histogram"
help = "Time to serve a request."
unit = "seconds"
labels = ["route"]
buckets = [0.1, 0.5, 1]

[slos.availability]
description = "Requests succeed."
[slos.availability.ratio]
errors = { metric = "requests", match = { status = ["5xx"] } }
total = { metric = "requests" }

[slos.latency]
description = "Requests are fast."
objective = 99.0
[slos.latency.latency]
metric = "request_duration"
threshold = 0.5

[slos.silent]
description = "Checked on dashboards only."
tier = "quiet"
[slos.silent.ratio]
errors = { metric = "requests", match = { status = ["5xx"], route = ["/a", "/b"] } }
total = { metric = "requests", match = { route = ["/a", "/b"] } }

[alerts.ShopErrorsHigh]
expr = 'sum(rate(requests_total{job="shop", status="5xx"}[5m])) > 1 or vector(0) > 1'
for = "5m"
severity = "page"
summary = "Too many | errors."
description = "{{ $value }} errors per second."
runbook = "errors"
"#;

fn inline_model() -> Model {
    inline::lower(&[("shop.toml", INLINE_SPEC)])
}

/// GitHub's heading anchors: lower-case, punctuation other than `-` and `_` dropped, spaces to `-`, and a
/// `-1`, `-2`, … suffix on repeats.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    let mut in_code = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code || !line.starts_with('#') {
            continue;
        }
        let text = line.trim_start_matches('#').trim();
        let slug: String = text
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let n = seen.entry(slug.clone()).or_insert(0);
        out.insert(if *n == 0 {
            slug.clone()
        } else {
            format!("{slug}-{n}")
        });
        *n += 1;
    }
    out
}

/// Cells of a table row, split on pipes that are not escaped with a backslash.
fn cells(row: &str) -> Vec<String> {
    let inner = row
        .strip_prefix('|')
        .and_then(|r| r.strip_suffix('|'))
        .unwrap_or_else(|| panic!("table row must start and end with a pipe: {row}"));
    let mut out = vec![String::new()];
    let mut escaped = false;
    for c in inner.chars() {
        if c == '|' && !escaped {
            out.push(String::new());
        } else {
            out.last_mut().expect("a cell").push(c);
        }
        escaped = c == '\\' && !escaped;
    }
    out.into_iter().map(|c| c.trim().to_string()).collect()
}

/// Link targets `](target)` outside code blocks.
fn links(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let end = after
                .find(')')
                .unwrap_or_else(|| panic!("unclosed link: {line}"));
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    out
}

/// Joins `target` to the directory of `page`, both `/`-separated paths under the output directory.
fn resolve(page: &str, target: &str) -> String {
    let mut parts: Vec<&str> = page.split('/').collect();
    parts.pop();
    for segment in target.split('/') {
        match segment {
            ".." => {
                parts
                    .pop()
                    .expect("link does not leave the output directory");
            }
            "." | "" => {}
            s => parts.push(s),
        }
    }
    parts.join("/")
}

/// Checks one generated markdown page as GitHub renders it.
fn check_page(page: &Output, outputs: &BTreeMap<String, String>) {
    let text = &page.contents;
    let path = &page.path;
    assert!(
        text.starts_with("<!-- Generated by slogen from ")
            && text.lines().next().unwrap().ends_with(". Do not edit. -->"),
        "{path}: header"
    );
    assert!(
        text.ends_with('\n') && !text.ends_with("\n\n"),
        "{path}: one trailing newline"
    );
    assert!(!text.contains("\n\n\n"), "{path}: double blank line");
    assert!(!text.contains('\r'), "{path}: CR");
    for token in ["{{", "}}", "{%", "%}", "{#"] {
        assert!(
            !text.contains(token),
            "{path}: unrendered template syntax `{token}`"
        );
    }
    for (i, line) in text.lines().enumerate() {
        assert_eq!(
            line,
            line.trim_end(),
            "{path}:{}: trailing whitespace",
            i + 1
        );
    }

    let lines: Vec<&str> = text.lines().collect();
    let fences = lines.iter().filter(|l| l.starts_with("```")).count();
    assert_eq!(fences % 2, 0, "{path}: unbalanced code fences");

    let mut tables = 0;
    let mut i = 0;
    let mut in_code = false;
    while i < lines.len() {
        if lines[i].starts_with("```") {
            in_code = !in_code;
        }
        if in_code || !lines[i].starts_with('|') {
            i += 1;
            continue;
        }
        tables += 1;
        assert!(
            i > 0 && lines[i - 1].is_empty(),
            "{path}:{}: table must follow a blank line",
            i + 1
        );
        let header = cells(lines[i]);
        assert!(
            header.iter().all(|c| !c.is_empty()),
            "{path}:{}: empty header cell",
            i + 1
        );
        let separator = cells(lines.get(i + 1).copied().unwrap_or_default());
        assert_eq!(
            separator.len(),
            header.len(),
            "{path}:{}: separator width",
            i + 2
        );
        assert!(
            separator
                .iter()
                .all(|c| c == "---" || c == "---:" || c == ":---" || c == ":---:"),
            "{path}:{}: separator row {separator:?}",
            i + 2
        );
        i += 2;
        let mut rows = 0;
        while i < lines.len() && lines[i].starts_with('|') {
            let row = cells(lines[i]);
            assert_eq!(
                row.len(),
                header.len(),
                "{path}:{}: {} cells under {} headers",
                i + 1,
                row.len(),
                header.len()
            );
            assert!(
                row.iter().all(|c| !c.is_empty()),
                "{path}:{}: empty cell",
                i + 1
            );
            rows += 1;
            i += 1;
        }
        assert!(rows > 0, "{path}: table without rows");
        assert!(
            lines.get(i).is_none_or(|l| l.is_empty()),
            "{path}:{}: table must end with a blank line",
            i + 1
        );
    }
    assert!(tables > 0, "{path}: no tables");

    for target in links(text) {
        if target.starts_with("https://") || target.starts_with("http://") {
            continue;
        }
        let (file, fragment) = match target.split_once('#') {
            Some((file, fragment)) => (file, Some(fragment)),
            None => (target.as_str(), None),
        };
        let resolved = if file.is_empty() {
            path.clone()
        } else {
            resolve(path, file)
        };
        let contents = outputs.get(&resolved).unwrap_or_else(|| {
            panic!("{path}: link `{target}` points at {resolved}, which is not generated")
        });
        if let Some(fragment) = fragment {
            assert!(
                anchors(contents).contains(fragment),
                "{path}: link `{target}`: no heading with anchor `{fragment}` in {resolved}"
            );
        }
    }

    let mut in_promql = false;
    let mut query = String::new();
    for line in &lines {
        if *line == "```promql" {
            in_promql = true;
        } else if in_promql && *line == "```" {
            promql_parser::parser::parse(&query)
                .unwrap_or_else(|e| panic!("{path}: PromQL block does not parse: {e}\n{query}"));
            in_promql = false;
            query.clear();
        } else if in_promql {
            query.push_str(line);
            query.push('\n');
        }
    }
}

/// Renders every page of `model` and checks each, plus that the index links every service's outputs.
fn check_model(model: &Model) {
    let outputs = emit_all(model).expect("emit_all");
    let by_path: BTreeMap<String, String> = outputs
        .iter()
        .map(|o| (o.path.clone(), o.contents.clone()))
        .collect();
    let index = by_path.get("README.md").expect("index is generated");
    assert_eq!(index, &docs::index(model).expect("index renders"));
    let index_links: BTreeSet<String> = links(index).into_iter().collect();
    for service in &model.services {
        for file in ["README.md", "rules.yml", "dashboard.json", "metrics.rs"] {
            let target = format!("{}/{file}", service.name);
            assert!(
                index_links.contains(&target),
                "index does not link {target}"
            );
        }
        for slo in &service.slos {
            assert!(
                index.contains(&format!("`{}`", slo.name)),
                "index does not list SLO {}",
                slo.name
            );
        }
        let page = &by_path[&format!("{}/README.md", service.name)];
        assert_eq!(page, &docs::service(model, service).expect("page renders"));
        assert!(page.starts_with(&format!(
            "<!-- Generated by slogen from {}. Do not edit. -->\n",
            service.source
        )));
        for slo in &service.slos {
            let query = promql::sli_error_ratio(service, slo, slogen::model::rules::DISPLAY_WINDOW);
            assert!(
                page.contains(&format!("```promql\n{query}\n```")),
                "{}: SLI query of {}",
                service.name,
                slo.name
            );
            assert!(page.contains(&slogen::conventions::slo_absent_alert(
                &service.name,
                &slo.name
            )));
            assert!(page.contains(&slo.runbook_url));
            if !slo.burn_rate_alerts.is_empty() {
                assert!(page.contains(&format!("`{}`", slo.burn_alert)));
            }
        }
        for alert in &service.alerts {
            assert!(
                page.contains(&format!("```promql\n{}\n```", alert.expr)),
                "{}: expr of {}",
                service.name,
                alert.name
            );
        }
        for metric in &service.metrics {
            assert!(
                page.contains(&format!("| `{}` |", metric.sample_name())),
                "{}: metric {}",
                service.name,
                metric.name
            );
        }
    }
    for tier in &model.tiers {
        assert!(
            index.contains(&format!("| `{}` | {}% |", tier.name, tier.objective)),
            "tier {}",
            tier.name
        );
    }
    for output in outputs.iter().filter(|o| o.path.ends_with(".md")) {
        check_page(output, &by_path);
    }
    assert_eq!(
        emit_all(model).expect("emit_all again"),
        outputs,
        "output is deterministic"
    );
}

#[test]
fn docs_of_the_real_specs_and_every_valid_fixture_are_well_formed() {
    let dirs = spec_dirs::all();
    assert!(
        dirs.len() > 1,
        "expected fixtures under tests/fixtures/valid"
    );
    for (_, dir) in dirs {
        check_model(&common::lower(&dir));
    }
}

#[test]
fn inline_spec_docs_are_well_formed() {
    let model = inline_model();
    check_model(&model);
}

#[test]
fn budget_and_burn_rate_numbers_match_the_hand_computed_ones() {
    let model = inline_model();
    let service = &model.services[0];
    let page = docs::service(&model, service).expect("page renders");

    // 99.9% over 30 days: 0.1% of 43,200 minutes.
    assert!(page.contains(
        "| [`availability`](#slo-availability) | ratio | 99.9% | 30d | 43.2 min | 0.001 | `standard` |"
    ));
    assert!(page.contains(
        "- **Error budget:** 43.2 minutes (43 min 12 s) of full outage per window, or 1000 bad events per million"
    ));
    // Page over 1h: 2% of a 720 h budget in 1 h is a burn rate of 14.4, an error ratio of 0.0144; a full outage
    // crosses it after 0.0144 × 3600 s = 51.84 s, plus `for: 2m` = 171.84 s; a burn at exactly 14.4 fills the
    // long window in 1h, plus 2m; the 5m short window falls under 0.0144 after (1 − 0.0144) × 300 s = 295.68 s.
    assert!(page.contains(
        "| page | 1h | 5m | 14.4 | 2% | 0.0144 | 2m | 2 min 52 s | 1 h 2 min | 4 min 56 s |"
    ));
    // Page over 6h: 5% × 720 / 6 = 6, threshold 0.006; 0.006 × 21600 s + 900 s = 1029.6 s.
    assert!(page.contains(
        "| page | 6h | 30m | 6 | 5% | 0.006 | 15m | 17 min 10 s | 6 h 15 min | 29 min 49 s |"
    ));
    // Tickets: 10% × 720 / 24 = 3 and 10% × 720 / 72 = 1.
    assert!(
        page.contains("| ticket | 1d | 2h | 3 | 10% | 0.003 | 1h | 1 h 4 min | 1 d 1 h | 2 h |")
    );
    assert!(
        page.contains("| ticket | 3d | 6h | 1 | 10% | 0.001 | 3h | 3 h 4 min | 3 d 3 h | 6 h |")
    );
    assert!(page.contains("`ShopAvailabilityBudgetBurn` on budget burn"));
    assert!(page.contains("`ShopAvailabilitySliAbsent` when the SLI has no data"));
    assert!(page.contains("- **Runbook:** [https://runbooks.example.com/shop/availability](https://runbooks.example.com/shop/availability)"));

    // 99% over 30 days: 432 minutes; the 1h page threshold is 14.4 × 0.01.
    assert!(page.contains("| page | 1h | 5m | 14.4 | 2% | 0.144 |"));
    assert!(page.contains("the share of requests slower than 0.5 s among all requests, as counted by `request_duration_seconds`"));
    assert!(page.contains(
        "Bad events are `requests_total` with `status` = `5xx`; all events are `requests_total`."
    ));
    assert!(page.contains("with `route` in `/a`, `/b` and `status` = `5xx`"));

    // A tier that neither pages nor tickets still documents the absent-data alert.
    assert!(page.contains("This SLO has no burn-rate alerts"));
    assert!(page.contains("`ShopSilentSliAbsent` when the SLI has no data"));
    assert!(!page.contains("ShopSilentBudgetBurn"));

    // Pipes in free text are escaped inside tables, and the threshold alert links its own section.
    assert!(page.contains("| [`ShopErrorsHigh`](#alert-shoperrorshigh) | page | 5m | Too many \\| errors. | [runbook](https://runbooks.example.com/shop/errors) |"));
    assert!(page
        .contains("| `requests_total` | counter | — | `status`, `route` | — | Requests served. |"));
    assert!(page.contains("| `request_duration_seconds` | histogram | `seconds` | `route` | 0.1, 0.5, 1 | Time to serve a request. |"));
    assert!(page.contains("| `route` | open: at most 30 distinct values, later ones are recorded as `other` | Route template. |"));
    assert!(page.contains("| `status` | closed: `2xx`, `5xx` | Response class. |"));

    let index = docs::index(&model).expect("index renders");
    assert!(index.starts_with("<!-- Generated by slogen from slos/. Do not edit. -->\n"));
    assert!(index.contains("| [shop](shop/README.md) | [`availability`](shop/README.md#slo-availability) | ratio | 99.9% | 30d | 43.2 min | `standard` | page, ticket |"));
    assert!(index.contains("| [shop](shop/README.md) | [`silent`](shop/README.md#slo-silent) | ratio | 99% | 30d | 432 min | `quiet` | none |"));
    assert!(index.contains("| `standard` | 99.9% | yes | yes | Users notice \\| failures. |"));
    assert!(index.contains("| `quiet` | 99% | no | no | — |"));
}
