//! Bad input and broken networks: clear messages, documented exit codes,
//! partial results kept, no false findings from what could not be seen.

use assert_cmd::Command;
use predicates::str::contains;

use crate::support::{LAB_CT, kagami_lab, lab_dir, scan_json};

fn kagami() -> Command {
    Command::cargo_bin("kagami").expect("binary")
}

#[test]
fn invalid_targets_are_usage_errors() {
    kagami()
        .args(["scan", "exa mple.test"])
        .assert()
        .code(2)
        .stderr(contains("not a valid domain name"));
    kagami()
        .args(["scan", "192.0.2.1"])
        .assert()
        .code(2)
        .stderr(contains("targets are domain names"));
    kagami()
        .args(["scan", "localhost"])
        .assert()
        .code(2)
        .stderr(contains("not a domain name"));
    kagami().args(["scan"]).assert().code(2);
}

#[test]
fn bad_options_are_usage_errors() {
    kagami()
        .args(["scan", "example.test", "--resolver", "nonsense"])
        .assert()
        .code(2)
        .stderr(contains("IP:PORT"));
    kagami()
        .args([
            "scan",
            "example.test",
            "--wordlist",
            "/nonexistent/words.txt",
        ])
        .assert()
        .code(2)
        .stderr(contains("/nonexistent/words.txt"));
    kagami()
        .args(["scan", "example.test", "--ca-file", "/nonexistent/ca.pem"])
        .assert()
        .code(2)
        .stderr(contains("/nonexistent/ca.pem"));
    kagami()
        .args(["scan", "example.test", "--ct-url", "ftp://x/"])
        .assert()
        .code(2)
        .stderr(contains("http"));
    kagami()
        .args(["scan", "example.test", "--timeout", "0"])
        .assert()
        .code(2)
        .stderr(contains("--timeout"));
    kagami()
        .args(["scan", "example.test", "--fail-on", "severe"])
        .assert()
        .code(2);
}

#[test]
fn silent_resolver_gives_a_report_with_coverage_not_a_crash() {
    crate::support::require_lab();
    let scan = scan_json(kagami().args([
        "scan",
        "mail-good.test",
        "--resolver",
        "127.10.0.56",
        "--allow-private",
        "--no-ct",
        "--no-dnsbl",
        "--no-default-wordlist",
        "--timeout",
        "0.2",
    ]));
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    assert!(
        scan.report["findings"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "nothing seen, nothing claimed"
    );
    assert!(scan.report["coverage"]["dns"]["timeouts"].as_u64() > Some(0));
    assert_eq!(scan.steps("records")[0]["status"], "failed");
    assert_eq!(scan.steps("spf")[0]["status"], "failed");
    assert!(scan.warnings().contains("no DNS answer"));
}

#[test]
fn servfail_and_malformed_answers_produce_no_false_findings() {
    crate::support::require_lab();
    for resolver in ["127.10.0.57", "127.10.0.55"] {
        let scan = scan_json(kagami().args([
            "scan",
            "mail-good.test",
            "--resolver",
            resolver,
            "--allow-private",
            "--no-ct",
            "--no-dnsbl",
            "--timeout",
            "0.3",
        ]));
        assert_eq!(scan.code, 0, "{resolver}: {}", scan.stderr);
        assert!(
            scan.report["findings"]
                .as_array()
                .is_some_and(Vec::is_empty),
            "{resolver}: {:?}",
            scan.report["findings"]
        );
        assert!(
            scan.report["coverage"]["dns"]["errors"].as_u64() > Some(0),
            "{resolver}"
        );
        assert_eq!(
            scan.steps("bruteforce")[0]["status"],
            "failed",
            "{resolver}: no brute force without a wildcard test"
        );
    }
}

fn ct_scan(url: &str, extra: &[&str]) -> crate::support::Scan {
    scan_json(
        kagami_lab()
            .args([
                "axfr-closed.test",
                "--no-dnsbl",
                "--no-default-wordlist",
                "--ct-url",
                url,
                "--ct-timeout",
                "3",
            ])
            .args(extra),
    )
}

#[test]
fn broken_ct_endpoints_become_warnings() {
    for (path, expect) in [
        ("garbage/", "not crt.sh JSON"),
        ("error/", "502"),
        ("slow/", "failed"),
        ("huge/", "larger than"),
    ] {
        let scan = ct_scan(&format!("{LAB_CT}{path}"), &[]);
        assert_eq!(scan.code, 0, "{path}: {}", scan.stderr);
        let step = &scan.steps("ct")[0];
        assert_eq!(step["status"], "failed", "{path}");
        assert!(
            scan.warnings().contains(expect),
            "{path}: {}",
            scan.warnings()
        );
        assert!(
            scan.asset("axfr-closed.test").is_some(),
            "{path}: the rest of the scan went on"
        );
    }
}

#[test]
fn https_ct_endpoint_needs_its_root_in_ca_file() {
    let ca = lab_dir().join("ca.pem");
    let trusted = ct_scan(
        "https://127.10.0.80/",
        &["--ca-file", ca.to_str().expect("utf-8 path")],
    );
    assert_eq!(
        trusted.steps("ct")[0]["status"],
        "ok",
        "{}",
        trusted.warnings()
    );
    assert!(trusted.asset("ct-only-portal.axfr-closed.test").is_some());
    let untrusted = ct_scan("https://127.10.0.80/", &[]);
    assert_eq!(untrusted.steps("ct")[0]["status"], "failed");
    assert!(
        untrusted.warnings().to_lowercase().contains("certificate"),
        "{}",
        untrusted.warnings()
    );
}
