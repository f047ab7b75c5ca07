//! The terminal summary: what to fix first, then what was seen, then how
//! complete the look was.

use std::fmt::Write as _;

use kagami_core::{Report, StepStatus};

pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
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
    for finding in &report.findings {
        let place = finding
            .hostname
            .as_ref()
            .map(|h| h.to_string())
            .or_else(|| finding.ip.map(|ip| ip.to_string()))
            .unwrap_or_else(|| finding.domain.to_string());
        let _ = writeln!(
            out,
            "  [{:<8}] {:<28} {}  ({})",
            finding.severity.as_str().to_uppercase(),
            finding.check.as_str(),
            finding.title,
            place
        );
        let _ = writeln!(out, "             {}", finding.evidence);
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
