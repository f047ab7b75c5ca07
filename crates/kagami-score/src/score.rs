//! The relative-risk score (docs/scoring.md, "The score").
//!
//! Each counted finding gets a relative risk (RR) and a group; a kind of
//! finding (check id) counts once, at its largest RR; a group counts once
//! (`max`) or multiplies its kinds up to a cap (`product`). The score is
//! `standard - reference_points + min(sum of points, max_points)` with
//! `points = 15 * log2(RR)`, clamped to 0-100, then lifted by floors.

use std::collections::BTreeMap;

use kagami_core::{Confidence, Contribution, Finding, Score, ScoreFloor, Severity};

use crate::model::{Aggregate, HYGIENE, Model, Rule};

/// The score and how it was reached.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreOutcome {
    pub score: Score,
    /// Points of each finding, in the order of the findings given (unrounded).
    pub finding_points: Vec<f64>,
    /// The relative risk of each group that has counted findings.
    pub group_rr: BTreeMap<String, f64>,
}

/// Whether a finding counts at all: `info` and `possible` (needs
/// verification) findings never change the score.
pub fn counts(finding: &Finding) -> bool {
    finding.severity != Severity::Info && finding.confidence != Confidence::Possible
}

/// The group and relative risk of a counted finding.
pub fn classify<'m>(model: &'m Model, finding: &Finding) -> (&'m str, f64) {
    if let Some(params) = model.checks.get(finding.check.as_str()) {
        if let Some(rule) = params.rules.iter().find(|r| rule_matches(r, finding)) {
            return (&params.group, rule.rr);
        }
        if let Some(rr) = params.rr {
            return (&params.group, rr);
        }
    }
    let factor = if finding.severity >= Severity::Medium {
        model.hygiene.medium
    } else {
        model.hygiene.low
    };
    (HYGIENE, factor)
}

fn rule_matches(rule: &Rule, finding: &Finding) -> bool {
    let detail = |key: &str| finding.details.get(key);
    if !rule.product_contains.is_empty() {
        let product = detail("product")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_lowercase();
        if !rule.product_contains.iter().any(|p| product.contains(p)) {
            return false;
        }
    }
    if let Some(kev) = rule.kev
        && detail("kev").and_then(serde_json::Value::as_bool) != Some(kev)
    {
        return false;
    }
    if let Some(least) = rule.cvss_at_least
        && !detail("cvss")
            .and_then(serde_json::Value::as_f64)
            .is_some_and(|cvss| cvss >= least)
    {
        return false;
    }
    true
}

/// One kind of finding within a group, represented by its first finding
/// with the largest relative risk.
struct Kind {
    index: usize,
    rr: f64,
}

pub fn score(model: &Model, findings: &[Finding]) -> ScoreOutcome {
    // group -> (check, group) kind -> representative
    let mut kinds: BTreeMap<&str, BTreeMap<&str, Kind>> = BTreeMap::new();
    for (index, finding) in findings.iter().enumerate().filter(|(_, f)| counts(f)) {
        let (group, rr) = classify(model, finding);
        let kind = kinds
            .entry(group)
            .or_default()
            .entry(finding.check.as_str())
            .or_insert(Kind { index, rr });
        if rr > kind.rr {
            *kind = Kind { index, rr };
        }
    }

    let mut finding_points = vec![0.0; findings.len()];
    let mut group_rr = BTreeMap::new();
    for (group, members) in &kinds {
        let params = &model.groups[*group];
        let mut members: Vec<&Kind> = members.values().collect();
        members.sort_by(|a, b| b.rr.total_cmp(&a.rr).then(a.index.cmp(&b.index)));
        let mut product = 1.0_f64;
        for (rank, kind) in members.iter().enumerate() {
            let next = match params.aggregate {
                Aggregate::Max if rank == 0 => kind.rr,
                Aggregate::Max => product,
                Aggregate::Product => (product * kind.rr).min(params.cap.unwrap_or(f64::INFINITY)),
            };
            if !params.floor_only {
                finding_points[kind.index] = model.points(next / product);
            }
            product = next;
        }
        group_rr.insert((*group).to_owned(), product);
    }

    let total: f64 = finding_points.iter().sum();
    let standard = f64::from(model.score.standard);
    let raw =
        (standard - model.score.reference_points + total.min(model.max_points())).clamp(0.0, 100.0);

    let floor = model
        .score
        .floors
        .iter()
        .filter(|floor| {
            let by_severity = floor
                .severity
                .is_some_and(|sev| findings.iter().any(|f| counts(f) && f.severity >= sev));
            let by_group = floor
                .group
                .as_deref()
                .is_some_and(|g| group_rr.contains_key(g));
            by_severity || by_group
        })
        .max_by_key(|floor| floor.value)
        .filter(|floor| f64::from(floor.value) > raw);
    let value = floor.map_or_else(|| raw.round(), |f| f64::from(f.value)) as u8;

    let mut order: Vec<usize> = (0..findings.len())
        .filter(|&i| round2(finding_points[i]) > 0.0)
        .collect();
    order.sort_by(|&a, &b| {
        finding_points[b]
            .total_cmp(&finding_points[a])
            .then(a.cmp(&b))
    });
    let contributions = order
        .into_iter()
        .map(|i| {
            let finding = &findings[i];
            Contribution {
                check: finding.check,
                hostname: finding.hostname.clone(),
                ip: finding.ip,
                port: finding.port,
                group: classify(model, finding).0.to_owned(),
                points: round2(finding_points[i]),
            }
        })
        .collect();

    ScoreOutcome {
        score: Score {
            value,
            standard: model.score.standard,
            model_version: model.version.clone(),
            band: model.band(value).to_owned(),
            raw: (raw * 10.0).round() / 10.0,
            reference: model.score.reference_points,
            floor: floor.map(|f| ScoreFloor {
                value: f.value,
                reason: f.reason.clone(),
            }),
            contributions,
        },
        finding_points,
        group_rr,
    }
}

pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
