//! `[dashboard]`: extra panels and row order.

use super::*;

impl Lowering<'_> {
    pub(super) fn lower_dashboard(
        &mut self,
        file: usize,
        declared: &Declared,
        spec: &SpecFile,
    ) -> Dashboard {
        let service = declared.service();
        let d = spec.dashboard.as_ref();
        let mut extra_panels = Vec::new();
        let panels = d.map(|d| d.panels.as_slice()).unwrap_or_default();
        for p in panels {
            if p.queries.get_ref().is_empty() {
                self.error(
                    file,
                    p.queries.span(),
                    format!("panel `{}` has no queries", p.title),
                    "empty",
                    "add at least one `{ expr = \"...\" }`",
                );
                continue;
            }
            let mut ok = true;
            for q in p.queries.get_ref() {
                ok &= self.promql(file, &q.expr, declared);
            }
            if ok {
                extra_panels.push(ExtraPanel {
                    title: p.title.clone(),
                    description: p.description.clone(),
                    row: p.row.clone(),
                    unit: p.unit.clone(),
                    queries: p
                        .queries
                        .get_ref()
                        .iter()
                        .map(|q| (q.expr.get_ref().trim().to_string(), q.legend.clone()))
                        .collect(),
                });
            }
        }
        // Rows in the order they first appear in the file, then the SLO row.
        let mut positioned: Vec<(usize, String)> = spec
            .metrics
            .iter()
            .map(|(n, m)| {
                (
                    n.span().start,
                    m.get_ref().row.clone().unwrap_or_else(|| "Metrics".into()),
                )
            })
            .collect();
        positioned.sort();
        let mut rows: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for row in positioned
            .into_iter()
            .map(|(_, r)| r)
            // Every panel's row, also a panel with errors: `row_order` may name it.
            .chain(panels.iter().map(|p| p.row.clone()))
        {
            if seen.insert(row.clone()) {
                rows.push(row);
            }
        }
        if !spec.slos.is_empty() && seen.insert(conventions::SLO_ROW.to_string()) {
            rows.push(conventions::SLO_ROW.to_string());
        }
        let mut row_order = Vec::new();
        let mut placed: HashSet<String> = HashSet::new();
        for r in d.map(|d| d.row_order.as_slice()).unwrap_or_default() {
            if seen.contains(r.get_ref()) {
                if placed.insert(r.get_ref().clone()) {
                    row_order.push(r.get_ref().clone());
                }
            } else {
                self.error(
                    file,
                    r.span(),
                    format!("unknown row `{}`", r.get_ref()),
                    "no panel is in this row",
                    format!("rows: {}", rows.join(", ")),
                );
            }
        }
        for r in rows {
            if placed.insert(r.clone()) {
                row_order.push(r);
            }
        }
        Dashboard {
            title: d
                .and_then(|d| d.title.clone())
                .unwrap_or_else(|| format!("{} service level", service.name)),
            row_order,
            extra_panels,
            rows: Vec::new(),
        }
    }
}
