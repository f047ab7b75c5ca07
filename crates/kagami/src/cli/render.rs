//! Turning a finished report into what the user asked for: score and damage
//! for the company profile, then the chosen format and language; and the
//! concise terminal summary that points at the full report.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use kagami_core::Report;
use kagami_report::{
    Lang, TextOptions, render_html, render_summary, render_text, write_csv, write_json, write_sarif,
};
use kagami_score::{Currency, Model, ProfileInput, assess};

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Terminal text: summary, findings, assets, services, web sites, coverage.
    Text,
    /// The JSON report (docs/report.md).
    Json,
    /// One JSON object per line, as found (scan only).
    Jsonl,
    /// One self-contained HTML file.
    Html,
    /// PDF (needs the `pdf` feature, on by default).
    Pdf,
    /// One row per finding.
    Csv,
    /// SARIF 2.1.0.
    Sarif,
}

impl Format {
    /// Formats whose bytes are not text for a terminal.
    pub(crate) fn is_binary(self) -> bool {
        self == Self::Pdf
    }
}

/// Options shared by `scan` and `report`: language and company profile.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RenderArgs {
    /// Language of the report: ja or en. Default: from LANG (ja for a Japanese locale).
    #[arg(long, value_name = "LANG", value_parser = parse_lang)]
    pub(crate) lang: Option<Lang>,

    /// Company profile for the damage estimate (TOML: industry, employees,
    /// annual_revenue, gross_margin, records, region). See docs/scoring.md.
    #[arg(long, value_name = "FILE")]
    pub(crate) profile: Option<PathBuf>,

    /// Industry: manufacturing, wholesale_retail, services, construction,
    /// information_technology, medical_welfare, finance, other.
    #[arg(long, value_name = "INDUSTRY")]
    pub(crate) industry: Option<String>,

    /// Number of employees.
    #[arg(long, value_name = "N")]
    pub(crate) employees: Option<u32>,

    /// Annual revenue, in the report's currency.
    #[arg(long, value_name = "AMOUNT")]
    pub(crate) revenue: Option<u64>,

    /// Gross margin, 0-1 (the share of revenue lost per day of standstill).
    #[arg(long, value_name = "SHARE")]
    pub(crate) gross_margin: Option<f64>,

    /// Personal-data records held (customers, members, employees).
    #[arg(long, value_name = "N")]
    pub(crate) records: Option<u64>,

    /// Region (e.g. JP, JP-13); recorded in the report.
    #[arg(long, value_name = "REGION")]
    pub(crate) region: Option<String>,

    /// Currency of amounts: JPY (default) or USD.
    #[arg(long, value_name = "CODE", value_parser = parse_currency)]
    pub(crate) currency: Option<Currency>,
}

fn parse_lang(text: &str) -> Result<Lang, String> {
    text.parse()
}

fn parse_currency(text: &str) -> Result<Currency, String> {
    Currency::parse(text).ok_or_else(|| format!("unknown currency {text:?} (expected JPY or USD)"))
}

impl RenderArgs {
    pub(crate) fn lang(&self) -> Lang {
        self.lang.unwrap_or_else(Lang::from_environment)
    }

    /// The profile from `--profile` and the options, over `base` (the
    /// profile already in a report being rendered again).
    /// Also says whether the result still rests on the default profile: the
    /// stored profile was partly assumed and the user did not complete it.
    fn profile_input(&self, base: Option<&Report>) -> Result<(ProfileInput, bool), String> {
        let stored = base.and_then(|r| r.damage.as_ref()).map(|d| &d.profile);
        let mut given = ProfileInput::default();
        if let Some(path) = &self.profile {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            given =
                ProfileInput::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let given = given.overridden_by(ProfileInput {
            industry: self.industry.clone(),
            employees: self.employees,
            annual_revenue: self.revenue,
            gross_margin: self.gross_margin,
            records: self.records,
            region: self.region.clone(),
        });
        let still_assumed = stored.is_some_and(|p| p.assumed) && !given.is_complete();
        let input = stored
            .map(ProfileInput::from_profile)
            .unwrap_or_default()
            .overridden_by(given);
        Ok((input, still_assumed))
    }

    /// Checks `--profile` and the profile options before any work is done.
    pub(crate) fn check(&self) -> Result<(), String> {
        let currency = self.currency.unwrap_or(Currency::Jpy);
        self.profile_input(None)?
            .0
            .resolve(&Model::bundled(), currency)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Scores the report and estimates its damage (replacing any earlier
    /// estimate): the usage error message when the profile is wrong.
    pub(crate) fn assess(&self, report: &mut Report) -> Result<(), String> {
        let model = Model::bundled();
        let currency = self
            .currency
            .or_else(|| {
                report
                    .damage
                    .as_ref()
                    .and_then(|d| Currency::parse(&d.currency))
            })
            .unwrap_or(Currency::Jpy);
        let (input, still_assumed) = self.profile_input(Some(report))?;
        let mut profile = input.resolve(&model, currency).map_err(|e| e.to_string())?;
        profile.assumed |= still_assumed;
        assess(&model, report, &profile, currency);
        Ok(())
    }
}

/// Whether to colour terminal text on standard output.
pub(crate) fn stdout_colour(to_file: bool) -> bool {
    !to_file && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Writes the report in a format (not `jsonl`, which is streamed by the scan).
pub(crate) fn write(
    report: &Report,
    format: Format,
    lang: Lang,
    colour: bool,
    out: &mut dyn Write,
) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    match format {
        Format::Jsonl => Ok(()),
        Format::Json => write_json(report, out).map_err(io),
        Format::Text => {
            let options = TextOptions {
                lang,
                colour,
                full_report: None,
            };
            out.write_all(render_text(report, &options).as_bytes())
                .map_err(io)
        }
        Format::Html => {
            let html = render_html(report, lang).map_err(|e| e.to_string())?;
            out.write_all(html.as_bytes()).map_err(io)
        }
        Format::Pdf => {
            let view = kagami_report::view::build(report, lang);
            let pdf = kagami_pdf::render_pdf(&view).map_err(|e| e.to_string())?;
            out.write_all(&pdf).map_err(io)
        }
        Format::Csv => write_csv(report, lang, out).map_err(io),
        Format::Sarif => write_sarif(report, lang, out).map_err(io),
    }
}

/// The concise summary on standard error, pointing at the written report.
pub(crate) fn print_summary(report: &Report, lang: Lang, written: &Path) {
    let options = TextOptions {
        lang,
        colour: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        full_report: Some(written.display().to_string()),
    };
    eprint!("{}", render_summary(report, &options));
}
