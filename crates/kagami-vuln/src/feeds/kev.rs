//! CISA's Known Exploited Vulnerabilities catalogue (JSON): `{"title",
//! "catalogVersion","dateReleased","count","vulnerabilities":[{"cveID",
//! "dateAdded","knownRansomwareCampaignUse",…}]}`.

use std::io::Read;

use serde::Deserialize;

use super::{FeedError, FeedMeta, Row, Sink, date_of, json_error, read_all};
use crate::advisory::is_cve_id;

/// The catalogue is about 1.5 MB; anything far larger is not it.
const MAX_BYTES: usize = 64 << 20;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Catalogue {
    catalog_version: String,
    #[serde(default)]
    date_released: Option<String>,
    #[serde(default)]
    count: Option<u64>,
    vulnerabilities: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    #[serde(rename = "cveID")]
    cve_id: String,
    #[serde(default)]
    vulnerability_name: Option<String>,
    #[serde(default)]
    date_added: Option<String>,
    #[serde(default)]
    known_ransomware_campaign_use: Option<String>,
}

pub(crate) fn parse(
    label: &str,
    reader: impl Read,
    sink: &mut Sink<'_>,
) -> Result<FeedMeta, FeedError> {
    let bytes = read_all(label, reader, MAX_BYTES)?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| json_error(label, &e))?;
    if value.get("catalogVersion").is_none() || value.get("vulnerabilities").is_none() {
        return Err(FeedError::Schema(
            label.into(),
            "no catalogVersion/vulnerabilities: not the KEV catalogue".into(),
        ));
    }
    let catalogue: Catalogue = serde_json::from_value(value)
        .map_err(|e| FeedError::Schema(label.into(), e.to_string()))?;
    if let Some(count) = catalogue.count
        && count != catalogue.vulnerabilities.len() as u64
    {
        return Err(FeedError::Corrupt(
            label.into(),
            format!(
                "count says {count} entries but {} are present",
                catalogue.vulnerabilities.len()
            ),
        ));
    }
    for entry in &catalogue.vulnerabilities {
        if !is_cve_id(&entry.cve_id) {
            return Err(FeedError::Corrupt(
                label.into(),
                format!("{:?} is not a CVE id", entry.cve_id),
            ));
        }
        sink(Row::Kev {
            cve: entry.cve_id.clone(),
            date_added: entry.date_added.as_deref().and_then(date_of),
            ransomware: entry.known_ransomware_campaign_use.as_deref() == Some("Known"),
            name: entry.vulnerability_name.clone().unwrap_or_default(),
        })?;
    }
    Ok(FeedMeta {
        data_date: catalogue.date_released.as_deref().and_then(date_of),
        version: Some(catalogue.catalog_version.clone()),
        detail: format!(
            "catalogue {}: {} CVEs",
            catalogue.catalog_version,
            catalogue.vulnerabilities.len()
        ),
    })
}
