//! `kagami scan`: validate the arguments, run the scan, write the report.

use std::io::{IsTerminal, Write};
use std::num::NonZeroU32;
use std::time::Duration;

use kagami_core::{AddressPolicy, Coverage, DomainName, ScanEvent, ToolInfo};
use kagami_discovery::Wordlist;
use kagami_report::{ReportBuilder, write_jsonl_event};
use kagami_scan::{ScanConfig, ScanError, Scanner};
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::cli::render;
use crate::cli::{Format, ScanArgs};
use crate::exit;
use crate::output::Output;
use crate::progress::TerminalProgress;

/// A message for the user and the exit code that goes with it.
struct Stop(u8, String);

fn usage(message: impl Into<String>) -> Stop {
    Stop(exit::USAGE, message.into())
}

pub(crate) async fn run(args: ScanArgs) -> u8 {
    init_logging(args.quiet, args.verbose);
    match scan(args).await {
        Ok(code) => code,
        Err(Stop(code, message)) => {
            eprintln!("kagami: {message}");
            code
        }
    }
}

fn init_logging(quiet: bool, verbose: u8) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn seconds(value: f64, option: &str) -> Result<Duration, Stop> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            usage(format!(
                "{option} must be a positive number of seconds, not {value}"
            ))
        })
}

fn parse_targets(raw: &[String]) -> Result<Vec<DomainName>, Stop> {
    let mut targets = Vec::new();
    for text in raw {
        let name = DomainName::parse(text).map_err(|e| usage(format!("target {e}")))?;
        if !name.as_str().contains('.') {
            return Err(usage(format!(
                "target {name:?} is not a domain name (no dot in it)"
            )));
        }
        if !targets.contains(&name) {
            targets.push(name);
        }
    }
    Ok(targets)
}

fn build_config(args: &ScanArgs, warnings: &mut Vec<String>) -> Result<ScanConfig, Stop> {
    let targets = parse_targets(&args.targets)?;
    let mut wordlist = if args.no_default_wordlist {
        Wordlist::empty()
    } else {
        Wordlist::bundled()
    };
    for path in &args.wordlists {
        wordlist
            .extend_from_file(path)
            .map_err(|e| usage(e.to_string()))?;
    }
    if wordlist.rejected > 0 {
        warnings.push(format!(
            "{} wordlist lines are not valid names and were skipped",
            wordlist.rejected
        ));
    }
    let blocklists = if args.no_dnsbl {
        Vec::new()
    } else if args.dnsbl.is_empty() {
        kagami_reputation::DEFAULT_BLOCKLISTS
            .iter()
            .filter_map(|z| DomainName::parse(z).ok())
            .collect()
    } else {
        args.dnsbl
            .iter()
            .map(|z| DomainName::parse(z).map_err(|e| usage(format!("--dnsbl {e}"))))
            .collect::<Result<_, _>>()?
    };
    let mut ports =
        kagami_net::ports::parse(&args.ports).map_err(|e| usage(format!("--ports: {e}")))?;
    if let Some(exclude) = &args.exclude_ports {
        let exclude = kagami_net::ports::parse(exclude)
            .map_err(|e| usage(format!("--exclude-ports: {e}")))?;
        ports = kagami_net::ports::without(ports, &exclude);
    }
    if ports.is_empty() && !args.passive {
        return Err(usage("no ports left to scan after --exclude-ports"));
    }
    let recursion_probe = DomainName::parse(&args.recursion_probe)
        .map_err(|e| usage(format!("--recursion-probe {e}")))?
        .to_string();
    Ok(ScanConfig {
        ports,
        recursion_probe,
        vuln_db: args
            .vuln_db
            .clone()
            .or_else(kagami_vuln::store::default_path),
        targets,
        resolvers: args.resolvers.clone(),
        passive: args.passive,
        policy: AddressPolicy {
            allow_private: args.allow_private,
        },
        ct_url: (!args.no_ct).then(|| args.ct_url.clone()),
        ct_timeout: seconds(args.ct_timeout, "--ct-timeout")?,
        wordlist,
        blocklists,
        ca_files: args.ca_files.clone(),
        concurrency: args.concurrency as usize,
        rate: NonZeroU32::new(args.rate),
        timeout: seconds(args.timeout, "--timeout")?,
    })
}

async fn scan(args: ScanArgs) -> Result<u8, Stop> {
    let mut warnings = Vec::new();
    let config = build_config(&args, &mut warnings)?;
    let lang = args.render.lang();
    args.render.check().map_err(usage)?;
    if args.format.is_binary() && args.output.is_none() && std::io::stdout().is_terminal() {
        return Err(usage("--format pdf writes binary data: pass -o FILE"));
    }
    let targets = config.targets.clone();
    let scanner = Scanner::new(config).await.map_err(|e| match e {
        ScanError::Dns(_) => Stop(exit::FAILURE, e.to_string()),
        _ => usage(e.to_string()),
    })?;
    // Open the output before scanning: a bad path must not cost a whole scan.
    let mut output = Output::open(args.output.as_deref(), args.format == Format::Jsonl)
        .map_err(|e| Stop(exit::FAILURE, e))?;

    let quiet = args.quiet || !std::io::stderr().is_terminal();
    let progress = TerminalProgress::new(quiet);
    let started_at = OffsetDateTime::now_utc();
    let mut builder = ReportBuilder::new(
        ToolInfo::kagami(env!("CARGO_PKG_VERSION")),
        targets,
        started_at,
    );
    let streaming = args.format == Format::Jsonl;
    let mut write_error: Option<String> = None;
    let write_event = |event: &ScanEvent, out: &mut dyn Write, error: &mut Option<String>| {
        if streaming
            && error.is_none()
            && let Err(e) = write_jsonl_event(event, out).and_then(|()| out.flush())
        {
            *error = Some(e.to_string());
        }
    };
    write_event(&builder.opening_event(), output.writer(), &mut write_error);

    let (tx, mut rx) = mpsc::unbounded_channel();
    let finished = {
        let scan = async {
            let coverage = scanner.run(&tx, &progress).await;
            drop(tx);
            coverage
        };
        let collect = async {
            while let Some(event) = rx.recv().await {
                write_event(&event, output.writer(), &mut write_error);
                builder.push(event);
            }
        };
        tokio::select! {
            (coverage, ()) = async { tokio::join!(scan, collect) } => Some(coverage),
            _ = tokio::signal::ctrl_c() => None,
        }
    };
    progress.clear();
    let interrupted = finished.is_none();
    let mut coverage = finished.unwrap_or_else(|| {
        // Keep what was found before the interruption.
        while let Ok(event) = rx.try_recv() {
            write_event(&event, output.writer(), &mut write_error);
            builder.push(event);
        }
        Coverage {
            warnings: vec!["scan interrupted: this report holds only what was found before".into()],
            ..Coverage::default()
        }
    });
    coverage.warnings.extend(warnings);
    let summary = ScanEvent::Summary {
        finished_at: OffsetDateTime::now_utc(),
        coverage,
    };
    write_event(&summary, output.writer(), &mut write_error);
    builder.push(summary);
    let mut report = builder.finish();
    // The profile was checked before scanning; this cannot fail any more.
    render::RenderArgs::assess(&args.render, &mut report).map_err(usage)?;

    let colour = render::stdout_colour(args.output.is_some());
    let written = render::write(&report, args.format, lang, colour, output.writer());
    if let Some(e) = write_error {
        return Err(Stop(
            exit::FAILURE,
            format!("writing the report failed: {e}"),
        ));
    }
    written
        .and_then(|()| output.commit())
        .map_err(|e| Stop(exit::FAILURE, format!("writing the report failed: {e}")))?;
    if let Some(path) = &args.output
        && !args.quiet
    {
        render::print_summary(&report, lang, path);
    }

    if !args.quiet && (args.output.is_some() || args.format != Format::Text) {
        for warning in &report.coverage.warnings {
            eprintln!("kagami: warning: {warning}");
        }
    }
    if interrupted {
        return Ok(exit::INTERRUPTED);
    }
    let threshold_hit = args
        .fail_on
        .is_some_and(|level| report.findings.iter().any(|f| f.severity >= level));
    Ok(if threshold_hit {
        exit::FINDINGS
    } else {
        exit::OK
    })
}
