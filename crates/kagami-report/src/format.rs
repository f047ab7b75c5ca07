//! Numbers, amounts and dates as people read them, per language. Amounts are
//! rounded to two significant figures: the estimate is never more precise.

use time::{Date, OffsetDateTime};

use crate::texts::Lang;

/// `x` rounded to two significant figures.
pub fn two_figures(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return 0.0;
    }
    let magnitude = 10_f64.powf(x.log10().floor() - 1.0);
    (x / magnitude).round() * magnitude
}

/// Groups thousands: 12345678 -> "12,345,678".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An amount, rounded: "約520万円" / "¥5.2 million" / "$35,000".
pub fn money(amount: u64, currency: &str, lang: Lang) -> String {
    let x = two_figures(amount as f64);
    match (currency, lang) {
        ("JPY", Lang::Ja) => {
            if x >= 1e8 {
                format!("約{}億円", trim(x / 1e8))
            } else if x >= 1e4 {
                format!("約{}万円", thousands((x / 1e4).round() as u64))
            } else {
                format!("約{}円", thousands(x as u64))
            }
        }
        ("JPY", Lang::En) => {
            if x >= 1e9 {
                format!("¥{} billion", trim(x / 1e9))
            } else if x >= 1e6 {
                format!("¥{} million", trim(x / 1e6))
            } else {
                format!("¥{}", thousands(x as u64))
            }
        }
        ("USD", Lang::Ja) => format!("約{}ドル", thousands(x as u64)),
        ("USD", _) => format!("${}", thousands(x as u64)),
        (code, _) => format!("{} {code}", thousands(x as u64)),
    }
}

/// A number with at most one decimal, without a trailing ".0".
fn trim(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0")
        .map_or_else(|| s.clone(), str::to_owned)
}

pub fn date(date: Date, lang: Lang) -> String {
    match lang {
        Lang::Ja => format!(
            "{}年{}月{}日",
            date.year(),
            u8::from(date.month()),
            date.day()
        ),
        Lang::En => format!("{} {} {}", date.day(), date.month(), date.year()),
    }
}

/// A time in UTC with minutes.
pub fn datetime(at: OffsetDateTime, lang: Lang) -> String {
    format!(
        "{} {:02}:{:02} UTC",
        date(at.date(), lang),
        at.hour(),
        at.minute()
    )
}

/// A probability as a percentage with one decimal.
pub fn percent(p: f64) -> String {
    format!("{:.1}%", p * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_rounded_to_two_figures_in_each_language() {
        assert_eq!(money(5_240_000, "JPY", Lang::Ja), "約520万円");
        assert_eq!(money(27_750_000, "JPY", Lang::Ja), "約2,800万円");
        assert_eq!(money(123_000_000, "JPY", Lang::Ja), "約1.2億円");
        assert_eq!(money(730_000, "JPY", Lang::Ja), "約73万円");
        assert_eq!(money(5_240_000, "JPY", Lang::En), "¥5.2 million");
        assert_eq!(money(20_000_000, "JPY", Lang::En), "¥20 million");
        assert_eq!(money(34_950, "USD", Lang::En), "$35,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
