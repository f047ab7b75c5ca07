//! Probing against the lab's real servers (OpenSSH, vsftpd, Postfix, Dovecot,
//! MariaDB, PostgreSQL, Redis, memcached, snmpd, nginx, BIND) and the
//! responders for what Debian cannot provide (RDP, Telnet, VNC, MongoDB,
//! Elasticsearch, other distributions' SSH banners): identification by
//! content, and every check with its positive and its look-alike negative.

use std::sync::OnceLock;

use serde_json::Value;

use crate::support::{Scan, kagami_lab_zone, scan_json};

/// Ports of the lab's services; 2024 is never scanned.
const PORTS: &str = "21,22,23,25,53,110,143,443,445,993,995,1433,1521,2222,3306,3389,5432,5900,6379,7000,7001,7002,9200,11211,27017";

fn services_wordlist() -> tempfile::NamedTempFile {
    crate::support::zone_wordlist("services.test", 21)
}

pub(crate) fn services_scan() -> &'static Scan {
    static SCAN: OnceLock<Scan> = OnceLock::new();
    SCAN.get_or_init(|| {
        let wordlist = services_wordlist();
        let scan = scan_json(kagami_lab_zone("services.test", &wordlist).args([
            "--ports",
            PORTS,
            "--recursion-probe",
            "mail-good.test",
        ]));
        assert_eq!(scan.code, 0, "{}", scan.stderr);
        scan
    })
}

pub(crate) fn service(ip: &str, port: u16) -> &'static Value {
    services_scan().report["services"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["ip"] == ip && s["port"] == port))
        .unwrap_or_else(|| panic!("no service at {ip}:{port}"))
}

pub(crate) fn checks_at(ip: &str, port: u16) -> Vec<String> {
    let mut checks: Vec<String> = services_scan().report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["ip"] == ip && f["port"] == port)
        .filter_map(|f| f["check"].as_str().map(str::to_owned))
        .collect();
    checks.sort();
    checks
}

#[test]
fn openssh_is_identified_with_its_debian_revision() {
    let ssh = service("127.10.20.22", 22);
    assert_eq!(ssh["protocol"], "ssh");
    assert_eq!(ssh["product"], "OpenSSH");
    assert!(
        ssh["version"].as_str().is_some_and(|v| v.contains('p')),
        "{ssh}"
    );
    assert!(
        ssh["revision"]
            .as_str()
            .is_some_and(|r| r.starts_with("Debian-")),
        "{ssh}"
    );
    assert_eq!(
        checks_at("127.10.20.22", 22),
        ["http.server_version_disclosed"]
    );
    let ubuntu = service("127.10.20.222", 22);
    assert_eq!(ubuntu["revision"], "Ubuntu-3ubuntu0.10");
    let rhel = service("127.10.20.223", 22);
    assert_eq!(
        (rhel["version"].as_str(), rhel.get("revision")),
        (Some("8.0"), None)
    );
}

#[test]
fn protocols_are_identified_by_content_not_port() {
    assert_eq!(service("127.10.20.9", 443)["protocol"], "ssh", "SSH on 443");
    let web = service("127.10.20.8", 2222);
    assert_eq!(web["protocol"], "http", "HTTP on 2222");
    assert_eq!(web["product"], "nginx");
}

#[test]
fn ftp_without_tls_and_with_anonymous_login() {
    assert_eq!(
        checks_at("127.10.20.21", 21),
        [
            "ftp.anonymous",
            "ftp.cleartext",
            "http.server_version_disclosed"
        ]
    );
    assert_eq!(service("127.10.20.21", 21)["product"], "vsftpd");
}

#[test]
fn ftp_with_auth_tls_and_no_anonymous_is_clean() {
    assert_eq!(
        checks_at("127.10.20.121", 21),
        ["http.server_version_disclosed"]
    );
}

#[test]
fn mail_without_starttls_is_cleartext_and_with_it_is_not() {
    assert_eq!(checks_at("127.10.20.25", 25), ["mail.cleartext"]);
    assert_eq!(service("127.10.20.25", 25)["product"], "Postfix");
    assert!(checks_at("127.10.20.125", 25).is_empty());
    for port in [110, 143] {
        assert_eq!(
            checks_at("127.10.20.110", port),
            ["mail.cleartext"],
            "plain Dovecot {port}"
        );
        assert!(
            checks_at("127.10.20.143", port).is_empty(),
            "Dovecot with STARTTLS {port}"
        );
    }
    let details: Vec<&str> = services_scan()
        .findings("mail.cleartext")
        .iter()
        .filter_map(|f| f["details"]["protocol"].as_str())
        .collect();
    assert!(details.contains(&"pop3") && details.contains(&"imap") && details.contains(&"smtp"));
    let imaps = service("127.10.20.143", 993);
    assert_eq!(
        (imaps["protocol"].as_str(), imaps["tls_wrapped"].as_bool()),
        (Some("imap"), Some(true))
    );
    assert_eq!(service("127.10.20.143", 995)["protocol"], "pop3");
}

#[test]
fn databases_are_exposed_and_open_data_stores_are_critical() {
    let mariadb = service("127.10.20.33", 3306);
    assert_eq!(
        (mariadb["protocol"].as_str(), mariadb["product"].as_str()),
        (Some("mysql"), Some("MariaDB"))
    );
    assert_eq!(
        checks_at("127.10.20.33", 3306),
        ["db.exposed", "http.server_version_disclosed"]
    );
    assert_eq!(checks_at("127.10.20.54", 5432), ["db.exposed"]);
    assert_eq!(
        checks_at("127.10.20.79", 6379),
        ["db.no_auth"],
        "Redis without a password"
    );
    assert!(
        checks_at("127.10.20.80", 6379).is_empty(),
        "Redis with requirepass"
    );
    assert_eq!(service("127.10.20.80", 6379)["protocol"], "redis");
    assert_eq!(checks_at("127.10.20.112", 11211), ["db.no_auth"]);
    assert_eq!(checks_at("127.10.20.92", 9200), ["db.no_auth"]);
    assert_eq!(service("127.10.20.92", 9200)["protocol"], "elasticsearch");
    assert_eq!(
        checks_at("127.10.20.17", 27017),
        ["db.exposed", "db.no_auth"]
    );
    assert_eq!(
        checks_at("127.10.20.18", 27017),
        ["db.exposed"],
        "MongoDB that requires authentication"
    );
    // The databases Debian does not ship, from their own handshakes.
    for (ip, port, protocol, product, version) in [
        (
            "127.10.20.14",
            1433,
            "mssql",
            "Microsoft SQL Server",
            "15.0.2000",
        ),
        (
            "127.10.20.15",
            1521,
            "oracle",
            "Oracle Database",
            "19.0.0.0.0",
        ),
    ] {
        let record = service(ip, port);
        assert_eq!(
            [&record["protocol"], &record["product"], &record["version"]],
            [protocol, product, version],
            "{ip}:{port}"
        );
        assert_eq!(checks_at(ip, port), ["db.exposed"], "{ip}:{port}");
    }
    for finding in services_scan().findings("db.no_auth") {
        assert_eq!(finding["severity"], "critical");
    }
}

#[test]
fn remote_access_services() {
    assert_eq!(checks_at("127.10.20.89", 3389), ["rdp.exposed"]);
    assert_eq!(checks_at("127.10.20.23", 23), ["remote_admin.exposed"]);
    assert_eq!(checks_at("127.10.20.59", 5900), ["remote_admin.exposed"]);
    assert_eq!(checks_at("127.10.20.45", 445), ["remote_admin.exposed"]);
    let products: Vec<&str> = services_scan()
        .findings("remote_admin.exposed")
        .iter()
        .filter_map(|f| f["details"]["product"].as_str())
        .collect();
    for product in ["Telnet", "VNC", "SMB"] {
        assert!(products.contains(&product), "{product} in {products:?}");
    }
}

#[test]
fn snmp_public_community_and_a_private_one() {
    let snmp = services_scan().findings("snmp.public_community");
    let ips: Vec<&str> = snmp.iter().filter_map(|f| f["ip"].as_str()).collect();
    assert_eq!(ips, ["127.10.20.161"]);
    assert_eq!(snmp[0]["details"]["community"], "public");
    assert_eq!(snmp[0]["transport"], "udp");
}

#[test]
fn open_resolver_is_told_from_an_authoritative_server() {
    let open = services_scan().findings("dns.open_resolver");
    let ips: Vec<&str> = open.iter().filter_map(|f| f["ip"].as_str()).collect();
    assert_eq!(
        ips,
        ["127.10.0.60"],
        "only the recursive server; BIND with recursion no is not open"
    );
}

#[test]
fn broken_servers_are_bounded_and_produce_nothing() {
    for (ip, port) in [
        ("127.10.20.250", 7000),
        ("127.10.20.251", 7001),
        ("127.10.20.253", 7002),
        ("127.10.20.252", 443),
    ] {
        let checks = checks_at(ip, port);
        assert!(checks.is_empty(), "{ip}:{port}: {checks:?}");
        let record = service(ip, port);
        assert!(
            record["banner"]
                .as_str()
                .is_none_or(|b| b.chars().count() <= 301),
            "banner capped: {ip}:{port}"
        );
    }
}
