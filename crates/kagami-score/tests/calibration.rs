//! 40 is the standard: the median company of the calibration population
//! (data/calibration-v1.toml) scores 40 with the bundled reference; a company
//! without findings scores well below it, and one with an exposed VPN portal
//! or a known-exploited CVE well above it. Plus the model's laws.

use kagami_core::{CheckId, Confidence, DomainName, Finding, Severity};
use kagami_score::calibration::{Population, calibrated_reference, median_score};
use kagami_score::{Model, score};
use proptest::prelude::*;

fn finding(check: CheckId) -> Finding {
    let domain = DomainName::parse("example.test").expect("name");
    Finding::new(check, &domain, "test")
}

fn value(findings: &[Finding]) -> u8 {
    score(&Model::bundled(), findings).score.value
}

#[test]
fn the_median_company_of_the_population_scores_the_standard() {
    let model = Model::bundled();
    let population = Population::bundled().expect("population file");
    assert!(population.kinds.len() >= 30, "a realistic population");
    let companies = population.simulate(&model);
    let median = median_score(&model, &companies, model.score.reference_points);
    let calibrated = calibrated_reference(&model, &companies);
    assert!(
        (median - 40.0).abs() <= 0.5,
        "median {median:.2}; set reference_points = {calibrated:.1} in model-v1.toml"
    );
    assert!(
        (model.score.reference_points - calibrated).abs() <= 0.3,
        "reference_points {} but the population calibrates to {calibrated:.2}",
        model.score.reference_points
    );
    // The population is spread: a quarter is clearly better, a quarter clearly worse.
    let mut scores: Vec<f64> = companies
        .iter()
        .map(|c| kagami_score::calibration::company_score(&model, *c, model.score.reference_points))
        .collect();
    scores.sort_by(f64::total_cmp);
    let quartile = |q: f64| scores[((scores.len() - 1) as f64 * q) as usize];
    assert!(quartile(0.25) < 37.0, "lower quartile {}", quartile(0.25));
    assert!(quartile(0.75) > 45.0, "upper quartile {}", quartile(0.75));
}

#[test]
fn clean_company_scores_well_below_and_exposed_edges_well_above() {
    let clean = value(&[]);
    assert!(clean < 30, "no findings: {clean}");
    // Typical hygiene of the seed programme: unencrypted web, certificate
    // problem, old TLS, weak SPF/DMARC, missing headers.
    let typical = value(&[
        finding(CheckId::HttpCleartext),
        finding(CheckId::TlsCertHostnameMismatch),
        finding(CheckId::TlsLegacyProtocol),
        finding(CheckId::EmailDmarcMissing),
        finding(CheckId::EmailSpfWeak),
        finding(CheckId::HttpSecurityHeadersMissing),
    ]);
    assert!((35..=50).contains(&typical), "typical SME: {typical}");
    let vpn = value(&[finding(CheckId::VpnPanelExposed).with_detail("product", "Cisco ASA")]);
    assert!(vpn >= 70, "exposed Cisco ASA portal: {vpn}");
    let mut kev = finding(CheckId::VulnCve)
        .with_detail("kev", true)
        .with_detail("cvss", 9.8);
    kev.severity = Severity::Critical;
    assert!(value(&[kev]) >= 70);
    // A KEV CVE rated only HIGH still lands far above the standard.
    let mut kev_high = finding(CheckId::VulnCve)
        .with_detail("kev", true)
        .with_detail("cvss", 7.5);
    kev_high.severity = Severity::High;
    let kev_value = value(&[kev_high]);
    assert!(kev_value >= 45, "KEV CVE: {kev_value}");
}

#[test]
fn possible_and_info_findings_never_count() {
    let clean = value(&[]);
    let possible = finding(CheckId::RdpExposed).with_confidence(Confidence::Possible);
    assert_eq!(value(&[possible]), clean);
    assert_eq!(
        value(&[finding(CheckId::HttpServerVersionDisclosed)]),
        clean
    );
}

#[test]
fn bundled_parameter_files_are_valid_and_cite_sources() {
    let model = Model::bundled();
    for (id, check) in &model.checks {
        assert!(!check.source.trim().is_empty(), "{id} has no source");
        for rule in &check.rules {
            assert!(!rule.source.trim().is_empty(), "{id} rule has no source");
        }
    }
    let population = Population::bundled().expect("population");
    for kind in &population.kinds {
        assert!(
            !kind.source.trim().is_empty(),
            "{} has no source",
            kind.check
        );
    }
    // Every check of the catalog is either rated or counts as hygiene; the
    // high and critical ones must be rated (hygiene would undervalue them).
    for check in CheckId::ALL {
        if check.default_severity() >= Severity::High {
            assert!(
                model.checks.contains_key(check.as_str()),
                "{check} is {} but has no relative risk",
                check.default_severity()
            );
        }
    }
}

const KINDS: [CheckId; 12] = [
    CheckId::RdpExposed,
    CheckId::VpnPanelExposed,
    CheckId::EmailDmarcMissing,
    CheckId::EmailSpfMissing,
    CheckId::HttpCleartext,
    CheckId::TlsLegacyProtocol,
    CheckId::HttpSecurityHeadersMissing,
    CheckId::DbExposed,
    CheckId::SoftwareEol,
    CheckId::IpBlocklisted,
    CheckId::IntelLeakedCredentials,
    CheckId::FtpCleartext,
];

proptest! {
    #[test]
    fn adding_a_finding_never_lowers_the_score(
        picks in proptest::collection::vec(0..KINDS.len(), 0..10),
        extra in 0..KINDS.len(),
    ) {
        let findings: Vec<Finding> = picks.iter().map(|&i| finding(KINDS[i])).collect();
        let mut more = findings.clone();
        more.push(finding(KINDS[extra]));
        let before = value(&findings);
        let after = value(&more);
        prop_assert!(after >= before);
        prop_assert!(after <= 100);
    }

    #[test]
    fn order_and_duplicates_do_not_matter(picks in proptest::collection::vec(0..KINDS.len(), 1..10)) {
        let findings: Vec<Finding> = picks.iter().map(|&i| finding(KINDS[i])).collect();
        let mut reversed = findings.clone();
        reversed.reverse();
        let mut doubled = findings.clone();
        doubled.extend(findings.iter().cloned());
        prop_assert_eq!(value(&findings), value(&reversed));
        prop_assert_eq!(value(&findings), value(&doubled));
    }
}
