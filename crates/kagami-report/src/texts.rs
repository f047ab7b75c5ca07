//! The report's words, in Japanese and English, from data/texts/{ja,en}.toml:
//! headings, labels, glossary, baseline wording and, for every check id, why
//! it matters, how to fix it, who should, and a request to send them.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use kagami_core::{CheckId, Confidence, Severity};
use serde::{Deserialize, Serialize};

/// A report language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    pub const ALL: [Self; 2] = [Self::Ja, Self::En];

    pub fn code(self) -> &'static str {
        match self {
            Self::Ja => "ja",
            Self::En => "en",
        }
    }

    /// Japanese when the locale says so (`LC_ALL`, `LC_MESSAGES`, `LANG`), else English.
    pub fn from_environment() -> Self {
        let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .find(|v| !v.is_empty())
            .unwrap_or_default();
        if locale.starts_with("ja") {
            Self::Ja
        } else {
            Self::En
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Lang {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "ja" => Ok(Self::Ja),
            "en" => Ok(Self::En),
            _ => Err(format!("unknown language {s:?} (expected ja or en)")),
        }
    }
}

/// One language's texts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    pub lang: Lang,
    pub ui: Ui,
    pub severity: BTreeMap<Severity, String>,
    pub deadline_text: BTreeMap<Severity, String>,
    pub confidence_text: BTreeMap<String, String>,
    pub band: BTreeMap<String, String>,
    pub who_text: BTreeMap<Who, String>,
    pub scenario_text: BTreeMap<String, String>,
    pub industry_text: BTreeMap<String, String>,
    pub status_text: BTreeMap<String, String>,
    pub source_text: BTreeMap<String, String>,
    pub request: RequestTexts,
    pub glossary: Vec<GlossaryEntry>,
    pub baseline: BTreeMap<String, BaselineText>,
    pub checks: BTreeMap<String, CheckText>,
}

/// Who should fix a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Who {
    /// The company's own staff.
    Internal,
    /// The IT vendor or web developer that maintains it.
    Vendor,
    /// The hosting provider or ISP.
    Hosting,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestTexts {
    pub recipient_internal: String,
    pub recipient_vendor: String,
    pub recipient_hosting: String,
    pub template: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlossaryEntry {
    pub term: String,
    pub meaning: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineText {
    pub title: String,
    pub basis: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub title: String,
    pub url: String,
}

/// Everything the report says about one check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckText {
    pub title: String,
    pub why: String,
    pub fix: String,
    pub effort: String,
    pub who: Who,
    /// The request to the one who fixes it; `{detail}` names a detail field.
    pub ask: String,
    pub links: Vec<Link>,
    /// Product-specific fixes, keyed by a lower-case part of the product name.
    #[serde(default)]
    pub products: BTreeMap<String, String>,
}

/// Headings and labels.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ui {
    pub report_title: String,
    pub targets: String,
    pub scanned_at: String,
    pub tool: String,
    pub contents: String,
    pub page: String,
    pub executive_title: String,
    pub score_title: String,
    pub score_standard: String,
    pub score_explain: String,
    pub score_floor: String,
    pub damage_title: String,
    pub damage_headline: String,
    pub damage_median: String,
    pub eal_title: String,
    pub damage_note: String,
    pub profile_assumed: String,
    pub counts_title: String,
    pub actions_title: String,
    pub actions_none: String,
    pub deadline: String,
    pub by_date: String,
    pub summary_title: String,
    pub summary_found: String,
    pub summary_clean: String,
    pub summary_above: String,
    pub summary_below: String,
    pub summary_at: String,
    pub summary_critical: String,
    pub summary_damage: String,
    pub summary_next: String,
    pub findings_title: String,
    pub findings_none: String,
    pub r#where: String,
    pub evidence: String,
    pub confidence: String,
    pub points: String,
    pub points_value: String,
    pub points_shared: String,
    pub why: String,
    pub fix: String,
    pub fix_product: String,
    pub effort: String,
    pub who: String,
    pub request: String,
    pub links: String,
    pub baseline_title: String,
    pub baseline_intro: String,
    pub baseline_item: String,
    pub baseline_status: String,
    pub baseline_related: String,
    pub appendix_assets: String,
    pub appendix_assets_intro: String,
    pub appendix_services: String,
    pub appendix_coverage: String,
    pub appendix_coverage_intro: String,
    pub appendix_glossary: String,
    pub appendix_model: String,
    pub model_score: String,
    pub model_damage: String,
    pub scenario: String,
    pub probability: String,
    pub loss: String,
    pub hostname: String,
    pub addresses: String,
    pub found_by: String,
    pub out_of_scope: String,
    pub port: String,
    pub protocol: String,
    pub product: String,
    pub phase: String,
    pub subject: String,
    pub status: String,
    pub counts: String,
    pub dns_summary: String,
    pub passive: String,
    pub warnings: String,
    pub term: String,
    pub meaning: String,
    pub profile_title: String,
    pub industry: String,
    pub employees: String,
    pub revenue: String,
    pub records: String,
    pub region: String,
    pub full_report: String,
    pub generated: String,
    pub yes: String,
    pub no: String,
    pub none: String,
    pub more: String,
}

const JA: &str = include_str!("../data/texts/ja.toml");
const EN: &str = include_str!("../data/texts/en.toml");

impl Texts {
    /// The bundled texts of a language.
    pub fn get(lang: Lang) -> &'static Self {
        static JA_TEXTS: OnceLock<Texts> = OnceLock::new();
        static EN_TEXTS: OnceLock<Texts> = OnceLock::new();
        let (cell, source) = match lang {
            Lang::Ja => (&JA_TEXTS, JA),
            Lang::En => (&EN_TEXTS, EN),
        };
        cell.get_or_init(|| match Self::parse(source) {
            Ok(texts) => texts,
            // The bundled files are checked by the tests; failing here is a build defect.
            Err(e) => panic!("bundled texts for {lang} are invalid: {e}"),
        })
    }

    pub fn parse(source: &str) -> Result<Self, String> {
        toml::from_str(source).map_err(|e| e.to_string())
    }

    pub fn check(&self, check: CheckId) -> Option<&CheckText> {
        self.checks.get(check.as_str())
    }

    pub fn severity(&self, severity: Severity) -> &str {
        self.severity.get(&severity).map_or("", String::as_str)
    }

    pub fn deadline(&self, severity: Severity) -> &str {
        self.deadline_text.get(&severity).map_or("", String::as_str)
    }

    pub fn confidence(&self, confidence: Confidence) -> &str {
        let key = match confidence {
            Confidence::Confirmed => "confirmed",
            Confidence::Likely => "likely",
            Confidence::Possible => "possible",
        };
        self.confidence_text.get(key).map_or(key, String::as_str)
    }

    pub fn who(&self, who: Who) -> &str {
        self.who_text.get(&who).map_or("", String::as_str)
    }

    pub fn recipient(&self, who: Who) -> &str {
        match who {
            Who::Internal => &self.request.recipient_internal,
            Who::Vendor => &self.request.recipient_vendor,
            Who::Hosting => &self.request.recipient_hosting,
        }
    }

    /// A text from a keyed table, or the key itself.
    pub fn lookup<'a>(table: &'a BTreeMap<String, String>, key: &'a str) -> &'a str {
        table.get(key).map_or(key, String::as_str)
    }
}

/// Fills `{name}` placeholders. A placeholder without a value disappears,
/// together with the brackets around it (`（{cve}）`, ` ({cve})`).
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    while let Some(start) = out.find('{') {
        let Some(len) = out[start..].find('}') else {
            break;
        };
        let end = start + len + 1;
        let (mut from, mut to) = (start, end);
        for (open, close) in [("（", "）"), (" (", ")"), ("(", ")")] {
            if out[..start].ends_with(open) && out[end..].starts_with(close) {
                from = start - open.len();
                to = end + close.len();
                break;
            }
        }
        out.replace_range(from..to, "");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_replaces_values_and_drops_missing_placeholders() {
        assert_eq!(fill("a {x} b", &[("x", "1")]), "a 1 b");
        assert_eq!(
            fill("更新（{cve}）をお願いします", &[]),
            "更新をお願いします"
        );
        assert_eq!(fill("update ({cve}) now", &[]), "update now");
        assert_eq!(fill("{a}{b}", &[("b", "2")]), "2");
    }
}
