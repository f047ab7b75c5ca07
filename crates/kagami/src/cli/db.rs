//! `kagami db update` and `kagami db status`: the local vulnerability data.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kagami_vuln::feeds::find_files;
use kagami_vuln::{Feed, FeedError, FeedFiles, FeedStatus, Store};
use time::OffsetDateTime;

use crate::cli::{DbArgs, DbCommand, DbStatusArgs, DbUpdateArgs};
use crate::exit;

pub(crate) async fn run(args: DbArgs) -> u8 {
    let result = match args.command {
        DbCommand::Update(args) => update(args).await,
        DbCommand::Status(args) => status(args).await,
    };
    result.unwrap_or_else(|(code, message)| {
        eprintln!("kagami: {message}");
        code
    })
}

type Outcome = Result<u8, (u8, String)>;

fn store_path(db: Option<PathBuf>) -> Result<PathBuf, (u8, String)> {
    db.or_else(kagami_vuln::store::default_path).ok_or_else(|| {
        (
            exit::USAGE,
            "no --db given and no HOME or XDG_DATA_HOME to put the store in".into(),
        )
    })
}

async fn update(args: DbUpdateArgs) -> Outcome {
    let path = store_path(args.db.clone())?;
    let wanted = |feed: &Feed| args.feeds.is_empty() || args.feeds.contains(feed);
    let say = |line: String| {
        if !args.quiet {
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout(), "{line}");
        }
    };
    let mut failures: Vec<String> = Vec::new();
    // Where each feed's files are read from, and where they came from.
    let mut sources: HashMap<Feed, String> = HashMap::new();
    let dir = match &args.from {
        Some(dir) => {
            if !dir.is_dir() {
                return Err((
                    exit::USAGE,
                    format!("--from {}: not a directory", dir.display()),
                ));
            }
            for feed in Feed::ALL {
                sources.insert(feed, dir.display().to_string());
            }
            dir.clone()
        }
        None => {
            let staging = path.with_extension("download");
            download(&args, &staging, &mut sources, &mut failures, &say).await?;
            staging
        }
    };
    let found: Vec<FeedFiles> = find_files(&dir)
        .into_iter()
        .filter(|f| wanted(&f.feed))
        .collect();
    if found.is_empty() && failures.is_empty() {
        return Err((
            exit::USAGE,
            format!(
                "no feed files in {} (expected nvd/*.json[.gz], known_exploited_vulnerabilities.json, epss_scores-current.csv[.gz], debian.json, osv-all.tar.xz or ubuntu/)",
                dir.display()
            ),
        ));
    }
    let store = Store::create(&path)
        .await
        .map_err(|e| (exit::FAILURE, e.to_string()))?;
    for files in &found {
        let source = sources.get(&files.feed).map_or("", String::as_str);
        match store
            .import(files, source, kagami_vuln::catalog::Catalog::bundled())
            .await
        {
            Ok(status) => say(format!(
                "imported {}",
                describe(&status, OffsetDateTime::now_utc())
            )),
            Err(e) => failures.push(format!("{}: {}", files.feed, failure(&e))),
        }
    }
    store.close().await;
    if args.from.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    for failure in &failures {
        eprintln!("kagami: {failure}");
    }
    say(format!("store: {}", path.display()));
    Ok(if failures.is_empty() {
        exit::OK
    } else {
        exit::FAILURE
    })
}

/// Fetches the wanted feeds into `staging`; a feed with a file that could
/// not be fetched is left out entirely (and reported).
async fn download(
    args: &DbUpdateArgs,
    staging: &Path,
    sources: &mut HashMap<Feed, String>,
    failures: &mut Vec<String>,
    say: &dyn Fn(String),
) -> Result<(), (u8, String)> {
    let timeout = Duration::try_from_secs_f64(args.timeout)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            (
                exit::USAGE,
                format!(
                    "--timeout must be a positive number of seconds, not {}",
                    args.timeout
                ),
            )
        })?;
    let trust =
        kagami_tls::Trust::load(&args.ca_files).map_err(|e| (exit::USAGE, e.to_string()))?;
    let tls = trust
        .client_config()
        .map_err(|e| (exit::FAILURE, e.to_string()))?;
    let client =
        kagami_vuln::download::client(tls, timeout).map_err(|e| (exit::FAILURE, e.to_string()))?;
    let _ = std::fs::remove_dir_all(staging);
    let feeds: Vec<Feed> = Feed::ALL
        .into_iter()
        .filter(|f| args.feeds.is_empty() || args.feeds.contains(f))
        .collect();
    let plan = kagami_vuln::download::plan(
        &feeds,
        args.mirror.as_deref(),
        OffsetDateTime::now_utc().year(),
    );
    let mut failed: Vec<Feed> = Vec::new();
    for download in &plan {
        if failed.contains(&download.feed) {
            continue;
        }
        match kagami_vuln::download::fetch(&client, download, staging).await {
            Ok(bytes) => say(format!("downloaded {} ({} kB)", download.url, bytes / 1024)),
            Err(e) => {
                failures.push(format!("{}: {e}", download.feed));
                failed.push(download.feed);
            }
        }
    }
    for download in &plan {
        if failed.contains(&download.feed) {
            let _ = std::fs::remove_file(staging.join(&download.file));
        } else {
            let base = download
                .url
                .rsplit_once('/')
                .map_or_else(|| download.url.clone(), |(base, _)| base.to_owned());
            sources.entry(download.feed).or_insert(base);
        }
    }
    Ok(())
}

fn failure(e: &FeedError) -> String {
    format!("{e}; the previous data of this feed is kept")
}

/// `nvd: NVD CVE 2.0, data of 2026-11-20 (1 day old), imported 2026-11-21T…: 4 CVEs`
fn describe(status: &FeedStatus, now: OffsetDateTime) -> String {
    format!(
        "{}: {}, {}, imported {}: {}",
        status.feed,
        status.feed.title(),
        kagami_vuln::assess::data_date_label(status.data_date.as_deref(), now.date()),
        status.imported_at,
        status.detail
    )
}

async fn status(args: DbStatusArgs) -> Outcome {
    let path = store_path(args.db)?;
    let bundled = kagami_vuln::Knowledge::bundled();
    let bundled = bundled
        .sources
        .first()
        .map(|s| s.detail.clone())
        .unwrap_or_default();
    let store = Store::open(&path)
        .await
        .map_err(|e| (exit::FAILURE, e.to_string()))?;
    let statuses = match &store {
        Some(store) => store
            .status()
            .await
            .map_err(|e| (exit::FAILURE, e.to_string()))?,
        None => Vec::new(),
    };
    if let Some(store) = store {
        store.close().await;
    }
    let now = OffsetDateTime::now_utc();
    if args.json {
        let feeds: Vec<serde_json::Value> = Feed::ALL
            .iter()
            .map(|feed| match statuses.iter().find(|s| s.feed == *feed) {
                Some(s) => serde_json::json!({
                    "feed": feed.name(),
                    "loaded": true,
                    "source": s.source,
                    "imported_at": s.imported_at,
                    "data_date": s.data_date,
                    "version": s.version,
                    "records": s.records,
                    "detail": s.detail,
                }),
                None => serde_json::json!({"feed": feed.name(), "loaded": false}),
            })
            .collect();
        let document = serde_json::json!({
            "store": path.display().to_string(),
            "bundled": bundled,
            "feeds": feeds,
        });
        let _ = writeln!(
            std::io::stdout(),
            "{}",
            serde_json::to_string_pretty(&document).unwrap_or_default()
        );
        return Ok(exit::OK);
    }
    let mut text = format!(
        "vulnerability data\n  bundled: {bundled}\n  store: {}\n",
        store_label(&path, statuses.is_empty())
    );
    for feed in Feed::ALL {
        match statuses.iter().find(|s| s.feed == feed) {
            Some(s) => text.push_str(&format!("  {}\n", describe(s, now))),
            None => text.push_str(&format!(
                "  {feed}: {}: not loaded (kagami db update)\n",
                feed.title()
            )),
        }
    }
    let _ = std::io::stdout().write_all(text.as_bytes());
    Ok(exit::OK)
}

fn store_label(path: &Path, empty: bool) -> String {
    if empty {
        format!("{} (no feeds imported)", path.display())
    } else {
        path.display().to_string()
    }
}
