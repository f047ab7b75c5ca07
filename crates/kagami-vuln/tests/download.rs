//! `kagami db update` downloads, exercised against a mirror served on
//! 127.0.0.1 by this test (no other address is contacted): every feed is
//! fetched into a staging directory and imported; a failing file fails its
//! feed only.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kagami_vuln::download::{client, fetch, plan};
use kagami_vuln::feeds::find_files;
use kagami_vuln::{Feed, Store};

/// Serves `files` (path → body) over HTTP/1.1 until `deadline`; anything
/// else is a 404, and paths in `broken` answer 500.
fn serve(files: HashMap<String, Vec<u8>>, broken: Vec<String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    listener.set_nonblocking(true).expect("nonblocking");
    let files = Arc::new(files);
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            stream.set_nonblocking(false).expect("blocking");
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            let (status, body) = if broken.iter().any(|b| b == path) {
                ("500 Internal Server Error", b"broken".to_vec())
            } else {
                match files.get(path) {
                    Some(body) => ("200 OK", body.clone()),
                    None => ("404 Not Found", b"not found".to_vec()),
                }
            };
            let mut stream = stream;
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://{address}/feeds")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("sample")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

fn mirror_files(this_year: i32) -> HashMap<String, Vec<u8>> {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/feeds");
    let mut files = HashMap::new();
    let empty_year = br#"{"resultsPerPage":0,"startIndex":0,"totalResults":0,"format":"NVD_CVE","version":"2.0","timestamp":"2026-11-20T03:00:00.000","vulnerabilities":[]}"#;
    for year in 2002..=this_year {
        let sample = samples.join(format!("nvd/nvdcve-2.0-{year}.json"));
        let body = if sample.exists() {
            read(&sample)
        } else {
            empty_year.to_vec()
        };
        files.insert(format!("feeds/nvd/nvdcve-2.0-{year}.json.gz"), gzip(&body));
    }
    files.insert(
        "feeds/known_exploited_vulnerabilities.json".into(),
        read(&samples.join("known_exploited_vulnerabilities.json")),
    );
    files.insert(
        "feeds/epss_scores-current.csv.gz".into(),
        gzip(&read(&samples.join("epss_scores-current.csv"))),
    );
    files.insert(
        "feeds/debian.json".into(),
        read(&samples.join("debian.json")),
    );
    // The Ubuntu archive, made with tar and xz as Canonical makes it.
    let archive = tempfile::tempdir().expect("tempdir");
    let path = archive.path().join("osv-all.tar.xz");
    let made = std::process::Command::new("tar")
        .arg("-cJf")
        .arg(&path)
        .arg("-C")
        .arg(samples.join("ubuntu"))
        .arg(".")
        .status()
        .expect("tar");
    assert!(made.success());
    files.insert("feeds/osv-all.tar.xz".into(), read(&path));
    files
}

fn tls() -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
}

#[tokio::test]
async fn every_feed_downloads_from_a_mirror_and_imports() {
    let base = serve(mirror_files(2026), Vec::new());
    let http = client(tls(), Duration::from_secs(10)).expect("client");
    let staging = tempfile::tempdir().expect("tempdir");
    let downloads = plan(&Feed::ALL, Some(&base), 2026);
    assert_eq!(downloads.len(), 25 + 4);
    for download in &downloads {
        fetch(&http, download, staging.path())
            .await
            .expect("download");
    }
    let found = find_files(staging.path());
    assert_eq!(found.iter().map(|f| f.feed).collect::<Vec<_>>(), Feed::ALL);
    let db = tempfile::tempdir().expect("tempdir");
    let store = Store::create(&db.path().join("vuln.sqlite"))
        .await
        .expect("store");
    for files in &found {
        let status = store
            .import(files, &base, kagami_vuln::catalog::Catalog::bundled())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", files.feed));
        assert!(status.records > 0, "{status:?}");
        assert_eq!(status.source, base);
    }
    assert_eq!(store.status().await.expect("status").len(), 5);
    store.close().await;
}

#[tokio::test]
async fn a_failing_download_is_an_error_and_leaves_no_file() {
    let base = serve(
        mirror_files(2003),
        vec!["feeds/known_exploited_vulnerabilities.json".into()],
    );
    let http = client(tls(), Duration::from_secs(10)).expect("client");
    let staging = tempfile::tempdir().expect("tempdir");
    let kev = plan(&[Feed::Kev], Some(&base), 2003);
    let error = fetch(&http, &kev[0], staging.path())
        .await
        .expect_err("HTTP 500");
    assert!(error.to_string().contains("500"), "{error}");
    let mut missing = kev[0].clone();
    missing.url = format!("{base}/nothing.json");
    assert!(fetch(&http, &missing, staging.path()).await.is_err());
    // A file larger than its cap is refused and removed.
    let mut capped = plan(&[Feed::Debian], Some(&base), 2003).remove(0);
    capped.cap = 100;
    assert!(fetch(&http, &capped, staging.path()).await.is_err());
    assert!(find_files(staging.path()).is_empty());
}
