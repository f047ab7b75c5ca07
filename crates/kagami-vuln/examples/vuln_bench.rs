//! The vulnerability benchmark (bench/vuln): generates a synthetic feed set
//! of realistic size and shape (NVD CVE API 2.0 yearly files with
//! descriptions, references, CVSS v3.1 and v2 metrics, weaknesses and CPE
//! configurations; an EPSS file with a score per CVE; a KEV catalogue),
//! imports it, and matches the services of a synthetic 1,000-host scan.
//!
//! Usage:
//!   vuln_bench generate DIR [CVES]      write DIR/nvd/*.json.gz, EPSS, KEV
//!   vuln_bench import DIR DB            import DIR into the store DB
//!   vuln_bench match DB [HOSTS] [RUNS]  judge HOSTS hosts' services, RUNS times

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use kagami_core::DomainName;
use kagami_vuln::catalog::Catalog;
use kagami_vuln::feeds::find_files;
use kagami_vuln::{Place, Sighting, Software, Store};

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Real products with about as many CVEs as the NVD files under them, and
/// the release branches most of their CVEs concern; the rest of the feed is
/// a long tail of products with a few CVEs each, as in the NVD.
const REAL: [(&str, &str, u64, &[&str]); 12] = [
    (
        "openbsd",
        "openssh",
        150,
        &["7.4", "8.4", "8.9", "9.2", "9.6", "9.8"],
    ),
    ("apache", "http_server", 300, &["2.2", "2.4"]),
    ("f5", "nginx", 60, &["1.18", "1.22", "1.24", "1.25"]),
    ("php", "php", 700, &["7.4", "8.0", "8.1", "8.2", "8.3"]),
    ("openssl", "openssl", 250, &["1.0.2", "1.1.1", "3.0"]),
    ("wordpress", "wordpress", 400, &["5.9", "6.1", "6.4", "6.5"]),
    ("phpmyadmin", "phpmyadmin", 80, &["4.9", "5.1", "5.2"]),
    ("exim", "exim", 60, &["4.94", "4.96", "4.97"]),
    ("oracle", "mysql", 900, &["5.7", "8.0"]),
    ("mariadb", "mariadb", 150, &["10.6", "10.11"]),
    ("fortinet", "fortios", 300, &["6.4", "7.0", "7.2", "7.4"]),
    ("microsoft", "exchange_server", 200, &["15.1", "15.2"]),
];

fn real_product(index: u64) -> Option<(&'static str, &'static str, &'static [&'static str])> {
    let mut at = index;
    for (vendor, product, count, branches) in REAL {
        if at < count {
            return Some((vendor, product, branches));
        }
        at -= count;
    }
    None
}

/// A range as the NVD writes one: the start of a branch up to the release
/// that fixed it, or one exact version.
fn range(rng: &mut Rng, branch: &str) -> (Option<String>, Option<String>, Option<String>) {
    let fixed = 1 + rng.below(60);
    if rng.below(4) == 0 {
        (Some(format!("{branch}.{}", rng.below(fixed))), None, None)
    } else {
        (
            None,
            Some(format!("{branch}.0")),
            Some(format!("{branch}.{fixed}")),
        )
    }
}

fn cve_json(rng: &mut Rng, id: &str, index: u64) -> String {
    let (vendor, product, branches): (String, String, Vec<String>) = match real_product(index) {
        Some((v, p, b)) => (
            v.into(),
            p.into(),
            b.iter().map(|s| (*s).to_owned()).collect(),
        ),
        None => {
            let n = rng.below(40_000);
            let branch = format!("{}.{}", rng.below(12), rng.below(20));
            (
                format!("vendor{}", n / 3),
                format!("product{n}"),
                vec![branch],
            )
        }
    };
    let mut matches = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let branch = rng.pick(&branches).clone();
        let criteria = format!(r#""vulnerable": true, "criteria": "cpe:2.3:a:{vendor}:{product}"#);
        matches.push(match range(rng, &branch) {
            (Some(exact), _, _) => format!(
                r#"{{{criteria}:{exact}:*:*:*:*:*:*:*", "matchCriteriaId": "{:016X}"}}"#,
                rng.next()
            ),
            (None, Some(start), Some(end)) => format!(
                r#"{{{criteria}:*:*:*:*:*:*:*:*", "versionStartIncluding": "{start}", "versionEndExcluding": "{end}", "matchCriteriaId": "{:016X}"}}"#,
                rng.next()
            ),
            _ => unreachable!("range() returns one of the two"),
        });
    }
    let windows = rng.below(20) == 0;
    let configurations = if windows {
        format!(
            r#"[{{"operator": "AND", "nodes": [{{"operator": "OR", "negate": false, "cpeMatch": [{}]}}, {{"operator": "OR", "negate": false, "cpeMatch": [{{"vulnerable": false, "criteria": "cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*", "matchCriteriaId": "A2572D17-1DE6-457B-99CC-64AFD54487EA"}}]}}]}}]"#,
            matches.join(", ")
        )
    } else {
        format!(
            r#"[{{"nodes": [{{"operator": "OR", "negate": false, "cpeMatch": [{}]}}]}}]"#,
            matches.join(", ")
        )
    };
    let score = (rng.below(100) as f64) / 10.0;
    let words = [
        "allows",
        "remote",
        "attackers",
        "to",
        "cause",
        "a",
        "denial",
        "of",
        "service",
        "via",
        "crafted",
        "request",
        "buffer",
        "overflow",
        "in",
        "the",
        "parser",
        "authentication",
    ];
    let description: Vec<&str> = (0..40).map(|_| *rng.pick(&words)).collect();
    let references: Vec<String> = (0..2 + rng.below(5))
        .map(|i| {
            format!(
                r#"{{"url": "https://example.org/advisories/{id}/{i}", "source": "cve@mitre.org", "tags": ["Third Party Advisory"]}}"#
            )
        })
        .collect();
    format!(
        r#"{{"cve": {{"id": "{id}", "sourceIdentifier": "cve@mitre.org", "published": "2024-01-01T00:00:00.000", "lastModified": "2025-01-01T00:00:00.000", "vulnStatus": "Analyzed", "cveTags": [], "descriptions": [{{"lang": "en", "value": "{desc}."}}, {{"lang": "es", "value": "{desc}."}}], "metrics": {{"cvssMetricV31": [{{"source": "nvd@nist.gov", "type": "Primary", "cvssData": {{"version": "3.1", "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "baseScore": {score:.1}, "baseSeverity": "HIGH", "attackVector": "NETWORK", "attackComplexity": "LOW", "privilegesRequired": "NONE", "userInteraction": "NONE", "scope": "UNCHANGED", "confidentialityImpact": "HIGH", "integrityImpact": "HIGH", "availabilityImpact": "HIGH"}}, "exploitabilityScore": 3.9, "impactScore": 5.9}}], "cvssMetricV2": [{{"source": "nvd@nist.gov", "type": "Primary", "cvssData": {{"version": "2.0", "vectorString": "AV:N/AC:L/Au:N/C:P/I:P/A:P", "baseScore": 7.5}}, "baseSeverity": "HIGH", "exploitabilityScore": 10.0, "impactScore": 6.4}}]}}, "weaknesses": [{{"source": "nvd@nist.gov", "type": "Primary", "description": [{{"lang": "en", "value": "CWE-787"}}]}}], "configurations": {configurations}, "references": [{refs}]}}}}"#,
        desc = description.join(" "),
        refs = references.join(", ")
    )
}

fn gz_file(path: &Path) -> flate2::write::GzEncoder<std::io::BufWriter<std::fs::File>> {
    let file = std::fs::File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    flate2::write::GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::fast())
}

fn generate(dir: &Path, cves: u64) {
    let started = Instant::now();
    std::fs::create_dir_all(dir.join("nvd")).expect("mkdir");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let years: Vec<u64> = (2002..=2026).collect();
    let per_year = cves / years.len() as u64;
    let mut ids = Vec::new();
    let mut bytes = 0u64;
    for year in years {
        let path = dir.join(format!("nvd/nvdcve-2.0-{year}.json.gz"));
        let mut out = gz_file(&path);
        write!(
            out,
            r#"{{"resultsPerPage": {per_year}, "startIndex": 0, "totalResults": {per_year}, "format": "NVD_CVE", "version": "2.0", "timestamp": "2026-11-20T03:00:00.000", "vulnerabilities": ["#
        )
        .expect("write");
        for n in 0..per_year {
            let id = format!("CVE-{year}-{:05}", n + 1000);
            // The real products' CVEs, spread evenly over the years.
            let real: u64 = REAL.iter().map(|r| r.2).sum();
            let every = (per_year * 25 / real).max(1);
            let g = ids.len() as u64;
            let index = if g.is_multiple_of(every) {
                g / every
            } else {
                u64::MAX
            };
            let item = cve_json(&mut rng, &id, index);
            bytes += item.len() as u64;
            if n > 0 {
                out.write_all(b",\n").expect("write");
            }
            out.write_all(item.as_bytes()).expect("write");
            ids.push(id);
        }
        out.write_all(b"]}\n").expect("write");
        out.finish().expect("gzip");
    }
    let mut epss = gz_file(&dir.join("epss_scores-current.csv.gz"));
    writeln!(
        epss,
        "#model_version:v2025.03.14,score_date:2026-11-20T12:55:00Z\ncve,epss,percentile"
    )
    .expect("write");
    for id in &ids {
        let p = rng.below(100_000) as f64 / 100_000.0;
        writeln!(epss, "{id},{p:.5},{p:.5}").expect("write");
    }
    epss.finish().expect("gzip");
    let kev: Vec<String> = ids
        .iter()
        .step_by(170)
        .map(|id| format!(r#"{{"cveID": "{id}", "vendorProject": "V", "product": "P", "vulnerabilityName": "N", "dateAdded": "2024-01-01", "shortDescription": "S", "requiredAction": "A", "dueDate": "2024-01-22", "knownRansomwareCampaignUse": "Unknown", "notes": "", "cwes": []}}"#))
        .collect();
    std::fs::write(
        dir.join("known_exploited_vulnerabilities.json"),
        format!(
            r#"{{"title": "CISA Catalog of Known Exploited Vulnerabilities", "catalogVersion": "2026.11.19", "dateReleased": "2026-11-19T17:00:00.0000Z", "count": {}, "vulnerabilities": [{}]}}"#,
            kev.len(),
            kev.join(",")
        ),
    )
    .expect("write");
    println!(
        "generated {} CVEs ({} MB of NVD JSON before compression), {} KEV entries, {} EPSS rows in {:.1} s",
        ids.len(),
        bytes >> 20,
        kev.len(),
        ids.len(),
        started.elapsed().as_secs_f64()
    );
}

fn peak_rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

async fn import(dir: &Path, db: &Path) {
    let _ = std::fs::remove_file(db);
    let store = Store::create(db).await.expect("store");
    for files in find_files(dir) {
        let started = Instant::now();
        let status = store
            .import(&files, "synthetic", Catalog::bundled())
            .await
            .expect("import");
        println!(
            "imported {}: {} records in {:.1} s ({})",
            files.feed,
            status.records,
            started.elapsed().as_secs_f64(),
            status.detail
        );
    }
    store.close().await;
    let size = std::fs::metadata(db).map(|m| m.len() >> 20).unwrap_or(0);
    println!(
        "peak resident memory {} MB; store {} MB",
        peak_rss_mb(),
        size
    );
}

/// A 1,000-host scan: every host has SSH and a web server, many a
/// language, a mail server or a database, and a few a VPN appliance; the
/// versions and distribution builds vary as they do on the internet.
fn scan_sightings(hosts: u64) -> Vec<Sighting> {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let domain = DomainName::parse("example.test").expect("name");
    let ssh = [
        ("9.2p1", Some("Debian-2+deb12u2")),
        ("9.2p1", Some("Debian-2+deb12u7")),
        ("8.4p1", Some("Debian-5+deb11u3")),
        ("8.9p1", Some("Ubuntu-3ubuntu0.7")),
        ("8.9p1", Some("Ubuntu-3ubuntu0.13")),
        ("9.6p1", Some("Ubuntu-3ubuntu13.5")),
        ("7.4", None),
        ("8.7", None),
        ("9.8p1", None),
        ("7.9p1", Some("Debian-10+deb10u4")),
    ];
    let web = [
        ("nginx", "1.22.1", None),
        ("nginx", "1.18.0", None),
        ("nginx", "1.25.3", None),
        ("Apache", "2.4.62", Some("Apache/2.4.62 (Debian)")),
        ("Apache", "2.4.52", Some("Apache/2.4.52 (Ubuntu)")),
        ("Apache", "2.4.49", Some("Apache/2.4.49 (Unix)")),
        ("Apache", "2.2.15", Some("Apache/2.2.15 (CentOS)")),
        ("Microsoft-IIS", "10.0", None),
        ("Microsoft-IIS", "8.5", None),
    ];
    let extra = [
        ("PHP", "8.1.2-1ubuntu2.14", None),
        ("PHP", "7.4.33", None),
        ("PHP", "8.3.7", Some("PHP/8.3.7 (Win64)")),
        ("WordPress", "6.4.3", None),
        ("Exim", "4.96", None),
        ("MySQL", "8.0.36", Some("0ubuntu0.22.04.1")),
        ("MariaDB", "10.11.6", Some("0+deb12u1")),
        ("FortiOS", "7.2.4", None),
        ("OpenSSL", "1.0.2k", None),
        ("vsftpd", "3.0.3", None),
        ("Dropbear", "2020.81", None),
    ];
    let mut sightings = Vec::new();
    for host in 0..hosts {
        let ip: std::net::IpAddr = format!("198.51.{}.{}", host / 250, host % 250 + 1)
            .parse()
            .expect("ip");
        let place = |port| Place {
            domain: domain.clone(),
            hostname: None,
            ip: Some(ip),
            port: Some(port),
            transport: None,
        };
        let (version, revision) = *rng.pick(&ssh);
        sightings.push(Sighting {
            software: Software::new("OpenSSH", version).revision(revision),
            place: place(22),
        });
        let (product, version, context) = *rng.pick(&web);
        sightings.push(Sighting {
            software: Software::new(product, version).context(context),
            place: place(443),
        });
        for port in [25, 3306, 8443].into_iter().take(rng.below(4) as usize) {
            let (product, version, marker) = *rng.pick(&extra);
            let software = if marker.is_some_and(|m| m.contains('/')) {
                Software::new(product, version).context(marker)
            } else {
                Software::new(product, version).revision(marker)
            };
            sightings.push(Sighting {
                software,
                place: place(port),
            });
        }
    }
    sightings
}

async fn judge(db: &Path, hosts: u64, runs: u32) {
    let sightings = scan_sightings(hosts);
    let mut times = Vec::new();
    let mut findings = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let (knowledge, step, warning) = kagami_vuln::knowledge_for(Some(db), &sightings).await;
        assert!(step.is_none() && warning.is_none(), "{step:?} {warning:?}");
        let loaded = started.elapsed();
        let assessment =
            kagami_vuln::assess(&sightings, &knowledge, time::macros::date!(2026 - 11 - 21));
        let total = started.elapsed();
        findings = assessment.findings.len();
        times.push((total.as_secs_f64(), loaded.as_secs_f64()));
    }
    times.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (median, median_load) = times[times.len() / 2];
    println!(
        "matched {} services of {hosts} hosts: {findings} findings; median {:.3} s of {runs} runs (loading {:.3} s), fastest {:.3} s, slowest {:.3} s",
        sightings.len(),
        median,
        median_load,
        times[0].0,
        times[times.len() - 1].0
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    match (arg(1), arg(2), arg(3)) {
        (Some("generate"), Some(dir), cves) => {
            generate(
                &PathBuf::from(dir),
                cves.and_then(|c| c.parse().ok()).unwrap_or(250_000),
            );
        }
        (Some("import"), Some(dir), Some(db)) => import(Path::new(dir), Path::new(db)).await,
        (Some("match"), Some(db), hosts) => {
            let runs = arg(4).and_then(|r| r.parse().ok()).unwrap_or(5);
            judge(
                Path::new(db),
                hosts.and_then(|h| h.parse().ok()).unwrap_or(1000),
                runs,
            )
            .await;
        }
        _ => {
            eprintln!(
                "usage: vuln_bench generate DIR [CVES] | import DIR DB | match DB [HOSTS] [RUNS]"
            );
            std::process::exit(2);
        }
    }
}
