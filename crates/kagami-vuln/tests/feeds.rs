//! Importing each feed from samples in its publisher's exact format, what
//! the imported data changes in the verdicts, and bad input: corrupt,
//! truncated or unknown feeds are refused and the previous data stays.

use std::io::Write;
use std::path::{Path, PathBuf};

use kagami_core::{CheckId, Confidence, DomainName, Finding, Severity};
use kagami_vuln::feeds::find_files;
use kagami_vuln::{Feed, FeedError, Knowledge, Place, Sighting, Software, Store, assess};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/feeds")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn gzip(path: &Path) {
    let bytes = std::fs::read(path).expect("read");
    let target = PathBuf::from(format!("{}.gz", path.display()));
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(target).expect("create"),
        flate2::Compression::default(),
    );
    encoder.write_all(&bytes).expect("gzip");
    encoder.finish().expect("gzip");
    std::fs::remove_file(path).expect("remove");
}

/// The samples laid out as `kagami db update --from` expects them, with
/// the files the publishers compress compressed (EPSS, one NVD year).
fn feed_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&samples(), dir.path());
    gzip(&dir.path().join("epss_scores-current.csv"));
    gzip(&dir.path().join("nvd/nvdcve-2.0-2019.json"));
    dir
}

async fn import_all(
    store: &Store,
    dir: &Path,
) -> Vec<(Feed, Result<kagami_vuln::FeedStatus, FeedError>)> {
    let mut results = Vec::new();
    for files in find_files(dir) {
        let result = store
            .import(
                &files,
                &dir.display().to_string(),
                kagami_vuln::catalog::Catalog::bundled(),
            )
            .await;
        results.push((files.feed, result));
    }
    results
}

fn sighting(
    product: &str,
    version: &str,
    revision: Option<&str>,
    context: Option<&str>,
) -> Sighting {
    Sighting {
        software: Software::new(product, version)
            .revision(revision)
            .context(context),
        place: Place {
            domain: DomainName::parse("example.test").expect("name"),
            hostname: None,
            ip: Some("192.0.2.7".parse().expect("ip")),
            port: Some(443),
            transport: None,
        },
    }
}

async fn judge(store_path: &Path, sightings: &[Sighting]) -> Vec<Finding> {
    let (knowledge, step, warning) = kagami_vuln::knowledge_for(Some(store_path), sightings).await;
    assert!(step.is_none() && warning.is_none(), "{step:?} {warning:?}");
    assess(sightings, &knowledge, time::macros::date!(2026 - 11 - 21)).findings
}

fn cve<'a>(findings: &'a [Finding], id: &str) -> Option<&'a Finding> {
    findings
        .iter()
        .find(|f| f.check == CheckId::VulnCve && f.details["cve"] == id)
}

#[tokio::test]
async fn every_feed_imports_and_status_says_what_is_loaded() {
    let dir = feed_dir();
    let db = tempfile::tempdir().expect("tempdir");
    let store = Store::create(&db.path().join("vuln.sqlite"))
        .await
        .expect("store");
    let results = import_all(&store, dir.path()).await;
    let feeds: Vec<Feed> = results.iter().map(|(f, _)| *f).collect();
    assert_eq!(feeds, Feed::ALL);
    for (feed, result) in &results {
        assert!(result.is_ok(), "{feed}: {result:?}");
    }
    let status = store.status().await.expect("status");
    let by = |feed| status.iter().find(|s| s.feed == feed).expect("feed status");
    let nvd = by(Feed::Nvd);
    // Two files, one gzip; the rejected CVE is skipped.
    assert_eq!(
        (nvd.records, nvd.data_date.as_deref()),
        (4, Some("2026-11-20"))
    );
    assert_eq!(nvd.detail, "2 files: 4 CVEs");
    let kev = by(Feed::Kev);
    assert_eq!(
        (
            kev.records,
            kev.data_date.as_deref(),
            kev.version.as_deref()
        ),
        (3, Some("2026-11-19"), Some("2026.11.19"))
    );
    let epss = by(Feed::Epss);
    assert_eq!(
        (
            epss.records,
            epss.data_date.as_deref(),
            epss.version.as_deref()
        ),
        (7, Some("2026-11-20"), Some("v2025.03.14"))
    );
    // Debian: only catalogued packages (nginx, openssh), numbered releases.
    let debian = by(Feed::Debian);
    assert_eq!(debian.records, 7, "{}", debian.detail);
    assert!(
        debian.detail.contains("2 of 3 source packages"),
        "{}",
        debian.detail
    );
    // Ubuntu: CVE records only, FIPS streams skipped, Pro kept where alone.
    let ubuntu = by(Feed::Ubuntu);
    assert_eq!(
        (ubuntu.records, ubuntu.data_date.as_deref()),
        (4, Some("2026-11-18"))
    );
    store.close().await;
}

#[tokio::test]
async fn imported_data_changes_the_verdicts() {
    let dir = feed_dir();
    let db = tempfile::tempdir().expect("tempdir");
    let path = db.path().join("vuln.sqlite");
    let store = Store::create(&path).await.expect("store");
    import_all(&store, dir.path()).await;
    store.close().await;

    // An NVD-only CVE, KEV-listed: likely, raised by KEV, EPSS carried.
    let apache = judge(
        &path,
        &[sighting(
            "Apache",
            "2.4.38",
            None,
            Some("Apache/2.4.38 (Unix)"),
        )],
    )
    .await;
    let f = cve(&apache, "CVE-2019-0211").expect("NVD advisory matched");
    assert_eq!(
        (f.confidence, f.severity),
        (Confidence::Likely, Severity::Critical)
    );
    assert_eq!(f.details["kev"], true);
    assert_eq!(f.details["cvss"], 7.8);
    assert_eq!(f.details["epss"]["probability"], 0.93846);
    assert_eq!(f.details["epss"]["percentile"], 0.99831);
    assert_eq!(f.details["epss"]["model_version"], "v2025.03.14");
    assert_eq!(f.details["epss"]["date"], "2026-11-20");
    assert!(f.evidence.contains("since 2021-11-03"), "{}", f.evidence);
    assert!(
        cve(
            &judge(&path, &[sighting("Apache", "2.4.39", None, None)]).await,
            "CVE-2019-0211"
        )
        .is_none()
    );

    // nginx/1.22.1 with a Debian revision would be fixed by deb12u1; the bare
    // number is Debian 12's too, so only "needs verification".
    let nginx = judge(&path, &[sighting("nginx", "1.22.1", None, None)]).await;
    let f = cve(&nginx, "CVE-2024-7347").expect("NVD advisory matched");
    assert_eq!(
        (f.confidence, f.severity),
        (Confidence::Possible, Severity::Info)
    );
    let nginx_new = judge(&path, &[sighting("nginx", "1.25.3", None, None)]).await;
    assert_eq!(
        cve(&nginx_new, "CVE-2024-7347").map(|f| f.confidence),
        Some(Confidence::Likely)
    );
    assert!(
        cve(
            &judge(&path, &[sighting("nginx", "1.26.2", None, None)]).await,
            "CVE-2024-7347"
        )
        .is_none()
    );

    // A Windows-only NVD configuration (AND with cpe:o:microsoft:windows).
    let php_linux = judge(
        &path,
        &[sighting("PHP", "8.2.19", None, Some("PHP/8.2.19 (Debian)"))],
    )
    .await;
    assert!(cve(&php_linux, "CVE-2024-5458").is_none());
    let php_windows = judge(
        &path,
        &[sighting(
            "PHP",
            "8.2.19",
            None,
            Some("Apache/2.4.58 (Win64) PHP/8.2.19"),
        )],
    )
    .await;
    assert_eq!(
        cve(&php_windows, "CVE-2024-5458").map(|f| f.severity),
        Some(Severity::Medium)
    );
    // The KEV feed marks a curated CVE with ransomware use: critical.
    assert_eq!(
        cve(&php_windows, "CVE-2024-4577").map(|f| f.severity),
        Some(Severity::Critical)
    );

    // Debian's decision: the unimportant row hammer issue is not reported;
    // regreSSHion for deb12u2 still is, with the tracker's fixed version.
    let ssh = judge(
        &path,
        &[sighting("OpenSSH", "9.2p1", Some("Debian-2+deb12u2"), None)],
    )
    .await;
    assert!(cve(&ssh, "CVE-2023-51767").is_none());
    assert!(cve(&ssh, "CVE-2024-6387").is_some_and(|f| f.evidence.contains("1:9.2p1-2+deb12u3")));
    let fixed = judge(
        &path,
        &[sighting("OpenSSH", "9.2p1", Some("Debian-2+deb12u3"), None)],
    )
    .await;
    assert!(
        fixed.iter().all(|f| f.check != CheckId::VulnCve),
        "{fixed:#?}"
    );
}

#[tokio::test]
async fn bad_feeds_are_refused_and_the_previous_data_stays() {
    let dir = feed_dir();
    let db = tempfile::tempdir().expect("tempdir");
    let store = Store::create(&db.path().join("vuln.sqlite"))
        .await
        .expect("store");
    import_all(&store, dir.path()).await;
    let before = store.status().await.expect("status");
    let catalog = kagami_vuln::catalog::Catalog::bundled();

    let bad = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, content: &[u8]| {
        let path = bad.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, content).expect("write");
        path
    };
    let import = |feed, path: PathBuf| {
        let files = kagami_vuln::FeedFiles {
            feed,
            paths: vec![path],
        };
        let store = &store;
        async move { store.import(&files, "bad", catalog).await }
    };
    let full = std::fs::read(samples().join("nvd/nvdcve-2.0-2024.json")).expect("sample");
    // Truncated in the middle of the array, after some CVEs parsed.
    let truncated = write("nvd/truncated.json", &full[..full.len() * 2 / 3]);
    assert!(matches!(
        import(Feed::Nvd, truncated).await,
        Err(FeedError::Corrupt(..))
    ));
    // A truncated gzip stream.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&full).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let cut = write("nvd/cut.json.gz", &gz[..gz.len() / 2]);
    assert!(matches!(
        import(Feed::Nvd, cut).await,
        Err(FeedError::Corrupt(..))
    ));
    // An unknown schema version.
    let future = String::from_utf8(full.clone())
        .expect("utf-8")
        .replace("\"version\": \"2.0\"", "\"version\": \"3.0\"");
    let future = write("nvd/future.json", future.as_bytes());
    assert!(matches!(
        import(Feed::Nvd, future).await,
        Err(FeedError::Schema(..))
    ));
    // Not JSON at all, and a JSON document of another kind.
    assert!(matches!(
        import(
            Feed::Nvd,
            write("nvd/html.json", b"<html>502 Bad Gateway</html>")
        )
        .await,
        Err(FeedError::Corrupt(..))
    ));
    assert!(matches!(
        import(Feed::Kev, write("kev.json", b"{\"data\": []}")).await,
        Err(FeedError::Schema(..))
    ));
    // A KEV file whose count does not match its entries.
    let kev = std::fs::read_to_string(samples().join("known_exploited_vulnerabilities.json"))
        .expect("sample");
    let short = write(
        "kev2.json",
        kev.replace("\"count\": 3", "\"count\": 4").as_bytes(),
    );
    assert!(matches!(
        import(Feed::Kev, short).await,
        Err(FeedError::Corrupt(..))
    ));
    // EPSS without its model line, and with a probability out of range.
    assert!(matches!(
        import(
            Feed::Epss,
            write("e1.csv", b"cve,epss,percentile\nCVE-2024-6387,0.4,0.9\n")
        )
        .await,
        Err(FeedError::Schema(..))
    ));
    assert!(matches!(import(Feed::Epss, write("e2.csv", b"#model_version:v2025.03.14,score_date:2026-11-20T00:00:00Z\ncve,epss,percentile\nCVE-2024-6387,4.2,0.9\n")).await, Err(FeedError::Corrupt(..))));
    // Debian: not an object of packages; Ubuntu: an OSV schema 2.
    assert!(matches!(
        import(Feed::Debian, write("debian.json", b"[1, 2, 3]")).await,
        Err(FeedError::Schema(..))
    ));
    write(
        "ubuntu/UBUNTU-CVE-2024-1.json",
        br#"{"schema_version": "2.0.0", "id": "UBUNTU-CVE-2024-1234", "affected": []}"#,
    );
    assert!(matches!(
        import(Feed::Ubuntu, bad.path().join("ubuntu")).await,
        Err(FeedError::Schema(..))
    ));
    // Absurd version bounds are stored but never match (and never panic).
    let absurd = String::from_utf8(full).expect("utf-8").replace(
        "\"versionEndExcluding\": \"1.26.2\"",
        &format!("\"versionEndExcluding\": \"{}\"", "9".repeat(5000)),
    );
    let absurd = write("nvd/absurd.json", absurd.as_bytes());
    assert!(import(Feed::Nvd, absurd).await.is_ok());

    let after = store.status().await.expect("status");
    let unchanged =
        |feed| before.iter().find(|s| s.feed == feed) == after.iter().find(|s| s.feed == feed);
    for feed in [Feed::Kev, Feed::Epss, Feed::Debian, Feed::Ubuntu] {
        assert!(unchanged(feed), "{feed} changed");
    }
    store.close().await;
}

#[tokio::test]
async fn ubuntu_records_import_from_the_xz_archive() {
    let dir = feed_dir();
    let archive = dir.path().join("osv-all.tar.xz");
    let status = std::process::Command::new("tar")
        .arg("-cJf")
        .arg(&archive)
        .arg("-C")
        .arg(dir.path().join("ubuntu"))
        .arg(".")
        .status()
        .expect("tar");
    assert!(status.success());
    std::fs::remove_dir_all(dir.path().join("ubuntu")).expect("rm");
    let files = find_files(dir.path());
    let ubuntu = files
        .iter()
        .find(|f| f.feed == Feed::Ubuntu)
        .expect("archive found");
    assert_eq!(ubuntu.paths, std::slice::from_ref(&archive));
    let db = tempfile::tempdir().expect("tempdir");
    let store = Store::create(&db.path().join("vuln.sqlite"))
        .await
        .expect("store");
    let status = store
        .import(ubuntu, "archive", kagami_vuln::catalog::Catalog::bundled())
        .await
        .expect("import");
    assert_eq!(status.records, 4);
    // A corrupt archive is refused.
    let bytes = std::fs::read(&archive).expect("read");
    std::fs::write(&archive, &bytes[..bytes.len() / 2]).expect("write");
    assert!(
        store
            .import(ubuntu, "archive", kagami_vuln::catalog::Catalog::bundled())
            .await
            .is_err()
    );
    assert_eq!(store.status().await.expect("status")[0].records, 4);
    store.close().await;
    let _ = Knowledge::bundled();
}
