//! The vulnerability stage's result for one scan: every sighting with a
//! product and version becomes `vuln.cve` and `software.eol` findings with
//! the details checks.md lists, and coverage steps that say what data was
//! used and how old it is.

use std::collections::HashMap;
use std::net::IpAddr;

use kagami_core::{
    CheckId, Confidence, CoverageStep, DomainName, Finding, Severity, StepStatus, Transport,
};
use serde_json::{Value, json};
use time::Date;

use crate::eol::EolTable;
use crate::knowledge::{DataSource, Knowledge};
use crate::matcher::{self, Verdict};
use crate::software::{Identified, Software};

/// Where a product was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The target domain the finding belongs to.
    pub domain: DomainName,
    pub hostname: Option<DomainName>,
    pub ip: Option<IpAddr>,
    pub port: Option<u16>,
    pub transport: Option<Transport>,
}

impl Place {
    fn describe(&self) -> String {
        match (self.ip, self.port, &self.hostname) {
            (Some(ip), Some(port), _) => {
                if ip.is_ipv6() {
                    format!("[{ip}]:{port}")
                } else {
                    format!("{ip}:{port}")
                }
            }
            (Some(ip), None, _) => ip.to_string(),
            (None, _, Some(name)) => name.to_string(),
            (None, _, None) => self.domain.to_string(),
        }
    }

    fn locate(&self, mut finding: Finding) -> Finding {
        finding.hostname = self.hostname.clone();
        finding.ip = self.ip;
        finding.port = self.port;
        finding.transport = self.transport;
        finding
    }
}

/// A product a stage saw, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    pub software: Software,
    pub place: Place,
}

/// The stage's output.
#[derive(Debug, Default)]
pub struct Assessment {
    pub findings: Vec<Finding>,
    pub steps: Vec<CoverageStep>,
    pub warnings: Vec<String>,
}

/// What was concluded about one distinct piece of software: the findings
/// it gives wherever it is seen (their evidence without the place), and
/// how many are `possible`.
struct Conclusions {
    identified: bool,
    templates: Vec<Finding>,
    possible: u64,
    ended: u64,
}

/// Data older than this is called out in the warnings.
const STALE_DAYS: i64 = 30;

/// Judges every sighting against the knowledge, on `today`.
pub fn assess(sightings: &[Sighting], knowledge: &Knowledge, today: Date) -> Assessment {
    let catalog = knowledge.catalog();
    let table = EolTable::bundled();
    let mut cache: HashMap<&Software, Conclusions> = HashMap::new();
    let mut out = Assessment::default();
    let (mut likely, mut possible, mut ended) = (0u64, 0u64, 0u64);
    let mut unknown: Vec<String> = Vec::new();
    for sighting in sightings {
        let conclusions = cache.entry(&sighting.software).or_insert_with(|| {
            let Some(identified) = sighting.software.identify(catalog) else {
                return Conclusions {
                    identified: false,
                    templates: Vec::new(),
                    possible: 0,
                    ended: 0,
                };
            };
            let verdicts = matcher::verdicts(&identified, knowledge.advisories(identified.product));
            let eol = table.verdict(&identified, today);
            let mut templates: Vec<Finding> = verdicts
                .iter()
                .map(|v| cve_finding(sighting, &identified, v))
                .collect();
            let possible = verdicts
                .iter()
                .filter(|v| v.confidence == Confidence::Possible)
                .count() as u64;
            let ended = u64::from(eol.is_some());
            templates.extend(eol.map(|eol| eol_finding(sighting, &identified, &eol)));
            Conclusions {
                identified: true,
                templates,
                possible,
                ended,
            }
        });
        if !conclusions.identified {
            let label = sighting.software.label();
            if !unknown.contains(&label) {
                unknown.push(label);
            }
            continue;
        }
        let seen = format!(
            "{} at {}",
            sighting.software.label(),
            sighting.place.describe()
        );
        ended += conclusions.ended;
        possible += conclusions.possible;
        likely += conclusions.templates.len() as u64 - conclusions.possible - conclusions.ended;
        for template in &conclusions.templates {
            let mut finding = template.clone();
            finding.domain = sighting.place.domain.clone();
            finding.evidence = format!("{seen}: {}", template.evidence);
            out.findings.push(sighting.place.locate(finding));
        }
    }
    for source in &knowledge.sources {
        out.steps.push(source_step(source, today));
        if let Some(age) = age_days(source, today)
            && age > STALE_DAYS
            && source.name != "bundled"
        {
            out.warnings.push(format!(
                "vulnerability data {} is {age} days old (run kagami db update)",
                source.name
            ));
        }
    }
    let identified = sightings.len() as u64 - unknown.len() as u64;
    let mut detail = format!(
        "{} products seen with a version; {likely} vulnerabilities, {possible} that need verification, {ended} past end of support",
        sightings.len()
    );
    if !unknown.is_empty() {
        unknown.sort();
        const LISTED: usize = 20;
        let more = unknown.len().saturating_sub(LISTED);
        unknown.truncate(LISTED);
        detail.push_str(&format!(
            "; no vulnerability data for: {}",
            unknown.join(", ")
        ));
        if more > 0 {
            detail.push_str(&format!(" and {more} more"));
        }
    }
    out.steps.push(
        CoverageStep::new("vuln", "detected software", StepStatus::Ok)
            .counts(sightings.len() as u64, identified, 0)
            .detail(detail),
    );
    out
}

fn age_days(source: &DataSource, today: Date) -> Option<i64> {
    let date = crate::eol::parse_date(source.date.as_deref()?)?;
    Some((today - date).whole_days())
}

/// `data of 2026-11-20 (1 day old)`, or `undated data`.
pub fn data_date_label(date: Option<&str>, today: Date) -> String {
    let Some(date) = date else {
        return "undated data".into();
    };
    let age = crate::eol::parse_date(date)
        .map(|d| match (today - d).whole_days() {
            0 => " (today)".to_owned(),
            1 => " (1 day old)".to_owned(),
            n => format!(" ({n} days old)"),
        })
        .unwrap_or_default();
    format!("data of {date}{age}")
}

fn source_step(source: &DataSource, today: Date) -> CoverageStep {
    let date = data_date_label(source.date.as_deref(), today);
    let imported = source
        .imported_at
        .as_deref()
        .map(|t| format!(", imported {t}"))
        .unwrap_or_default();
    CoverageStep::new("vuln_data", source.name.clone(), StepStatus::Ok)
        .counts(source.records, source.records, 0)
        .detail(format!("{date}{imported}: {}", source.detail))
}

/// The step for a feed store that could not be used.
pub fn store_step(status: StepStatus, detail: impl Into<String>) -> CoverageStep {
    CoverageStep::new("vuln_data", "feeds", status).detail(detail)
}

fn epss_value(verdict: &Verdict<'_>) -> Value {
    verdict.advisory.epss.as_ref().map_or(Value::Null, |e| {
        json!({
            "probability": e.probability,
            "percentile": e.percentile,
            "model_version": e.model_version,
            "date": e.score_date,
        })
    })
}

/// The finding for a verdict, its evidence without the place.
fn cve_finding(sighting: &Sighting, identified: &Identified<'_>, verdict: &Verdict<'_>) -> Finding {
    let advisory = verdict.advisory;
    let severity = matcher::severity(advisory, verdict.confidence);
    let cvss = advisory.cvss.as_ref().map(|c| c.score);
    let mut evidence = advisory.cve.clone();
    if let Some(c) = &advisory.cvss {
        evidence.push_str(&format!(" (CVSS {} {})", c.version, c.score));
    }
    if !advisory.summary.is_empty() {
        evidence.push_str(&format!(": {}", advisory.summary.trim_end_matches('.')));
    }
    evidence.push_str(&format!(". {}", capitalise(&verdict.reason)));
    if let Some(kev) = &advisory.kev {
        evidence.push_str(". Listed in CISA's Known Exploited Vulnerabilities catalogue");
        if let Some(date) = &kev.date_added {
            evidence.push_str(&format!(" since {date}"));
        }
        if kev.ransomware {
            evidence.push_str(", used in ransomware campaigns");
        }
    }
    evidence.push('.');
    let mut finding = Finding::new(CheckId::VulnCve, &sighting.place.domain, evidence)
        .with_confidence(verdict.confidence)
        .with_detail("cve", advisory.cve.clone())
        .with_detail("cvss", cvss.map_or(Value::Null, Value::from))
        .with_detail("product", identified.product.name.clone())
        .with_detail("version", sighting.software.version.clone())
        .with_detail("kev", advisory.kev.is_some())
        .with_detail("epss", epss_value(verdict));
    finding.severity = severity;
    if verdict.confidence == Confidence::Possible {
        finding.title = format!("{} (needs verification)", finding.title);
    }
    finding
}

fn eol_finding(
    sighting: &Sighting,
    identified: &Identified<'_>,
    verdict: &crate::eol::EolVerdict<'_>,
) -> Finding {
    let entry = verdict.entry;
    let mut evidence = format!(
        "{} reached the end of its support on {} ({}); {}",
        entry.label, entry.eol, entry.source, verdict.reason
    );
    if let Some(note) = &entry.note {
        evidence.push_str(&format!(". {note}"));
    }
    evidence.push('.');
    let mut finding = Finding::new(CheckId::SoftwareEol, &sighting.place.domain, evidence)
        .with_confidence(verdict.confidence)
        .with_detail("product", identified.product.name.clone())
        .with_detail("version", sighting.software.version.clone())
        .with_detail("eol_date", entry.eol.to_string());
    if verdict.confidence == Confidence::Possible {
        finding.severity = Severity::Info;
        finding.title = format!("{} (needs verification)", finding.title);
    }
    finding
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}
