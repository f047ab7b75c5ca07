//! Discovery against the lab's zones: zone transfers, wildcards, dangling
//! aliases, certificate transparency, the address policy, and brute force.

use crate::support::{LAB_CT, has_source, kagami_lab, lab_dir, scan_json};

#[test]
fn zone_transfer_is_reported_per_server_that_allows_it() {
    let scan = scan_json(kagami_lab().args(["axfr-open.test", "--no-ct", "--no-dnsbl"]));
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    let findings = scan.findings("dns.zone_transfer");
    let ips: Vec<&str> = findings.iter().filter_map(|f| f["ip"].as_str()).collect();
    assert!(
        ips.contains(&"127.10.0.53"),
        "ns1 over IPv4 allows AXFR: {ips:?}"
    );
    assert!(ips.contains(&"::1"), "ns1 over IPv6 allows AXFR: {ips:?}");
    assert!(!ips.contains(&"127.10.0.54"), "ns2 refuses AXFR: {ips:?}");
    for finding in &findings {
        assert_eq!(finding["severity"], "critical");
        assert_eq!(finding["details"]["nameserver"], "ns1.axfr-open.test");
        assert_eq!(finding["confidence"], "confirmed");
    }
    let hidden = scan
        .asset("zq-hidden-backoffice.axfr-open.test")
        .expect("name only the transfer reveals");
    assert!(has_source(hidden, "zone_transfer"));
    assert_eq!(hidden["ips"][0], "127.10.1.77");
    let refused = scan.steps("axfr").into_iter().find(|s| {
        s["subject"]
            .as_str()
            .is_some_and(|s| s.contains("127.10.0.54"))
    });
    assert!(refused.is_some_and(|s| {
        s["detail"]
            .as_str()
            .is_some_and(|d| d.contains("REFUSED") || d.contains("refused"))
    }));
}

#[test]
fn refused_zone_transfer_is_no_finding_and_hides_what_it_should() {
    let scan = scan_json(kagami_lab().args(["axfr-closed.test", "--ct-url", LAB_CT, "--no-dnsbl"]));
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    assert!(scan.findings("dns.zone_transfer").is_empty());
    assert!(scan.asset("zq-hidden-payroll.axfr-closed.test").is_none());
    assert_eq!(
        scan.steps("axfr").len(),
        3,
        "both name servers, every address, were tried"
    );
}

#[test]
fn certificate_transparency_names_become_assets() {
    let scan = scan_json(kagami_lab().args(["axfr-closed.test", "--ct-url", LAB_CT, "--no-dnsbl"]));
    let portal = scan
        .asset("ct-only-portal.axfr-closed.test")
        .expect("CT-only name");
    assert!(has_source(portal, "certificate_transparency"));
    assert_eq!(portal["ips"][0], "127.10.1.90");
    let www = scan.asset("www.axfr-closed.test").expect("www");
    assert!(has_source(www, "bruteforce") && has_source(www, "certificate_transparency"));
    let old = scan
        .asset("old-campaign.axfr-closed.test")
        .expect("historic CT name is listed");
    assert_eq!(old["ips"].as_array().map(Vec::len), Some(0));
    let names = scan.in_scope_hostnames();
    assert!(
        names.iter().all(|n| n.ends_with("axfr-closed.test")),
        "{names:?}"
    );
    assert!(scan.asset("unrelated.example.test").is_none());
    assert!(!names.iter().any(|n| n.contains('@') || n.contains('*')));
}

#[test]
fn wildcard_zone_does_not_flood_the_inventory() {
    let scan = scan_json(kagami_lab().args([
        "wildcard.test",
        "wildcard-cname.test",
        "--no-ct",
        "--no-dnsbl",
    ]));
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    let mut brute: Vec<String> = scan
        .in_scope_hostnames()
        .into_iter()
        .filter(|n| scan.asset(n).is_some_and(|a| has_source(a, "bruteforce")))
        .collect();
    brute.sort();
    // Exactly the names the zones hold besides the wildcard, none of the
    // thousands of wordlist entries the wildcard answers for.
    assert_eq!(
        brute,
        [
            "mail.wildcard-cname.test",
            "mail.wildcard.test",
            "ns1.wildcard-cname.test",
            "ns1.wildcard.test",
            "ns2.wildcard-cname.test",
            "ns2.wildcard.test",
            "vpn.wildcard.test",
            "www.wildcard-cname.test",
            "www.wildcard.test",
        ]
    );
    let wildcard_steps = scan.steps("wildcard");
    assert!(wildcard_steps.iter().any(|s| {
        s["detail"]
            .as_str()
            .is_some_and(|d| d.contains("127.10.2.1"))
    }));
}

#[test]
fn dangling_cname_is_found_and_a_live_alias_is_not() {
    let scan = scan_json(kagami_lab().args(["dangling.test", "--no-ct", "--no-dnsbl"]));
    let findings = scan.findings("dns.dangling_cname");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["hostname"], "shop.dangling.test");
    assert_eq!(findings[0]["details"]["target"], "shop-gone.cloudhost.test");
    assert_eq!(findings[0]["severity"], "high");
    let target = scan
        .asset("blog-live.cloudhost.test")
        .expect("CNAME target recorded");
    assert_eq!(target["in_scope"], false);
    assert!(has_source(target, "cname_record"));
    assert_eq!(
        scan.asset("blog.dangling.test").expect("blog")["cnames"][0],
        "blog-live.cloudhost.test"
    );
}

#[test]
fn private_addresses_are_refused_without_allow_private() {
    let mut cmd = assert_cmd::Command::cargo_bin("kagami").expect("binary");
    crate::support::require_lab();
    cmd.args([
        "scan",
        "axfr-open.test",
        "--resolver",
        "127.10.0.53",
        "--no-ct",
        "--no-dnsbl",
        "--no-default-wordlist",
    ]);
    let scan = scan_json(&mut cmd);
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    assert!(
        scan.findings("dns.zone_transfer").is_empty(),
        "no traffic to loopback name servers"
    );
    let axfr = scan.steps("axfr");
    assert!(
        !axfr.is_empty() && axfr.iter().all(|s| s["status"] == "skipped"),
        "{axfr:?}"
    );
    assert!(
        axfr[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("--allow-private"))
    );
    let www = scan
        .asset("axfr-open.test")
        .expect("apex asset still listed");
    assert!(
        www["skipped"]
            .as_str()
            .is_some_and(|s| s.contains("loopback"))
    );
}

#[test]
fn brute_force_loses_no_name_of_a_large_list() {
    let wordlist = lab_dir().join("bench-wordlist.txt");
    assert!(
        wordlist.exists(),
        "{} is made by lab/up",
        wordlist.display()
    );
    let scan = scan_json(
        kagami_lab()
            .args([
                "bench.test",
                "--no-ct",
                "--no-dnsbl",
                "--no-default-wordlist",
            ])
            .arg("--wordlist")
            .arg(&wordlist),
    );
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    let brute = scan.report["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .filter(|a| has_source(a, "bruteforce"))
        .count();
    assert_eq!(
        brute, 10_000,
        "every name of bench.test that exists is found"
    );
    let step = &scan.steps("bruteforce")[0];
    assert_eq!(step["tried"], 100_000);
    assert_eq!(step["status"], "ok");
}
