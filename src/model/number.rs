//! Exact non-negative rationals, so thresholds print as `0.0144` and never `0.014400000000000001`.
//!
//! See [`Exact`] for details.

use std::fmt;
use std::ops::{Add, Div, Mul};

/// A non-negative rational number kept exact through the burn-rate arithmetic.
///
/// Objectives come in as decimals (`99.95`), shares and windows as small integers, so every number the
/// generator prints is a finite decimal or, when a division does not terminate (28-day windows), is rounded
/// once, at printing, to 12 significant digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exact {
    num: u128,
    den: u128,
}

/// Panics on an arithmetic overflow: the model bounds every input (objective and `budget_percent` digits,
/// window lengths, burn-rate thresholds) so that no exact computation comes near `u128`, and a result that
/// silently wrapped would print a wrong threshold into the rules.
#[track_caller]
fn overflow() -> ! {
    panic!(
        "model invariant: exact arithmetic overflowed u128; the input bounds checked at lowering should \
         make this impossible"
    )
}

/// `a * b`, or the invariant panic.
#[track_caller]
fn mul(a: u128, b: u128) -> u128 {
    a.checked_mul(b).unwrap_or_else(|| overflow())
}

const fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

impl Exact {
    /// `num / den`, reduced. `den` must not be zero.
    pub const fn new(num: u128, den: u128) -> Exact {
        assert!(den != 0, "zero denominator");
        let g = gcd(num, den);
        if g == 0 {
            return Exact { num: 0, den: 1 };
        }
        Exact {
            num: num / g,
            den: den / g,
        }
    }

    /// A whole number.
    pub const fn int(n: u64) -> Exact {
        Exact::new(n as u128, 1)
    }

    /// The decimal a float was written as: `99.95` is 9995/100, not the nearest binary fraction.
    ///
    /// Returns `None` for negative, non-finite or over-long values.
    pub fn from_f64(value: f64) -> Option<Exact> {
        if !value.is_finite() || value < 0.0 {
            return None;
        }
        Exact::parse_decimal(&format!("{value}"))
    }

    /// Parses a plain decimal such as `99.95` or `14`.
    pub fn parse_decimal(text: &str) -> Option<Exact> {
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        if int.is_empty()
            || frac.len() > 18
            || !(int.chars().chain(frac.chars())).all(|c| c.is_ascii_digit())
        {
            return None;
        }
        let digits: u128 = format!("{int}{frac}").parse().ok()?;
        Some(Exact::new(digits, 10u128.pow(frac.len() as u32)))
    }

    /// `self - other`, or `None` when that would be negative.
    pub fn checked_sub(self, other: Exact) -> Option<Exact> {
        let left = self.num.checked_mul(other.den)?;
        let right = other.num.checked_mul(self.den)?;
        Some(Exact::new(
            left.checked_sub(right)?,
            mul(self.den, other.den),
        ))
    }

    /// The largest whole number not above the value.
    pub fn floor(self) -> u128 {
        self.num / self.den
    }

    /// True for zero.
    pub fn is_zero(self) -> bool {
        self.num == 0
    }

    /// Compares two values exactly.
    pub fn cmp_value(self, other: Exact) -> std::cmp::Ordering {
        mul(self.num, other.den).cmp(&mul(other.num, self.den))
    }

    /// `num/den` in lowest terms (`14/15`), or the whole number: the exact value where a decimal would be
    /// rounded, for formats that carry it as text (OpenSLO annotations).
    pub fn fraction(self) -> String {
        if self.den == 1 {
            self.num.to_string()
        } else {
            format!("{}/{}", self.num, self.den)
        }
    }

    /// The nearest float, for templates that compute with it (never for printing thresholds).
    pub fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

/// The product; panics (never wraps) on an overflow, which the bounded inputs cannot reach.
impl Mul for Exact {
    type Output = Exact;

    fn mul(self, other: Exact) -> Exact {
        let g1 = gcd(self.num, other.den).max(1);
        let g2 = gcd(other.num, self.den).max(1);
        Exact::new(
            mul(self.num / g1, other.num / g2),
            mul(self.den / g2, other.den / g1),
        )
    }
}

/// The sum; panics (never wraps) on an overflow, which the bounded inputs cannot reach.
impl Add for Exact {
    type Output = Exact;

    fn add(self, other: Exact) -> Exact {
        let g = gcd(self.den, other.den).max(1);
        let num = mul(self.num, other.den / g)
            .checked_add(mul(other.num, self.den / g))
            .unwrap_or_else(|| overflow());
        Exact::new(num, mul(self.den / g, other.den))
    }
}

/// The quotient; `other` must not be zero. Panics (never wraps) on an overflow, like the product.
impl Div for Exact {
    type Output = Exact;

    fn div(self, other: Exact) -> Exact {
        let reciprocal = Exact::new(other.den, other.num);
        self.mul(reciprocal)
    }
}

/// Decimal digits kept when a quotient does not terminate.
const SIGNIFICANT_DIGITS: usize = 12;

impl fmt::Display for Exact {
    /// Prints the shortest exact decimal, or 12 significant digits when the decimal does not end.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let int = self.num / self.den;
        let mut rem = self.num % self.den;
        let mut frac = String::new();
        let int_digits = if int == 0 { 0 } else { int.to_string().len() };
        let mut significant = int_digits;
        let mut exact = true;
        while rem != 0 {
            if significant >= SIGNIFICANT_DIGITS && !frac.is_empty() {
                exact = false;
                break;
            }
            rem = mul(rem, 10);
            let digit = (rem / self.den) as u8;
            rem %= self.den;
            if significant > 0 || digit != 0 {
                significant += 1;
            }
            frac.push(char::from(b'0' + digit));
        }
        if !exact {
            return write!(
                f,
                "{}",
                round_decimal(int, &frac, mul(rem, 10) / self.den >= 5)
            );
        }
        if frac.is_empty() {
            write!(f, "{int}")
        } else {
            write!(f, "{int}.{frac}")
        }
    }
}

/// Rounds `int.frac` up by one unit in the last place when asked, and trims trailing zeros.
fn round_decimal(int: u128, frac: &str, round_up: bool) -> String {
    let mut digits: Vec<u8> = frac.bytes().map(|b| b - b'0').collect();
    let mut int = int;
    if round_up {
        let mut carry = true;
        for d in digits.iter_mut().rev() {
            if !carry {
                break;
            }
            if *d == 9 {
                *d = 0;
            } else {
                *d += 1;
                carry = false;
            }
        }
        if carry {
            int += 1;
        }
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }
    if digits.is_empty() {
        int.to_string()
    } else {
        let frac: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
        format!("{int}.{frac}")
    }
}

impl serde::Serialize for Exact {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use std::ops::{Add as _, Div as _, Mul as _};

    use super::Exact;

    fn show(e: Exact) -> String {
        e.to_string()
    }

    #[test]
    fn fractions_print_in_lowest_terms() {
        assert_eq!(Exact::new(28, 30).fraction(), "14/15");
        assert_eq!(Exact::int(6).fraction(), "6");
    }

    #[test]
    fn objectives_keep_their_decimal() {
        assert_eq!(show(Exact::from_f64(99.9).unwrap()), "99.9");
        assert_eq!(show(Exact::from_f64(99.95).unwrap()), "99.95");
        let ratio = Exact::from_f64(99.9).unwrap().div(Exact::int(100));
        assert_eq!(show(ratio), "0.999");
        let budget = Exact::int(1).checked_sub(ratio).unwrap();
        assert_eq!(show(budget), "0.001");
    }

    #[test]
    fn burn_rate_products_are_exact() {
        let budget = Exact::parse_decimal("0.001").unwrap();
        let factor = Exact::parse_decimal("0.02").unwrap().mul(Exact::int(720));
        assert_eq!(show(factor), "14.4");
        assert_eq!(show(factor.mul(budget)), "0.0144");
        let six = Exact::parse_decimal("0.05")
            .unwrap()
            .mul(Exact::int(720))
            .div(Exact::int(6));
        assert_eq!(show(six), "6");
    }

    #[test]
    fn non_terminating_quotients_round_to_twelve_digits() {
        let f = Exact::parse_decimal("0.1")
            .unwrap()
            .mul(Exact::int(672))
            .div(Exact::int(72));
        assert_eq!(show(f), "0.933333333333");
        assert_eq!(show(Exact::new(2, 3)), "0.666666666667");
        assert_eq!(show(Exact::new(1, 3).mul(Exact::int(3))), "1");
        assert_eq!(show(Exact::new(9_999_999_999_999, 10_000_000_000_000)), "1");
    }

    /// The extremes lowering lets through: objective with 6 decimal places, `budget_percent` with 3, windows
    /// of whole minutes up to 366 days; the burn-rate arithmetic of the model stays exact and in range.
    #[test]
    fn extreme_valid_inputs_do_not_overflow() {
        let year = Exact::int(366 * 86_400);
        for objective in ["99.999999", "0.000001", "12.345679", "99.999997"] {
            let ratio = Exact::parse_decimal(objective)
                .unwrap()
                .div(Exact::int(100));
            let budget = Exact::int(1).checked_sub(ratio).unwrap();
            for share in ["0.001", "33.333", "100", "0.007"] {
                let share = Exact::parse_decimal(share).unwrap().div(Exact::int(100));
                for long in [60, 420, 86_340, 366 * 86_400 - 60] {
                    let factor = share.mul(year).div(Exact::int(long));
                    let threshold = factor.mul(budget);
                    let fire = threshold.mul(Exact::int(long)).add(year);
                    let reset = Exact::int(1)
                        .checked_sub(threshold)
                        .unwrap_or(Exact::int(0))
                        .mul(Exact::int(long / 1440 + 60));
                    let minutes = year.div(Exact::int(60)).mul(budget);
                    for value in [factor, threshold, fire, reset, minutes] {
                        assert!(!value.to_string().is_empty());
                        let _ = value.cmp_value(threshold);
                        let _ = value.add(threshold);
                    }
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "model invariant: exact arithmetic overflowed")]
    fn overflow_panics_instead_of_wrapping() {
        let big = Exact::new(u128::MAX / 3, 1);
        let _ = big.mul(Exact::int(7));
    }

    #[test]
    #[should_panic(expected = "model invariant: exact arithmetic overflowed")]
    fn overflowing_sum_panics_instead_of_wrapping() {
        let _ = Exact::new(u128::MAX - 1, 1).add(Exact::int(2));
    }

    #[test]
    fn rejects_what_is_not_a_plain_decimal() {
        assert!(Exact::from_f64(-1.0).is_none());
        assert!(Exact::from_f64(f64::NAN).is_none());
        assert!(Exact::parse_decimal("1e5").is_none());
        assert!(Exact::parse_decimal(".5").is_none());
    }
}
