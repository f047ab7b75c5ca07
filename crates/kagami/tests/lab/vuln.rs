//! The vulnerability stage in whole scans of the lab, and `kagami db`.
//! The lab's sshd is Debian's own openssh-server, a bookworm build later
//! than the CVE-2024-6387 fix: it must not be reported, while the mimic of
//! the build before the fix (127.10.20.224) must be, on Debian's fixed
//! version. Scans use only the data bundled with Kagami (support.rs).

use assert_cmd::Command;
use serde_json::Value;

use crate::probing::{checks_at, service, services_scan};

fn cve_findings(ip: &str) -> Vec<&'static Value> {
    services_scan()
        .findings("vuln.cve")
        .into_iter()
        .filter(|f| f["ip"] == ip)
        .collect()
}

#[test]
fn the_labs_real_debian_sshd_is_not_reported() {
    let sshd = service("127.10.20.22", 22);
    let revision = sshd["revision"].as_str().expect("a Debian revision");
    assert!(
        revision.starts_with("Debian-") && revision.contains("deb12u"),
        "{sshd}"
    );
    assert_eq!(sshd["version"], "9.2p1");
    assert!(cve_findings("127.10.20.22").is_empty());
    assert!(!checks_at("127.10.20.22", 22).contains(&"software.eol".to_owned()));
}

#[test]
fn debian_12_before_the_fix_is_reported_on_debians_fixed_version() {
    let findings = cve_findings("127.10.20.224");
    let regresshion = findings
        .iter()
        .find(|f| f["details"]["cve"] == "CVE-2024-6387")
        .unwrap_or_else(|| panic!("CVE-2024-6387 not reported: {findings:#?}"));
    assert_eq!(regresshion["confidence"], "likely");
    assert_eq!(regresshion["severity"], "high");
    assert_eq!(regresshion["port"], 22);
    assert_eq!(regresshion["hostname"], "ssh-debian-old.services.test");
    assert_eq!(regresshion["details"]["product"], "OpenSSH");
    assert_eq!(regresshion["details"]["version"], "9.2p1");
    assert_eq!(regresshion["details"]["cvss"], 8.1);
    assert_eq!(regresshion["details"]["kev"], false);
    assert!(regresshion["details"]["epss"].is_null());
    let evidence = regresshion["evidence"].as_str().expect("evidence");
    assert!(evidence.contains("1:9.2p1-2+deb12u3"), "{evidence}");
}

#[test]
fn ubuntu_fixed_and_vendor_builds() {
    // Ubuntu 22.04's 3ubuntu0.10 has the fixes of both bundled OpenSSH CVEs.
    assert!(cve_findings("127.10.20.222").is_empty());
    // A Red Hat style version (no pN) is only "needs verification".
    let rhel = cve_findings("127.10.20.223");
    assert!(!rhel.is_empty());
    for finding in rhel {
        assert_eq!(finding["confidence"], "possible", "{finding}");
        assert_eq!(finding["severity"], "info", "{finding}");
        assert!(
            finding["title"]
                .as_str()
                .is_some_and(|t| t.contains("needs verification"))
        );
    }
}

#[test]
fn coverage_states_the_data_and_its_date() {
    let scan = services_scan();
    let data = scan.steps("vuln_data");
    let bundled = data
        .iter()
        .find(|s| s["subject"] == "bundled")
        .expect("the bundled data step");
    assert!(
        bundled["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("data of 20")),
        "{bundled}"
    );
    let feeds = data
        .iter()
        .find(|s| s["subject"] == "feeds")
        .expect("feeds step");
    assert_eq!(feeds["status"], "skipped");
    assert!(scan.warnings().contains("kagami db update"));
    let stage = &scan.steps("vuln")[0];
    assert!(stage["tried"].as_u64().is_some_and(|n| n >= 4), "{stage}");
}

fn kagami_db(store: &std::path::Path) -> Command {
    let mut cmd = Command::cargo_bin("kagami").expect("kagami binary");
    cmd.env("KAGAMI_VULN_DB", store);
    cmd
}

#[test]
fn db_update_from_a_directory_then_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("vuln.sqlite");
    let feeds =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../kagami-vuln/tests/data/feeds");
    let update = kagami_db(&store)
        .args(["db", "update", "--from"])
        .arg(&feeds)
        .output()
        .expect("run");
    assert!(
        update.status.success(),
        "{}",
        String::from_utf8_lossy(&update.stderr)
    );
    let status = kagami_db(&store)
        .args(["db", "status", "--json"])
        .output()
        .expect("run");
    let status: Value = serde_json::from_slice(&status.stdout).expect("JSON");
    let feed = |name: &str| {
        status["feeds"]
            .as_array()
            .and_then(|all| all.iter().find(|f| f["feed"] == name))
            .cloned()
            .expect("feed")
    };
    assert_eq!(feed("nvd")["records"], 4);
    assert_eq!(feed("kev")["data_date"], "2026-11-19");
    assert_eq!(feed("epss")["version"], "v2025.03.14");
    assert_eq!(feed("ubuntu")["loaded"], true);

    // A truncated KEV file is refused: exit 1, the previous catalogue kept.
    let bad = tempfile::tempdir().expect("tempdir");
    let kev = std::fs::read(feeds.join("known_exploited_vulnerabilities.json")).expect("sample");
    std::fs::write(
        bad.path().join("known_exploited_vulnerabilities.json"),
        &kev[..kev.len() / 2],
    )
    .expect("write");
    let update = kagami_db(&store)
        .args(["db", "update", "--from"])
        .arg(bad.path())
        .output()
        .expect("run");
    assert_eq!(update.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&update.stderr);
    assert!(stderr.contains("previous data"), "{stderr}");
    let after = kagami_db(&store)
        .args(["db", "status", "--json"])
        .output()
        .expect("run");
    let after: Value = serde_json::from_slice(&after.stdout).expect("JSON");
    assert_eq!(after["feeds"], status["feeds"]);

    // A directory without feeds is a usage error.
    let empty = tempfile::tempdir().expect("tempdir");
    let update = kagami_db(&store)
        .args(["db", "update", "--from"])
        .arg(empty.path())
        .output()
        .expect("run");
    assert_eq!(update.status.code(), Some(2));
}
