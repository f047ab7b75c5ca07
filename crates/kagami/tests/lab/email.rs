//! SPF, DMARC and DNS blocklists against the lab's mail zones: each weakness
//! and its look-alike that must stay quiet.

use std::sync::OnceLock;

use crate::support::{Scan, kagami_lab, scan_json};

const MAIL_ZONES: &[&str] = &[
    "mail-good.test",
    "spf-none.test",
    "spf-plusall.test",
    "spf-neutral.test",
    "spf-toomany.test",
    "spf-syntax.test",
    "spf-void.test",
    "spf-redirect.test",
    "spf-multiple.test",
    "spf-softfail.test",
];

/// One passive scan of every mail zone, shared by the tests below.
fn mail_scan() -> &'static Scan {
    static SCAN: OnceLock<Scan> = OnceLock::new();
    SCAN.get_or_init(|| {
        let scan = scan_json(kagami_lab().args(MAIL_ZONES).args([
            "--passive",
            "--no-ct",
            "--no-dnsbl",
            "--no-default-wordlist",
        ]));
        assert_eq!(scan.code, 0, "{}", scan.stderr);
        scan
    })
}

fn checks_for(domain: &str) -> Vec<String> {
    let mut checks: Vec<String> = mail_scan().report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["domain"] == domain)
        .filter_map(|f| f["check"].as_str().map(str::to_owned))
        .collect();
    checks.sort();
    checks
}

fn spf_evidence(domain: &str) -> String {
    let findings = mail_scan().findings_for("email.spf_weak", domain);
    assert_eq!(findings.len(), 1, "{domain}: {findings:?}");
    assert_eq!(findings[0]["severity"], "low");
    assert!(
        findings[0]["details"]["record"].is_string(),
        "record detail"
    );
    findings[0]["evidence"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase()
}

#[test]
fn good_mail_domain_has_no_email_findings() {
    assert_eq!(checks_for("mail-good.test"), Vec::<String>::new());
}

#[test]
fn missing_spf_and_dmarc() {
    assert_eq!(
        checks_for("spf-none.test"),
        ["email.dmarc_missing", "email.spf_missing"]
    );
}

#[test]
fn plus_all_and_p_none_are_weak() {
    assert_eq!(
        checks_for("spf-plusall.test"),
        ["email.dmarc_weak", "email.spf_weak"]
    );
    assert!(spf_evidence("spf-plusall.test").contains("+all"));
}

#[test]
fn neutral_all_and_partial_pct_are_weak() {
    assert_eq!(
        checks_for("spf-neutral.test"),
        ["email.dmarc_weak", "email.spf_weak"]
    );
    let dmarc = mail_scan().findings_for("email.dmarc_weak", "spf-neutral.test");
    assert!(
        dmarc[0]["evidence"]
            .as_str()
            .is_some_and(|e| e.contains("50"))
    );
}

#[test]
fn too_many_lookups_is_weak() {
    assert_eq!(checks_for("spf-toomany.test"), ["email.spf_weak"]);
    assert!(spf_evidence("spf-toomany.test").contains("12"));
}

#[test]
fn syntax_errors_are_weak() {
    assert_eq!(checks_for("spf-syntax.test"), ["email.spf_weak"]);
}

#[test]
fn too_many_void_lookups_are_weak() {
    assert_eq!(checks_for("spf-void.test"), ["email.spf_weak"]);
    assert!(spf_evidence("spf-void.test").contains("void"));
}

#[test]
fn multiple_spf_records_are_weak() {
    assert_eq!(checks_for("spf-multiple.test"), ["email.spf_weak"]);
}

#[test]
fn redirect_to_a_strict_policy_and_softfail_are_not_weak() {
    assert_eq!(checks_for("spf-redirect.test"), Vec::<String>::new());
    assert_eq!(checks_for("spf-softfail.test"), Vec::<String>::new());
}

#[test]
fn blocklisted_address_is_reported_and_its_neighbour_is_not() {
    let scan =
        scan_json(kagami_lab().args(["blocklisted.test", "--no-ct", "--dnsbl", "bl.dnsbl.test"]));
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    let listed = scan.findings("ip.blocklisted");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["ip"], "127.10.6.25");
    assert_eq!(listed[0]["hostname"], "mail.blocklisted.test");
    assert_eq!(listed[0]["details"]["list"], "bl.dnsbl.test");
    assert_eq!(listed[0]["severity"], "medium");
    assert!(
        listed[0]["evidence"]
            .as_str()
            .is_some_and(|e| e.contains("Listed for spam"))
    );
}

#[test]
fn a_list_that_refuses_queries_lists_nothing() {
    let scan = scan_json(kagami_lab().args([
        "blocklisted.test",
        "--no-ct",
        "--dnsbl",
        "refusing.dnsbl.test",
    ]));
    assert!(scan.findings("ip.blocklisted").is_empty());
    let step = &scan.steps("dnsbl")[0];
    assert_eq!(step["status"], "failed");
    assert!(
        step["detail"]
            .as_str()
            .is_some_and(|d| d.contains("refused"))
    );
}

#[test]
fn ipv6_addresses_are_looked_up_in_nibble_form() {
    // ns1.blocklisted.test has AAAA ::1, which bl6.dnsbl.test lists; its IPv4
    // addresses are not on that list.
    let scan = scan_json(kagami_lab().args([
        "blocklisted.test",
        "--passive",
        "--no-ct",
        "--no-default-wordlist",
        "--dnsbl",
        "bl6.dnsbl.test",
    ]));
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    let listed = scan.findings("ip.blocklisted");
    let ips: Vec<&str> = listed.iter().filter_map(|f| f["ip"].as_str()).collect();
    assert_eq!(ips, ["::1"], "{listed:?}");
}
