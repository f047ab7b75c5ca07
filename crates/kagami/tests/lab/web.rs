//! The web stage against the lab's web.test origins (lab/zones/web.test.zone):
//! real nginx and Apache sites, a real WordPress and phpMyAdmin from
//! Debian's packages, mimics of the appliances Debian cannot provide, and
//! misbehaving servers. Every web check with its positive and its
//! look-alike negative; fingerprints, virtual hosts, redirects, masking and
//! the bounds on bad input.

use std::sync::OnceLock;

use serde_json::Value;

use crate::support::{Scan, kagami_lab_zone, scan_json, zone_wordlist};

/// The site icon of nginx-open.web.test is WordPress's w-logo-blue.png from
/// Debian's package; this is its favicon hash (MurmurHash3 of the base64
/// with line breaks), computed from the file with an implementation
/// independent of Kagami's.
const SITE_ICON_MMH3: i64 = 1_837_255_798;
const GOOGLE_KEY: &str = "AIzaSyD3kagamiLabFakeKey0123456789abcde";
const AWS_KEY_ID: &str = "AKIAKAGAMILAB2XQ7Z4W";

struct WebScan {
    scan: Scan,
    /// The whole JSON document as written, for what must never appear in it.
    raw: String,
}

fn web_scan() -> &'static WebScan {
    static SCAN: OnceLock<WebScan> = OnceLock::new();
    SCAN.get_or_init(|| {
        let wordlist = zone_wordlist("web.test", 20);
        let scan = scan_json(kagami_lab_zone("web.test", &wordlist).args(["--ports", "80,443"]));
        assert_eq!(scan.code, 0, "{}", scan.stderr);
        let raw = scan.report.to_string();
        WebScan { scan, raw }
    })
}

fn report() -> &'static Value {
    &web_scan().scan.report
}

/// Findings of `check` seen under `host` (a name, or an address for
/// origins reached by address).
fn findings_at(check: &str, host: &str) -> Vec<&'static Value> {
    web_scan()
        .scan
        .findings(check)
        .into_iter()
        .filter(|f| f["hostname"] == host || (f.get("hostname").is_none() && f["ip"] == host))
        .collect()
}

fn has(check: &str, host: &str) -> bool {
    !findings_at(check, host).is_empty()
}

/// No finding of `check` under any of `hosts` (the look-alike negatives).
fn assert_none(check: &str, hosts: &[&str]) {
    for host in hosts {
        let found = findings_at(check, host);
        assert!(found.is_empty(), "{check} under {host}: {found:?}");
    }
}

fn origin(url: &str) -> &'static Value {
    report()["web"]
        .as_array()
        .and_then(|all| all.iter().find(|o| o["url"] == url))
        .unwrap_or_else(|| panic!("no web origin {url}"))
}

fn step(url: &str) -> &'static Value {
    web_scan()
        .scan
        .steps("web")
        .into_iter()
        .find(|s| {
            s["subject"]
                .as_str()
                .is_some_and(|subject| subject.starts_with(url))
        })
        .unwrap_or_else(|| panic!("no web coverage step for {url}"))
}

fn technology<'a>(origin: &'a Value, name: &str) -> Option<&'a Value> {
    origin["technologies"]
        .as_array()?
        .iter()
        .find(|t| t["name"] == name)
}

#[test]
fn the_report_with_web_origins_matches_the_published_schema() {
    let schema = crate::report::schema();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles");
    crate::report::assert_valid(&validator, report());
    let origins = report()["web"].as_array().expect("web origins");
    assert!(origins.len() >= 25, "{} origins", origins.len());
    for origin in origins {
        let fetched = origin["fetched"].as_array().map_or(0, Vec::len);
        assert!(
            fetched <= 48,
            "request budget: {} made {fetched}",
            origin["url"]
        );
    }
}

#[test]
fn plain_http_without_redirect_is_cleartext_and_a_redirect_is_not() {
    let open = findings_at("http.cleartext", "nginx-open.web.test");
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["details"]["url"], "http://nginx-open.web.test/");
    assert_eq!(open[0]["severity"], "medium");
    assert_eq!(open[0]["port"], 80);
    assert!(has("http.cleartext", "apache-open.web.test"));
    assert_none(
        "http.cleartext",
        &[
            "nginx-secure.web.test",
            "apache-secure.web.test",
            "127.10.40.11",
            "127.10.40.21",
        ],
    );
    let redirecting = origin("http://nginx-secure.web.test/");
    assert_eq!(redirecting["redirects"][0]["status"], 301);
    assert_eq!(
        redirecting["redirects"][0]["location"],
        "https://nginx-secure.web.test/"
    );
    assert_eq!(redirecting["final_url"], "https://nginx-secure.web.test/");
    assert_eq!(redirecting["status"], 200);
}

#[test]
fn missing_security_headers_are_listed_and_a_hardened_site_has_none() {
    let open = findings_at("http.security_headers_missing", "nginx-open.web.test");
    assert_eq!(open.len(), 1);
    let missing: Vec<&str> = open[0]["details"]["missing"]
        .as_array()
        .expect("missing list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        missing,
        [
            "Content-Security-Policy",
            "X-Frame-Options",
            "X-Content-Type-Options",
            "Referrer-Policy"
        ],
        "HSTS means nothing over plain HTTP"
    );
    // HTTPS without HSTS: the first thing missing.
    let sni = findings_at("http.security_headers_missing", "sni.web.test");
    assert_eq!(sni[0]["details"]["missing"][0], "Strict-Transport-Security");
    assert_none(
        "http.security_headers_missing",
        &["nginx-secure.web.test", "apache-secure.web.test"],
    );
}

#[test]
fn cookies_without_flags_are_reported_and_cookies_with_all_flags_are_not() {
    let open = findings_at("http.cookie_flags", "nginx-open.web.test");
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["details"]["cookie"], "lab_session");
    assert_eq!(
        open[0]["details"]["missing"],
        serde_json::json!(["HttpOnly", "SameSite"])
    );
    let wordpress = findings_at("http.cookie_flags", "wp.web.test");
    assert!(
        wordpress
            .iter()
            .any(|f| f["details"]["cookie"] == "wordpress_test_cookie"),
        "{wordpress:?}"
    );
    assert_none(
        "http.cookie_flags",
        &["nginx-secure.web.test", "apache-secure.web.test"],
    );
    let secure = origin("https://nginx-secure.web.test/");
    assert_eq!(secure["cookies"][0]["name"], "lab_session");
    assert_eq!(secure["cookies"][0]["secure"], true);
    // Cookies being deleted (FortiGate, ASA) are no cookies at all.
    assert!(!has("http.cookie_flags", "fortigate.web.test"));
    assert!(
        !report().to_string().contains("4f2a9c1e"),
        "cookie values are never written"
    );
}

#[test]
fn a_real_git_repository_is_exposed_and_look_alikes_are_not() {
    let open = findings_at("http.git_exposed", "nginx-open.web.test");
    assert_eq!(open.len(), 1);
    assert_eq!(
        open[0]["details"]["url"],
        "http://nginx-open.web.test/.git/HEAD"
    );
    assert_eq!(open[0]["severity"], "critical");
    assert!(
        open[0]["evidence"]
            .as_str()
            .is_some_and(|e| e.contains("ref: refs/heads/main"))
    );
    assert_none(
        "http.git_exposed",
        &[
            "lookalike.web.test",
            "soft404.web.test",
            "nginx-secure.web.test",
            "apache-secure.web.test",
            "vhost-b.web.test",
            "127.10.40.15",
        ],
    );
}

#[test]
fn virtual_hosts_on_one_address_are_probed_each() {
    assert!(has("http.git_exposed", "vhost-a.web.test"));
    assert_eq!(
        origin("http://vhost-a.web.test/")["title"],
        "Virtual host A"
    );
    assert_eq!(
        origin("http://vhost-b.web.test/")["title"],
        "Virtual host B"
    );
    assert_eq!(origin("http://127.10.40.15/")["title"], "Default site");
    // One site under two origins is probed once.
    let by_ip = origin("https://127.10.40.11/");
    assert_eq!(by_ip["same_as"], "https://nginx-secure.web.test/");
}

#[test]
fn names_linked_from_pages_join_the_inventory_when_in_scope() {
    let assets = report()["assets"].as_array().expect("assets");
    let asset = |name: &str| assets.iter().find(|a| a["hostname"] == name);
    // intranet.web.test is in no wordlist and no certificate: only the link
    // on nginx-open's page names it.
    let intranet = asset("intranet.web.test").expect("the linked name is an asset");
    assert_eq!(intranet["sources"], serde_json::json!(["link"]));
    assert_eq!(intranet["ips"], serde_json::json!(["127.10.40.10"]));
    assert_eq!(intranet["in_scope"], true);
    // The same page links to a partner's site, which is not ours to scan.
    assert!(asset("partner.example.test").is_none());
    // A name brute-forced, named by its certificate and linked keeps one
    // record with every source; a page's links to itself add nothing.
    let secure: Vec<_> = assets
        .iter()
        .filter(|a| a["hostname"] == "nginx-secure.web.test")
        .collect();
    assert_eq!(secure.len(), 1);
    assert_eq!(
        secure[0]["sources"],
        serde_json::json!(["bruteforce", "tls_san", "link"])
    );
    assert_eq!(
        asset("nginx-open.web.test").expect("nginx-open")["sources"],
        serde_json::json!(["bruteforce"])
    );
}

#[test]
fn directory_indexes_of_each_server_are_listings_and_look_alikes_are_not() {
    let expect = [
        (
            "nginx-open.web.test",
            "http://nginx-open.web.test/files/",
            "nginx",
        ),
        (
            "apache-open.web.test",
            "http://apache-open.web.test/files/",
            "Apache",
        ),
        (
            "iis85.web.test",
            "http://iis85.web.test/aspnet_client/",
            "IIS",
        ),
    ];
    for (host, url, kind) in expect {
        let found = findings_at("http.directory_listing", host);
        assert_eq!(found.len(), 1, "{host}: {found:?}");
        assert_eq!(found[0]["details"]["url"], url);
        assert!(
            found[0]["evidence"]
                .as_str()
                .is_some_and(|e| e.contains(kind)),
            "{}",
            found[0]
        );
    }
    assert_none(
        "http.directory_listing",
        &[
            "soft404.web.test",
            "lookalike.web.test",
            "nginx-secure.web.test",
            "apache-secure.web.test",
        ],
    );
}

#[test]
fn admin_logins_are_panels_and_mentions_are_not() {
    let wordpress = findings_at("panel.admin_exposed", "wp.web.test");
    assert_eq!(wordpress.len(), 1, "{wordpress:?}");
    assert_eq!(wordpress[0]["details"]["product"], "WordPress");
    assert_eq!(
        wordpress[0]["details"]["url"],
        "http://wp.web.test/wp-login.php"
    );
    assert_eq!(wordpress[0]["severity"], "high");
    let pma = findings_at("panel.admin_exposed", "pma.web.test");
    assert_eq!(pma.len(), 1, "{pma:?}");
    assert_eq!(pma[0]["details"]["product"], "phpMyAdmin");
    assert_eq!(pma[0]["details"]["url"], "http://pma.web.test/phpmyadmin/");
    assert_none(
        "panel.admin_exposed",
        &[
            "lookalike.web.test",
            "soft404.web.test",
            "nginx-open.web.test",
        ],
    );
}

#[test]
fn vpn_gateway_logins_are_exposed_panels_and_articles_about_them_are_not() {
    for (host, product) in [
        ("fortigate.web.test", "Fortinet FortiGate SSL-VPN"),
        ("asa.web.test", "Cisco ASA / AnyConnect"),
        ("sophos.web.test", "Sophos Firewall user portal"),
    ] {
        let found = findings_at("vpn.panel_exposed", host);
        assert_eq!(found.len(), 1, "{host}: {found:?}");
        assert_eq!(found[0]["details"]["product"], product);
        assert_eq!(found[0]["severity"], "critical");
    }
    assert_none(
        "vpn.panel_exposed",
        &["lookalike.web.test", "soft404.web.test"],
    );
}

#[test]
fn keys_of_the_right_length_are_found_masked_and_never_written_out() {
    let google = findings_at("secret.google_api_key", "nginx-open.web.test");
    assert_eq!(google.len(), 1, "{google:?}");
    assert_eq!(
        google[0]["details"]["url"],
        "http://nginx-open.web.test/js/app.js"
    );
    assert_eq!(
        google[0]["details"]["secret"],
        format!("AIza{}bcde", "*".repeat(31))
    );
    let aws = findings_at("secret.aws_access_key_id", "nginx-open.web.test");
    assert_eq!(aws.len(), 1, "{aws:?}");
    assert_eq!(aws[0]["details"]["secret"], "AKIA************7Z4W");
    assert_eq!(aws[0]["severity"], "low");
    let raw = &web_scan().raw;
    assert!(
        !raw.contains(GOOGLE_KEY) && !raw.contains(AWS_KEY_ID),
        "a key appears unmasked"
    );
    let wrong_lengths = ["lookalike.web.test", "nginx-secure.web.test"];
    assert_none("secret.google_api_key", &wrong_lengths);
    assert_none("secret.aws_access_key_id", &wrong_lengths);
}

#[test]
fn iis_8_5_is_past_its_end_of_support_and_iis_10_is_not() {
    let eol = findings_at("software.eol", "iis85.web.test");
    assert_eq!(eol.len(), 1, "{eol:?}");
    assert_eq!(eol[0]["details"]["product"], "Microsoft IIS");
    assert_eq!(eol[0]["details"]["version"], "8.5");
    assert_eq!(eol[0]["details"]["eol_date"], "2023-10-10");
    assert_eq!(eol[0]["severity"], "critical");
    assert_none(
        "software.eol",
        &[
            "iis10.web.test",
            "nginx-open.web.test",
            "apache-open.web.test",
            "wp.web.test",
        ],
    );
}

#[test]
fn exact_versions_in_headers_are_disclosed_and_bare_names_are_not() {
    let banner = |host: &str| -> Vec<String> {
        findings_at("http.server_version_disclosed", host)
            .iter()
            .filter_map(|f| f["details"]["banner"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(banner("nginx-open.web.test"), ["Server: nginx/1.22.1"]);
    assert!(banner("apache-open.web.test")[0].starts_with("Server: Apache/2.4."));
    assert_eq!(banner("iis85.web.test"), ["Server: Microsoft-IIS/8.5"]);
    assert_none(
        "http.server_version_disclosed",
        &[
            "nginx-secure.web.test",
            "fortigate.web.test",
            "sophos.web.test",
        ],
    );
    // Reported once per service, not once per name and address.
    let nginx: Vec<_> = web_scan()
        .scan
        .findings("http.server_version_disclosed")
        .into_iter()
        .filter(|f| f["ip"] == "127.10.40.10")
        .collect();
    assert_eq!(nginx.len(), 1);
}

#[test]
fn fingerprints_name_products_and_versions() {
    let wp = origin("http://wp.web.test/");
    let wordpress = technology(wp, "WordPress").expect("WordPress identified");
    assert_eq!(wordpress["version"], "6.1.9");
    assert_eq!(wordpress["cpe"], "cpe:2.3:a:wordpress:wordpress");
    assert_eq!(
        technology(wp, "Apache HTTP Server")
            .and_then(|t| t["version"].as_str())
            .map(|v| v.starts_with("2.4.")),
        Some(true)
    );
    let pma = origin("http://pma.web.test/");
    assert_eq!(
        technology(pma, "phpMyAdmin").expect("phpMyAdmin")["version"],
        "5.2.1"
    );
    let iis = origin("http://iis85.web.test/");
    assert_eq!(
        technology(iis, "Microsoft IIS").expect("IIS")["version"],
        "8.5"
    );
    assert!(technology(iis, "ASP.NET").is_some());
    let lookalike = origin("http://lookalike.web.test/");
    assert!(
        technology(lookalike, "WordPress").is_none(),
        "a page mentioning WordPress is no WordPress"
    );
    let open = origin("http://nginx-open.web.test/");
    assert_eq!(open["title"], "株式会社カガミ研究所 - Kagami Lab");
    assert_eq!(
        open["favicon"]["url"],
        "http://nginx-open.web.test/images/site-icon.png"
    );
    assert_eq!(open["favicon"]["mmh3"], SITE_ICON_MMH3);
    assert_eq!(open["favicon"]["bytes"], 3113);
    let secure = origin("https://nginx-secure.web.test/");
    assert!(
        secure["certificate"]["sans"]
            .as_array()
            .is_some_and(|s| s.iter().any(|n| n == "nginx-secure.web.test")),
        "{}",
        secure["certificate"]
    );
}

/// The coverage step of `url` has `status` and its detail mentions `text`.
fn assert_step(url: &str, status: &str, text: &str) {
    let step = step(url);
    assert_eq!(step["status"], status, "{step}");
    assert!(
        step["detail"].as_str().is_some_and(|d| d.contains(text)),
        "{url}: {text:?} in {step}"
    );
}

/// The body of `url`'s first page was cut at the cap (2 MiB decompressed).
fn assert_capped(url: &str) {
    let body = &origin(url)["body"];
    assert_eq!(body["truncated"], true, "{url}: {body}");
    assert!(
        body["bytes"].as_u64().is_some_and(|b| b <= 2 << 20),
        "{url}: {body}"
    );
}

#[test]
fn bad_servers_are_bounded_and_noted_in_coverage() {
    assert_capped("http://huge.web.test/");
    assert_step("http://huge.web.test/", "partial", "larger than the cap");
    assert_capped("http://gzip-bomb.web.test/");
    assert_step(
        "http://gzip-bomb.web.test/",
        "partial",
        "larger than the cap",
    );
    assert_step("http://slow.web.test/", "partial", "too slowly");
    assert_step("http://redirect-loop.web.test/", "partial", "redirect loop");
    assert!(
        origin("http://redirect-loop.web.test/")["redirects"]
            .as_array()
            .is_some_and(|r| r.len() <= 5)
    );
    let headers = origin("http://bad-headers.web.test/");
    assert_eq!(
        (headers["status"].as_u64(), headers["title"].as_str()),
        (Some(200), Some("bad headers"))
    );
    let utf8 = origin("http://bad-utf8.web.test/");
    assert!(
        utf8["title"]
            .as_str()
            .is_some_and(|t| t.contains('\u{fffd}')),
        "{}",
        utf8["title"]
    );
    assert_step(
        "http://http09.web.test/",
        "partial",
        "not a valid HTTP/1.x answer",
    );
    assert_step("https://tls-reject.web.test/", "failed", "TLS handshake");
    let bad = [
        "huge.web.test",
        "gzip-bomb.web.test",
        "slow.web.test",
        "redirect-loop.web.test",
        "bad-headers.web.test",
        "bad-utf8.web.test",
        "http09.web.test",
    ];
    for check in [
        "http.git_exposed",
        "http.directory_listing",
        "panel.admin_exposed",
        "vpn.panel_exposed",
    ] {
        assert_none(check, &bad);
    }
}

#[test]
fn the_web_stage_says_what_it_did() {
    let summary = web_scan()
        .scan
        .steps("web")
        .into_iter()
        .find(|s| {
            s["subject"]
                .as_str()
                .is_some_and(|subject| subject.ends_with("HTTP(S) services"))
        })
        .expect("web summary step");
    assert!(
        summary["detail"]
            .as_str()
            .is_some_and(|d| d.contains("origins")),
        "{summary}"
    );
    let open = step("http://nginx-open.web.test/");
    assert_eq!(open["status"], "ok", "{open}");
    assert!(
        open["detail"]
            .as_str()
            .is_some_and(|d| d.contains("nginx 1.22.1")),
        "{open}"
    );
}
