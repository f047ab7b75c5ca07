//! The report as people read it: everything localised, ordered and formatted
//! once, so that the HTML, PDF, text and CSV renderers only lay it out. The
//! PDF renderer receives this structure as JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use kagami_core::{CheckId, Finding, Report, Severity, StepStatus};
use serde::{Deserialize, Serialize};
use time::Duration;

use crate::format;
use crate::mask::mask_secrets;
use crate::texts::{GlossaryEntry, Lang, Link, Texts, Ui, fill};

/// Days to fix a finding of each severity (scoring.md §4: BOD 26-04 bands,
/// SCS ★3 4-4-4-2 for 14 days); LOW and INFO have no deadline.
pub fn deadline_days(severity: Severity) -> Option<i64> {
    match severity {
        Severity::Critical => Some(3),
        Severity::High => Some(14),
        Severity::Medium => Some(60),
        Severity::Low | Severity::Info => None,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportView {
    pub lang: Lang,
    pub ui: Ui,
    pub targets: String,
    pub scanned_at: String,
    pub tool_version: String,
    pub generated: String,
    pub score: Option<ScoreView>,
    pub damage: Option<DamageView>,
    pub counts: Vec<CountView>,
    pub actions: Vec<ActionView>,
    pub summary: Vec<String>,
    /// The summary as one paragraph.
    pub summary_text: String,
    pub findings: Vec<FindingView>,
    pub baseline: Vec<BaselineView>,
    pub assets: Vec<AssetView>,
    pub services: Vec<ServiceView>,
    pub coverage: CoverageView,
    pub glossary: Vec<GlossaryEntry>,
    pub model_score: String,
    pub model_damage: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScoreView {
    pub value: u8,
    pub standard: u8,
    pub band: String,
    pub band_label: String,
    pub standard_label: String,
    pub floor: Option<String>,
    pub model_version: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DamageView {
    pub low: String,
    pub median: String,
    pub high: String,
    pub eal_low: String,
    pub eal_high: String,
    pub assumed: bool,
    pub profile: Vec<Row>,
    pub scenarios: Vec<ScenarioView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioView {
    pub name: String,
    pub probability: String,
    pub loss: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CountView {
    pub severity: Severity,
    pub label: String,
    pub count: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActionView {
    pub severity: Severity,
    pub severity_label: String,
    pub title: String,
    pub place: String,
    pub deadline: String,
    pub date: Option<String>,
    /// The anchor of the first finding of this kind.
    pub anchor: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingView {
    pub anchor: String,
    pub check: CheckId,
    pub severity: Severity,
    pub severity_label: String,
    pub title: String,
    pub place: String,
    pub evidence: String,
    pub confidence: String,
    pub points: String,
    pub points_value: f64,
    pub deadline: String,
    pub date: Option<String>,
    pub why: String,
    pub fix: String,
    pub product_fix: Option<String>,
    pub effort: String,
    pub who: String,
    pub request: String,
    pub links: Vec<Link>,
    pub details: Vec<Row>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BaselineView {
    pub title: String,
    pub basis: String,
    pub description: String,
    /// `met`, `not_met`, `not_observable`.
    pub status: String,
    pub status_label: String,
    pub related: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AssetView {
    pub hostname: String,
    pub addresses: String,
    pub sources: String,
    pub in_scope: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceView {
    pub endpoint: String,
    pub protocol: String,
    pub product: String,
    pub hostnames: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CoverageView {
    pub passive: bool,
    pub dns: String,
    pub steps: Vec<StepView>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    pub phase: String,
    pub subject: String,
    pub status: String,
    pub status_label: String,
    pub counts: String,
    pub detail: String,
}

/// The baseline checklist (data/baseline.toml).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    #[serde(rename = "item")]
    pub items: Vec<BaselineItem>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineItem {
    pub id: String,
    pub checks: Vec<String>,
    pub phases: Vec<String>,
}

pub const BASELINE: &str = include_str!("../data/baseline.toml");

impl Baseline {
    pub fn bundled() -> Self {
        match toml::from_str(BASELINE) {
            Ok(baseline) => baseline,
            // Checked by the tests; failing here is a build defect.
            Err(e) => panic!("bundled baseline.toml is invalid: {e}"),
        }
    }
}

/// Whether a finding changes the score (the score model's rule: `info` and
/// `possible` findings never count).
fn counts(finding: &Finding) -> bool {
    finding.severity != Severity::Info && finding.confidence != kagami_core::Confidence::Possible
}

/// Where a finding was seen, as one line.
pub fn place(finding: &Finding) -> String {
    let host = finding
        .hostname
        .as_ref()
        .map(ToString::to_string)
        .or_else(|| finding.ip.map(|ip| ip.to_string()))
        .unwrap_or_else(|| finding.domain.to_string());
    let mut out = match (finding.port, finding.ip, &finding.hostname) {
        (Some(port), Some(IpAddr::V6(_)), None) => format!("[{host}]:{port}"),
        (Some(port), _, _) => format!("{host}:{port}"),
        (None, _, _) => host,
    };
    if let (Some(ip), Some(_)) = (finding.ip, &finding.hostname) {
        out.push_str(&format!(" ({ip})"));
    }
    out
}

/// The points each finding carries, from the report's score contributions.
pub fn finding_points(report: &Report) -> Vec<f64> {
    let mut points = vec![0.0; report.findings.len()];
    let Some(score) = &report.score else {
        return points;
    };
    let mut taken = vec![false; report.findings.len()];
    for c in &score.contributions {
        if let Some(i) = report.findings.iter().enumerate().position(|(i, f)| {
            !taken[i]
                && f.check == c.check
                && f.hostname == c.hostname
                && f.ip == c.ip
                && f.port == c.port
        }) {
            taken[i] = true;
            points[i] = c.points;
        }
    }
    points
}

/// The product a finding is about: its `product` or `protocol` detail, or what
/// the service at its address announced.
fn product_of(report: &Report, finding: &Finding) -> String {
    let detail = ["product", "protocol"]
        .iter()
        .find_map(|k| finding.details.get(*k).and_then(|v| v.as_str()))
        .map(str::to_owned);
    detail
        .or_else(|| {
            let service = report
                .services
                .iter()
                .find(|s| Some(s.ip) == finding.ip && Some(s.port) == finding.port)?;
            Some(
                [service.product.as_deref(), Some(service.protocol.as_str())]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })
        .unwrap_or_default()
}

/// A detail value as text (lists joined).
fn detail_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => {
            items.iter().map(detail_text).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    }
}

pub fn build(report: &Report, lang: Lang) -> ReportView {
    let texts = Texts::get(lang);
    let ui = &texts.ui;
    let finished = report.finished_at;
    let due = |severity: Severity| {
        deadline_days(severity)
            .map(|days| format::date((finished + Duration::days(days)).date(), lang))
    };
    let targets = report
        .targets
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let points = finding_points(report);

    let mut findings = Vec::new();
    for (i, f) in report.findings.iter().enumerate() {
        let text = texts.check(f.check);
        let title = text.map_or_else(|| f.title.clone(), |t| t.title.clone());
        let place = place(f);
        let evidence = mask_secrets(&f.evidence);
        let details: Vec<(String, String)> = f
            .details
            .iter()
            .map(|(k, v)| (k.clone(), mask_secrets(&detail_text(v))))
            .collect();
        let product = product_of(report, f);
        let product_lower = product.to_lowercase();
        let product_fix = text.and_then(|t| {
            t.products
                .iter()
                .find(|(key, _)| product_lower.contains(key.as_str()))
                .map(|(_, fix)| fix.clone())
        });
        let date = due(f.severity);
        let request = text.map_or_else(String::new, |t| {
            let mut values: Vec<(&str, &str)> = details
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            if !product.is_empty() {
                values.push(("product", product.as_str()));
            }
            let ask = fill(&t.ask, &values);
            let deadline = texts.deadline(f.severity);
            fill(
                &texts.request.template,
                &[
                    ("title", &title),
                    ("where", &place),
                    ("evidence", &evidence),
                    ("ask", &ask),
                    ("severity", texts.severity(f.severity)),
                    ("date", date.as_deref().unwrap_or(deadline)),
                    ("deadline", deadline),
                    ("recipient", texts.recipient(t.who)),
                ],
            )
            .trim()
            .to_owned()
        });
        let points_text = if points[i] > 0.0 {
            fill(
                &ui.points_value,
                &[("points", &format!("{:.0}", points[i].max(1.0)))],
            )
        } else if counts(f) && report.score.is_some() {
            ui.points_shared.clone()
        } else {
            String::new()
        };
        findings.push(FindingView {
            anchor: format!("finding-{}", i + 1),
            check: f.check,
            severity: f.severity,
            severity_label: texts.severity(f.severity).to_owned(),
            title,
            place,
            evidence,
            confidence: texts.confidence(f.confidence).to_owned(),
            points: points_text,
            points_value: points[i],
            deadline: texts.deadline(f.severity).to_owned(),
            date,
            why: text.map_or_else(String::new, |t| t.why.clone()),
            fix: text.map_or_else(String::new, |t| t.fix.clone()),
            product_fix,
            effort: text.map_or_else(String::new, |t| t.effort.clone()),
            who: text.map_or_else(String::new, |t| texts.who(t.who).to_owned()),
            request,
            links: text.map_or_else(Vec::new, |t| t.links.clone()),
            details: details
                .into_iter()
                .map(|(label, value)| Row { label, value })
                .collect(),
        });
    }

    let counts_view: Vec<CountView> = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ]
    .into_iter()
    .map(|severity| CountView {
        severity,
        label: texts.severity(severity).to_owned(),
        count: report
            .findings
            .iter()
            .filter(|f| f.severity == severity)
            .count(),
    })
    .collect();

    // The three kinds of finding to fix first: most severe, then most points.
    let mut first_of_kind: BTreeMap<CheckId, usize> = BTreeMap::new();
    for (i, f) in report.findings.iter().enumerate() {
        if f.severity >= Severity::Low && counts(f) {
            first_of_kind.entry(f.check).or_insert(i);
        }
    }
    let kind_points = |check: CheckId| -> f64 {
        report
            .findings
            .iter()
            .zip(&points)
            .filter(|(f, _)| f.check == check)
            .map(|(_, p)| *p)
            .fold(0.0, f64::max)
    };
    let mut kinds: Vec<(CheckId, usize)> = first_of_kind.into_iter().collect();
    kinds.sort_by(|a, b| {
        let (fa, fb) = (&report.findings[a.1], &report.findings[b.1]);
        fb.severity
            .cmp(&fa.severity)
            .then(kind_points(b.0).total_cmp(&kind_points(a.0)))
            .then(a.1.cmp(&b.1))
    });
    let actions = kinds
        .iter()
        .take(3)
        .map(|&(check, first)| {
            let f = &report.findings[first];
            let same = report.findings.iter().filter(|x| x.check == check).count();
            let mut place = findings[first].place.clone();
            if same > 1 {
                place = format!(
                    "{place} {}",
                    fill(&ui.more, &[("n", &(same - 1).to_string())])
                );
            }
            ActionView {
                severity: f.severity,
                severity_label: texts.severity(f.severity).to_owned(),
                title: findings[first].title.clone(),
                place,
                deadline: texts.deadline(f.severity).to_owned(),
                date: due(f.severity),
                anchor: findings[first].anchor.clone(),
            }
        })
        .collect();

    let score = report.score.as_ref().map(|s| ScoreView {
        value: s.value,
        standard: s.standard,
        band: s.band.clone(),
        band_label: Texts::lookup(&texts.band, &s.band).to_owned(),
        standard_label: fill(&ui.score_standard, &[("standard", &s.standard.to_string())]),
        floor: s
            .floor
            .as_ref()
            .map(|f| fill(&ui.score_floor, &[("floor", &f.value.to_string())])),
        model_version: s.model_version.clone(),
    });
    let damage = report.damage.as_ref().map(|d| {
        let money = |amount: u64| format::money(amount, &d.currency, lang);
        let p = &d.profile;
        DamageView {
            low: money(d.low),
            median: money(d.median),
            high: money(d.high),
            eal_low: money(d.expected_annual_loss.low),
            eal_high: money(d.expected_annual_loss.high),
            assumed: p.assumed,
            profile: vec![
                Row {
                    label: ui.industry.clone(),
                    value: Texts::lookup(&texts.industry_text, &p.industry).to_owned(),
                },
                Row {
                    label: ui.employees.clone(),
                    value: format::thousands(u64::from(p.employees)),
                },
                Row {
                    label: ui.revenue.clone(),
                    value: money(p.annual_revenue),
                },
                Row {
                    label: ui.records.clone(),
                    value: format::thousands(p.records),
                },
                Row {
                    label: ui.region.clone(),
                    value: p.region.clone(),
                },
            ],
            scenarios: d
                .scenarios
                .iter()
                .map(|s| ScenarioView {
                    name: Texts::lookup(&texts.scenario_text, &s.id).to_owned(),
                    probability: format!(
                        "{} – {}",
                        format::percent(s.probability_low),
                        format::percent(s.probability_high)
                    ),
                    loss: format!("{} – {}", money(s.loss_low), money(s.loss_high)),
                })
                .collect(),
        }
    });

    let summary = summary(report, texts, &targets, &damage);
    let baseline = baseline(report, texts);

    let assets = report
        .assets
        .iter()
        .map(|a| AssetView {
            hostname: a.hostname.to_string(),
            addresses: a
                .ips
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            sources: a
                .sources
                .iter()
                .map(|s| {
                    let key = serde_json::to_value(s)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    Texts::lookup(&texts.source_text, &key).to_owned()
                })
                .collect::<Vec<_>>()
                .join(", "),
            in_scope: a.in_scope,
        })
        .collect();
    let services = report
        .services
        .iter()
        .map(|s| ServiceView {
            endpoint: match s.ip {
                IpAddr::V6(ip) => format!("[{ip}]:{}/{}", s.port, transport(s.transport)),
                IpAddr::V4(ip) => format!("{ip}:{}/{}", s.port, transport(s.transport)),
            },
            protocol: if s.tls_wrapped {
                format!("{}+tls", s.protocol)
            } else {
                s.protocol.clone()
            },
            product: [
                s.product.as_deref(),
                s.version.as_deref(),
                s.revision.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" "),
            hostnames: s
                .hostnames
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    let c = &report.coverage;
    let coverage = CoverageView {
        passive: c.passive,
        dns: fill(
            &ui.dns_summary,
            &[
                ("queries", &format::thousands(c.dns.queries)),
                ("answered", &format::thousands(c.dns.answered)),
                ("retries", &format::thousands(c.dns.retries)),
                ("timeouts", &format::thousands(c.dns.timeouts)),
            ],
        ),
        steps: c
            .steps
            .iter()
            .map(|s| {
                let status = step_status(s.status);
                StepView {
                    phase: s.phase.clone(),
                    subject: s.subject.clone(),
                    status: status.to_owned(),
                    status_label: Texts::lookup(&texts.status_text, status).to_owned(),
                    counts: format!("{} / {} / {}", s.tried, s.answered, s.failed),
                    detail: s.detail.clone().unwrap_or_default(),
                }
            })
            .collect(),
        warnings: c.warnings.clone(),
    };

    ReportView {
        lang,
        ui: ui.clone(),
        targets,
        scanned_at: format::datetime(report.started_at, lang),
        tool_version: report.tool.version.clone(),
        generated: fill(&ui.generated, &[("version", &report.tool.version)]),
        score,
        damage,
        counts: counts_view,
        actions,
        summary_text: summary.join(if lang == Lang::Ja { "" } else { " " }),
        summary,
        findings,
        baseline,
        assets,
        services,
        coverage,
        glossary: texts.glossary.clone(),
        model_score: fill(
            &ui.model_score,
            &[
                (
                    "reference",
                    &report
                        .score
                        .as_ref()
                        .map(|s| format!("{:.1}", s.reference))
                        .unwrap_or_default(),
                ),
                (
                    "model",
                    report
                        .score
                        .as_ref()
                        .map_or("", |s| s.model_version.as_str()),
                ),
            ],
        ),
        model_damage: ui.model_damage.clone(),
    }
}

fn transport(t: kagami_core::Transport) -> &'static str {
    match t {
        kagami_core::Transport::Tcp => "tcp",
        kagami_core::Transport::Udp => "udp",
    }
}

fn step_status(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Ok => "ok",
        StepStatus::Partial => "partial",
        StepStatus::Failed => "failed",
        StepStatus::Skipped => "skipped",
    }
}

/// The plain paragraph of the executive page.
fn summary(
    report: &Report,
    texts: &Texts,
    targets: &str,
    damage: &Option<DamageView>,
) -> Vec<String> {
    let ui = &texts.ui;
    let count = |sev: Severity| {
        report
            .findings
            .iter()
            .filter(|f| f.severity == sev)
            .count()
            .to_string()
    };
    let total: usize = report
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Low)
        .count();
    let mut out = Vec::new();
    if total == 0 {
        out.push(fill(&ui.summary_clean, &[("targets", targets)]));
    } else {
        out.push(fill(
            &ui.summary_found,
            &[
                ("targets", targets),
                ("total", &total.to_string()),
                ("critical", &count(Severity::Critical)),
                ("high", &count(Severity::High)),
                ("medium", &count(Severity::Medium)),
                ("low", &count(Severity::Low)),
            ],
        ));
    }
    if let Some(score) = &report.score {
        let diff = i32::from(score.value) - i32::from(score.standard);
        let value = score.value.to_string();
        let line = if diff >= 3 {
            let ratio = 2_f64.powf(f64::from(diff) / 15.0);
            fill(
                &ui.summary_above,
                &[
                    ("score", &value),
                    ("diff", &diff.to_string()),
                    ("ratio", &format!("{ratio:.1}")),
                ],
            )
        } else if diff <= -3 {
            fill(
                &ui.summary_below,
                &[("score", &value), ("diff", &(-diff).to_string())],
            )
        } else {
            fill(&ui.summary_at, &[("score", &value)])
        };
        out.push(line);
    }
    if report
        .findings
        .iter()
        .any(|f| f.severity == Severity::Critical && counts(f))
    {
        out.push(ui.summary_critical.clone());
    }
    if let Some(d) = damage {
        out.push(fill(
            &ui.summary_damage,
            &[("low", &d.low), ("high", &d.high), ("median", &d.median)],
        ));
    }
    if total > 0 {
        out.push(ui.summary_next.clone());
    }
    out
}

/// The baseline checklist with each measure's status.
fn baseline(report: &Report, texts: &Texts) -> Vec<BaselineView> {
    let ran: BTreeSet<&str> = report
        .coverage
        .steps
        .iter()
        .filter(|s| matches!(s.status, StepStatus::Ok | StepStatus::Partial))
        .map(|s| s.phase.as_str())
        .collect();
    Baseline::bundled()
        .items
        .iter()
        .filter_map(|item| {
            let text = texts.baseline.get(&item.id)?;
            let related: Vec<&Finding> = report
                .findings
                .iter()
                .filter(|f| counts(f) && item.checks.iter().any(|c| c == f.check.as_str()))
                .collect();
            let status = if !related.is_empty() {
                "not_met"
            } else if !item.checks.is_empty()
                && item.phases.iter().any(|p| ran.contains(p.as_str()))
            {
                "met"
            } else {
                "not_observable"
            };
            let mut titles: Vec<String> = related
                .iter()
                .map(|f| {
                    texts
                        .check(f.check)
                        .map_or_else(|| f.title.clone(), |t| t.title.clone())
                })
                .collect();
            titles.dedup();
            Some(BaselineView {
                title: text.title.clone(),
                basis: text.basis.clone(),
                description: text.description.clone(),
                status: status.to_owned(),
                status_label: Texts::lookup(&texts.status_text, status).to_owned(),
                related: titles.join(" / "),
            })
        })
        .collect()
}
