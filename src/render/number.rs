//! Numbers for people, shared by the chart and the page: thousands grouped,
//! about three significant digits, and masses in the unit that reads best.

/// A mass unit chosen so that numbers read well.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MassUnit {
    pub symbol: &'static str,
    pub grams: f64,
}

/// The unit for masses up to `max_abs_g` grams: g, kg or t.
pub fn unit_for(max_abs_g: f64) -> MassUnit {
    match max_abs_g {
        x if x >= 1e6 => MassUnit {
            symbol: "t",
            grams: 1e6,
        },
        x if x >= 1e3 => MassUnit {
            symbol: "kg",
            grams: 1e3,
        },
        _ => MassUnit {
            symbol: "g",
            grams: 1.0,
        },
    }
}

/// `1234567.891, 1` -> `1,234,567.9`; the sign kept, `-0` shown as `0`.
pub fn group_thousands(value: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, value.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut grouped = String::with_capacity(text.len() + int.len() / 3 + 1);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if !frac.is_empty() {
        grouped.push('.');
        grouped.push_str(frac);
    }
    let is_zero = text.bytes().all(|b| b == b'0' || b == b'.');
    if value < 0.0 && !is_zero {
        format!("-{grouped}")
    } else {
        grouped
    }
}

/// About three significant digits, never more than six decimals.
pub fn decimals_for(value: f64) -> usize {
    if value == 0.0 || !value.is_finite() {
        return 0;
    }
    (2 - value.abs().log10().floor() as i32).clamp(0, 6) as usize
}

/// `"1.23 kg"`: grams in the unit that reads best for their magnitude.
pub fn format_mass_g(grams: f64) -> String {
    format_mass(grams, unit_for(grams.abs()))
}

/// `"1,234.5 kg"` in the unit given.
pub fn format_mass(grams: f64, unit: MassUnit) -> String {
    let v = grams / unit.grams;
    format!("{} {}", group_thousands(v, decimals_for(v)), unit.symbol)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped_and_signs_kept() {
        assert_eq!(group_thousands(1_234_567.891, 1), "1,234,567.9");
        assert_eq!(group_thousands(-1234.0, 0), "-1,234");
        assert_eq!(group_thousands(999.0, 0), "999");
        assert_eq!(group_thousands(0.000123, 6), "0.000123");
        assert_eq!(group_thousands(-0.0001, 2), "0.00");
    }

    #[test]
    fn the_unit_follows_the_magnitude() {
        assert_eq!(unit_for(12.0).symbol, "g");
        assert_eq!(unit_for(12_000.0).symbol, "kg");
        assert_eq!(unit_for(12e6).symbol, "t");
        assert_eq!(format_mass(1_234_567.0, unit_for(1_234_567.0)), "1.23 t");
        assert_eq!(format_mass(-56_789.0, unit_for(56_789.0)), "-56.8 kg");
        assert_eq!(
            format_mass(0.000_123_4, unit_for(0.000_123_4)),
            "0.000123 g"
        );
        assert_eq!(format_mass(0.0, unit_for(0.0)), "0 g");
    }
}
