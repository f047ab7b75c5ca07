//! What a stage saw ([`Software`]: product, version, distribution revision,
//! the banner it came from) and what Kagami makes of it ([`Identified`]):
//! the catalogued product, the upstream version, and the build, which
//! decides whose data can judge it: a Debian/Ubuntu package whose exact
//! version is known, a vendor or distribution build whose patch level is
//! unknown, or an upstream release.

use kagami_core::Service;

use crate::catalog::{Catalog, Product};
use crate::version::{DebVersion, Version};

/// A product as a stage reported it. Any stage can feed the vulnerability
/// stage with these: probing (banners), the web stage (headers, pages).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Software {
    pub product: String,
    pub version: String,
    /// The distribution package revision, e.g. `Debian-2+deb12u3`,
    /// `Ubuntu-3ubuntu0.10`, `0+deb12u1`, `FreeBSD-20240701`.
    pub revision: Option<String>,
    /// The banner or header the product was read from; distribution
    /// markers such as `(Debian)` or `(Win64)` are read from it.
    pub context: Option<String>,
    /// A CPE 2.3 prefix when the stage knows one.
    pub cpe: Option<String>,
}

impl Software {
    pub fn new(product: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            product: product.into(),
            version: version.into(),
            revision: None,
            context: None,
            cpe: None,
        }
    }

    #[must_use]
    pub fn revision(mut self, revision: Option<&str>) -> Self {
        self.revision = revision.map(str::to_owned);
        self
    }

    #[must_use]
    pub fn context(mut self, context: Option<&str>) -> Self {
        self.context = context.map(str::to_owned);
        self
    }

    #[must_use]
    pub fn cpe(mut self, cpe: Option<&str>) -> Self {
        self.cpe = cpe.map(str::to_owned);
        self
    }

    /// The product a service announced, when it announced a version.
    pub fn from_service(service: &Service) -> Option<Self> {
        let product = service.product.as_deref()?;
        let version = service.version.as_deref()?;
        Some(
            Self::new(product, version)
                .revision(service.revision.as_deref())
                .context(service.banner.as_deref()),
        )
    }

    /// `OpenSSH 9.2p1 (Debian-2+deb12u3)`.
    pub fn label(&self) -> String {
        match &self.revision {
            Some(revision) => format!("{} {} ({revision})", self.product, self.version),
            None => format!("{} {}", self.product, self.version),
        }
    }
}

/// Where the software runs, as far as the banner tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Windows,
    Unix,
    Unknown,
}

/// Whose build it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Build {
    /// No distribution or vendor marker: the upstream release.
    Upstream,
    /// A Debian or Ubuntu package whose full version is known.
    Package {
        distro: &'static str,
        release: Option<String>,
        version: DebVersion,
    },
    /// A distribution or vendor build whose patch level is not shown; it may
    /// carry backported fixes under the upstream number.
    Vendor {
        distro: &'static str,
        release: Option<String>,
        why: String,
    },
    /// No marker, but the exact number distributions ship and patch
    /// without changing it (`nginx/1.22.1` is Debian 12's).
    Ambiguous { releases: Vec<String> },
}

/// A sighting resolved against the catalogue.
#[derive(Debug, Clone)]
pub struct Identified<'c> {
    pub product: &'c Product,
    pub version: Version,
    pub build: Build,
    pub platform: Platform,
}

impl Build {
    /// `Debian 12`, `Ubuntu 22.04`, `Red Hat Enterprise Linux 8` or the
    /// distribution alone when the release is unknown.
    pub fn distribution(&self) -> Option<String> {
        let (distro, release) = match self {
            Self::Package {
                distro, release, ..
            }
            | Self::Vendor {
                distro, release, ..
            } => (*distro, release.as_deref()),
            _ => return None,
        };
        let name = distro_name(distro);
        Some(match release {
            Some(release) => format!("{name} {release}"),
            None => name.to_owned(),
        })
    }
}

pub(crate) fn distro_name(distro: &str) -> &str {
    match distro {
        "debian" => "Debian",
        "ubuntu" => "Ubuntu",
        "rhel" => "Red Hat Enterprise Linux",
        "centos" => "CentOS",
        "fedora" => "Fedora",
        "freebsd" => "FreeBSD",
        "openbsd" => "OpenBSD",
        "microsoft" => "Microsoft",
        _ => "a vendor",
    }
}

const UBUNTU_RELEASES: [&str; 12] = [
    "14.04", "16.04", "18.04", "20.04", "22.04", "23.04", "23.10", "24.04", "24.10", "25.04",
    "25.10", "26.04",
];

impl Software {
    /// Resolves the sighting; `None` when the product is not catalogued or
    /// its version cannot be read (then nothing can be said about it).
    pub fn identify<'c>(&self, catalog: &'c Catalog) -> Option<Identified<'c>> {
        let product = catalog.find(&self.product, self.cpe.as_deref())?;
        let mut raw = self.version.trim();
        let mut platform = match product.platform.as_deref() {
            Some("windows") => Platform::Windows,
            _ => Platform::Unknown,
        };
        let mut forced_vendor = None;
        // Microsoft's port announces itself as OpenSSH_for_Windows_8.1.
        if let Some(rest) = raw.strip_prefix("for_Windows_") {
            raw = rest;
            platform = Platform::Windows;
            forced_vendor = Some(("microsoft", "Microsoft's Windows port"));
        }
        // A revision that rode along in the version (`8.1.2-1ubuntu2.14`).
        let mut revision = self.revision.clone();
        if revision.is_none()
            && let Some((upstream, rest)) = raw.split_once('-')
            && looks_like_distro_revision(rest)
        {
            raw = upstream;
            revision = Some(rest.to_owned());
        }
        let version = Version::parse(product.scheme, raw).ok()?;
        let context = self.context.as_deref().unwrap_or("").to_ascii_lowercase();
        if ["win32", "win64", "windows"]
            .iter()
            .any(|w| context.contains(w))
        {
            platform = Platform::Windows;
        }
        let build = if let Some((distro, why)) = forced_vendor {
            Build::Vendor {
                distro,
                release: None,
                why: why.into(),
            }
        } else if let Some(revision) = revision.as_deref() {
            from_revision(product, &version, revision)
        } else if let Some(build) = from_context(product, &version, &context) {
            build
        } else if product.scheme == crate::version::Scheme::Openssh
            && !version.has_portable_suffix()
        {
            // Portable OpenSSH always says pN; OpenBSD's own and vendor
            // packages (Red Hat strips the suffix) do not.
            let releases = product.releases_shipping(version.as_str());
            let release = releases
                .iter()
                .find(|(d, _)| *d == "rhel")
                .map(|(_, r)| (*r).to_owned());
            Build::Vendor {
                distro: if release.is_some() { "rhel" } else { "vendor" },
                release,
                why: "the version has no portable pN suffix, so this is a vendor build (Red Hat and its rebuilds, OpenBSD) that may carry backported fixes".into(),
            }
        } else if product.patched_in_place {
            Build::Vendor {
                distro: "microsoft",
                release: None,
                why: format!(
                    "the vendor fixes {} in place (Windows Update) without changing the version it announces",
                    product.name
                ),
            }
        } else if product.frozen && !product.releases_shipping(version.as_str()).is_empty() {
            Build::Ambiguous {
                releases: product
                    .releases_shipping(version.as_str())
                    .into_iter()
                    .map(|(d, r)| format!("{} {r}", distro_name(d)))
                    .collect(),
            }
        } else {
            Build::Upstream
        };
        if platform == Platform::Unknown
            && !matches!(build, Build::Upstream | Build::Ambiguous { .. })
        {
            platform = Platform::Unix;
        }
        if context.contains("(unix)") && platform == Platform::Unknown {
            platform = Platform::Unix;
        }
        Some(Identified {
            product,
            version,
            build,
            platform,
        })
    }
}

fn looks_like_distro_revision(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("ubuntu") || lower.contains("deb") || lower.contains(".el")
}

/// Reads a package revision: `Debian-2+deb12u3`, `Ubuntu-3ubuntu0.10`,
/// `0+deb12u1`, `0ubuntu0.22.04.1`, `FreeBSD-20240701`, `el8_10`.
fn from_revision(product: &Product, version: &Version, revision: &str) -> Build {
    let revision = revision.trim();
    let (hint, rest) = ["Debian-", "Ubuntu-", "Raspbian-", "FreeBSD-"]
        .iter()
        .find_map(|prefix| revision.strip_prefix(prefix).map(|rest| (*prefix, rest)))
        .unwrap_or(("", revision));
    let lower = rest.to_ascii_lowercase();
    let distro = if hint == "Ubuntu-" || lower.contains("ubuntu") {
        "ubuntu"
    } else if hint == "Debian-" || hint == "Raspbian-" || lower.contains("deb") {
        "debian"
    } else if hint == "FreeBSD-" {
        return Build::Vendor {
            distro: "freebsd",
            release: None,
            why: format!("the FreeBSD build {revision} carries FreeBSD's own patches"),
        };
    } else if let Some(release) = rhel_release(&lower) {
        return Build::Vendor {
            distro: "rhel",
            release: Some(release),
            why: format!("the Red Hat build {revision} may carry backported fixes"),
        };
    } else if lower.chars().next().is_some_and(|c| c.is_ascii_digit())
        && hint.is_empty()
        && !lower.contains('_')
    {
        // A bare Debian-style revision ("2", "13+b2") without a marker
        // could be any dpkg-based distribution.
        "debian"
    } else {
        return Build::Vendor {
            distro: "vendor",
            release: None,
            why: format!("the build marker {revision} is not one Kagami has data for"),
        };
    };
    let epoch = if product.epoch > 0 {
        format!("{}:", product.epoch)
    } else {
        String::new()
    };
    let Ok(package) = DebVersion::parse(&format!("{epoch}{version}-{rest}")) else {
        return Build::Vendor {
            distro,
            release: None,
            why: format!("the revision {revision} is not a valid package version"),
        };
    };
    let release = match distro {
        "debian" => debian_release(&lower),
        _ => ubuntu_release(&lower),
    }
    .or_else(|| unique_release(product, distro, version));
    Build::Package {
        distro,
        release,
        version: package,
    }
}

/// Markers in a banner (`Apache/2.4.62 (Debian)`, `ProFTPD 1.3.8 Server
/// (Debian)`, `Apache/2.2.15 (CentOS)`).
fn from_context(product: &Product, version: &Version, context: &str) -> Option<Build> {
    const MARKERS: [(&str, &str); 9] = [
        ("ubuntu", "ubuntu"),
        ("debian", "debian"),
        ("raspbian", "debian"),
        ("centos", "rhel"),
        ("red hat", "rhel"),
        ("rhel", "rhel"),
        ("almalinux", "rhel"),
        ("rocky", "rhel"),
        ("fedora", "fedora"),
    ];
    let (marker, distro) = MARKERS.iter().find(|(m, _)| context.contains(m))?;
    let release = unique_release(product, distro, version);
    let shown = if *marker == "centos" {
        "centos"
    } else {
        distro
    };
    Some(Build::Vendor {
        distro: shown,
        release,
        why: format!(
            "the banner names {} but not the package revision, and distributions backport fixes without changing the upstream number",
            distro_name(shown)
        ),
    })
}

fn unique_release(product: &Product, distro: &str, version: &Version) -> Option<String> {
    let releases: Vec<&str> = product
        .releases_shipping(version.as_str())
        .into_iter()
        .filter(|(d, _)| *d == distro)
        .map(|(_, r)| r)
        .collect();
    match releases.as_slice() {
        [only] => Some((*only).to_owned()),
        _ => None,
    }
}

/// `deb12u3`, `~deb12u1`, `+deb11u2` → `12`, `11`.
fn debian_release(revision: &str) -> Option<String> {
    let at = revision.find("deb")?;
    let digits: String = revision[at + 3..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!digits.is_empty()).then_some(digits)
}

/// `0ubuntu0.22.04.1`, `1~22.04.1` → `22.04`.
fn ubuntu_release(revision: &str) -> Option<String> {
    UBUNTU_RELEASES
        .iter()
        .find(|release| revision.contains(*release))
        .map(|r| (*r).to_owned())
}

/// `el8_10`, `el7` → `8`, `7`.
fn rhel_release(revision: &str) -> Option<String> {
    let at = revision.find("el")?;
    let digits: String = revision[at + 2..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!digits.is_empty()).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identify(software: &Software) -> Identified<'static> {
        software
            .identify(Catalog::bundled())
            .unwrap_or_else(|| panic!("not identified: {software:?}"))
    }

    #[test]
    fn debian_and_ubuntu_revisions_become_package_versions() {
        let debian =
            identify(&Software::new("OpenSSH", "9.2p1").revision(Some("Debian-2+deb12u3")));
        match &debian.build {
            Build::Package {
                distro,
                release,
                version,
            } => {
                assert_eq!(*distro, "debian");
                assert_eq!(release.as_deref(), Some("12"));
                assert_eq!(version.to_string(), "1:9.2p1-2+deb12u3");
            }
            other => panic!("{other:?}"),
        }
        let ubuntu =
            identify(&Software::new("OpenSSH", "8.9p1").revision(Some("Ubuntu-3ubuntu0.10")));
        assert!(matches!(
            &ubuntu.build,
            Build::Package { distro: "ubuntu", release: Some(r), version }
                if r == "22.04" && version.to_string() == "1:8.9p1-3ubuntu0.10"
        ));
        let initial = identify(&Software::new("OpenSSH", "9.2p1").revision(Some("Debian-2")));
        assert!(matches!(&initial.build, Build::Package { release: Some(r), .. } if r == "12"));
        let mysql = identify(&Software::new("MySQL", "8.0.36").revision(Some("0ubuntu0.22.04.1")));
        assert!(
            matches!(&mysql.build, Build::Package { distro: "ubuntu", release: Some(r), .. } if r == "22.04")
        );
        let php = identify(&Software::new("PHP", "8.1.2-1ubuntu2.14"));
        assert_eq!(php.version.as_str(), "8.1.2");
        assert!(
            matches!(&php.build, Build::Package { version, .. } if version.to_string() == "8.1.2-1ubuntu2.14")
        );
    }

    #[test]
    fn vendor_builds_and_markers() {
        let rhel = identify(&Software::new("OpenSSH", "8.7"));
        assert!(
            matches!(&rhel.build, Build::Vendor { distro: "rhel", release: Some(r), .. } if r == "9")
        );
        let freebsd =
            identify(&Software::new("OpenSSH", "9.7p1").revision(Some("FreeBSD-20240701")));
        assert!(matches!(
            freebsd.build,
            Build::Vendor {
                distro: "freebsd",
                ..
            }
        ));
        let apache =
            identify(&Software::new("Apache", "2.4.62").context(Some("Apache/2.4.62 (Debian)")));
        assert!(matches!(
            apache.build,
            Build::Vendor {
                distro: "debian",
                ..
            }
        ));
        assert_eq!(apache.platform, Platform::Unix);
        let centos =
            identify(&Software::new("Apache", "2.2.15").context(Some("Apache/2.2.15 (CentOS)")));
        assert!(
            matches!(&centos.build, Build::Vendor { distro: "centos", release: Some(r), .. } if r == "6")
        );
        let windows = identify(
            &Software::new("Apache", "2.4.58").context(Some("Apache/2.4.58 (Win64) PHP/8.3.7")),
        );
        assert_eq!(
            (windows.build.clone(), windows.platform),
            (Build::Upstream, Platform::Windows)
        );
        let nginx = identify(&Software::new("nginx", "1.22.1"));
        assert!(
            matches!(&nginx.build, Build::Ambiguous { releases } if releases == &["Debian 12".to_owned()])
        );
        assert_eq!(
            identify(&Software::new("nginx", "1.25.3")).build,
            Build::Upstream
        );
        let iis = identify(&Software::new("Microsoft-IIS", "8.5"));
        assert_eq!(iis.platform, Platform::Windows);
        let win = identify(&Software::new("OpenSSH", "for_Windows_8.1"));
        assert_eq!(win.version.as_str(), "8.1");
        assert!(matches!(
            win.build,
            Build::Vendor {
                distro: "microsoft",
                ..
            }
        ));
    }

    #[test]
    fn unknown_products_and_unreadable_versions_are_skipped() {
        let catalog = Catalog::bundled();
        assert!(
            Software::new("Dropbear", "2020.81")
                .identify(catalog)
                .is_none()
        );
        assert!(
            Software::new("OpenSSH", "garbage")
                .identify(catalog)
                .is_none()
        );
        assert!(
            Software::new("OpenSSH", "9".repeat(1000))
                .identify(catalog)
                .is_none()
        );
    }
}
