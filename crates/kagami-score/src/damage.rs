//! The estimated damage (docs/scoring.md, "The damage estimate"): four
//! scenarios, each with an annual probability
//! `p = 1 - exp(-rate * industry * M)` where M multiplies the relative risks
//! of the groups that drive it, and a loss per event at low / median / high.
//! The headline range is the ransomware loss; the expected annual loss is
//! `sum of p * median loss`, once with the low and once with the high rate.

use std::collections::BTreeMap;

use kagami_core::{AnnualLoss, CompanyProfile, Damage, Scenario};

use crate::model::Model;

/// The scenarios the model knows, in report order.
pub const SCENARIOS: [&str; 4] = ["ransomware", "email_fraud", "data_breach", "minor_incident"];

/// Currencies a report can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Currency {
    Jpy,
    Usd,
}

impl Currency {
    pub fn code(self) -> &'static str {
        match self {
            Self::Jpy => "JPY",
            Self::Usd => "USD",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "JPY" => Some(Self::Jpy),
            "USD" => Some(Self::Usd),
            _ => None,
        }
    }

    /// Yen per unit of this currency.
    pub fn yen(self, model: &Model) -> f64 {
        match self {
            Self::Jpy => 1.0,
            Self::Usd => model.damage.jpy_per_usd,
        }
    }
}

/// Loss of one event of a scenario, in yen: low, median, high.
fn loss(model: &Model, scenario: &str, profile: &CompanyProfile, fx: f64) -> [f64; 3] {
    let d = &model.damage;
    match scenario {
        "ransomware" => {
            let band = d
                .ransomware_direct
                .iter()
                .find(|b| profile.employees <= b.up_to)
                .or_else(|| d.ransomware_direct.last());
            let direct = band.map_or([0.0; 3], |b| [b.low, b.median, b.high]);
            let per_day = profile.annual_revenue as f64 * fx * profile.gross_margin / 365.0;
            let days = &d.ransomware_downtime_days;
            [
                direct[0] + per_day * days.low,
                direct[1] + per_day * days.median,
                direct[2] + per_day * days.high,
            ]
        }
        "email_fraud" => {
            let l = &d.email_fraud_loss;
            [l.low, l.median, l.high]
        }
        "data_breach" => {
            let (l, u, n) = (&d.data_breach_loss, &d.per_record, profile.records as f64);
            [
                l.low + n * u.low,
                l.median + n * u.median,
                l.high + n * u.high,
            ]
        }
        _ => {
            let l = &d.minor_incident_loss;
            [l.low, l.median, l.high]
        }
    }
}

pub fn damage(
    model: &Model,
    group_rr: &BTreeMap<String, f64>,
    profile: &CompanyProfile,
    currency: Currency,
) -> Damage {
    let d = &model.damage;
    let fx = currency.yen(model);
    let to_currency = |yen: f64| (yen / fx).round() as u64;
    let mut scenarios = Vec::new();
    let mut headline = [0.0; 3];
    let (mut eal_low, mut eal_high) = (0.0, 0.0);
    for id in SCENARIOS {
        let Some(params) = d.scenarios.get(id) else {
            continue;
        };
        let multiplier: f64 = params
            .groups
            .iter()
            .map(|g| group_rr.get(g).copied().unwrap_or(1.0))
            .product();
        let (rate_low, rate_high) = match (params.share, params.rate) {
            (Some(share), _) => (share * d.incident_rate_low, share * d.incident_rate_high),
            (None, Some(rate)) => (rate, rate),
            (None, None) => (0.0, 0.0),
        };
        let (industry_low, industry_high) = match d.industry.get(&profile.industry) {
            Some(f) if id == "ransomware" => (f.ransomware_low, f.ransomware_high),
            _ => (1.0, 1.0),
        };
        let p_low = 1.0 - (-rate_low * industry_low * multiplier).exp();
        let p_high = 1.0 - (-rate_high * industry_high * multiplier).exp();
        let [low, median, high] = loss(model, id, profile, fx);
        if id == "ransomware" {
            headline = [low, median, high];
        }
        eal_low += p_low * median;
        eal_high += p_high * median;
        scenarios.push(Scenario {
            id: id.to_owned(),
            multiplier: (multiplier * 10_000.0).round() / 10_000.0,
            probability_low: (p_low * 10_000.0).round() / 10_000.0,
            probability_high: (p_high * 10_000.0).round() / 10_000.0,
            loss_low: to_currency(low),
            loss_median: to_currency(median),
            loss_high: to_currency(high),
        });
    }
    Damage {
        currency: currency.code().to_owned(),
        model_version: model.version.clone(),
        low: to_currency(headline[0]),
        median: to_currency(headline[1]),
        high: to_currency(headline[2]),
        expected_annual_loss: AnnualLoss {
            low: to_currency(eal_low),
            high: to_currency(eal_high),
        },
        profile: profile.clone(),
        scenarios,
    }
}
