//! CSV export for spreadsheets and ticket systems: one row per finding, most
//! urgent first, texts in the report's language, secrets masked.

use std::io::{self, Write};

use kagami_core::Report;

use crate::texts::Lang;
use crate::view;

const HEADER: [&str; 15] = [
    "severity",
    "check",
    "title",
    "domain",
    "hostname",
    "ip",
    "port",
    "transport",
    "confidence",
    "points",
    "deadline_days",
    "due",
    "who",
    "evidence",
    "fix",
];

/// Writes the findings as CSV (RFC 4180, UTF-8 with a byte-order mark so that
/// spreadsheet programs read Japanese correctly).
pub fn write_csv(report: &Report, lang: Lang, out: &mut dyn Write) -> io::Result<()> {
    let v = view::build(report, lang);
    out.write_all("\u{feff}".as_bytes())?;
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(HEADER)?;
    for (finding, row) in report.findings.iter().zip(&v.findings) {
        let port = finding.port.map(|p| p.to_string()).unwrap_or_default();
        let transport = finding
            .transport
            .map(|t| format!("{t:?}").to_lowercase())
            .unwrap_or_default();
        writer.write_record([
            finding.severity.as_str(),
            finding.check.as_str(),
            &row.title,
            finding.domain.as_str(),
            finding.hostname.as_ref().map_or("", |h| h.as_str()),
            &finding.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            &port,
            &transport,
            &format!("{:?}", finding.confidence).to_lowercase(),
            &format!("{:.2}", row.points_value),
            &view::deadline_days(finding.severity)
                .map(|d| d.to_string())
                .unwrap_or_default(),
            row.date.as_deref().unwrap_or(""),
            &row.who,
            &row.evidence,
            &row.fix,
        ])?;
    }
    writer.flush()
}
