//! The HTML report: one self-contained file (inline CSS and SVG, no script,
//! nothing fetched), readable on a phone and printable.

use askama::Template;
use kagami_core::Report;

use crate::charts;
use crate::texts::Lang;
use crate::view::{self, ReportView};

#[derive(Template)]
#[template(path = "report.html")]
struct HtmlReport<'a> {
    v: &'a ReportView,
    gauge: String,
    bars: String,
}

/// Renders the report as HTML in a language.
pub fn render_html(report: &Report, lang: Lang) -> Result<String, askama::Error> {
    render_view(&view::build(report, lang))
}

/// Renders an already built view.
pub fn render_view(v: &ReportView) -> Result<String, askama::Error> {
    let gauge = v.score.as_ref().map_or_else(String::new, |s| {
        charts::gauge(s.value, s.standard, &s.standard_label)
    });
    HtmlReport {
        v,
        gauge,
        bars: charts::severity_bars(&v.counts),
    }
    .render()
}
