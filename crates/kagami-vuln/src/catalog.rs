//! The product catalogue (data/vuln/products.json): the names stages report
//! for a product, its CPE 2.3 vendor:product pairs, its version scheme, its
//! Debian/Ubuntu source package, and the upstream versions distributions
//! ship in each release (which tell a release from a banner, and which
//! numbers distributions keep while backporting fixes).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::version::{Scheme, Version};

const PRODUCTS: &str = include_str!("../../../data/vuln/products.json");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// The name Kagami reports, e.g. `Apache httpd`.
    pub name: String,
    /// Other names stages use for it, compared without case or punctuation.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// CPE 2.3 `vendor:product` pairs the NVD files it under.
    pub cpe: Vec<String>,
    #[serde(default)]
    pub scheme: Scheme,
    /// Debian/Ubuntu source package names; `{major}` and `{minor}` are
    /// filled from the version (`php{major}.{minor}` → `php8.2`).
    #[serde(default)]
    pub packages: Vec<String>,
    /// The epoch of the Debian/Ubuntu package version (`1:` for openssh).
    #[serde(default)]
    pub epoch: u32,
    /// Distributions keep this product's number in a release and backport
    /// fixes, so a bare version equal to one they ship proves nothing.
    #[serde(default)]
    pub frozen: bool,
    /// Upstream version shipped per release: `debian:12`, `ubuntu:22.04`,
    /// `rhel:8` (Red Hat and its rebuilds).
    #[serde(default)]
    pub shipped: BTreeMap<String, String>,
    /// Where the product runs only on one platform (`windows`).
    #[serde(default)]
    pub platform: Option<String>,
    /// The vendor fixes it in place without changing the version it
    /// announces (IIS is patched through Windows Update).
    #[serde(default)]
    pub patched_in_place: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductsFile {
    products: Vec<Product>,
}

/// All products Kagami can match against vulnerability data.
#[derive(Debug)]
pub struct Catalog {
    products: Vec<Product>,
}

/// Lower-case letters and digits only, so that `Microsoft-IIS`, `microsoft
/// iis` and `MicrosoftIIS` are one name.
pub(crate) fn squash(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl Catalog {
    /// The bundled catalogue, parsed once.
    pub fn bundled() -> &'static Self {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            // The file is part of the build and checked by the tests below;
            // a broken one is a build defect, not a runtime condition.
            let file: ProductsFile =
                serde_json::from_str(PRODUCTS).unwrap_or_else(|e| panic!("products.json: {e}"));
            Self {
                products: file.products,
            }
        })
    }

    pub fn products(&self) -> &[Product] {
        &self.products
    }

    /// The product a stage's name (or CPE prefix) stands for.
    pub fn find(&self, name: &str, cpe: Option<&str>) -> Option<&Product> {
        if let Some(pair) = cpe.and_then(cpe_vendor_product)
            && let Some(product) = self.by_cpe(&pair.0, &pair.1)
        {
            return Some(product);
        }
        let wanted = squash(name);
        if wanted.is_empty() {
            return None;
        }
        self.products
            .iter()
            .find(|p| squash(&p.name) == wanted || p.aliases.iter().any(|a| squash(a) == wanted))
    }

    /// The product the NVD files under `vendor:product`.
    pub fn by_cpe(&self, vendor: &str, product: &str) -> Option<&Product> {
        self.products.iter().find(|p| {
            p.cpe
                .iter()
                .any(|c| c.split_once(':') == Some((vendor, product)))
        })
    }

    pub fn by_name(&self, name: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.name == name)
    }

    /// Whether a Debian/Ubuntu source package belongs to a catalogued
    /// product (the feed importers keep only those).
    pub fn knows_package(&self, package: &str) -> bool {
        self.products
            .iter()
            .flat_map(|p| &p.packages)
            .any(|template| template_matches(template, package))
    }
}

impl Product {
    /// The source package names this version would have.
    pub fn package_names(&self, version: &Version) -> Vec<String> {
        let numbers: Vec<&str> = version.numbers().collect();
        let major = numbers.first().copied().unwrap_or("0");
        let minor = numbers.get(1).copied().unwrap_or("0");
        let mut names: Vec<String> = self
            .packages
            .iter()
            .map(|t| t.replace("{major}", major).replace("{minor}", minor))
            .collect();
        names.dedup();
        names
    }

    /// The releases (`debian:12`...) that ship exactly this upstream version.
    pub fn releases_shipping(&self, version: &str) -> Vec<(&str, &str)> {
        self.shipped
            .iter()
            .filter(|(_, shipped)| shipped.as_str() == version)
            .filter_map(|(key, _)| key.split_once(':'))
            .collect()
    }
}

/// `cpe:2.3:a:apache:http_server[:...]` → (`apache`, `http_server`).
pub fn cpe_vendor_product(cpe: &str) -> Option<(String, String)> {
    let mut fields = cpe.strip_prefix("cpe:2.3:")?.split(':');
    let _part = fields.next()?;
    let vendor = fields.next().filter(|v| !v.is_empty() && *v != "*")?;
    let product = fields.next().filter(|v| !v.is_empty() && *v != "*")?;
    Some((vendor.to_owned(), product.to_owned()))
}

/// A package template (`php{major}.{minor}`) matches names where the
/// placeholders are filled with numbers.
fn template_matches(template: &str, package: &str) -> bool {
    match template.find('{') {
        None => template == package,
        Some(at) => package.strip_prefix(&template[..at]).is_some_and(|rest| {
            !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit() || c == '.')
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_product_is_consistent() {
        let catalog = Catalog::bundled();
        assert!(catalog.products().len() >= 20);
        for product in catalog.products() {
            assert!(!product.cpe.is_empty(), "{}", product.name);
            for cpe in &product.cpe {
                let (vendor, name) = cpe.split_once(':').expect("vendor:product");
                assert!(!vendor.is_empty() && !name.is_empty(), "{cpe}");
            }
            for (release, version) in &product.shipped {
                let (distro, number) = release.split_once(':').expect("distro:release");
                assert!(
                    ["debian", "ubuntu", "rhel"].contains(&distro) && !number.is_empty(),
                    "{release}"
                );
                Version::parse(product.scheme, version)
                    .unwrap_or_else(|e| panic!("{}: {e}", product.name));
            }
            assert_eq!(
                catalog.find(&product.name, None).map(|p| &p.name),
                Some(&product.name),
                "names must be unique"
            );
        }
    }

    #[test]
    fn names_and_cpes_find_products() {
        let catalog = Catalog::bundled();
        let name = |n: &str| catalog.find(n, None).map(|p| p.name.as_str());
        assert_eq!(name("Microsoft-IIS"), Some("Microsoft IIS"));
        assert_eq!(name("apache"), Some("Apache httpd"));
        assert_eq!(name("OpenSSH"), Some("OpenSSH"));
        assert_eq!(name("nothing-like-it"), None);
        assert_eq!(
            catalog
                .find("web server", Some("cpe:2.3:a:f5:nginx"))
                .map(|p| p.name.as_str()),
            Some("nginx")
        );
        assert!(catalog.knows_package("php8.2"));
        assert!(catalog.knows_package("openssh"));
        assert!(!catalog.knows_package("php"));
        assert!(!catalog.knows_package("linux"));
        let php = catalog.by_name("PHP").expect("PHP");
        let version = Version::parse(php.scheme, "8.1.2").expect("valid");
        assert!(php.package_names(&version).contains(&"php8.1".to_owned()));
    }
}
