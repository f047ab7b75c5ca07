//! The parameter file (data/model-v1.toml): relative risks, groups, floors,
//! hygiene factors and the damage parameters, each with its source.

use std::collections::BTreeMap;

use kagami_core::{CheckId, CompanyProfile, Severity};
use serde::Deserialize;

use crate::ModelError;

/// The parameter set shipped with Kagami.
pub const BUNDLED: &str = include_str!("../data/model-v1.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub version: String,
    pub score: ScoreParams,
    pub groups: BTreeMap<String, Group>,
    pub hygiene: Hygiene,
    pub checks: BTreeMap<String, CheckParams>,
    pub damage: DamageParams,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreParams {
    pub standard: u8,
    pub standard_source: String,
    pub points_per_doubling: f64,
    pub points_source: String,
    pub max_multiplier: f64,
    pub max_multiplier_source: String,
    pub reference_points: f64,
    pub reference_points_source: String,
    pub bands: Vec<Band>,
    pub bands_source: String,
    pub floors: Vec<Floor>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    pub below: u8,
    pub id: String,
}

/// A minimum score when a finding of a severity or a group is present.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Floor {
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub group: Option<String>,
    pub value: u8,
    pub reason: String,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregate {
    /// The largest relative risk of the group.
    Max,
    /// The product of the relative risks of the group's kinds, up to the cap.
    Product,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub aggregate: Aggregate,
    #[serde(default)]
    pub cap: Option<f64>,
    /// The group only sets a floor and adds no points (evidence of compromise).
    #[serde(default)]
    pub floor_only: bool,
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hygiene {
    pub medium: f64,
    pub low: f64,
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckParams {
    pub group: String,
    #[serde(default)]
    pub rr: Option<f64>,
    pub source: String,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// A relative risk for findings whose details match. Every condition given
/// must hold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// `details.product` contains one of these (case-insensitive).
    #[serde(default)]
    pub product_contains: Vec<String>,
    /// `details.kev` equals this.
    #[serde(default)]
    pub kev: Option<bool>,
    /// `details.cvss` is at least this.
    #[serde(default)]
    pub cvss_at_least: Option<f64>,
    pub rr: f64,
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DamageParams {
    pub currency: String,
    pub jpy_per_usd: f64,
    pub jpy_per_usd_source: String,
    pub incident_rate_low: f64,
    pub incident_rate_high: f64,
    pub incident_rate_source: String,
    pub scenarios: BTreeMap<String, ScenarioParams>,
    pub ransomware_direct: Vec<SizeBand>,
    pub ransomware_downtime_days: Range,
    pub email_fraud_loss: Range,
    pub data_breach_loss: Range,
    pub per_record: Range,
    pub minor_incident_loss: Range,
    pub industry: BTreeMap<String, IndustryFactor>,
    pub default_profile: DefaultProfile,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioParams {
    /// Share of the claim-level incident rate (ransomware, e-mail fraud, data breach).
    #[serde(default)]
    pub share: Option<f64>,
    /// A rate of its own (minor incidents), the same for low and high.
    #[serde(default)]
    pub rate: Option<f64>,
    pub groups: Vec<String>,
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeBand {
    pub up_to: u32,
    pub low: f64,
    pub median: f64,
    pub high: f64,
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub low: f64,
    pub median: f64,
    pub high: f64,
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndustryFactor {
    pub ransomware_low: f64,
    pub ransomware_high: f64,
    pub source: String,
}

/// The profile assumed for what the user did not say (revenue in yen).
#[derive(Debug, Clone, Deserialize)]
pub struct DefaultProfile {
    #[serde(flatten)]
    pub profile: CompanyProfile,
    pub source: String,
}

impl Model {
    /// The bundled parameter set.
    pub fn bundled() -> Self {
        // The bundled file is checked by the tests; failing here is a build defect.
        match Self::from_toml(BUNDLED) {
            Ok(model) => model,
            Err(e) => panic!("bundled model-v1.toml is invalid: {e}"),
        }
    }

    /// Parses and checks a parameter file.
    pub fn from_toml(text: &str) -> Result<Self, ModelError> {
        let model: Self = toml::from_str(text).map_err(|e| ModelError::Parse(e.to_string()))?;
        model.validate()?;
        Ok(model)
    }

    fn validate(&self) -> Result<(), ModelError> {
        let bad = |what: String| Err(ModelError::Invalid(what));
        for (id, params) in &self.checks {
            if id.parse::<CheckId>().is_err() {
                return bad(format!("unknown check id {id:?}"));
            }
            if !self.groups.contains_key(&params.group) {
                return bad(format!("{id}: unknown group {:?}", params.group));
            }
            let rrs = params.rr.iter().chain(params.rules.iter().map(|r| &r.rr));
            for rr in rrs {
                if !(rr.is_finite() && *rr >= 1.0) {
                    return bad(format!("{id}: relative risk {rr} is below 1"));
                }
            }
        }
        for floor in &self.score.floors {
            if floor.severity.is_none() == floor.group.is_none() {
                return bad(format!(
                    "floor {:?} needs exactly one of severity or group",
                    floor.reason
                ));
            }
        }
        if let Some(missing) = crate::damage::SCENARIOS
            .iter()
            .find(|id| !self.damage.scenarios.contains_key(**id))
        {
            return bad(format!("scenario {missing} is missing"));
        }
        for (id, scenario) in &self.damage.scenarios {
            if scenario.share.is_none() == scenario.rate.is_none() {
                return bad(format!("scenario {id} needs exactly one of share or rate"));
            }
            if let Some(group) = scenario
                .groups
                .iter()
                .find(|g| !self.groups.contains_key(*g))
            {
                return bad(format!("scenario {id}: unknown group {group:?}"));
            }
        }
        if !self.groups.contains_key(HYGIENE) {
            return bad("the hygiene group is missing".into());
        }
        if self.damage.ransomware_direct.last().map(|b| b.up_to) != Some(u32::MAX) {
            return bad("the last ransomware size band must reach 4294967295 employees".into());
        }
        if self.score.bands.last().map(|b| b.below) != Some(101) {
            return bad("the last score band must be below = 101".into());
        }
        Ok(())
    }

    /// The largest number of points all groups together can add.
    pub fn max_points(&self) -> f64 {
        self.score.points_per_doubling * self.score.max_multiplier.log2()
    }

    /// Points of a relative risk: +`points_per_doubling` per doubling.
    pub fn points(&self, rr: f64) -> f64 {
        self.score.points_per_doubling * rr.log2()
    }

    pub fn band(&self, value: u8) -> &str {
        self.score
            .bands
            .iter()
            .find(|b| value < b.below)
            .map_or("critical", |b| b.id.as_str())
    }
}

/// The group of findings without a relative risk of their own.
pub const HYGIENE: &str = "hygiene";
