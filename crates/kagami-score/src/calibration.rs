//! The calibration population (data/calibration-v1.toml): simulated SMEs whose
//! median must score the standard 40. The simulation is deterministic (a fixed
//! seed), so the test that checks the bundled reference gives the same answer
//! on every machine.

use kagami_core::{CheckId, Confidence, DomainName, Finding, Severity};
use serde::Deserialize;

use crate::ModelError;
use crate::model::Model;
use crate::score::score;

pub const BUNDLED: &str = include_str!("../data/calibration-v1.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    pub version: String,
    pub companies: usize,
    pub seed: u64,
    #[serde(rename = "kind")]
    pub kinds: Vec<Kind>,
}

/// A kind of finding and the share of companies that have it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kind {
    pub check: String,
    pub prevalence: f64,
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub cvss: Option<f64>,
    #[serde(default)]
    pub kev: Option<bool>,
    pub source: String,
}

/// One simulated company: its points (capped) and the floor its findings set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Company {
    pub points: f64,
    pub floor: Option<u8>,
}

impl Population {
    pub fn bundled() -> Result<Self, ModelError> {
        Self::from_toml(BUNDLED)
    }

    pub fn from_toml(text: &str) -> Result<Self, ModelError> {
        let population: Self =
            toml::from_str(text).map_err(|e| ModelError::Parse(e.to_string()))?;
        for kind in &population.kinds {
            if kind.check.parse::<CheckId>().is_err() {
                return Err(ModelError::Invalid(format!(
                    "unknown check {:?}",
                    kind.check
                )));
            }
            if !(0.0..=1.0).contains(&kind.prevalence) {
                return Err(ModelError::Invalid(format!(
                    "{}: prevalence {} is not a share",
                    kind.check, kind.prevalence
                )));
            }
        }
        Ok(population)
    }

    /// The finding a kind stands for.
    pub fn finding(kind: &Kind) -> Option<Finding> {
        let check: CheckId = kind.check.parse().ok()?;
        let domain = DomainName::parse("example.test").ok()?;
        let mut finding =
            Finding::new(check, &domain, "calibration").with_confidence(Confidence::Likely);
        if let Some(severity) = kind.severity {
            finding.severity = severity;
        }
        if let Some(product) = &kind.product {
            finding = finding.with_detail("product", product.as_str());
        }
        if let Some(cvss) = kind.cvss {
            finding = finding.with_detail("cvss", cvss);
            finding.severity = match cvss {
                c if c >= 9.0 => Severity::Critical,
                c if c >= 7.0 => Severity::High,
                c if c >= 4.0 => Severity::Medium,
                _ => Severity::Low,
            };
        }
        if let Some(kev) = kind.kev {
            finding = finding.with_detail("kev", kev);
        }
        Some(finding)
    }

    /// Draws the companies and scores each one (points before the reference).
    pub fn simulate(&self, model: &Model) -> Vec<Company> {
        let findings: Vec<Option<Finding>> = self.kinds.iter().map(Self::finding).collect();
        let mut random = SplitMix64(self.seed);
        let mut companies = Vec::with_capacity(self.companies);
        for _ in 0..self.companies {
            let drawn: Vec<Finding> = self
                .kinds
                .iter()
                .zip(&findings)
                .filter(|(kind, _)| random.unit() < kind.prevalence)
                .filter_map(|(_, f)| f.clone())
                .collect();
            let outcome = score(model, &drawn);
            let total: f64 = outcome.finding_points.iter().sum();
            let floor = model
                .score
                .floors
                .iter()
                .filter(|floor| {
                    floor
                        .severity
                        .is_some_and(|s| drawn.iter().any(|f| f.severity >= s))
                        || floor
                            .group
                            .as_deref()
                            .is_some_and(|g| outcome.group_rr.contains_key(g))
                })
                .map(|floor| floor.value)
                .max();
            companies.push(Company {
                points: total.min(model.max_points()),
                floor,
            });
        }
        companies
    }
}

/// The score of a simulated company for a given reference (unrounded).
pub fn company_score(model: &Model, company: Company, reference_points: f64) -> f64 {
    let raw =
        (f64::from(model.score.standard) - reference_points + company.points).clamp(0.0, 100.0);
    company.floor.map_or(raw, |f| raw.max(f64::from(f)))
}

/// The median score of the companies for a given reference.
pub fn median_score(model: &Model, companies: &[Company], reference_points: f64) -> f64 {
    let mut scores: Vec<f64> = companies
        .iter()
        .map(|c| company_score(model, *c, reference_points))
        .collect();
    scores.sort_by(f64::total_cmp);
    match scores.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => scores[n / 2],
        n => (scores[n / 2 - 1] + scores[n / 2]) / 2.0,
    }
}

/// The reference that puts the median company at the standard score
/// (bisection: the median falls as the reference grows).
pub fn calibrated_reference(model: &Model, companies: &[Company]) -> f64 {
    let target = f64::from(model.score.standard);
    let (mut low, mut high) = (-100.0_f64, 100.0_f64);
    for _ in 0..60 {
        let mid = (low + high) / 2.0;
        if median_score(model, companies, mid) > target {
            low = mid;
        } else {
            high = mid;
        }
    }
    (low + high) / 2.0
}

/// A small deterministic generator (SplitMix64); quality is ample for drawing
/// Bernoulli events.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1_u64 << 53) as f64
    }
}
