//! Percentages as written: objectives and `budget_percent` are read from their exact decimal text in the
//! source, not from the float TOML gives (`99.99999999999999999` is not 100), and bounded in precision.

use super::*;

/// Most decimal places of an objective, in percent (`99.999999`: a budget of one in 10⁸ events).
///
/// Prometheus evaluates burn rates and error ratios in float64, which carries about 16 significant digits;
/// the error ratio of a window is a quotient of two float64 rates, and the budget `1 - objective/100` is
/// compared against it. Up to 6 decimal places of a percent the budget keeps at least 8 significant digits
/// of that precision, so rules, rule tests and Prometheus agree on when an alert fires; beyond it they
/// would disagree by rounding. This also bounds the exact arithmetic (see [`Exact`]).
pub(super) const MAX_OBJECTIVE_DECIMALS: usize = 6;

/// Most decimal places of a `budget_percent` (`0.001`: a thousandth of a percent of the budget).
///
/// The burn-rate factor is `budget_percent / 100 × SLO window / long window`; with the objective's bound this
/// keeps every threshold within what float64 evaluation in Prometheus reproduces exactly enough, and the
/// exact arithmetic far from overflow.
pub(super) const MAX_BUDGET_PERCENT_DECIMALS: usize = 3;

/// Which percentage is read, for messages and bounds.
#[derive(Clone, Copy)]
pub(super) enum Percent {
    /// An SLO or tier objective: above 0, below 100.
    Objective,
    /// A burn-rate row's share of the budget: above 0, at most 100.
    BudgetPercent,
}

impl Percent {
    fn key(self) -> &'static str {
        match self {
            Percent::Objective => "objective",
            Percent::BudgetPercent => "budget_percent",
        }
    }

    fn max_decimals(self) -> usize {
        match self {
            Percent::Objective => MAX_OBJECTIVE_DECIMALS,
            Percent::BudgetPercent => MAX_BUDGET_PERCENT_DECIMALS,
        }
    }
}

/// A plain decimal split into its significant parts: no sign, no leading zeros, no trailing fraction zeros.
struct Decimal<'t> {
    int: &'t str,
    frac: &'t str,
}

impl<'t> Decimal<'t> {
    fn parse(text: &'t str) -> Option<Decimal<'t>> {
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty()
            || !digits(int)
            || !digits(frac)
            || (text.contains('.') && frac.is_empty())
        {
            return None;
        }
        Some(Decimal {
            int: int.trim_start_matches('0'),
            frac: frac.trim_end_matches('0'),
        })
    }

    fn is_zero(&self) -> bool {
        self.int.is_empty() && self.frac.is_empty()
    }

    /// Compared with 100: below, equal or above.
    fn cmp_hundred(&self) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        match self.int.len().cmp(&3) {
            Less => Less,
            Greater => Greater,
            Equal if self.int == "100" && self.frac.is_empty() => Equal,
            Equal => {
                if self.int < "100" {
                    Less
                } else {
                    Greater
                }
            }
        }
    }
}

impl Lowering<'_> {
    /// Reads a percentage from its source text and checks its range and precision; `None` after reporting.
    pub(super) fn percent(
        &mut self,
        file: usize,
        number: &Spanned<f64>,
        what: Percent,
    ) -> Option<Exact> {
        let key = what.key();
        let written = self.files[file]
            .text
            .get(number.span())
            .unwrap_or_default()
            .replace('_', "");
        let written = written.trim_start_matches('+');
        // An exponent (`9.99e1`) is read through its float, which prints as the shortest plain decimal.
        let shortest = format!("{}", number.get_ref());
        let text = if Decimal::parse(written).is_some() {
            written
        } else {
            shortest.as_str()
        };
        let range = match what {
            Percent::Objective => "(0, 100)",
            Percent::BudgetPercent => "(0, 100]",
        };
        let in_range = Decimal::parse(text).filter(|d| {
            !d.is_zero()
                && match what {
                    Percent::Objective => d.cmp_hundred().is_lt(),
                    Percent::BudgetPercent => d.cmp_hundred().is_le(),
                }
        });
        let Some(decimal) = in_range else {
            let (label, hint) = match what {
                Percent::Objective => ("objective in percent", "write the objective as a percentage strictly between 0 and 100, e.g. `99.9`"),
                Percent::BudgetPercent => ("share of the SLO window's error budget", "write the percent of the budget spent when the alert fires at its factor, e.g. `2` for a fast page or `10` for a ticket"),
            };
            let shown = if text.len() > 40 { &shortest } else { text };
            let message = match what {
                Percent::Objective => format!("objective {shown} is outside {range}"),
                Percent::BudgetPercent => format!("`budget_percent` {shown} is outside {range}"),
            };
            self.error(file, number.span(), message, label, hint);
            return None;
        };
        let max = what.max_decimals();
        if decimal.frac.len() > max {
            self.error(
                file,
                number.span(),
                format!(
                    "`{key}` {text} has {} decimal places, more than the {max} slogen supports",
                    decimal.frac.len()
                ),
                "too precise",
                format!(
                    "Prometheus evaluates error ratios and burn rates in float64 (about 16 significant digits); \
                     with more than {max} decimal places the alerts would fire at rounding noise. Round it to \
                     {max} decimal places or fewer{}",
                    match what {
                        Percent::Objective => ", e.g. `99.9999`",
                        Percent::BudgetPercent => ", e.g. `0.5`",
                    }
                ),
            );
            return None;
        }
        let int = if decimal.int.is_empty() {
            "0"
        } else {
            decimal.int
        };
        let exact = if decimal.frac.is_empty() {
            Exact::parse_decimal(int)
        } else {
            Exact::parse_decimal(&format!("{int}.{}", decimal.frac))
        };
        Some(
            exact.unwrap_or_else(|| {
                panic!("model invariant: a bounded decimal {text} parses exactly")
            }),
        )
    }
}
