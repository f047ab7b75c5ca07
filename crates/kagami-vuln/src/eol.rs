//! The end-of-life table (data/vuln/eol.json): upstream release branches
//! past their vendor's support (Microsoft IIS by Windows Server release,
//! Apache httpd 2.2, PHP and OpenSSL branches, Exchange, FortiOS...) and
//! distribution releases past their security support. A distribution build
//! is judged by its release, not by the upstream branch it packages.

use std::sync::OnceLock;

use kagami_core::Confidence;
use serde::Deserialize;
use time::Date;

use crate::catalog::Catalog;
use crate::software::{Build, Identified};
use crate::version::Version;

const EOL: &str = include_str!("../../../data/vuln/eol.json");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EolFile {
    date: String,
    products: Vec<ProductEntry>,
    releases: Vec<ReleaseEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductEntry {
    product: String,
    #[serde(default)]
    branch: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    before: Option<String>,
    label: String,
    eol: String,
    source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseEntry {
    distro: String,
    release: String,
    label: String,
    eol: String,
    source: String,
    #[serde(default)]
    note: Option<String>,
}

/// One row of the table, parsed.
#[derive(Debug)]
pub struct EolEntry {
    pub label: String,
    pub eol: Date,
    pub source: String,
    pub note: Option<String>,
    selector: Selector,
}

#[derive(Debug)]
enum Selector {
    Product {
        product: String,
        branch: Option<Version>,
        from: Option<Version>,
        before: Option<Version>,
    },
    Release {
        distro: String,
        release: String,
    },
}

/// The parsed table.
#[derive(Debug)]
pub struct EolTable {
    pub date: String,
    pub entries: Vec<EolEntry>,
}

/// A product past its end of support.
#[derive(Debug, Clone)]
pub struct EolVerdict<'a> {
    pub entry: &'a EolEntry,
    pub confidence: Confidence,
    pub reason: String,
}

pub(crate) fn parse_date(text: &str) -> Option<Date> {
    Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

impl EolTable {
    pub fn bundled() -> &'static Self {
        static TABLE: OnceLock<EolTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            // Part of the build and checked by the tests below.
            Self::parse(EOL, Catalog::bundled()).unwrap_or_else(|e| panic!("eol.json: {e}"))
        })
    }

    fn parse(text: &str, catalog: &Catalog) -> Result<Self, String> {
        let file: EolFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut entries = Vec::new();
        for row in file.products {
            let product = catalog
                .by_name(&row.product)
                .ok_or_else(|| format!("unknown product {}", row.product))?;
            let version = |text: &Option<String>| -> Result<Option<Version>, String> {
                text.as_deref()
                    .map(|t| Version::parse(product.scheme, t).map_err(|e| e.to_string()))
                    .transpose()
            };
            let selector = Selector::Product {
                product: product.name.clone(),
                branch: version(&row.branch)?,
                from: version(&row.from)?,
                before: version(&row.before)?,
            };
            if let Selector::Product {
                branch: None,
                from: None,
                before: None,
                ..
            } = selector
            {
                return Err(format!("{}: no version selector", row.label));
            }
            entries.push(EolEntry {
                eol: parse_date(&row.eol).ok_or_else(|| format!("{}: bad date", row.label))?,
                label: row.label,
                source: row.source,
                note: None,
                selector,
            });
        }
        for row in file.releases {
            entries.push(EolEntry {
                eol: parse_date(&row.eol).ok_or_else(|| format!("{}: bad date", row.label))?,
                label: row.label,
                source: row.source,
                note: row.note,
                selector: Selector::Release {
                    distro: row.distro,
                    release: row.release,
                },
            });
        }
        Ok(Self {
            date: file.date,
            entries,
        })
    }

    fn release(&self, distro: &str, release: &str) -> Option<&EolEntry> {
        self.entries.iter().find(|e| {
            matches!(&e.selector, Selector::Release { distro: d, release: r } if d == distro && r == release)
        })
    }

    fn upstream(&self, id: &Identified<'_>) -> Option<&EolEntry> {
        self.entries.iter().find(|e| match &e.selector {
            Selector::Product {
                product,
                branch,
                from,
                before,
            } => {
                *product == id.product.name
                    && branch.as_ref().is_none_or(|b| id.version.in_branch(b))
                    && from.as_ref().is_none_or(|f| &id.version >= f)
                    && before.as_ref().is_none_or(|b| &id.version < b)
            }
            Selector::Release { .. } => false,
        })
    }

    /// Whether the build is past its end of support on `today`. A Debian or
    /// Ubuntu package is judged by its release; an Ubuntu build carrying
    /// `+esm` is covered by Ubuntu Pro; a distribution build of unknown
    /// release only when every release that ships its version has ended.
    pub fn verdict<'a>(&'a self, id: &Identified<'_>, today: Date) -> Option<EolVerdict<'a>> {
        let ended = |entry: &'a EolEntry, confidence, reason: String| {
            (entry.eol <= today).then_some(EolVerdict {
                entry,
                confidence,
                reason,
            })
        };
        match &id.build {
            Build::Package {
                distro,
                release: Some(release),
                version,
            } => {
                if version.revision().contains("esm") {
                    return None;
                }
                let entry = self.release(distro, release)?;
                ended(
                    entry,
                    Confidence::Likely,
                    format!(
                        "the package revision {version} is a build for {}",
                        entry.label
                    ),
                )
            }
            Build::Vendor {
                distro,
                release: Some(release),
                why: _,
            } => {
                let entry = self.release(distro, release)?;
                ended(
                    entry,
                    Confidence::Likely,
                    format!(
                        "the banner names the distribution, and {} {} is the version {} ships",
                        id.product.name, id.version, entry.label
                    ),
                )
            }
            // The vendor's own build: its version names the release.
            Build::Vendor {
                distro: "microsoft",
                ..
            }
            | Build::Upstream => {
                let entry = self.upstream(id)?;
                ended(
                    entry,
                    Confidence::Likely,
                    format!("{} is past its end of support", entry.label),
                )
            }
            Build::Package { release: None, .. } | Build::Vendor { release: None, .. } => {
                let entry = self.upstream(id)?;
                ended(
                    entry,
                    Confidence::Possible,
                    format!(
                        "needs verification: {} is past its end of support upstream, but this is a distribution build whose release is not known, and the distribution may still support it",
                        entry.label
                    ),
                )
            }
            Build::Ambiguous { .. } => {
                let entry = self.upstream(id)?;
                let all_ended = id
                    .product
                    .releases_shipping(id.version.as_str())
                    .iter()
                    .all(|(d, r)| self.release(d, r).is_some_and(|e| e.eol <= today));
                if !all_ended {
                    return None;
                }
                ended(
                    entry,
                    Confidence::Likely,
                    format!(
                        "{} is past its end of support, and so is every distribution release that ships this version",
                        entry.label
                    ),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::software::Software;

    fn today() -> Date {
        parse_date("2026-11-21").expect("date")
    }

    fn eol(software: Software) -> Option<(String, String, Confidence)> {
        let id = software.identify(Catalog::bundled()).expect("identified");
        EolTable::bundled()
            .verdict(&id, today())
            .map(|v| (v.entry.label.clone(), v.entry.eol.to_string(), v.confidence))
    }

    #[test]
    fn the_table_parses_and_every_row_has_a_source() {
        let table = EolTable::bundled();
        assert!(table.entries.len() > 60);
        assert!(
            table
                .entries
                .iter()
                .all(|e| e.source.starts_with("https://"))
        );
    }

    #[test]
    fn iis_follows_windows_server() {
        assert_eq!(
            eol(Software::new("Microsoft-IIS", "8.5")),
            Some((
                "IIS 8.5 (Windows Server 2012 R2)".into(),
                "2023-10-10".into(),
                Confidence::Likely
            ))
        );
        assert_eq!(eol(Software::new("Microsoft-IIS", "10.0")), None);
        assert!(eol(Software::new("Microsoft-IIS", "6.0")).is_some());
    }

    #[test]
    fn upstream_branches_and_distribution_releases() {
        assert_eq!(
            eol(Software::new("Apache", "2.2.34")).map(|v| v.1),
            Some("2017-12-31".into())
        );
        assert_eq!(eol(Software::new("Apache", "2.4.62")), None);
        assert!(eol(Software::new("PHP", "7.4.33")).is_some());
        assert_eq!(eol(Software::new("PHP", "8.3.14")), None);
        // Ubuntu 20.04's PHP 7.4 is judged by Ubuntu 20.04 (standard support over).
        let focal = eol(Software::new("PHP", "7.4.3-4ubuntu2.24")).expect("focal ended");
        assert!(focal.0.starts_with("Ubuntu 20.04"), "{focal:?}");
        // ... and not when the build is an Ubuntu Pro (ESM) one.
        assert_eq!(eol(Software::new("PHP", "7.4.3-4ubuntu2.24+esm1")), None);
        // Debian 12 is supported (LTS) although PHP 8.2 ends upstream in December.
        assert_eq!(
            eol(Software::new("OpenSSH", "9.2p1").revision(Some("Debian-2+deb12u7"))),
            None
        );
        let buster = eol(Software::new("OpenSSH", "7.9p1").revision(Some("Debian-10+deb10u4")));
        assert_eq!(buster.map(|v| v.1), Some("2024-06-30".into()));
        let centos = eol(Software::new("Apache", "2.2.15").context(Some("Apache/2.2.15 (CentOS)")));
        assert_eq!(centos.map(|v| v.0), Some("CentOS 6".into()));
        // Exchange 2019 builds before Subscription Edition are past support; SE is not.
        assert!(eol(Software::new("Microsoft Exchange", "15.2.1544.4")).is_some());
        assert_eq!(
            eol(Software::new("Microsoft Exchange", "15.2.2562.17")),
            None
        );
        // SQL Server by the major.minor of its PRELOGIN version: 2008 R2 is
        // 10.50, not 2008's 10.0; 2016 (13.0) ended in July 2026, 2019 has not.
        let sql = |version| eol(Software::new("Microsoft SQL Server", version)).map(|v| v.0);
        assert_eq!(sql("10.50.6000"), Some("SQL Server 2008 R2".into()));
        assert_eq!(sql("10.0.6000"), Some("SQL Server 2008".into()));
        assert_eq!(sql("13.0.6300"), Some("SQL Server 2016".into()));
        assert_eq!(sql("15.0.2000"), None);
        // nginx 1.22.1 is Debian 12's: supported there, so no finding.
        assert_eq!(eol(Software::new("nginx", "1.22.1")), None);
    }
}
