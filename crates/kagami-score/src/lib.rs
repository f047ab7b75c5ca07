//! Kagami's risk score and damage estimate. The score (0–100, higher is
//! riskier, 40 = the median company of the calibration population) multiplies
//! published relative risks of the findings' groups; the damage estimate runs
//! four incident scenarios over a company profile. Both read their parameters
//! from a versioned data file with a source for every number
//! (data/model-v1.toml); docs/scoring.md gives the formulas.

pub mod calibration;
pub mod damage;
pub mod model;
pub mod profile;
pub mod score;

use kagami_core::{CompanyProfile, Report};

pub use damage::{Currency, SCENARIOS, damage};
pub use model::Model;
pub use profile::{INDUSTRIES, ProfileInput};
pub use score::{ScoreOutcome, classify, counts, score};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("parameter file: {0}")]
    Parse(String),
    #[error("parameter file: {0}")]
    Invalid(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("company profile: {0}")]
    Parse(String),
    #[error("company profile: {0}")]
    Invalid(String),
}

/// Scores the report and estimates its damage for the profile, storing both
/// in the report. Returns the points of each finding (report order).
pub fn assess(
    model: &Model,
    report: &mut Report,
    profile: &CompanyProfile,
    currency: Currency,
) -> Vec<f64> {
    let outcome = score(model, &report.findings);
    report.damage = Some(damage(model, &outcome.group_rr, profile, currency));
    report.score = Some(outcome.score);
    outcome.finding_points
}
