//! Downloads the feeds from their publishers (or from a mirror that serves
//! a `--from` directory layout) into a staging directory, with size caps
//! and time-outs, for the importer to read like any `--from` directory.

use std::path::Path;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::feeds::{Feed, FeedError};

/// One file to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    pub feed: Feed,
    /// Path inside the staging directory (the `--from` layout).
    pub file: String,
    pub url: String,
    /// Refused beyond this many bytes.
    pub cap: u64,
}

const MIB: u64 = 1 << 20;

/// The publishers' addresses.
const NVD: &str = "https://nvd.nist.gov/feeds/json/cve/2.0/";
const KEV: &str =
    "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json";
const EPSS: &str = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz";
const DEBIAN: &str = "https://security-tracker.debian.org/tracker/data/json";
const UBUNTU: &str = "https://security-metadata.canonical.com/osv/osv-all.tar.xz";

/// The feeds that are one file: its name in the `--from` layout, the
/// publisher's address, and the size cap in MiB.
const SINGLE_FILES: [(Feed, &str, &str, u64); 4] = [
    (Feed::Kev, "known_exploited_vulnerabilities.json", KEV, 64),
    (Feed::Epss, "epss_scores-current.csv.gz", EPSS, 256),
    (Feed::Debian, "debian.json", DEBIAN, 1024),
    (Feed::Ubuntu, "osv-all.tar.xz", UBUNTU, 1024),
];

/// The NVD's yearly files start with 2002 (which also holds 1999–2001).
const FIRST_NVD_YEAR: i32 = 2002;

/// What to fetch for these feeds; with a mirror, every file comes from
/// `MIRROR/<its path in the --from layout>`.
pub fn plan(feeds: &[Feed], mirror: Option<&str>, this_year: i32) -> Vec<Download> {
    let url = |file: &str, official: String| match mirror {
        Some(base) => format!("{}/{file}", base.trim_end_matches('/')),
        None => official,
    };
    let mut downloads = Vec::new();
    for &feed in feeds {
        match feed {
            Feed::Nvd => {
                for year in FIRST_NVD_YEAR..=this_year {
                    let name = format!("nvdcve-2.0-{year}.json.gz");
                    let file = format!("nvd/{name}");
                    downloads.push(Download {
                        feed,
                        url: url(&file, format!("{NVD}{name}")),
                        file,
                        cap: 512 * MIB,
                    });
                }
            }
            _ => {
                let Some((_, file, official, cap)) = SINGLE_FILES.iter().find(|f| f.0 == feed)
                else {
                    continue;
                };
                downloads.push(Download {
                    feed,
                    url: url(file, (*official).to_owned()),
                    file: (*file).to_owned(),
                    cap: cap * MIB,
                });
            }
        }
    }
    downloads
}

/// An HTTP client for the downloads (TLS from the caller's trust store).
pub fn client(tls: rustls::ClientConfig, timeout: Duration) -> Result<reqwest::Client, FeedError> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(timeout)
        .read_timeout(timeout)
        .user_agent(concat!("kagami/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| FeedError::Download("client".into(), e.to_string()))
}

/// Fetches one file into the staging directory (under a temporary name,
/// renamed when complete).
pub async fn fetch(
    client: &reqwest::Client,
    download: &Download,
    staging: &Path,
) -> Result<u64, FeedError> {
    let fail = |message: String| FeedError::Download(download.url.clone(), message);
    let target = staging.join(&download.file);
    if let Some(dir) = target.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| fail(e.to_string()))?;
    }
    let partial = target.with_extension("part");
    let mut response = client
        .get(&download.url)
        .send()
        .await
        .map_err(|e| fail(error_chain(&e)))?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP status {}", response.status())));
    }
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let mut written = 0u64;
    while let Some(chunk) = response.chunk().await.map_err(|e| fail(error_chain(&e)))? {
        written += chunk.len() as u64;
        if written > download.cap {
            drop(file);
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(fail(format!("larger than {} MB", download.cap / MIB)));
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| fail(e.to_string()))?;
    }
    file.flush().await.map_err(|e| fail(e.to_string()))?;
    drop(file);
    tokio::fs::rename(&partial, &target)
        .await
        .map_err(|e| fail(e.to_string()))?;
    Ok(written)
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        message.push_str(": ");
        message.push_str(&e.to_string());
        source = e.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_every_nvd_year_and_mirrors_the_layout() {
        let all = plan(&Feed::ALL, None, 2026);
        assert_eq!(all.iter().filter(|d| d.feed == Feed::Nvd).count(), 25);
        assert!(all.iter().any(|d| d.url == KEV));
        let mirrored = plan(
            &[Feed::Nvd, Feed::Epss],
            Some("http://127.0.0.1:8000/feeds/"),
            2003,
        );
        assert_eq!(
            mirrored.iter().map(|d| d.url.as_str()).collect::<Vec<_>>(),
            [
                "http://127.0.0.1:8000/feeds/nvd/nvdcve-2.0-2002.json.gz",
                "http://127.0.0.1:8000/feeds/nvd/nvdcve-2.0-2003.json.gz",
                "http://127.0.0.1:8000/feeds/epss_scores-current.csv.gz"
            ]
        );
    }
}
