//! The `slogen.dev/` annotations that carry what OpenSLO has no field for, written by the export and read by
//! the import. Keys follow OpenSLO's rule for annotation keys (a DNS prefix, a name of at most 63 of
//! `[-._a-zA-Z0-9]`).

/// The slogen name of an object whose OpenSLO name had to be shortened.
pub const NAME: &str = "slogen.dev/name";
/// A description longer than OpenSLO's 1050 characters, whole.
pub const DESCRIPTION: &str = "slogen.dev/description";
/// Service: the spec file's name (`backend.toml`), so that imported files keep their names and generated
/// headers match.
pub const FILE: &str = "slogen.dev/file";
/// Service: the spec file's text without its SLOs, with [`SLOS_MARK`] where they were.
pub const SPEC: &str = "slogen.dev/spec";
/// Service: prefix of a spec file without a service (tiers, output defaults), followed by its file name.
const SHARED_PREFIX: &str = "slogen.dev/shared.";
/// SLO: the SLI as written (an inline TOML table: `{ ratio = { … } }`).
pub const SLI: &str = "slogen.dev/sli";
/// SLO: the rest of the SLO table OpenSLO has no field for (`tier`, `min_events`, `alerting` without
/// `page` and `ticket`), an inline TOML table.
pub const SLO: &str = "slogen.dev/slo";
/// SLO: its table as the spec file writes it (comments, key order), so that importing an SLO nobody edited
/// gives back its text, not a rendering of its values.
pub const SLO_TEXT: &str = "slogen.dev/slo-text";
/// SLO: the window when it is not whole minutes (OpenSLO's finest unit).
pub const WINDOW: &str = "slogen.dev/window";
/// Condition: the short window of the burn-rate pair.
pub const SHORT_WINDOW: &str = "slogen.dev/short-window";
/// Condition: the long window when it is not whole minutes.
pub const LONG_WINDOW: &str = "slogen.dev/long-window";
/// Condition: the `for` when it is not whole minutes.
pub const FOR: &str = "slogen.dev/for";
/// Condition: the share of the SLO window's budget, in percent, spent when the alert fires at its factor.
pub const BUDGET_PERCENT: &str = "slogen.dev/budget-percent";
/// Condition: the exact burn-rate factor as a fraction (`14/15`); `threshold` is its nearest float.
pub const FACTOR: &str = "slogen.dev/factor";
/// Condition: the events the long window needs before the alert fires (informative; the spec's
/// `min_events` travels in [`SLO`]).
pub const MIN_EVENTS: &str = "slogen.dev/min-events";

/// The line standing for the SLO tables in [`SPEC`].
pub const SLOS_MARK: &str =
    "# slogen.dev/slos: the SLOs of this file, from the OpenSLO SLO objects\n";

/// The start of the line standing for the SLO tables of a later run in [`SPEC`] (a file whose SLOs sit in
/// two places), followed by their names; [`SLOS_MARK`] stands for the first run and any SLO named nowhere.
const SLOS_HERE: &str = "# slogen.dev/slos-here:";

/// The line standing for the SLOs `names` in [`SPEC`].
pub fn slos_here(names: &[&str]) -> String {
    format!("{SLOS_HERE} {}\n", names.join(" "))
}

/// The SLO names of a [`slos_here`] line.
pub fn slos_here_names(line: &str) -> Option<Vec<&str>> {
    Some(line.strip_prefix(SLOS_HERE)?.split_whitespace().collect())
}

/// The spec's table of SLOs.
pub const SLOS_TABLE: &str = "slos";

/// Label with the owning team.
pub const TEAM_LABEL: &str = "team";
/// Label with the tier.
pub const TIER_LABEL: &str = "tier";

/// Keys of an SLO table that say how it is measured: one of them is the SLI.
const SLI_KEYS: [&str; 4] = ["ratio", "latency", "events", "raw"];
/// Keys of an SLO table that OpenSLO's own fields hold.
const HELD_KEYS: [&str; 3] = ["description", "objective", "window"];
/// Keys of `alerting` that the presence of page and ticket conditions says.
const HELD_ALERTING_KEYS: [&str; 2] = ["page", "ticket"];

/// The annotation key of a shared file, when its name fits an annotation name.
pub fn shared_file(file: &str) -> Option<String> {
    let name = format!("shared.{file}");
    let ok = name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        && name
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    ok.then(|| format!("{SHARED_PREFIX}{file}"))
}

/// The annotation key of the `n`th file, for a shared file whose name does not fit.
pub fn shared_file_numbered(n: usize) -> String {
    format!("{SHARED_PREFIX}{n}.toml")
}

/// The file name a shared-file annotation key stands for.
pub fn shared_file_name(key: &str) -> Option<&str> {
    key.strip_prefix(SHARED_PREFIX)
}

/// Splits an SLO table into its SLI (`{ ratio = … }`) and the rest OpenSLO has no field for, both as inline
/// TOML tables, `None` when empty.
pub fn split_slo_table(table: &toml::Table) -> (Option<String>, Option<String>) {
    let mut sli = toml::Table::new();
    let mut rest = toml::Table::new();
    for (k, v) in table {
        if SLI_KEYS.contains(&k.as_str()) {
            sli.insert(k.clone(), v.clone());
        } else if HELD_KEYS.contains(&k.as_str()) {
        } else if let (toml::Value::Table(alerting), "alerting") = (v, k.as_str()) {
            let kept: toml::Table = alerting
                .iter()
                .filter(|(k, _)| !HELD_ALERTING_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !kept.is_empty() {
                rest.insert(k.clone(), toml::Value::Table(kept));
            }
        } else {
            rest.insert(k.clone(), v.clone());
        }
    }
    let inline = |t: toml::Table| (!t.is_empty()).then(|| toml::Value::Table(t).to_string());
    (inline(sli), inline(rest))
}

/// Reads an inline TOML table written by [`split_slo_table`].
pub fn parse_inline(text: &str) -> Result<toml::Table, String> {
    let doc: toml::Table =
        toml::from_str(&format!("v = {text}")).map_err(|e| e.message().to_string())?;
    match doc.get("v") {
        Some(toml::Value::Table(t)) => Ok(t.clone()),
        _ => Err("not an inline table".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_slo_table_splits_into_its_sli_and_the_rest() {
        let table: toml::Table = toml::from_str(
            r#"
description = "d"
objective = 99.5
tier = "critical"
min_events = 50
[ratio]
errors = { metric = "x", match = { s = ["5xx"] } }
total = { metric = "x" }
[alerting]
page = false
runbook = "r"
"#,
        )
        .unwrap();
        let (sli, rest) = split_slo_table(&table);
        let sli = sli.unwrap();
        let rest = rest.unwrap();
        assert!(!sli.contains('\n'), "{sli}");
        assert_eq!(
            parse_inline(&sli).unwrap()["ratio"]["total"]["metric"].as_str(),
            Some("x")
        );
        let rest = parse_inline(&rest).unwrap();
        assert_eq!(rest["tier"].as_str(), Some("critical"));
        assert_eq!(rest["min_events"].as_integer(), Some(50));
        assert_eq!(rest["alerting"].as_table().unwrap().len(), 1);
        assert!(!rest.contains_key("objective") && !rest.contains_key("description"));
    }

    #[test]
    fn shared_file_keys_fit_annotation_names() {
        assert_eq!(
            shared_file("tiers.toml").as_deref(),
            Some("slogen.dev/shared.tiers.toml")
        );
        assert_eq!(shared_file("my tiers.toml"), None);
        assert_eq!(
            shared_file_name("slogen.dev/shared.tiers.toml"),
            Some("tiers.toml")
        );
    }
}
