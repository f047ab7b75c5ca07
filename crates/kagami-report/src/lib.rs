//! Reports: [`ReportBuilder`] assembles the events a scan emits into a
//! [`Report`]; the renderers turn it into terminal text, JSON, JSON lines (one
//! event per line, written as the scan goes), HTML, CSV and SARIF, in Japanese
//! or English. [`view`] is the localised form every human-readable renderer
//! (and the PDF crate) lays out; the words come from data/texts/.

pub mod charts;
mod csv_out;
pub mod format;
mod html;
pub mod mask;
mod sarif;
mod text;
pub mod texts;
pub mod view;

use std::collections::HashMap;
use std::io::{self, Write};

use kagami_core::{Coverage, DomainName, Report, SCHEMA_VERSION, ScanEvent, ToolInfo};
use time::OffsetDateTime;

pub use csv_out::write_csv;
pub use html::{render_html, render_view};
pub use sarif::{SARIF_SCHEMA, sarif, write_sarif};
pub use text::{TextOptions, render_summary, render_text};
pub use texts::Lang;

/// Collects scan events into a report. Everything pushed is kept, so an
/// interrupted scan still yields what it found.
pub struct ReportBuilder {
    report: Report,
    /// Where each host name's asset is in `report.assets`.
    asset_index: HashMap<DomainName, usize>,
}

impl ReportBuilder {
    pub fn new(tool: ToolInfo, targets: Vec<DomainName>, started_at: OffsetDateTime) -> Self {
        Self {
            report: Report {
                schema_version: SCHEMA_VERSION.to_owned(),
                tool,
                started_at,
                finished_at: started_at,
                targets,
                domains: Vec::new(),
                assets: Vec::new(),
                services: Vec::new(),
                web: Vec::new(),
                findings: Vec::new(),
                coverage: Coverage::default(),
                score: None,
                damage: None,
            },
            asset_index: HashMap::new(),
        }
    }

    /// The first event of a stream, describing the scan.
    pub fn opening_event(&self) -> ScanEvent {
        ScanEvent::Scan {
            schema_version: self.report.schema_version.clone(),
            tool: self.report.tool.clone(),
            started_at: self.report.started_at,
            targets: self.report.targets.clone(),
        }
    }

    pub fn push(&mut self, event: ScanEvent) {
        match event {
            ScanEvent::Domain(records) => self.report.domains.push(records),
            // A name seen again by a later stage comes back with more sources.
            ScanEvent::Asset(asset) => match self.asset_index.get(&asset.hostname) {
                Some(&at) => self.report.assets[at] = asset,
                None => {
                    self.asset_index
                        .insert(asset.hostname.clone(), self.report.assets.len());
                    self.report.assets.push(asset);
                }
            },
            ScanEvent::Service(service) => self.report.services.push(service),
            ScanEvent::Web(origin) => self.report.web.push(*origin),
            ScanEvent::Finding(finding) => self.report.findings.push(finding),
            ScanEvent::Summary {
                finished_at,
                coverage,
            } => {
                self.report.finished_at = finished_at;
                self.report.coverage = coverage;
            }
            ScanEvent::Scan { .. } => {}
        }
    }

    pub fn finish(mut self) -> Report {
        self.report.normalise();
        self.report
    }
}

/// Writes the report as pretty-printed JSON.
pub fn write_json(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}

/// Writes one event as one line of JSON.
pub fn write_jsonl_event(event: &ScanEvent, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer(&mut *out, event)?;
    out.write_all(b"\n")
}
