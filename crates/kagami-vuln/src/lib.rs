//! Vulnerability knowledge (METI step 3): what a detected product and
//! version mean. It owns product normalisation to CPE vendor:product, the
//! version schemes (dotted, OpenSSH portable, dpkg), backport-aware CVE
//! matching where a distribution's fixed version decides over the upstream
//! range, the confidence of each verdict, severity from CVSS raised by CISA
//! KEV, EPSS, the end-of-life table, the curated data set bundled with
//! Kagami, and the local store the feeds are imported into.

pub mod advisory;
pub mod assess;
pub mod catalog;
pub mod download;
pub mod eol;
pub mod feeds;
pub mod knowledge;
pub mod matcher;
pub mod software;
pub mod store;
pub mod version;

use std::path::Path;

use kagami_core::{CoverageStep, StepStatus};

pub use assess::{Assessment, Place, Sighting, assess};
pub use feeds::{Feed, FeedError, FeedFiles};
pub use knowledge::{DataSource, Knowledge};
pub use software::Software;
pub use store::{FeedStatus, Store, StoreError};

/// The knowledge for a scan's sightings: the curated set, plus what the
/// store at `store_path` holds for the products seen. A missing or unusable
/// store is not fatal: the curated set is used and the returned step and
/// warning say so.
pub async fn knowledge_for(
    store_path: Option<&Path>,
    sightings: &[Sighting],
) -> (Knowledge, Option<CoverageStep>, Option<String>) {
    let mut knowledge = Knowledge::bundled();
    let catalog = catalog::Catalog::bundled();
    let mut products: Vec<&catalog::Product> = sightings
        .iter()
        .filter_map(|s| catalog.find(&s.software.product, s.software.cpe.as_deref()))
        .collect();
    products.sort_by(|a, b| a.name.cmp(&b.name));
    products.dedup_by(|a, b| a.name == b.name);
    let Some(path) = store_path else {
        return (
            knowledge,
            Some(assess::store_step(
                StepStatus::Skipped,
                "no feed store configured: only the curated set was used",
            )),
            None,
        );
    };
    let unused = |status, detail: String| {
        let warning = format!("vulnerability data: {detail}");
        (Some(assess::store_step(status, detail)), Some(warning))
    };
    match Store::open(path).await {
        Ok(Some(store)) => {
            let loaded = store.load(&products, &mut knowledge).await;
            store.close().await;
            match loaded {
                Ok(()) => (knowledge, None, None),
                Err(e) => {
                    let knowledge = Knowledge::bundled();
                    let (step, warning) = unused(
                        StepStatus::Failed,
                        format!("{e}; only the curated set was used"),
                    );
                    (knowledge, step, warning)
                }
            }
        }
        Ok(None) => {
            let (step, warning) = unused(
                StepStatus::Skipped,
                format!(
                    "no feeds imported at {} (run kagami db update): only the curated set was used",
                    path.display()
                ),
            );
            (knowledge, step, warning)
        }
        Err(e) => {
            let (step, warning) = unused(
                StepStatus::Failed,
                format!("{e}; only the curated set was used"),
            );
            (knowledge, step, warning)
        }
    }
}
