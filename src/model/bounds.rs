//! The `le` label texts a histogram bucket bound may be stored under.
//!
//! Prometheus 2 stores `le` as the client wrote it, and clients write floats differently (Go `1e+06`, Python
//! and Rust `1000000.0`, Java `1.0E6`, JavaScript `1000000`); Prometheus 3 normalises every bound on ingestion
//! to Go's shortest `%g` form with `.0` added to integers (`1.0`, `5e-05`, `1e+06`). A latency SLI matches
//! them all, so the same rules work on both majors and with any client.

/// Every text a bound may be stored as, sorted and without duplicates.
pub fn le_spellings(bound: f64) -> Vec<String> {
    let mut out = vec![
        prometheus3(bound),
        go(bound),
        plain(bound),
        python(bound),
        java(bound),
        javascript(bound),
        format!("{bound:?}"),
    ];
    if bound.fract() == 0.0 {
        out.push(format!("{}.0", plain(bound)));
    }
    out.sort();
    out.dedup();
    out
}

/// The form Prometheus 3 stores: Go's shortest `%g`, with `.0` when that looks like an integer.
pub fn prometheus3(bound: f64) -> String {
    let text = go(bound);
    if text.contains(['.', 'e', 'I', 'N']) {
        text
    } else {
        format!("{text}.0")
    }
}

/// Go's `strconv.FormatFloat(bound, 'g', -1, 64)`, which the Go client writes and Prometheus 2 then stores.
pub fn go(bound: f64) -> String {
    let (digits, exp) = shortest(bound);
    if !(-4..6).contains(&exp) {
        scientific(bound, &digits, exp, "e", true, 2)
    } else {
        plain(bound)
    }
}

/// Python's `repr`: plain from 1e-4 up to 1e16, else `1e+16`, `5e-05`.
fn python(bound: f64) -> String {
    let (digits, exp) = shortest(bound);
    if !(-4..16).contains(&exp) {
        scientific(bound, &digits, exp, "e", true, 2)
    } else if bound.fract() == 0.0 {
        format!("{}.0", plain(bound))
    } else {
        plain(bound)
    }
}

/// Java's `Double.toString`: plain from 1e-3 up to 1e7 (`1.0`), else `1.0E7`, `5.0E-5`.
fn java(bound: f64) -> String {
    let (digits, exp) = shortest(bound);
    if !(-3..7).contains(&exp) {
        let text = scientific(bound, &digits, exp, "E", false, 1);
        if digits.len() == 1 {
            text.replacen('E', ".0E", 1)
        } else {
            text
        }
    } else if bound.fract() == 0.0 {
        format!("{}.0", plain(bound))
    } else {
        plain(bound)
    }
}

/// JavaScript's `String(number)`: plain from 1e-7 up to 1e21, else `1e+21`, `1e-7`.
fn javascript(bound: f64) -> String {
    let (digits, exp) = shortest(bound);
    if !(-7..21).contains(&exp) {
        scientific(bound, &digits, exp, "e", true, 1)
    } else {
        plain(bound)
    }
}

/// The shortest digits that read back as `bound`, and the decimal exponent of the first one.
fn shortest(bound: f64) -> (String, i32) {
    let text = format!("{:e}", bound.abs());
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    (mantissa.replace('.', ""), exp.parse().unwrap_or(0))
}

/// `d.ddd<e><sign><exp>`, the exponent signed (`+`/`-`) or only negative, with at least `width` digits.
fn scientific(bound: f64, digits: &str, exp: i32, e: &str, plus: bool, width: usize) -> String {
    let sign = if bound < 0.0 { "-" } else { "" };
    let (first, rest) = digits.split_at(1);
    let mantissa = if rest.is_empty() {
        first.to_string()
    } else {
        format!("{first}.{rest}")
    };
    let exp_sign = if exp < 0 {
        "-"
    } else if plus {
        "+"
    } else {
        ""
    };
    format!(
        "{sign}{mantissa}{e}{exp_sign}{:0width$}",
        exp.unsigned_abs()
    )
}

/// The shortest digits without an exponent: `0.00005`, `1000000`, `2.5`.
fn plain(bound: f64) -> String {
    let (digits, exp) = shortest(bound);
    let sign = if bound < 0.0 { "-" } else { "" };
    if bound == 0.0 {
        return "0".into();
    }
    let text = if exp < 0 {
        format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
    } else {
        let point = exp as usize + 1;
        if digits.len() <= point {
            format!("{digits}{}", "0".repeat(point - digits.len()))
        } else {
            format!("{}.{}", &digits[..point], &digits[point..])
        }
    };
    format!("{sign}{text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_3_normalises_like_go_with_a_point_on_integers() {
        assert_eq!(prometheus3(1.0), "1.0");
        assert_eq!(prometheus3(0.00005), "5e-05");
        assert_eq!(prometheus3(1_000_000.0), "1e+06");
        assert_eq!(prometheus3(0.25), "0.25");
        assert_eq!(prometheus3(100_000.0), "100000.0");
        assert_eq!(prometheus3(1_500_000.0), "1.5e+06");
        assert_eq!(prometheus3(0.0001), "0.0001");
    }

    #[test]
    fn every_client_spelling_is_listed() {
        assert_eq!(le_spellings(1.0), ["1", "1.0"]);
        assert_eq!(
            le_spellings(0.00005),
            ["0.00005", "5.0E-5", "5e-05", "5e-5"]
        );
        assert_eq!(le_spellings(1_000_000.0), ["1000000", "1000000.0", "1e+06"]);
        assert_eq!(le_spellings(0.5), ["0.5"]);
        assert_eq!(
            le_spellings(2.5e-8),
            ["0.000000025", "2.5E-8", "2.5e-08", "2.5e-8"]
        );
    }

    #[test]
    fn every_spelling_reads_back_as_the_bound() {
        for bound in [
            1.0,
            0.00005,
            1e6,
            0.1,
            7.5e-9,
            1e22,
            123_456_789.0,
            3.0e-4,
            -2.5,
        ] {
            for text in le_spellings(bound) {
                assert_eq!(text.parse::<f64>().ok(), Some(bound), "{text} for {bound}");
            }
        }
    }
}
