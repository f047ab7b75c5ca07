//! The decision for one identified build and one advisory. Where the build
//! is a Debian/Ubuntu package whose version is known and the distribution
//! has data for the CVE, the distribution decides; otherwise the upstream
//! range does, and the confidence says how much that is worth.

use kagami_core::{Confidence, Severity};

use crate::advisory::{Advisory, DistroFix};
use crate::software::{Build, Identified, Platform, distro_name};

/// An advisory that applies, with how sure Kagami is and why.
#[derive(Debug, Clone)]
pub struct Verdict<'a> {
    pub advisory: &'a Advisory,
    pub confidence: Confidence,
    /// Why the build is affected (and, for `possible`, why it may not be).
    pub reason: String,
}

/// The advisories that apply to the build.
pub fn verdicts<'a>(identified: &Identified<'_>, advisories: &'a [Advisory]) -> Vec<Verdict<'a>> {
    advisories
        .iter()
        .filter_map(|advisory| decide(identified, advisory))
        .collect()
}

fn decide<'a>(id: &Identified<'_>, advisory: &'a Advisory) -> Option<Verdict<'a>> {
    let version = &id.version;
    let upstream = advisory.ranges.iter().find(|r| r.contains(version));
    let product = &id.product.name;
    let verdict = |confidence, reason: String| {
        Some(Verdict {
            advisory,
            confidence,
            reason,
        })
    };
    // A flaw of one platform's build.
    let mut platform_doubt = None;
    if advisory.platform.as_deref() == Some("windows") {
        match id.platform {
            Platform::Windows => {}
            Platform::Unix => return None,
            Platform::Unknown => {
                platform_doubt = Some(
                    "it affects only Windows installations and the banner does not say which system this is",
                );
            }
        }
    }
    let packages = id.product.package_names(version);
    let cap = |verdict: Option<Verdict<'a>>| {
        verdict.map(|mut v| {
            if let Some(doubt) = platform_doubt {
                v.confidence = Confidence::Possible;
                v.reason = format!("{}; needs verification: {doubt}", v.reason);
            }
            v
        })
    };
    match &id.build {
        Build::Package {
            distro,
            release: Some(release),
            version: package,
        } => {
            let name = format!("{} {release}", distro_name(distro));
            match advisory.distro_status(distro, release, &packages) {
                Some(DistroFix::Fixed(fixed)) => {
                    if package < fixed {
                        cap(verdict(
                            Confidence::Likely,
                            format!("{name} fixed it in package {fixed}; this build is {package}"),
                        ))
                    } else {
                        None
                    }
                }
                Some(DistroFix::NotAffected | DistroFix::Unimportant) => None,
                Some(DistroFix::Open) => cap(verdict(
                    Confidence::Likely,
                    format!("{name} has not released a fix; this build is {package}"),
                )),
                Some(DistroFix::Undetermined) | None => {
                    let range = upstream?;
                    cap(verdict(
                        Confidence::Possible,
                        format!(
                            "needs verification: upstream {product} {version} is in the affected range ({}), but the loaded data has no decision of {name} for it, and {name} may have backported the fix into {package}",
                            range.describe()
                        ),
                    ))
                }
            }
        }
        Build::Package {
            distro,
            release: None,
            version: package,
        } => {
            let range = upstream?;
            cap(verdict(
                Confidence::Possible,
                format!(
                    "needs verification: upstream {product} {version} is in the affected range ({}), but the {} release of package {package} is not known, so its fixes cannot be checked",
                    range.describe(),
                    distro_name(distro)
                ),
            ))
        }
        Build::Vendor {
            distro,
            release,
            why,
        } => {
            if let Some(release) = release
                && let Some(status) = advisory.distro_status(distro, release, &packages)
                && matches!(status, DistroFix::NotAffected | DistroFix::Unimportant)
            {
                return None;
            }
            let range = upstream?;
            cap(verdict(
                Confidence::Possible,
                format!(
                    "needs verification: upstream {product} {version} is in the affected range ({}), but {why}",
                    range.describe()
                ),
            ))
        }
        Build::Ambiguous { releases } => {
            let range = upstream?;
            cap(verdict(
                Confidence::Possible,
                format!(
                    "needs verification: {product} {version} is in the affected range ({}), but it is also the version {} ships and patches without changing the number, and the banner does not say whose build it is",
                    range.describe(),
                    releases.join(" and ")
                ),
            ))
        }
        Build::Upstream => {
            let range = upstream?;
            if range.is_unbounded() {
                return cap(verdict(
                    Confidence::Possible,
                    format!(
                        "needs verification: the NVD lists every version of {product} as affected, without a range"
                    ),
                ));
            }
            cap(verdict(
                Confidence::Likely,
                format!(
                    "{product} {version} is in the affected range ({}) and the banner shows no distribution build",
                    range.describe()
                ),
            ))
        }
    }
}

/// checks.md: 9.0+ critical, 7.0+ high, 4.0+ medium, else low. A CVE the
/// NVD has not scored yet counts as medium until it is.
pub fn severity_from_cvss(score: Option<f64>) -> Severity {
    match score {
        Some(s) if s >= 9.0 => Severity::Critical,
        Some(s) if s >= 7.0 => Severity::High,
        Some(s) if s >= 4.0 => Severity::Medium,
        Some(_) => Severity::Low,
        None => Severity::Medium,
    }
}

/// The severity of a verdict on an exposed service. A `possible` verdict
/// never counts above `info`. Known exploitation (CISA KEV) raises it: to
/// high at least, and to critical when the CVE is used by ransomware or the
/// CVSS vector shows it can be run by anyone over the network without
/// credentials or user action, or gives total control (scoring.md §4.2).
pub fn severity(advisory: &Advisory, confidence: Confidence) -> Severity {
    if confidence == Confidence::Possible {
        return Severity::Info;
    }
    let base = severity_from_cvss(advisory.cvss.as_ref().map(|c| c.score));
    let Some(kev) = &advisory.kev else {
        return base;
    };
    let vector = advisory
        .cvss
        .as_ref()
        .and_then(|c| c.vector.as_deref())
        .unwrap_or("");
    let has = |metric: &str| vector.split('/').any(|m| m == metric);
    // CVSS v3/v4 name privileges PR and interaction UI; v2 has Au and no UI.
    let v2 = !vector.starts_with("CVSS:");
    let automatable = has("AV:N") && (has("PR:N") || has("Au:N")) && (has("UI:N") || v2);
    let total =
        (has("C:H") || has("VC:H") || has("C:C")) && (has("I:H") || has("VI:H") || has("I:C"));
    if kev.ransomware || automatable || total {
        Severity::Critical
    } else {
        base.max(Severity::High)
    }
}
