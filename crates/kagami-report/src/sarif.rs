//! SARIF 2.1.0 export for code-scanning dashboards and security tools: one
//! rule per check id that fired, one result per finding, located by URL.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::net::IpAddr;

use kagami_core::{CheckId, Finding, Report, Severity};
use serde_json::{Value, json};

use crate::mask::mask_secrets;
use crate::texts::{Lang, Texts};
use crate::view;

pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
        Severity::Info => "none",
    }
}

/// GitHub's `security-severity` scale (0.1–10) for a severity.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
        Severity::Info => "0.1",
    }
}

/// The URI of where a finding was seen: `tcp://host:port` for services,
/// `dns:domain` for DNS and e-mail findings.
fn location(finding: &Finding) -> String {
    if let Some(url) = finding.details.get("url").and_then(Value::as_str) {
        return url.to_owned();
    }
    let host = finding
        .hostname
        .as_ref()
        .map(ToString::to_string)
        .or_else(|| {
            finding.ip.map(|ip| match ip {
                IpAddr::V6(v6) => format!("[{v6}]"),
                IpAddr::V4(v4) => v4.to_string(),
            })
        });
    match (host, finding.port) {
        (Some(host), Some(port)) => {
            let scheme = match finding.transport {
                Some(kagami_core::Transport::Udp) => "udp",
                _ => "tcp",
            };
            format!("{scheme}://{host}:{port}")
        }
        (Some(host), None) => format!("dns:{host}"),
        (None, _) => format!("dns:{}", finding.domain),
    }
}

/// Builds the SARIF log.
pub fn sarif(report: &Report, lang: Lang) -> Value {
    let texts = Texts::get(lang);
    let v = view::build(report, lang);
    let fired: BTreeSet<CheckId> = report.findings.iter().map(|f| f.check).collect();
    let rules: Vec<Value> = fired
        .iter()
        .map(|check| {
            let text = texts.check(*check);
            let mut rule = json!({
                "id": check.as_str(),
                "name": check.as_str(),
                "shortDescription": { "text": text.map_or_else(|| check.title(), |t| t.title.as_str()) },
                "defaultConfiguration": { "level": level(check.default_severity()) },
                "properties": {
                    "tags": ["security", "external-attack-surface"],
                    "security-severity": security_severity(check.default_severity()),
                },
            });
            if let Some(t) = text {
                rule["fullDescription"] = json!({ "text": t.why });
                rule["help"] = json!({ "text": t.fix });
                if let Some(link) = t.links.first() {
                    rule["helpUri"] = json!(link.url);
                }
            }
            rule
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .zip(&v.findings)
        .map(|(f, row)| {
            json!({
                "ruleId": f.check.as_str(),
                "ruleIndex": fired.iter().position(|c| *c == f.check),
                "level": level(f.severity),
                "message": { "text": format!("{}: {}", row.title, mask_secrets(&f.evidence)) },
                "locations": [{
                    "physicalLocation": { "artifactLocation": { "uri": location(f) } },
                    "logicalLocations": [{ "name": row.place, "kind": "resource" }],
                }],
                "properties": {
                    "severity": f.severity.as_str(),
                    "confidence": format!("{:?}", f.confidence).to_lowercase(),
                    "points": row.points_value,
                    "domain": f.domain.as_str(),
                },
            })
        })
        .collect();
    let mut run = json!({
        "tool": {
            "driver": {
                "name": "Kagami",
                "version": report.tool.version,
                "informationUri": "https://github.com/kagami-asm/kagami",
                "rules": rules,
            }
        },
        "language": lang.code(),
        "results": results,
        "invocations": [{
            "executionSuccessful": true,
            "startTimeUtc": report.started_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "endTimeUtc": report.finished_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        }],
    });
    if let Some(score) = &report.score {
        run["properties"] = json!({ "score": score.value, "standard": score.standard });
    }
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [run],
    })
}

pub fn write_sarif(report: &Report, lang: Lang, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &sarif(report, lang))?;
    out.write_all(b"\n")
}
