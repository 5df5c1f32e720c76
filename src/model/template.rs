//! The one alert-template action SLO alerts use, so that the generated rule tests can predict every annotation.
//!
//! `promtool test rules` compares annotations after Prometheus renders their Go templates. Threshold alerts are
//! free-form and not tested; SLO alert annotations are static text plus `{{ $value | humanizePercentage }}`,
//! which [`parse`] splits out and [`humanize_percentage`] renders the way Prometheus does.

/// A piece of an annotation template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text printed as is.
    Text(String),
    /// `{{ $value | humanizePercentage }}`: the alert's value as a percentage.
    ValuePercent,
}

/// Splits an annotation into text and `{{ $value | humanizePercentage }}` actions (spaces inside the braces
/// are free), or returns the first other action, which the rule tests could not predict.
pub fn parse(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            pieces.push(Piece::Text(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(rest[start..].to_string());
        };
        let action: Vec<&str> = after[..end].split('|').map(str::trim).collect();
        if action != ["$value", "humanizePercentage"] {
            return Err(format!("{{{{{}}}}}", &after[..end]));
        }
        pieces.push(Piece::ValuePercent);
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    Ok(pieces)
}

/// Renders parsed pieces with the alert's value.
pub fn render(pieces: &[Piece], value: f64) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(text) => text.clone(),
            Piece::ValuePercent => humanize_percentage(value),
        })
        .collect()
}

/// Prometheus' `humanizePercentage`: Go's `fmt.Sprintf("%.4g%%", value*100)`.
pub fn humanize_percentage(value: f64) -> String {
    format!("{}%", go_g4(value * 100.0))
}

/// Go's `%.4g`: four significant digits without trailing zeros, in exponent form (`1e-05`, `1.235e+04`) when
/// the decimal exponent is below -4 or at least 4.
fn go_g4(value: f64) -> String {
    if value == 0.0 {
        return "0".into();
    }
    if !value.is_finite() {
        return if value.is_nan() {
            "NaN".into()
        } else if value > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    // `{:.3e}` rounds to four significant digits exactly as Go does (both round the exact binary value).
    let scientific = format!("{value:.3e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("Rust's exponent format has an `e`");
    let exponent: i32 = exponent.parse().expect("an integer exponent");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let sign = if negative { "-" } else { "" };
    if !(-4..4).contains(&exponent) {
        let (first, more) = digits.split_at(1);
        let fraction = if more.is_empty() {
            String::new()
        } else {
            format!(".{more}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}{fraction}e{exp_sign}{:02}", exponent.abs());
    }
    // Plain notation: place the decimal point `exponent + 1` digits into the significant digits.
    let point = exponent + 1;
    let text = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every expected string is what promtool 2.42 printed for the same value.
    #[test]
    fn humanize_percentage_matches_prometheus() {
        for (value, shown) in [
            (0.00756, "0.756%"),
            (1.0, "100%"),
            (0.5, "50%"),
            (1.0 / 3.0, "33.33%"),
            (2.0 / 3.0, "66.67%"),
            (1e-7, "1e-05%"),
            (0.000012345, "0.001234%"),
            (0.00012345, "0.01234%"),
            (123.456, "1.235e+04%"),
            (0.0125, "1.25%"),
            (0.00001, "0.001%"),
            (0.0000099999, "0.001%"),
        ] {
            assert_eq!(humanize_percentage(value), shown, "{value}");
        }
    }

    #[test]
    fn parses_the_percentage_action_and_rejects_others() {
        assert_eq!(
            parse("ratio {{$value|humanizePercentage}} now").unwrap(),
            vec![
                Piece::Text("ratio ".into()),
                Piece::ValuePercent,
                Piece::Text(" now".into())
            ]
        );
        assert_eq!(
            parse("{{ $labels.route }}").unwrap_err(),
            "{{ $labels.route }}"
        );
        assert_eq!(parse("open {{ $value").unwrap_err(), "{{ $value");
        assert_eq!(
            render(&parse("at {{ $value | humanizePercentage }}").unwrap(), 0.5),
            "at 50%"
        );
    }
}
