//! One vulnerability as Kagami knows it for one product: affected upstream
//! ranges, what each distribution release decided, CVSS, KEV and EPSS; and
//! the curated set bundled with Kagami (data/vuln/cves.json).

use std::sync::OnceLock;

use serde::Deserialize;

use crate::catalog::{Catalog, Product};
use crate::version::{DebVersion, Scheme, Version};

const BUNDLED: &str = include_str!("../../../data/vuln/cves.json");

#[derive(Debug, Clone, PartialEq)]
pub struct Cvss {
    pub score: f64,
    /// `3.1`, `4.0`, `3.0`, `2.0`.
    pub version: String,
    pub vector: Option<String>,
}

/// Membership of CISA's Known Exploited Vulnerabilities catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Kev {
    pub date_added: Option<String>,
    /// Known use in ransomware campaigns.
    pub ransomware: bool,
}

/// FIRST's Exploit Prediction Scoring System score of a CVE.
#[derive(Debug, Clone, PartialEq)]
pub struct Epss {
    pub probability: f64,
    pub percentile: f64,
    pub model_version: String,
    pub score_date: String,
}

/// What a distribution release decided about a CVE in one source package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DistroFix {
    /// Fixed in this package version; older builds are vulnerable.
    Fixed(DebVersion),
    /// The release's package never had the flaw.
    NotAffected,
    /// Vulnerable, no fix released.
    Open,
    /// The distribution judges the issue negligible and will not fix it.
    Unimportant,
    /// Not yet triaged.
    Undetermined,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistroStatus {
    /// `debian` or `ubuntu`.
    pub distro: String,
    /// `12`, `22.04`.
    pub release: String,
    pub package: String,
    pub fix: DistroFix,
}

impl DistroFix {
    /// Reads the stored form: a package version, or `not-affected`, `open`,
    /// `unimportant`, `undetermined`.
    pub fn parse(status: &str, fixed: Option<&str>) -> Option<Self> {
        Some(match status {
            "fixed" => Self::Fixed(DebVersion::parse(fixed?).ok()?),
            "not-affected" => Self::NotAffected,
            "open" => Self::Open,
            "unimportant" => Self::Unimportant,
            "undetermined" => Self::Undetermined,
            _ => return None,
        })
    }

    pub fn status(&self) -> &'static str {
        match self {
            Self::Fixed(_) => "fixed",
            Self::NotAffected => "not-affected",
            Self::Open => "open",
            Self::Unimportant => "unimportant",
            Self::Undetermined => "undetermined",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub version: Version,
    pub inclusive: bool,
}

/// An affected range of upstream versions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Range {
    pub exact: Option<Version>,
    pub start: Option<Bound>,
    pub end: Option<Bound>,
}

impl Range {
    /// Builds a range from its bounds as text; `None` when a bound does not
    /// parse in the product's scheme (the range is then not used).
    pub fn parse(
        scheme: Scheme,
        exact: Option<&str>,
        start: Option<(&str, bool)>,
        end: Option<(&str, bool)>,
    ) -> Option<Self> {
        let bound = |(text, inclusive): (&str, bool)| {
            Version::parse(scheme, text)
                .ok()
                .map(|version| Bound { version, inclusive })
        };
        Some(Self {
            exact: match exact {
                Some(text) => Some(Version::parse(scheme, text).ok()?),
                None => None,
            },
            start: match start {
                Some(b) => Some(bound(b)?),
                None => None,
            },
            end: match end {
                Some(b) => Some(bound(b)?),
                None => None,
            },
        })
    }

    /// Every version: the NVD's way of saying it does not know which.
    pub fn is_unbounded(&self) -> bool {
        self.exact.is_none() && self.start.is_none() && self.end.is_none()
    }

    pub fn contains(&self, version: &Version) -> bool {
        if let Some(exact) = &self.exact {
            return exact == version;
        }
        let after_start = self.start.as_ref().is_none_or(|b| {
            if b.inclusive {
                version >= &b.version
            } else {
                version > &b.version
            }
        });
        let before_end = self.end.as_ref().is_none_or(|b| {
            if b.inclusive {
                version <= &b.version
            } else {
                version < &b.version
            }
        });
        after_start && before_end
    }

    /// `8.5p1 up to (not including) 9.8p1`, `2.4.49 only`.
    pub fn describe(&self) -> String {
        if let Some(exact) = &self.exact {
            return format!("{exact} only");
        }
        let start = self.start.as_ref().map(|b| {
            if b.inclusive {
                format!("from {}", b.version)
            } else {
                format!("after {}", b.version)
            }
        });
        let end = self.end.as_ref().map(|b| {
            if b.inclusive {
                format!("up to {}", b.version)
            } else {
                format!("before {}", b.version)
            }
        });
        match (start, end) {
            (Some(s), Some(e)) => format!("{s} {e}"),
            (Some(s), None) => s,
            (None, Some(e)) => e,
            (None, None) => "every version".into(),
        }
    }
}

/// One CVE as it applies to one product.
#[derive(Debug, Clone, PartialEq)]
pub struct Advisory {
    pub cve: String,
    pub cvss: Option<Cvss>,
    pub summary: String,
    pub ranges: Vec<Range>,
    /// Only affects the product on this platform (`windows`).
    pub platform: Option<String>,
    pub kev: Option<Kev>,
    pub epss: Option<Epss>,
    pub distro: Vec<DistroStatus>,
    pub sources: Vec<String>,
    /// From the curated set (ranges and distribution data checked by hand).
    pub curated: bool,
}

impl Advisory {
    /// The decision of a distribution release for one of the package names.
    pub fn distro_status(
        &self,
        distro: &str,
        release: &str,
        packages: &[String],
    ) -> Option<&DistroFix> {
        self.distro
            .iter()
            .find(|s| s.distro == distro && s.release == release && packages.contains(&s.package))
            .map(|s| &s.fix)
    }

    /// Adds or replaces a distribution decision (fresher data wins).
    pub fn set_distro(&mut self, status: DistroStatus) {
        match self.distro.iter_mut().find(|s| {
            s.distro == status.distro && s.release == status.release && s.package == status.package
        }) {
            Some(existing) => *existing = status,
            None => self.distro.push(status),
        }
    }
}

/// A CVE id as MITRE assigns them: `CVE-YYYY-NNNN…`.
pub fn is_cve_id(id: &str) -> bool {
    id.strip_prefix("CVE-")
        .and_then(|rest| rest.split_once('-'))
        .is_some_and(|(year, number)| {
            year.len() == 4
                && year.bytes().all(|b| b.is_ascii_digit())
                && (4..=7).contains(&number.len())
                && number.bytes().all(|b| b.is_ascii_digit())
        })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BundledFile {
    date: String,
    advisories: Vec<BundledAdvisory>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BundledAdvisory {
    cve: String,
    product: String,
    cvss: BundledCvss,
    summary: String,
    affected: Vec<BundledRange>,
    #[serde(default)]
    distro: Vec<BundledDistro>,
    #[serde(default)]
    kev: bool,
    #[serde(default)]
    ransomware: bool,
    #[serde(default)]
    platform: Option<String>,
    sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BundledCvss {
    version: String,
    score: f64,
    vector: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BundledRange {
    exact: Option<String>,
    from: Option<String>,
    after: Option<String>,
    to: Option<String>,
    before: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BundledDistro {
    distro: String,
    release: String,
    package: String,
    #[serde(default)]
    fixed: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// The curated set: per product name, its advisories.
#[derive(Debug)]
pub struct Bundled {
    pub date: String,
    pub advisories: Vec<(String, Advisory)>,
}

impl Bundled {
    pub fn get() -> &'static Self {
        static BUNDLE: OnceLock<Bundled> = OnceLock::new();
        BUNDLE.get_or_init(|| {
            // Part of the build and checked by the tests below.
            Self::parse(BUNDLED, Catalog::bundled()).unwrap_or_else(|e| panic!("cves.json: {e}"))
        })
    }

    fn parse(text: &str, catalog: &Catalog) -> Result<Self, String> {
        let file: BundledFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut advisories = Vec::new();
        for entry in file.advisories {
            let product = catalog
                .by_name(&entry.product)
                .ok_or_else(|| format!("{}: unknown product {}", entry.cve, entry.product))?;
            advisories.push((product.name.clone(), bundled_advisory(entry, product)?));
        }
        Ok(Self {
            date: file.date,
            advisories,
        })
    }
}

fn bundled_advisory(entry: BundledAdvisory, product: &Product) -> Result<Advisory, String> {
    let cve = entry.cve;
    if !is_cve_id(&cve) {
        return Err(format!("{cve}: not a CVE id"));
    }
    let mut ranges = Vec::new();
    for r in &entry.affected {
        let start = match (&r.from, &r.after) {
            (Some(v), None) => Some((v.as_str(), true)),
            (None, Some(v)) => Some((v.as_str(), false)),
            (None, None) => None,
            _ => return Err(format!("{cve}: both from and after")),
        };
        let end = match (&r.to, &r.before) {
            (Some(v), None) => Some((v.as_str(), true)),
            (None, Some(v)) => Some((v.as_str(), false)),
            (None, None) => None,
            _ => return Err(format!("{cve}: both to and before")),
        };
        let range = Range::parse(product.scheme, r.exact.as_deref(), start, end)
            .ok_or_else(|| format!("{cve}: a bound does not parse"))?;
        if range.is_unbounded() {
            return Err(format!("{cve}: a range without bounds"));
        }
        ranges.push(range);
    }
    let mut distro = Vec::new();
    for d in entry.distro {
        let status = d.status.as_deref().unwrap_or("fixed");
        let fix = DistroFix::parse(status, d.fixed.as_deref())
            .ok_or_else(|| format!("{cve}: bad distribution entry {status} {:?}", d.fixed))?;
        distro.push(DistroStatus {
            distro: d.distro,
            release: d.release,
            package: d.package,
            fix,
        });
    }
    Ok(Advisory {
        cvss: Some(Cvss {
            score: entry.cvss.score,
            version: entry.cvss.version,
            vector: Some(entry.cvss.vector),
        }),
        summary: entry.summary,
        ranges,
        platform: entry.platform,
        kev: entry.kev.then_some(Kev {
            date_added: None,
            ransomware: entry.ransomware,
        }),
        epss: None,
        distro,
        sources: entry.sources,
        curated: true,
        cve,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curated_set_is_well_formed() {
        let bundled = Bundled::get();
        assert!(
            bundled.advisories.len() >= 50,
            "{}",
            bundled.advisories.len()
        );
        time::Date::parse(
            &bundled.date,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .expect("date");
        let mut seen = std::collections::HashSet::new();
        for (product, advisory) in &bundled.advisories {
            assert!(
                seen.insert((product.clone(), advisory.cve.clone())),
                "duplicate {product} {}",
                advisory.cve
            );
            let cvss = advisory.cvss.as_ref().expect("cvss");
            assert!((0.0..=10.0).contains(&cvss.score), "{}", advisory.cve);
            let vector = cvss.vector.as_deref().unwrap_or("");
            assert!(
                vector.starts_with(&format!("CVSS:{}/", cvss.version))
                    || (cvss.version == "2.0" && vector.starts_with("AV:")),
                "{}: {vector}",
                advisory.cve
            );
            assert!(!advisory.ranges.is_empty(), "{}", advisory.cve);
            assert!(
                advisory.sources.iter().all(|s| s.starts_with("https://")),
                "{}",
                advisory.cve
            );
            assert!(
                advisory.sources.iter().any(|s| s.contains(&advisory.cve)),
                "{}: a source names the CVE",
                advisory.cve
            );
            for status in &advisory.distro {
                assert!(["debian", "ubuntu"].contains(&status.distro.as_str()));
            }
        }
    }

    #[test]
    fn ranges_include_and_exclude_their_bounds() {
        let range = Range::parse(
            Scheme::Openssh,
            None,
            Some(("8.5p1", true)),
            Some(("9.8p1", false)),
        )
        .expect("valid");
        let v = |s: &str| Version::parse(Scheme::Openssh, s).expect("valid");
        assert!(range.contains(&v("8.5p1")));
        assert!(range.contains(&v("9.7p1")));
        assert!(!range.contains(&v("9.8p1")));
        assert!(!range.contains(&v("8.4p1")));
        assert_eq!(range.describe(), "from 8.5p1 before 9.8p1");
        assert!(Range::parse(Scheme::Dotted, Some("x"), None, None).is_none());
        assert!(is_cve_id("CVE-2024-6387") && is_cve_id("CVE-2021-1234567"));
        assert!(
            !is_cve_id("CVE-24-6387") && !is_cve_id("GHSA-xxxx") && !is_cve_id("CVE-2024-12a4")
        );
    }
}
