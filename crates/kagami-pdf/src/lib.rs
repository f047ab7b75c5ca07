//! The PDF report: the localised report view (kagami-report's `view`) typeset
//! in-process by typst from templates/report.typ, with page numbers, a table
//! of contents and charts. Japanese uses the Noto Sans CJK fonts installed by
//! the `fonts-noto-cjk` package. Built only with the `pdf` feature; without
//! it [`render_pdf`] says so.

use kagami_report::view::ReportView;

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("this kagami was built without PDF support (cargo feature `pdf`)")]
    NotBuilt,
    #[error("no usable font found in {0} (install the Debian package fonts-noto-cjk)")]
    NoFonts(String),
    #[error("typesetting the PDF failed: {0}")]
    Typeset(String),
    #[error("writing the PDF failed: {0}")]
    Export(String),
}

#[cfg(feature = "pdf")]
mod typeset;

/// Typesets the report view as PDF.
#[cfg(feature = "pdf")]
pub fn render_pdf(view: &ReportView) -> Result<Vec<u8>, PdfError> {
    let json = serde_json::to_vec(view).map_err(|e| PdfError::Typeset(e.to_string()))?;
    typeset::typeset(json)
}

/// Typesets the report view as PDF.
#[cfg(not(feature = "pdf"))]
pub fn render_pdf(_view: &ReportView) -> Result<Vec<u8>, PdfError> {
    Err(PdfError::NotBuilt)
}
