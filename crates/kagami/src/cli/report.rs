//! `kagami report`: render a saved JSON report again (another format,
//! language or company profile) without scanning. The score and the damage
//! are recomputed with this version's model.

use std::io::IsTerminal;

use kagami_core::Report;

use crate::cli::render;
use crate::cli::{Format, ReportArgs};
use crate::exit;
use crate::output::Output;

pub(crate) fn run(args: ReportArgs) -> u8 {
    match report(&args) {
        Ok(()) => exit::OK,
        Err((code, message)) => {
            eprintln!("kagami: {message}");
            code
        }
    }
}

fn report(args: &ReportArgs) -> Result<(), (u8, String)> {
    let usage = |m: String| (exit::USAGE, m);
    let failure = |m: String| (exit::FAILURE, m);
    if args.format == Format::Jsonl {
        return Err(usage(
            "--format jsonl is a scan stream; kagami report writes text, json, html, pdf, csv or sarif".into(),
        ));
    }
    if args.format.is_binary() && args.output.is_none() && std::io::stdout().is_terminal() {
        return Err(usage(
            "--format pdf writes binary data: pass -o FILE".into(),
        ));
    }
    args.render.check().map_err(usage)?;
    let text = std::fs::read_to_string(&args.input)
        .map_err(|e| failure(format!("cannot read {}: {e}", args.input.display())))?;
    let mut report: Report = serde_json::from_str(&text).map_err(|e| {
        failure(format!(
            "{} is not a Kagami JSON report: {e}",
            args.input.display()
        ))
    })?;
    report.normalise();
    args.render.assess(&mut report).map_err(usage)?;
    let lang = args.render.lang();
    let mut output = Output::open(args.output.as_deref(), false).map_err(failure)?;
    let colour = render::stdout_colour(args.output.is_some());
    render::write(&report, args.format, lang, colour, output.writer())
        .and_then(|()| output.commit())
        .map_err(|e| failure(format!("writing the report failed: {e}")))?;
    if let Some(path) = &args.output
        && !args.quiet
    {
        render::print_summary(&report, lang, path);
    }
    Ok(())
}
