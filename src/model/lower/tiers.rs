//! Tiers: shared defaults for SLOs (objective, paging), and the spec version check.

use super::percent::Percent;
use super::*;

impl Lowering<'_> {
    pub(super) fn check_version(&mut self, file: usize, spec: &SpecFile) {
        if *spec.version.get_ref() != 1 {
            self.error(
                file,
                spec.version.span(),
                format!("unsupported spec version {}", spec.version.get_ref()),
                "this slogen reads version 1",
                "set `version = 1`",
            );
        }
    }

    pub(super) fn collect_tiers(&mut self, file: usize, spec: &SpecFile) {
        for (name, tier) in &spec.tiers {
            if let Some((first_file, first, _)) = self.tiers.get(name.get_ref()) {
                let (ff, fs) = (*first_file, first.clone());
                self.duplicate(file, name.span(), "tier", name.get_ref(), ff, fs);
                continue;
            }
            if !conventions::is_snake_case(name.get_ref()) {
                self.error(
                    file,
                    name.span(),
                    format!("invalid tier name `{}`", name.get_ref()),
                    "not snake_case",
                    "use lower-case letters, digits and single underscores, e.g. `best_effort`",
                );
            }
            let t = tier.get_ref();
            let Some(objective) = self.objective(file, &t.objective) else {
                self.broken_tiers.insert(name.get_ref().clone());
                continue;
            };
            self.tiers.insert(
                name.get_ref().clone(),
                (
                    file,
                    name.span(),
                    Tier {
                        name: name.get_ref().clone(),
                        description: t.description.clone(),
                        objective,
                        page: t.page.unwrap_or(true),
                        ticket: t.ticket.unwrap_or(true),
                        min_events: t.min_events,
                    },
                ),
            );
        }
    }

    /// An objective in percent, read exactly as written.
    pub(super) fn objective(&mut self, file: usize, objective: &Spanned<f64>) -> Option<Exact> {
        self.percent(file, objective, Percent::Objective)
    }

    pub(super) fn known_tier(&mut self, file: usize, tier: &Name) -> bool {
        if self.tiers.contains_key(tier.get_ref()) {
            return true;
        }
        if self.tiers_incomplete || self.broken_tiers.contains(tier.get_ref()) {
            return false;
        }
        let known: Vec<&str> = self.tiers.keys().map(String::as_str).collect();
        let hint = if known.is_empty() {
            "declare tiers in a `[tiers.<name>]` table (any file under slos/)".to_string()
        } else {
            format!("known tiers: {}", known.join(", "))
        };
        self.error(
            file,
            tier.span(),
            format!("unknown tier `{}`", tier.get_ref()),
            "no tier of that name",
            hint,
        );
        false
    }
}
