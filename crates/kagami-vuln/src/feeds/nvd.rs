//! NVD CVE API 2.0 JSON: `{"format":"NVD_CVE","version":"2.0","timestamp":…,
//! "vulnerabilities":[{"cve":{…}}]}`, as served by the API and in the yearly
//! feed files. The `vulnerabilities` array is streamed one CVE at a time;
//! of each CVE only the id, the CVSS base score, an English summary and the
//! vulnerable CPE matches (with version bounds and the platform an AND
//! configuration requires) are kept.

use std::fmt;
use std::io::Read;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{FeedError, FeedMeta, Row, Sink, date_of, json_error};
use crate::advisory::is_cve_id;

/// Longest summary kept (characters).
const SUMMARY_CHARS: usize = 300;

#[derive(Debug, Deserialize)]
struct Item {
    cve: Cve,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cve {
    id: String,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    vuln_status: Option<String>,
    #[serde(default)]
    descriptions: Vec<Description>,
    #[serde(default)]
    metrics: Metrics,
    #[serde(default)]
    configurations: Vec<Configuration>,
}

#[derive(Debug, Deserialize)]
struct Description {
    lang: String,
    value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metrics {
    #[serde(default)]
    cvss_metric_v40: Vec<Metric>,
    #[serde(default)]
    cvss_metric_v31: Vec<Metric>,
    #[serde(default)]
    cvss_metric_v30: Vec<Metric>,
    #[serde(default)]
    cvss_metric_v2: Vec<Metric>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metric {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    cvss_data: CvssData,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CvssData {
    version: String,
    #[serde(default)]
    vector_string: Option<String>,
    base_score: f64,
}

#[derive(Debug, Deserialize)]
struct Configuration {
    #[serde(default)]
    operator: Option<String>,
    #[serde(default)]
    nodes: Vec<Node>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Node {
    #[serde(default)]
    negate: bool,
    #[serde(default)]
    cpe_match: Vec<CpeMatch>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CpeMatch {
    vulnerable: bool,
    criteria: String,
    #[serde(default)]
    version_start_including: Option<String>,
    #[serde(default)]
    version_start_excluding: Option<String>,
    #[serde(default)]
    version_end_including: Option<String>,
    #[serde(default)]
    version_end_excluding: Option<String>,
}

/// A parsed CPE 2.3 formatted string: part, vendor, product, version, update.
struct Cpe {
    part: String,
    vendor: String,
    product: String,
    version: Option<String>,
}

/// Splits on unescaped colons and removes the escapes.
fn parse_cpe(criteria: &str) -> Option<Cpe> {
    let rest = criteria.strip_prefix("cpe:2.3:")?;
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.push(chars.next()?),
            ':' => fields.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    fields.push(current);
    if fields.len() < 5 {
        return None;
    }
    let real = |v: &str| (!v.is_empty() && v != "*" && v != "-").then(|| v.to_owned());
    let version = real(&fields[3]).map(|version| match real(&fields[4]) {
        // OpenSSH's portable level is filed as the update: 7.4 + p1.
        Some(update)
            if update.starts_with('p') && update[1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("{version}{update}")
        }
        Some(update) => format!("{version}-{update}"),
        None => version,
    });
    Some(Cpe {
        part: fields[0].clone(),
        vendor: real(&fields[1])?,
        product: real(&fields[2])?,
        version,
    })
}

/// The score used for severity: NVD's own (Primary) v3.1, else v3.0, else
/// v4.0, else v2; the CNA's (Secondary) when NVD has none.
fn pick_cvss(metrics: &Metrics) -> Option<&CvssData> {
    let lists = [
        &metrics.cvss_metric_v31,
        &metrics.cvss_metric_v30,
        &metrics.cvss_metric_v40,
        &metrics.cvss_metric_v2,
    ];
    let primary = lists
        .iter()
        .find_map(|l| l.iter().find(|m| m.kind.as_deref() == Some("Primary")));
    primary
        .or_else(|| lists.iter().find_map(|l| l.first()))
        .map(|m| &m.cvss_data)
        .filter(|d| (0.0..=10.0).contains(&d.base_score))
}

fn rows_of(cve: Cve, sink: &mut Sink<'_>) -> Result<bool, FeedError> {
    if !is_cve_id(&cve.id) || cve.vuln_status.as_deref() == Some("Rejected") {
        return Ok(false);
    }
    let summary: String = cve
        .descriptions
        .iter()
        .find(|d| d.lang == "en")
        .map(|d| d.value.chars().take(SUMMARY_CHARS).collect())
        .unwrap_or_default();
    let cvss = pick_cvss(&cve.metrics);
    sink(Row::Cve {
        cve: cve.id.clone(),
        published: cve.published.as_deref().and_then(date_of),
        cvss: cvss.map(|c| c.base_score),
        cvss_version: cvss.map(|c| c.version.clone()),
        cvss_vector: cvss.and_then(|c| c.vector_string.clone()),
        summary,
    })?;
    for config in &cve.configurations {
        let and = config.operator.as_deref() == Some("AND");
        let nodes: Vec<&Node> = config.nodes.iter().filter(|n| !n.negate).collect();
        // In an AND configuration, the non-vulnerable CPEs are the platform
        // the product must run on (`o:microsoft:windows`).
        let platform = and
            .then(|| {
                nodes
                    .iter()
                    .flat_map(|n| &n.cpe_match)
                    .filter(|m| !m.vulnerable)
                    .filter_map(|m| parse_cpe(&m.criteria))
                    .map(|c| format!("{}:{}:{}", c.part, c.vendor, c.product))
                    .next()
            })
            .flatten();
        for m in nodes
            .iter()
            .flat_map(|n| &n.cpe_match)
            .filter(|m| m.vulnerable)
        {
            let Some(cpe) = parse_cpe(&m.criteria) else {
                continue;
            };
            if cpe.part == "h" {
                continue;
            }
            sink(Row::Match {
                cve: cve.id.clone(),
                vendor: cpe.vendor,
                product: cpe.product,
                version: cpe.version,
                start_incl: m.version_start_including.clone(),
                start_excl: m.version_start_excluding.clone(),
                end_incl: m.version_end_including.clone(),
                end_excl: m.version_end_excluding.clone(),
                platform: platform.clone(),
            })?;
        }
    }
    Ok(true)
}

struct File<'a, 's> {
    label: &'a str,
    sink: &'a mut Sink<'s>,
    format: Option<String>,
    version: Option<String>,
    timestamp: Option<String>,
    items: Option<u64>,
    /// The first error of the sink (serde only carries strings).
    failure: Option<FeedError>,
}

impl File<'_, '_> {
    fn schema_problem(&self) -> Option<String> {
        match (&self.format, &self.version) {
            (Some(f), _) if f != "NVD_CVE" => Some(format!("format {f:?} is not NVD_CVE")),
            (_, Some(v)) if !v.starts_with("2.") => Some(format!("version {v:?} is not 2.x")),
            _ => None,
        }
    }
}

impl<'de> Visitor<'de> for &mut File<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an NVD CVE API 2.0 object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "format" => self.format = Some(map.next_value()?),
                "version" => self.version = Some(map.next_value()?),
                "timestamp" => self.timestamp = Some(map.next_value()?),
                "vulnerabilities" => {
                    if let Some(problem) = self.schema_problem() {
                        return Err(de::Error::custom(problem));
                    }
                    map.next_value_seed(Items(&mut *self))?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct Items<'f, 'a, 's>(&'f mut File<'a, 's>);

impl<'de> DeserializeSeed<'de> for Items<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Items<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of vulnerabilities")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let file = self.0;
        let mut count = 0u64;
        while let Some(item) = seq.next_element::<Item>()? {
            match rows_of(item.cve, file.sink) {
                Ok(true) => count += 1,
                Ok(false) => {}
                Err(e) => {
                    let message = e.to_string();
                    file.failure = Some(e);
                    return Err(de::Error::custom(message));
                }
            }
        }
        file.items = Some(file.items.unwrap_or(0) + count);
        Ok(())
    }
}

/// Parses one NVD file (a feed file or an API page).
pub(crate) fn parse(
    label: &str,
    reader: impl Read,
    sink: &mut Sink<'_>,
) -> Result<FeedMeta, FeedError> {
    let mut file = File {
        label,
        sink,
        format: None,
        version: None,
        timestamp: None,
        items: None,
        failure: None,
    };
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let result = de::Deserializer::deserialize_map(&mut deserializer, &mut file)
        .and_then(|()| deserializer.end());
    if let Some(failure) = file.failure.take() {
        return Err(failure);
    }
    if let Err(e) = result {
        if let Some(problem) = file.schema_problem() {
            return Err(FeedError::Schema(file.label.into(), problem));
        }
        return Err(json_error(file.label, &e));
    }
    if let Some(problem) = file.schema_problem() {
        return Err(FeedError::Schema(label.into(), problem));
    }
    if file.format.is_none() || file.version.is_none() {
        return Err(FeedError::Schema(
            label.into(),
            "no format/version: not an NVD CVE API 2.0 document".into(),
        ));
    }
    let Some(items) = file.items else {
        return Err(FeedError::Corrupt(
            label.into(),
            "no vulnerabilities array".into(),
        ));
    };
    Ok(FeedMeta {
        data_date: file.timestamp.as_deref().and_then(date_of),
        version: file.version.clone(),
        detail: format!("{items} CVEs"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpe_strings() {
        let cpe = parse_cpe("cpe:2.3:a:openbsd:openssh:7.4:p1:*:*:*:*:*:*").expect("cpe");
        assert_eq!(
            (
                cpe.vendor.as_str(),
                cpe.product.as_str(),
                cpe.version.as_deref()
            ),
            ("openbsd", "openssh", Some("7.4p1"))
        );
        let any = parse_cpe("cpe:2.3:a:apache:http_server:*:*:*:*:*:*:*:*").expect("cpe");
        assert_eq!(any.version, None);
        let escaped = parse_cpe(r"cpe:2.3:a:vendor\:x:prod\.uct:1.0:rc1:*:*:*:*:*:*").expect("cpe");
        assert_eq!(
            (
                escaped.vendor.as_str(),
                escaped.product.as_str(),
                escaped.version.as_deref()
            ),
            ("vendor:x", "prod.uct", Some("1.0-rc1"))
        );
        assert!(parse_cpe("cpe:/a:apache:http_server").is_none());
    }
}
