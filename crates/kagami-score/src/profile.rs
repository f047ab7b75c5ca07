//! The company profile the damage estimate is for: read from a TOML file
//! (`--profile FILE`), overridden by command-line options, completed from the
//! documented default profile.

use kagami_core::CompanyProfile;
use serde::Deserialize;

use crate::ProfileError;
use crate::damage::Currency;
use crate::model::Model;

/// Industries the model distinguishes (only manufacturing has a factor of its
/// own today; the others are recorded for the report).
pub const INDUSTRIES: [&str; 8] = [
    "manufacturing",
    "wholesale_retail",
    "services",
    "construction",
    "information_technology",
    "medical_welfare",
    "finance",
    "other",
];

/// What the user said about the company; anything missing comes from the
/// default profile.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    pub industry: Option<String>,
    pub employees: Option<u32>,
    /// In the report's currency.
    pub annual_revenue: Option<u64>,
    pub gross_margin: Option<f64>,
    pub records: Option<u64>,
    pub region: Option<String>,
}

impl ProfileInput {
    pub fn from_toml(text: &str) -> Result<Self, ProfileError> {
        toml::from_str(text).map_err(|e| ProfileError::Parse(e.to_string()))
    }

    /// A profile already in a report, as input (to render it again).
    pub fn from_profile(profile: &CompanyProfile) -> Self {
        Self {
            industry: Some(profile.industry.clone()),
            employees: Some(profile.employees),
            annual_revenue: Some(profile.annual_revenue),
            gross_margin: Some(profile.gross_margin),
            records: Some(profile.records),
            region: Some(profile.region.clone()),
        }
    }

    /// `self` with every field that `over` sets replaced.
    pub fn overridden_by(self, over: Self) -> Self {
        Self {
            industry: over.industry.or(self.industry),
            employees: over.employees.or(self.employees),
            annual_revenue: over.annual_revenue.or(self.annual_revenue),
            gross_margin: over.gross_margin.or(self.gross_margin),
            records: over.records.or(self.records),
            region: over.region.or(self.region),
        }
    }

    /// Every field is given.
    pub fn is_complete(&self) -> bool {
        self.industry.is_some()
            && self.employees.is_some()
            && self.annual_revenue.is_some()
            && self.gross_margin.is_some()
            && self.records.is_some()
            && self.region.is_some()
    }

    /// The complete profile; `assumed` is set when any field came from the
    /// default profile.
    pub fn resolve(
        self,
        model: &Model,
        currency: Currency,
    ) -> Result<CompanyProfile, ProfileError> {
        let default = &model.damage.default_profile.profile;
        let assumed = !self.is_complete();
        let industry = self
            .industry
            .map(|i| i.trim().to_ascii_lowercase().replace('-', "_"))
            .unwrap_or_else(|| default.industry.clone());
        if !INDUSTRIES.contains(&industry.as_str()) {
            return Err(ProfileError::Invalid(format!(
                "unknown industry {industry:?} (expected one of {})",
                INDUSTRIES.join(", ")
            )));
        }
        let gross_margin = self.gross_margin.unwrap_or(default.gross_margin);
        if !(0.0..=1.0).contains(&gross_margin) {
            return Err(ProfileError::Invalid(format!(
                "gross margin {gross_margin} is not between 0 and 1"
            )));
        }
        let employees = self.employees.unwrap_or(default.employees);
        if employees == 0 {
            return Err(ProfileError::Invalid("employees must be at least 1".into()));
        }
        let default_revenue = (default.annual_revenue as f64 / currency.yen(model)).round() as u64;
        Ok(CompanyProfile {
            industry,
            employees,
            annual_revenue: self.annual_revenue.unwrap_or(default_revenue),
            gross_margin,
            records: self.records.unwrap_or(default.records),
            region: self.region.unwrap_or_else(|| default.region.clone()),
            assumed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_resolve_with_documented_defaults_and_refuse_nonsense() {
        let model = Model::bundled();
        let default = ProfileInput::default()
            .resolve(&model, Currency::Jpy)
            .expect("default");
        assert!(default.assumed);
        assert_eq!(
            (default.employees, default.annual_revenue, default.records),
            (20, 300_000_000, 1_000)
        );
        let usd = ProfileInput::default()
            .resolve(&model, Currency::Usd)
            .expect("usd");
        assert_eq!(usd.annual_revenue, 2_000_000, "¥300M at 150 yen per dollar");

        let file = ProfileInput::from_toml(
            "industry = \"Manufacturing\"\nemployees = 45\nannual_revenue = 800000000\n\
             gross_margin = 0.3\nrecords = 12000\nregion = \"JP-23\"\n",
        )
        .expect("file");
        let full = file.clone().resolve(&model, Currency::Jpy).expect("full");
        assert!(!full.assumed);
        assert_eq!(full.industry, "manufacturing");
        let over = file.overridden_by(ProfileInput {
            employees: Some(80),
            ..ProfileInput::default()
        });
        assert_eq!(over.employees, Some(80));
        assert_eq!(over.records, Some(12_000));

        let bad = |input: ProfileInput| input.resolve(&model, Currency::Jpy).is_err();
        assert!(bad(ProfileInput {
            industry: Some("piracy".into()),
            ..ProfileInput::default()
        }));
        assert!(bad(ProfileInput {
            gross_margin: Some(1.5),
            ..ProfileInput::default()
        }));
        assert!(bad(ProfileInput {
            employees: Some(0),
            ..ProfileInput::default()
        }));
        assert!(
            ProfileInput::from_toml("staff = 3").is_err(),
            "unknown field"
        );
    }
}
