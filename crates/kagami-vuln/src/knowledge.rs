//! Everything Kagami knows for the products of one scan: the curated set,
//! merged with what the local store holds for those products (NVD ranges,
//! KEV, EPSS, Debian and Ubuntu decisions), and where each part came from.

use std::collections::HashMap;

use crate::advisory::{Advisory, Bundled, DistroStatus, Epss, Kev};
use crate::catalog::{Catalog, Product};

/// Where a part of the knowledge came from and how old it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSource {
    /// `bundled`, `nvd`, `kev`, `epss`, `debian`, `ubuntu`.
    pub name: String,
    /// The date the data describes (feed timestamp, score date), `YYYY-MM-DD`.
    pub date: Option<String>,
    /// When it was imported, RFC 3339.
    pub imported_at: Option<String>,
    pub records: u64,
    /// What it is, in words.
    pub detail: String,
}

/// The advisories per product, and the sources they came from.
#[derive(Debug, Clone)]
pub struct Knowledge {
    by_product: HashMap<String, Vec<Advisory>>,
    pub sources: Vec<DataSource>,
}

impl Knowledge {
    /// The curated set alone.
    pub fn bundled() -> Self {
        let bundled = Bundled::get();
        let mut by_product: HashMap<String, Vec<Advisory>> = HashMap::new();
        for (product, advisory) in &bundled.advisories {
            by_product
                .entry(product.clone())
                .or_default()
                .push(advisory.clone());
        }
        Self {
            by_product,
            sources: vec![DataSource {
                name: "bundled".into(),
                date: Some(bundled.date.clone()),
                imported_at: None,
                records: bundled.advisories.len() as u64,
                detail: format!(
                    "curated set of {}: {} advisories with distribution fixes, {} end-of-life entries",
                    bundled.date,
                    bundled.advisories.len(),
                    crate::eol::EolTable::bundled().entries.len()
                ),
            }],
        }
    }

    pub fn advisories(&self, product: &Product) -> &[Advisory] {
        self.by_product
            .get(&product.name)
            .map_or(&[], Vec::as_slice)
    }

    /// Adds an NVD advisory; a curated one for the same CVE stays (its
    /// ranges were checked by hand), only filling in what it lacks.
    pub fn add_nvd(&mut self, product: &str, advisory: Advisory) {
        let list = self.by_product.entry(product.to_owned()).or_default();
        match list.iter_mut().find(|a| a.cve == advisory.cve) {
            Some(existing) if existing.curated => {}
            Some(existing) => {
                existing.ranges.extend(advisory.ranges);
            }
            None => list.push(advisory),
        }
    }

    /// Applies fresher distribution decisions to every product's advisories.
    pub fn apply_distro(&mut self, cve: &str, status: &DistroStatus) {
        for advisory in self.by_product.values_mut().flatten() {
            if advisory.cve == cve {
                advisory.set_distro(status.clone());
            }
        }
    }

    pub fn apply_kev(&mut self, kev: &HashMap<String, Kev>) {
        for advisory in self.by_product.values_mut().flatten() {
            if let Some(entry) = kev.get(&advisory.cve) {
                advisory.kev = Some(entry.clone());
            }
        }
    }

    pub fn apply_epss(&mut self, epss: &HashMap<String, Epss>) {
        for advisory in self.by_product.values_mut().flatten() {
            if let Some(entry) = epss.get(&advisory.cve) {
                advisory.epss = Some(entry.clone());
            }
        }
    }

    /// Every CVE id known for these products.
    pub fn cves(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .by_product
            .values()
            .flatten()
            .map(|a| a.cve.clone())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    pub fn catalog(&self) -> &'static Catalog {
        Catalog::bundled()
    }
}
