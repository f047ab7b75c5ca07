//! Backport-aware matching on real banner strings: the CVE-2024-6387
//! (regreSSHion) matrix for OpenSSH, and matrices for Apache httpd and PHP,
//! against the curated data set bundled with Kagami.

use kagami_core::{CheckId, Confidence, DomainName, Finding, Severity};
use kagami_vuln::{Knowledge, Place, Sighting, Software, assess};

fn today() -> time::Date {
    time::macros::date!(2026 - 11 - 21)
}

fn place() -> Place {
    Place {
        domain: DomainName::parse("example.test").expect("name"),
        hostname: None,
        ip: Some("192.0.2.10".parse().expect("ip")),
        port: Some(22),
        transport: None,
    }
}

fn findings(software: Software) -> Vec<Finding> {
    let sighting = Sighting {
        software,
        place: place(),
    };
    assess(&[sighting], &Knowledge::bundled(), today()).findings
}

/// What Kagami concludes from an SSH identification string, read by the
/// same parser the scan uses.
fn ssh(banner: &str) -> Vec<Finding> {
    let announced =
        kagami_net::from_greeting(format!("{banner}\r\n").as_bytes()).expect("an SSH banner");
    let software = Software::new(
        announced.product.as_deref().expect("product"),
        announced.version.as_deref().expect("version"),
    )
    .revision(announced.revision.as_deref())
    .context(Some(banner));
    findings(software)
}

/// `Apache/2.4.62 (Debian)`, `PHP/8.1.2-1ubuntu2.14`: product/version and
/// the whole header as context, as a web stage reports them.
fn header(value: &str) -> Vec<Finding> {
    let first = value.split_whitespace().next().expect("token");
    let (product, version) = first.split_once('/').expect("product/version");
    findings(Software::new(product, version).context(Some(value)))
}

/// The end-of-life finding's severity, confidence and date.
fn end_of_life(findings: &[Finding]) -> (Severity, Confidence, String) {
    let eol = findings
        .iter()
        .find(|f| f.check == CheckId::SoftwareEol)
        .unwrap_or_else(|| panic!("no end of life: {findings:#?}"));
    let date = eol.details["eol_date"].as_str().unwrap_or_default();
    (eol.severity, eol.confidence, date.to_owned())
}

fn cve<'a>(findings: &'a [Finding], id: &str) -> Option<&'a Finding> {
    findings
        .iter()
        .find(|f| f.check == CheckId::VulnCve && f.details["cve"] == id)
}

#[track_caller]
fn reported(findings: &[Finding], id: &str, confidence: Confidence, severity: Severity) {
    let finding = cve(findings, id).unwrap_or_else(|| panic!("{id} not reported: {findings:#?}"));
    assert_eq!(
        (finding.confidence, finding.severity),
        (confidence, severity),
        "{}",
        finding.evidence
    );
}

#[track_caller]
fn not_reported(findings: &[Finding], id: &str) {
    if let Some(f) = cve(findings, id) {
        panic!("{id} reported: {}", f.evidence);
    }
}

const REGRESSHION: &str = "CVE-2024-6387";

#[test]
fn debian_12_before_and_after_the_fix() {
    let vulnerable = ssh("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u2");
    reported(&vulnerable, REGRESSHION, Confidence::Likely, Severity::High);
    let finding = cve(&vulnerable, REGRESSHION).expect("reported");
    assert!(
        finding.evidence.contains("1:9.2p1-2+deb12u3"),
        "{}",
        finding.evidence
    );
    assert_eq!(finding.details["product"], "OpenSSH");
    assert_eq!(finding.details["version"], "9.2p1");
    assert_eq!(finding.details["cvss"], 8.1);
    assert_eq!(finding.details["kev"], false);
    assert!(finding.details["epss"].is_null());
    assert_eq!(finding.port, Some(22));
    // The first bookworm build has both the regression and Terrapin.
    let initial = ssh("SSH-2.0-OpenSSH_9.2p1 Debian-2");
    reported(&initial, REGRESSHION, Confidence::Likely, Severity::High);
    reported(
        &initial,
        "CVE-2023-48795",
        Confidence::Likely,
        Severity::Medium,
    );
    for fixed in ["Debian-2+deb12u3", "Debian-2+deb12u5", "Debian-2+deb12u10"] {
        let result = ssh(&format!("SSH-2.0-OpenSSH_9.2p1 {fixed}"));
        assert!(
            result.iter().all(|f| f.check != CheckId::VulnCve),
            "{fixed}: {result:#?}"
        );
    }
}

#[test]
fn ubuntu_22_04_and_24_04_before_and_after_their_fixes() {
    reported(
        &ssh("SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.7"),
        REGRESSHION,
        Confidence::Likely,
        Severity::High,
    );
    for fixed in ["3ubuntu0.10", "3ubuntu0.13"] {
        not_reported(
            &ssh(&format!("SSH-2.0-OpenSSH_8.9p1 Ubuntu-{fixed}")),
            REGRESSHION,
        );
    }
    reported(
        &ssh("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13"),
        REGRESSHION,
        Confidence::Likely,
        Severity::High,
    );
    for fixed in ["3ubuntu13.3", "3ubuntu13.5"] {
        not_reported(
            &ssh(&format!("SSH-2.0-OpenSSH_9.6p1 Ubuntu-{fixed}")),
            REGRESSHION,
        );
    }
    // Ubuntu 20.04 ships 8.2p1, older than the regression.
    not_reported(&ssh("SSH-2.0-OpenSSH_8.2p1 Ubuntu-4ubuntu0.5"), REGRESSHION);
}

#[test]
fn upstream_releases_and_the_old_regression() {
    not_reported(&ssh("SSH-2.0-OpenSSH_9.8p1"), REGRESSHION);
    reported(
        &ssh("SSH-2.0-OpenSSH_9.7p1"),
        REGRESSHION,
        Confidence::Likely,
        Severity::High,
    );
    let old_but_unaffected = ssh("SSH-2.0-OpenSSH_8.3p1");
    not_reported(&old_but_unaffected, REGRESSHION);
    reported(
        &old_but_unaffected,
        "CVE-2023-48795",
        Confidence::Likely,
        Severity::Medium,
    );
    // 8.4p1 is also Debian 11's number (DebianBanner no hides the revision).
    let bullseye_or_upstream = ssh("SSH-2.0-OpenSSH_8.4p1");
    not_reported(&bullseye_or_upstream, REGRESSHION);
    reported(
        &bullseye_or_upstream,
        "CVE-2023-48795",
        Confidence::Possible,
        Severity::Info,
    );
    // 4.3p2 predates the 2006 fix, which is what regressed in 8.5p1.
    let ancient = ssh("SSH-2.0-OpenSSH_4.3p2");
    reported(&ancient, REGRESSHION, Confidence::Likely, Severity::High);
    reported(
        &ancient,
        "CVE-2006-5051",
        Confidence::Likely,
        Severity::Critical,
    );
    // "OpenSSH_4.3" without pN is a vendor build (Red Hat 5 shipped it with
    // the 2006 fix backported): affected by the range, to be verified.
    let vendor = ssh("SSH-2.0-OpenSSH_4.3");
    reported(&vendor, REGRESSHION, Confidence::Possible, Severity::Info);
}

#[test]
fn red_hat_and_freebsd_builds_need_verification() {
    let rhel9 = ssh("SSH-2.0-OpenSSH_8.7");
    reported(&rhel9, REGRESSHION, Confidence::Possible, Severity::Info);
    let finding = cve(&rhel9, REGRESSHION).expect("reported");
    assert!(
        finding.title.contains("needs verification"),
        "{}",
        finding.title
    );
    assert!(
        finding
            .evidence
            .to_lowercase()
            .contains("needs verification"),
        "{}",
        finding.evidence
    );
    assert!(finding.evidence.contains("Red Hat"), "{}", finding.evidence);
    reported(
        &ssh("SSH-2.0-OpenSSH_9.7p1 FreeBSD-20240318"),
        REGRESSHION,
        Confidence::Possible,
        Severity::Info,
    );
    // RHEL 8's 8.0 is older than the regression and newer than 2006.
    not_reported(&ssh("SSH-2.0-OpenSSH_8.0"), REGRESSHION);
}

#[test]
fn apache_httpd_matrix() {
    let traversal = header("Apache/2.4.49 (Unix)");
    // CISA KEV and exploitable by anyone over the network: critical.
    reported(
        &traversal,
        "CVE-2021-41773",
        Confidence::Likely,
        Severity::Critical,
    );
    assert_eq!(
        cve(&traversal, "CVE-2021-41773").expect("reported").details["kev"],
        true
    );
    reported(
        &traversal,
        "CVE-2021-42013",
        Confidence::Likely,
        Severity::Critical,
    );
    let next = header("Apache/2.4.50 (Unix)");
    not_reported(&next, "CVE-2021-41773");
    reported(
        &next,
        "CVE-2021-42013",
        Confidence::Likely,
        Severity::Critical,
    );
    let fixed = header("Apache/2.4.51");
    not_reported(&fixed, "CVE-2021-42013");
    reported(
        &fixed,
        "CVE-2021-44790",
        Confidence::Likely,
        Severity::Critical,
    );
    // Ubuntu 22.04's 2.4.52 carries backports the banner cannot show.
    let ubuntu = header("Apache/2.4.52 (Ubuntu)");
    reported(
        &ubuntu,
        "CVE-2022-22720",
        Confidence::Possible,
        Severity::Info,
    );
    not_reported(&ubuntu, "CVE-2021-44790");
    let debian = header("Apache/2.4.62 (Debian)");
    not_reported(&debian, "CVE-2024-38476");
    reported(
        &debian,
        "CVE-2025-53020",
        Confidence::Possible,
        Severity::Info,
    );
    assert!(
        header("Apache/2.4.65")
            .iter()
            .all(|f| f.check != CheckId::VulnCve)
    );
    // 2.2 is past its end of life; CentOS 6 too.
    let centos = header("Apache/2.2.15 (CentOS)");
    assert_eq!(
        end_of_life(&centos),
        (Severity::Critical, Confidence::Likely, "2020-11-30".into())
    );
    reported(
        &centos,
        "CVE-2017-7679",
        Confidence::Possible,
        Severity::Info,
    );
    let upstream_22 = header("Apache/2.2.34");
    assert!(
        upstream_22
            .iter()
            .any(|f| f.check == CheckId::SoftwareEol && f.details["eol_date"] == "2017-12-31")
    );
    not_reported(&upstream_22, "CVE-2017-7679");
    reported(
        &upstream_22,
        "CVE-2017-9798",
        Confidence::Likely,
        Severity::High,
    );
}

#[test]
fn php_matrix() {
    // Ubuntu 22.04 fixed CVE-2023-3824 in 8.1.2-1ubuntu2.14.
    reported(
        &header("PHP/8.1.2-1ubuntu2.13"),
        "CVE-2023-3824",
        Confidence::Likely,
        Severity::Critical,
    );
    let fixed = header("PHP/8.1.2-1ubuntu2.14");
    not_reported(&fixed, "CVE-2023-3824");
    // A Windows-only flaw does not apply to an Ubuntu build.
    not_reported(&fixed, "CVE-2024-4577");
    // Ubuntu decides even outside the upstream range (its 7.4 was affected).
    reported(
        &header("PHP/7.4.3-4ubuntu2.19"),
        "CVE-2023-3824",
        Confidence::Likely,
        Severity::Critical,
    );
    not_reported(&header("PHP/7.4.3-4ubuntu2.20"), "CVE-2023-3824");
    // CVE-2024-4577 only affects Windows: unknown platform needs verification,
    // a Windows build is critical (KEV, ransomware).
    reported(
        &header("PHP/8.3.7"),
        "CVE-2024-4577",
        Confidence::Possible,
        Severity::Info,
    );
    let windows = header("PHP/8.3.7 (Win64) Apache/2.4.58");
    reported(
        &windows,
        "CVE-2024-4577",
        Confidence::Likely,
        Severity::Critical,
    );
    not_reported(&header("PHP/8.3.8 (Win64)"), "CVE-2024-4577");
    let old = header("PHP/7.3.10");
    reported(
        &old,
        "CVE-2019-11043",
        Confidence::Likely,
        Severity::Critical,
    );
    assert!(
        old.iter()
            .any(|f| f.check == CheckId::SoftwareEol && f.details["eol_date"] == "2021-12-06")
    );
    not_reported(&header("PHP/7.3.11"), "CVE-2019-11043");
    reported(
        &header("PHP/5.3.3"),
        "CVE-2012-1823",
        Confidence::Likely,
        Severity::Critical,
    );
}

#[test]
fn unknown_products_and_absurd_versions_produce_nothing() {
    assert!(findings(Software::new("Dropbear", "2020.81")).is_empty());
    assert!(findings(Software::new("OpenSSH", "\u{0}\u{1}")).is_empty());
    assert!(findings(Software::new("Apache", "9.".repeat(400))).is_empty());
    // A revision that is not a package version cannot be judged by the
    // distribution: at most "needs verification".
    let garbled = findings(Software::new("OpenSSH", "9.2p1").revision(Some("Debian-:::")));
    assert!(!garbled.is_empty());
    assert!(
        garbled
            .iter()
            .all(|f| f.confidence == Confidence::Possible && f.severity == Severity::Info)
    );
}

#[test]
fn iis_is_judged_by_windows_not_by_its_unchanging_version() {
    let iis = header("Microsoft-IIS/8.5");
    assert_eq!(
        end_of_life(&iis),
        (Severity::Critical, Confidence::Likely, "2023-10-10".into())
    );
    let eol = iis
        .iter()
        .find(|f| f.check == CheckId::SoftwareEol)
        .expect("end of life");
    assert!(
        eol.evidence.contains("Windows Server 2012 R2"),
        "{}",
        eol.evidence
    );
    // MS15-034 is fixed by a Windows update that leaves "8.5" unchanged.
    reported(&iis, "CVE-2015-1635", Confidence::Possible, Severity::Info);
    assert!(header("Microsoft-IIS/10.0").is_empty());
}
