//! What the report concludes about the whole organisation: the risk score and
//! the estimated damage. Computed by kagami-score from the findings and a
//! company profile; the formulas are in docs/scoring.md. Field names are part
//! of the JSON report contract (docs/report.md).

use serde::{Deserialize, Serialize};

use crate::check::CheckId;
use crate::name::DomainName;

/// The relative risk score: 0–100, higher is riskier, `standard` (40) is the
/// median company of the calibration population; +15 points is about twice
/// the likelihood of an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub value: u8,
    pub standard: u8,
    /// The parameter set the score was computed with, e.g. `kagami-ers-1`.
    pub model_version: String,
    /// `low`, `standard`, `elevated`, `high` or `critical` (display bands).
    pub band: String,
    /// The score before floors, clamped to 0–100 (one decimal):
    /// `standard - reference + min(sum of points, 15 * log2(16))`.
    pub raw: f64,
    /// The points of the calibration population's median company,
    /// subtracted so that it scores `standard`.
    pub reference: f64,
    /// Set when a floor lifted the score (a CRITICAL finding lifts it to 70).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<ScoreFloor>,
    /// The findings that carry points, largest first. A finding of the same
    /// kind or group as a larger one carries none (counted once).
    pub contributions: Vec<Contribution>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreFloor {
    pub value: u8,
    /// What triggered it: `critical_finding` or `compromise`.
    pub reason: String,
}

/// The points one finding adds to the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub check: CheckId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<DomainName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<std::net::IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The model group the finding belongs to (`remote_access`, `hygiene`, ...).
    pub group: String,
    /// Points, two decimals.
    pub points: f64,
}

/// The estimated damage of one serious incident and the expected annual loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Damage {
    /// ISO 4217 code, `JPY` unless asked otherwise.
    pub currency: String,
    pub model_version: String,
    /// Loss of one ransomware or intrusion incident: low, median, high.
    pub low: u64,
    pub median: u64,
    pub high: u64,
    pub expected_annual_loss: AnnualLoss,
    pub profile: CompanyProfile,
    /// Each scenario's probability and loss, for recomputing by hand.
    pub scenarios: Vec<Scenario>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnualLoss {
    pub low: u64,
    pub high: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// `ransomware`, `email_fraud`, `data_breach` or `minor_incident`.
    pub id: String,
    /// The product of the relative risks of the groups that drive it.
    pub multiplier: f64,
    /// Annual probability with the low and the high incident rate (four decimals).
    pub probability_low: f64,
    pub probability_high: f64,
    pub loss_low: u64,
    pub loss_median: u64,
    pub loss_high: u64,
}

/// The organisation the damage estimate is for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompanyProfile {
    /// `manufacturing`, `wholesale_retail`, `services`, `construction`,
    /// `information_technology`, `medical_welfare`, `finance`, `other`.
    pub industry: String,
    pub employees: u32,
    /// Annual revenue in the report's currency.
    pub annual_revenue: u64,
    /// Gross margin, 0–1: the share of revenue lost per day of standstill.
    pub gross_margin: f64,
    /// Personal-data records held (customers, members, employees).
    pub records: u64,
    /// ISO 3166 country code or a region name; the parameters are Japanese data.
    pub region: String,
    /// The documented default profile was used (nothing was given).
    #[serde(default)]
    pub assumed: bool,
}
