//! The terminal output: a concise summary (score, damage, counts, the three
//! things to do first, where the full report is), then, for `--format text`,
//! what was found and seen and how complete the look was.

use std::fmt::Write as _;

use kagami_core::{Report, Severity, StepStatus, Technology};

use crate::texts::{Lang, Texts, fill};
use crate::view;

/// How to write terminal text.
#[derive(Debug, Clone)]
pub struct TextOptions {
    pub lang: Lang,
    /// ANSI colours (a terminal that wants them).
    pub colour: bool,
    /// Where the full report was written, to point at it.
    pub full_report: Option<String>,
}

fn paint(text: &str, code: &str, colour: bool) -> String {
    if colour {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

fn severity_code(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "1;97;41",
        Severity::High => "1;31",
        Severity::Medium => "33",
        Severity::Low => "34",
        Severity::Info => "2",
    }
}

fn band_code(band: &str) -> &'static str {
    match band {
        "low" => "1;32",
        "standard" => "1",
        "elevated" => "1;33",
        _ => "1;31",
    }
}

/// The concise summary: score against the standard, damage range, counts,
/// the three things to do first and where the full report is.
pub fn render_summary(report: &Report, options: &TextOptions) -> String {
    let v = view::build(report, options.lang);
    let ui = &v.ui;
    let colour = options.colour;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}  {}  {}",
        paint(&format!("Kagami {}", v.tool_version), "1", colour),
        v.targets,
        v.scanned_at
    );
    if let Some(score) = &v.score {
        let _ = writeln!(
            out,
            "{} {} / 100  ({})  {}",
            ui.score_title,
            paint(&score.value.to_string(), band_code(&score.band), colour),
            score.standard_label,
            paint(&score.band_label, band_code(&score.band), colour)
        );
    }
    if let Some(damage) = &v.damage {
        let _ = writeln!(
            out,
            "{} {} – {} ({} {}); {} {} – {}",
            ui.damage_title,
            damage.low,
            damage.high,
            ui.damage_median,
            damage.median,
            ui.eal_title,
            damage.eal_low,
            damage.eal_high
        );
    }
    let counts: Vec<String> = v
        .counts
        .iter()
        .map(|c| {
            let label = format!("{} {}", c.label, c.count);
            if c.count > 0 {
                paint(&label, severity_code(c.severity), colour)
            } else {
                label
            }
        })
        .collect();
    let _ = writeln!(out, "{}  {}", ui.counts_title, counts.join("  "));
    let _ = writeln!(out, "{}", paint(&ui.actions_title, "1", colour));
    if v.actions.is_empty() {
        let _ = writeln!(out, "  {}", ui.actions_none);
    }
    for (n, action) in v.actions.iter().enumerate() {
        let due = action
            .date
            .as_ref()
            .map(|d| format!(" ({})", fill(&ui.by_date, &[("date", d)])))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}. {} {}\n     {}  {}{}",
            n + 1,
            paint(
                &format!("[{}]", action.severity_label),
                severity_code(action.severity),
                colour
            ),
            action.title,
            action.place,
            action.deadline,
            due
        );
    }
    if let Some(path) = &options.full_report {
        let _ = writeln!(out, "{}: {path}", ui.full_report);
    }
    out
}

/// The summary, then every finding with its points, the assets, services, web
/// origins and coverage.
pub fn render_text(report: &Report, options: &TextOptions) -> String {
    let mut out = render_summary(report, options);
    out.push('\n');
    let points = view::finding_points(report);
    let texts = Texts::get(options.lang);
    let targets: Vec<&str> = report.targets.iter().map(|t| t.as_str()).collect();
    let _ = writeln!(
        out,
        "Kagami {} scan of {}",
        report.tool.version,
        targets.join(", ")
    );
    let duration = report.finished_at - report.started_at;
    let started = report.started_at;
    let _ = writeln!(
        out,
        "Started {} {:02}:{:02}:{:02} UTC, took {:.1} s{}",
        started.date(),
        started.hour(),
        started.minute(),
        started.second(),
        duration.as_seconds_f64(),
        if report.coverage.passive {
            ", passive (nothing probed)"
        } else {
            ""
        }
    );
    out.push('\n');

    let counts: Vec<String> = report
        .severity_counts()
        .iter()
        .map(|(sev, n)| format!("{}: {n}", sev.as_str().to_uppercase()))
        .collect();
    let _ = writeln!(out, "Findings  {}", counts.join("  "));
    for (finding, points) in report.findings.iter().zip(&points) {
        let place = finding
            .hostname
            .as_ref()
            .map(|h| h.to_string())
            .or_else(|| finding.ip.map(|ip| ip.to_string()))
            .unwrap_or_else(|| finding.domain.to_string());
        let title = texts
            .check(finding.check)
            .map_or(finding.title.as_str(), |t| t.title.as_str());
        let label = format!("[{:<8}]", finding.severity.as_str().to_uppercase());
        let _ = writeln!(
            out,
            "  {} {:<28} {}  ({}){}",
            paint(&label, severity_code(finding.severity), options.colour),
            finding.check.as_str(),
            title,
            place,
            if *points > 0.0 {
                format!("  +{points:.0}")
            } else {
                String::new()
            }
        );
        let _ = writeln!(
            out,
            "             {}",
            crate::mask::mask_secrets(&finding.evidence)
        );
    }
    if report.findings.is_empty() {
        let _ = writeln!(out, "  none");
    }
    out.push('\n');

    let in_scope = report.assets.iter().filter(|a| a.in_scope).count();
    let _ = writeln!(
        out,
        "Assets    {in_scope} in scope, {} related",
        report.assets.len() - in_scope
    );
    for asset in &report.assets {
        let ips: Vec<String> = asset.ips.iter().map(ToString::to_string).collect();
        let sources: Vec<String> = asset
            .sources
            .iter()
            .map(|s| {
                serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            })
            .collect();
        let mut line = format!(
            "  {} {:<40} {:<32} via {}",
            if asset.in_scope { " " } else { "~" },
            asset.hostname.as_str(),
            if ips.is_empty() {
                "(no address)".to_owned()
            } else {
                ips.join(" ")
            },
            sources.join(",")
        );
        if let Some(last) = asset.cnames.last() {
            let _ = write!(line, "  -> {last}");
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out.push('\n');

    if !report.services.is_empty() {
        let _ = writeln!(out, "Services  {}", report.services.len());
        for service in &report.services {
            let product: Vec<&str> = [
                service.product.as_deref(),
                service.version.as_deref(),
                service.revision.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect();
            let endpoint = match service.ip {
                std::net::IpAddr::V6(ip) => format!("[{ip}]:{}", service.port),
                std::net::IpAddr::V4(ip) => format!("{ip}:{}", service.port),
            };
            let protocol = if service.tls_wrapped {
                format!("{}+tls", service.protocol)
            } else {
                service.protocol.clone()
            };
            let _ = writeln!(
                out,
                "    {:<24} {:<6} {:<16} {}",
                endpoint,
                format!("{:?}", service.transport).to_lowercase(),
                protocol,
                product.join(" ")
            );
        }
        out.push('\n');
    }

    let probed: Vec<_> = report.web.iter().filter(|o| o.same_as.is_none()).collect();
    if !probed.is_empty() {
        let _ = writeln!(
            out,
            "Web       {} origins ({} more answering like one of them)",
            probed.len(),
            report.web.len() - probed.len()
        );
        for origin in probed {
            let technologies: Vec<String> =
                origin.technologies.iter().map(Technology::label).collect();
            let line = format!(
                "    {:<40} {:<4} {:<32} {}",
                origin.url,
                origin
                    .status
                    .map_or_else(|| "-".to_owned(), |s| s.to_string()),
                origin.title.as_deref().unwrap_or(""),
                technologies.join(", ")
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out.push('\n');
    }

    let coverage = &report.coverage;
    let incomplete: Vec<_> = coverage
        .steps
        .iter()
        .filter(|s| matches!(s.status, StepStatus::Failed | StepStatus::Partial))
        .collect();
    let _ = writeln!(
        out,
        "Coverage  {} DNS queries, {} answered, {} retries, {} time-outs; {} steps, {} incomplete",
        coverage.dns.queries,
        coverage.dns.answered,
        coverage.dns.retries,
        coverage.dns.timeouts,
        coverage.steps.len(),
        incomplete.len()
    );
    for step in incomplete {
        let _ = writeln!(
            out,
            "  {:?} {} {}: {}",
            step.status,
            step.phase,
            step.subject,
            step.detail.as_deref().unwrap_or("")
        );
    }
    for warning in &coverage.warnings {
        let _ = writeln!(out, "  warning: {warning}");
    }
    if !coverage.skipped.is_empty() {
        let _ = writeln!(
            out,
            "  {} addresses not scanned by policy (see the JSON report)",
            coverage.skipped.len()
        );
    }
    out
}
