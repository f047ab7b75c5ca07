//! The local feed store: one SQLite file (default
//! `$XDG_DATA_HOME/kagami/vuln.sqlite`). Each feed is imported in a single
//! transaction that first removes the feed's previous rows, so an import
//! that fails (corrupt, truncated, unknown schema, interrupted) leaves the
//! previous data exactly as it was. Scans open the store read-only and load
//! only the rows of the products they saw.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, QueryBuilder, Row as _, Sqlite, SqlitePool, Transaction};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::mpsc;

use crate::advisory::{Advisory, Cvss, DistroFix, DistroStatus, Epss, Kev, Range};
use crate::catalog::{Catalog, Product};
use crate::feeds::{self, Feed, FeedError, FeedFiles, FeedMeta, Row};
use crate::knowledge::{DataSource, Knowledge};

/// Bumped when the tables change; an older Kagami refuses a newer store.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS feed (
    name TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    data_date TEXT,
    version TEXT,
    records INTEGER NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS nvd_cve (
    cve TEXT PRIMARY KEY,
    published TEXT,
    cvss REAL,
    cvss_version TEXT,
    cvss_vector TEXT,
    summary TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS nvd_match (
    cve TEXT NOT NULL,
    vendor TEXT NOT NULL,
    product TEXT NOT NULL,
    version TEXT,
    start_incl TEXT,
    start_excl TEXT,
    end_incl TEXT,
    end_excl TEXT,
    platform TEXT
);
CREATE INDEX IF NOT EXISTS nvd_match_product ON nvd_match (vendor, product);
CREATE TABLE IF NOT EXISTS kev (
    cve TEXT PRIMARY KEY,
    date_added TEXT,
    ransomware INTEGER NOT NULL,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS epss (
    cve TEXT PRIMARY KEY,
    probability REAL NOT NULL,
    percentile REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS distro_fix (
    cve TEXT NOT NULL,
    distro TEXT NOT NULL,
    release TEXT NOT NULL,
    package TEXT NOT NULL,
    status TEXT NOT NULL,
    fixed TEXT,
    PRIMARY KEY (cve, distro, release, package)
);
";

/// Rows per INSERT statement (well under SQLite's variable limit).
const BATCH: usize = 400;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("vulnerability store {0}: {1}")]
    Sql(String, sqlx::Error),
    #[error(
        "vulnerability store {0} was written by a newer Kagami (schema {1}); update Kagami or remove the file"
    )]
    Newer(String, i64),
    #[error("vulnerability store {0}: {1}")]
    Io(String, std::io::Error),
}

/// What one feed in the store holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedStatus {
    pub feed: Feed,
    /// Where it was imported from (a URL or a file).
    pub source: String,
    /// RFC 3339.
    pub imported_at: String,
    /// `YYYY-MM-DD`: the date the data describes.
    pub data_date: Option<String>,
    pub version: Option<String>,
    pub records: u64,
    pub detail: String,
}

pub struct Store {
    pool: SqlitePool,
    path: PathBuf,
}

/// The default location: `$XDG_DATA_HOME/kagami/vuln.sqlite`, else
/// `~/.local/share/kagami/vuln.sqlite`.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(base.join("kagami").join("vuln.sqlite"))
}

impl Store {
    /// Opens the store for importing, creating it (and its directory).
    pub async fn create(path: &Path) -> Result<Self, StoreError> {
        let label = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Io(label.clone(), e))?;
        }
        let options = Self::options(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        let store = Self::connect(path, options).await?;
        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&store.pool)
            .await
            .map_err(|e| StoreError::Sql(label.clone(), e))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Newer(label, version));
        }
        sqlx::raw_sql(SCHEMA)
            .execute(&store.pool)
            .await
            .map_err(|e| StoreError::Sql(label.clone(), e))?;
        sqlx::raw_sql(AssertSqlSafe(format!(
            "PRAGMA user_version = {SCHEMA_VERSION}"
        )))
        .execute(&store.pool)
        .await
        .map_err(|e| StoreError::Sql(label, e))?;
        Ok(store)
    }

    /// Opens an existing store read-only; `None` when there is none.
    pub async fn open(path: &Path) -> Result<Option<Self>, StoreError> {
        if !path.exists() {
            return Ok(None);
        }
        let label = path.display().to_string();
        let store = Self::connect(path, Self::options(path).read_only(true)).await?;
        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&store.pool)
            .await
            .map_err(|e| StoreError::Sql(label.clone(), e))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Newer(label, version));
        }
        if version < SCHEMA_VERSION {
            // Created but never initialised: nothing in it.
            return Ok(None);
        }
        Ok(Some(store))
    }

    fn options(path: &Path) -> SqliteConnectOptions {
        SqliteConnectOptions::new()
            .filename(path)
            .busy_timeout(Duration::from_secs(30))
    }

    async fn connect(path: &Path, options: SqliteConnectOptions) -> Result<Self, StoreError> {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Sql(path.display().to_string(), e))?;
        Ok(Self {
            pool,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql_error(&self, e: sqlx::Error) -> StoreError {
        StoreError::Sql(self.path.display().to_string(), e)
    }

    pub async fn close(self) {
        self.pool.close().await;
    }

    /// What each feed holds.
    pub async fn status(&self) -> Result<Vec<FeedStatus>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, source, imported_at, data_date, version, records, detail FROM feed",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.sql_error(e))?;
        let mut statuses: Vec<FeedStatus> = rows
            .iter()
            .filter_map(|row| {
                Some(FeedStatus {
                    feed: Feed::parse(row.get::<&str, _>(0))?,
                    source: row.get(1),
                    imported_at: row.get(2),
                    data_date: row.get(3),
                    version: row.get(4),
                    records: u64::try_from(row.get::<i64, _>(5)).unwrap_or(0),
                    detail: row.get(6),
                })
            })
            .collect();
        statuses.sort_by_key(|s| s.feed);
        Ok(statuses)
    }

    /// Imports one feed from its files, atomically: the parser runs on a
    /// blocking thread and streams rows to one transaction, which commits
    /// only when every file parsed completely.
    pub async fn import(
        &self,
        files: &FeedFiles,
        source: &str,
        catalog: &'static Catalog,
    ) -> Result<FeedStatus, FeedError> {
        let feed = files.feed;
        let paths = files.paths.clone();
        let (tx, mut rx) = mpsc::channel::<Row>(4096);
        let parser = tokio::task::spawn_blocking(move || parse_files(feed, &paths, catalog, &tx));
        let store_error = |e: sqlx::Error| FeedError::Store(self.sql_error(e).to_string());
        let mut transaction = self.pool.begin().await.map_err(store_error)?;
        for table in tables(feed) {
            let sql = match feed {
                Feed::Debian | Feed::Ubuntu => {
                    format!("DELETE FROM {table} WHERE distro = '{}'", feed.name())
                }
                _ => format!("DELETE FROM {table}"),
            };
            sqlx::query(AssertSqlSafe(sql))
                .execute(&mut *transaction)
                .await
                .map_err(store_error)?;
        }
        let mut batch = Vec::with_capacity(BATCH);
        let mut records = 0u64;
        while let Some(row) = rx.recv().await {
            if matches!(
                row,
                Row::Cve { .. } | Row::Kev { .. } | Row::Epss { .. } | Row::Distro { .. }
            ) {
                records += 1;
            }
            batch.push(row);
            if batch.len() == BATCH {
                insert(&mut transaction, &mut batch)
                    .await
                    .map_err(store_error)?;
            }
        }
        let meta = parser
            .await
            .map_err(|e| FeedError::Store(format!("import task: {e}")))??;
        insert(&mut transaction, &mut batch)
            .await
            .map_err(store_error)?;
        let status = FeedStatus {
            feed,
            source: source.to_owned(),
            imported_at: OffsetDateTime::now_utc()
                .replace_nanosecond(0)
                .ok()
                .and_then(|t| t.format(&Rfc3339).ok())
                .unwrap_or_default(),
            data_date: meta.data_date,
            version: meta.version,
            records,
            detail: meta.detail,
        };
        sqlx::query(
            "INSERT OR REPLACE INTO feed (name, source, imported_at, data_date, version, records, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(feed.name())
        .bind(&status.source)
        .bind(&status.imported_at)
        .bind(&status.data_date)
        .bind(&status.version)
        .bind(i64::try_from(records).unwrap_or(i64::MAX))
        .bind(&status.detail)
        .execute(&mut *transaction)
        .await
        .map_err(store_error)?;
        transaction.commit().await.map_err(store_error)?;
        Ok(status)
    }

    /// Adds what the store holds for these products to the knowledge.
    pub async fn load(
        &self,
        products: &[&Product],
        knowledge: &mut Knowledge,
    ) -> Result<(), StoreError> {
        for status in self.status().await? {
            knowledge.sources.push(DataSource {
                name: status.feed.name().into(),
                date: status.data_date.clone(),
                imported_at: Some(status.imported_at.clone()),
                records: status.records,
                detail: format!("{}: {}", status.feed.title(), status.detail),
            });
        }
        for product in products {
            for cpe in &product.cpe {
                let Some((vendor, name)) = cpe.split_once(':') else {
                    continue;
                };
                let rows = sqlx::query(
                    "SELECT m.cve, m.version, m.start_incl, m.start_excl, m.end_incl, m.end_excl, m.platform, c.cvss, c.cvss_version, c.cvss_vector, c.summary
                     FROM nvd_match m JOIN nvd_cve c ON c.cve = m.cve
                     WHERE m.vendor = $1 AND m.product = $2",
                )
                .bind(vendor)
                .bind(name)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.sql_error(e))?;
                let mut by_cve: HashMap<String, Advisory> = HashMap::new();
                for row in &rows {
                    let cve: String = row.get(0);
                    let text = |i: usize| row.get::<Option<String>, _>(i);
                    let (exact, si, se, ei, ee) = (text(1), text(2), text(3), text(4), text(5));
                    let start = si
                        .as_deref()
                        .map(|v| (v, true))
                        .or_else(|| se.as_deref().map(|v| (v, false)));
                    let end = ei
                        .as_deref()
                        .map(|v| (v, true))
                        .or_else(|| ee.as_deref().map(|v| (v, false)));
                    let Some(range) = Range::parse(product.scheme, exact.as_deref(), start, end)
                    else {
                        continue;
                    };
                    let platform = text(6)
                        .filter(|p| p.contains("microsoft:windows"))
                        .map(|_| "windows".to_owned());
                    let advisory = by_cve.entry(cve.clone()).or_insert_with(|| Advisory {
                        cvss: row.get::<Option<f64>, _>(7).map(|score| Cvss {
                            score,
                            version: text(8).unwrap_or_default(),
                            vector: text(9),
                        }),
                        summary: row.get(10),
                        ranges: Vec::new(),
                        platform: platform.clone(),
                        kev: None,
                        epss: None,
                        distro: Vec::new(),
                        sources: vec![format!("https://nvd.nist.gov/vuln/detail/{cve}")],
                        curated: false,
                        cve,
                    });
                    if advisory.platform.is_some() && platform.is_none() {
                        // Another configuration has no platform condition.
                        advisory.platform = None;
                    }
                    advisory.ranges.push(range);
                }
                for advisory in by_cve.into_values() {
                    knowledge.add_nvd(&product.name, advisory);
                }
            }
        }
        let cves = knowledge.cves();
        let mut kev = HashMap::new();
        let mut epss = HashMap::new();
        let model = self
            .status()
            .await?
            .into_iter()
            .find(|s| s.feed == Feed::Epss);
        for chunk in cves.chunks(500) {
            let rows = query_in("SELECT cve, date_added, ransomware FROM kev", chunk)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.sql_error(e))?;
            for row in rows {
                kev.insert(
                    row.get::<String, _>(0),
                    Kev {
                        date_added: row.get(1),
                        ransomware: row.get::<i64, _>(2) != 0,
                    },
                );
            }
            if let Some(model) = &model {
                let rows = query_in("SELECT cve, probability, percentile FROM epss", chunk)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| self.sql_error(e))?;
                for row in rows {
                    epss.insert(
                        row.get::<String, _>(0),
                        Epss {
                            probability: row.get(1),
                            percentile: row.get(2),
                            model_version: model.version.clone().unwrap_or_default(),
                            score_date: model.data_date.clone().unwrap_or_default(),
                        },
                    );
                }
            }
            let rows = query_in(
                "SELECT cve, distro, release, package, status, fixed FROM distro_fix",
                chunk,
            )
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.sql_error(e))?;
            for row in rows {
                let fixed: Option<String> = row.get(5);
                let Some(fix) = DistroFix::parse(row.get(4), fixed.as_deref()) else {
                    continue;
                };
                knowledge.apply_distro(
                    row.get(0),
                    &DistroStatus {
                        distro: row.get(1),
                        release: row.get(2),
                        package: row.get(3),
                        fix,
                    },
                );
            }
        }
        knowledge.apply_kev(&kev);
        knowledge.apply_epss(&epss);
        Ok(())
    }
}

fn tables(feed: Feed) -> &'static [&'static str] {
    match feed {
        Feed::Nvd => &["nvd_match", "nvd_cve"],
        Feed::Kev => &["kev"],
        Feed::Epss => &["epss"],
        Feed::Debian | Feed::Ubuntu => &["distro_fix"],
    }
}

/// `SELECT … WHERE cve IN ($1, …)` with the ids bound.
fn query_in(
    select: &str,
    cves: &[String],
) -> sqlx::query::Query<'static, Sqlite, sqlx::sqlite::SqliteArguments> {
    let placeholders: Vec<String> = (1..=cves.len()).map(|i| format!("${i}")).collect();
    let sql = format!("{select} WHERE cve IN ({})", placeholders.join(", "));
    cves.iter()
        .fold(sqlx::query(AssertSqlSafe(sql)), |query, cve| {
            query.bind(cve.clone())
        })
}

/// Runs the feed's parser over every file, sending rows to the importer.
fn parse_files(
    feed: Feed,
    paths: &[PathBuf],
    catalog: &Catalog,
    tx: &mpsc::Sender<Row>,
) -> Result<FeedMeta, FeedError> {
    let mut sink = |row: Row| {
        tx.blocking_send(row)
            .map_err(|_| FeedError::Store("the import was stopped".into()))
    };
    let mut combined = FeedMeta::default();
    let mut details = Vec::new();
    for path in paths {
        let label = path.display().to_string();
        let meta = match feed {
            Feed::Ubuntu => feeds::ubuntu::parse(path, catalog, &mut sink)?,
            _ => {
                let reader = feeds::open(path)?;
                match feed {
                    Feed::Nvd => feeds::nvd::parse(&label, reader, &mut sink)?,
                    Feed::Kev => feeds::kev::parse(&label, reader, &mut sink)?,
                    Feed::Epss => feeds::epss::parse(&label, reader, &mut sink)?,
                    Feed::Debian => feeds::debian::parse(&label, reader, catalog, &mut sink)?,
                    Feed::Ubuntu => unreachable!("handled above"),
                }
            }
        };
        // Files without a date of their own (Debian) are as old as the file.
        let date = meta.data_date.clone().or_else(|| file_date(path));
        if date > combined.data_date {
            combined.data_date = date;
        }
        if meta.version.is_some() {
            combined.version = meta.version.clone();
        }
        details.push(meta.detail);
    }
    combined.detail = if details.len() > 1 {
        format!("{} files: {}", details.len(), summarise(&details))
    } else {
        details.concat()
    };
    Ok(combined)
}

/// `12 CVEs; 40 CVEs` → `52 CVEs` when every detail is a CVE count.
fn summarise(details: &[String]) -> String {
    let counts: Option<u64> = details
        .iter()
        .map(|d| d.strip_suffix(" CVEs").and_then(|n| n.parse::<u64>().ok()))
        .sum();
    counts.map_or_else(|| details.join("; "), |n| format!("{n} CVEs"))
}

fn file_date(path: &Path) -> Option<String> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    let date = OffsetDateTime::from(modified).date();
    Some(date.to_string())
}

async fn insert(
    transaction: &mut Transaction<'_, Sqlite>,
    batch: &mut Vec<Row>,
) -> Result<(), sqlx::Error> {
    // Rows of one kind go in one statement; batches mix kinds rarely.
    let rows = std::mem::take(batch);
    let mut start = 0;
    while start < rows.len() {
        let kind = std::mem::discriminant(&rows[start]);
        let end = rows[start..]
            .iter()
            .position(|r| std::mem::discriminant(r) != kind)
            .map_or(rows.len(), |p| start + p);
        insert_same(transaction, &rows[start..end]).await?;
        start = end;
    }
    Ok(())
}

async fn insert_same(
    transaction: &mut Transaction<'_, Sqlite>,
    rows: &[Row],
) -> Result<(), sqlx::Error> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let head = match first {
        Row::Cve { .. } => {
            "INSERT OR REPLACE INTO nvd_cve (cve, published, cvss, cvss_version, cvss_vector, summary) "
        }
        Row::Match { .. } => {
            "INSERT INTO nvd_match (cve, vendor, product, version, start_incl, start_excl, end_incl, end_excl, platform) "
        }
        Row::Kev { .. } => "INSERT OR REPLACE INTO kev (cve, date_added, ransomware, name) ",
        Row::Epss { .. } => "INSERT OR REPLACE INTO epss (cve, probability, percentile) ",
        Row::Distro { .. } => {
            "INSERT OR REPLACE INTO distro_fix (cve, distro, release, package, status, fixed) "
        }
    };
    let mut builder: QueryBuilder<Sqlite> = QueryBuilder::new(head);
    builder.push_values(rows, |mut b, row| match row {
        Row::Cve {
            cve,
            published,
            cvss,
            cvss_version,
            cvss_vector,
            summary,
        } => {
            b.push_bind(cve.clone())
                .push_bind(published.clone())
                .push_bind(cvss.to_owned())
                .push_bind(cvss_version.clone())
                .push_bind(cvss_vector.clone())
                .push_bind(summary.clone());
        }
        Row::Match {
            cve,
            vendor,
            product,
            version,
            start_incl,
            start_excl,
            end_incl,
            end_excl,
            platform,
        } => {
            b.push_bind(cve.clone())
                .push_bind(vendor.clone())
                .push_bind(product.clone())
                .push_bind(version.clone())
                .push_bind(start_incl.clone())
                .push_bind(start_excl.clone())
                .push_bind(end_incl.clone())
                .push_bind(end_excl.clone())
                .push_bind(platform.clone());
        }
        Row::Kev {
            cve,
            date_added,
            ransomware,
            name,
        } => {
            b.push_bind(cve.clone())
                .push_bind(date_added.clone())
                .push_bind(i64::from(ransomware.to_owned()))
                .push_bind(name.clone());
        }
        Row::Epss {
            cve,
            probability,
            percentile,
        } => {
            b.push_bind(cve.clone())
                .push_bind(probability.to_owned())
                .push_bind(percentile.to_owned());
        }
        Row::Distro {
            distro,
            release,
            package,
            cve,
            status,
            fixed,
        } => {
            b.push_bind(cve.clone())
                .push_bind(*distro)
                .push_bind(release.clone())
                .push_bind(package.clone())
                .push_bind(*status)
                .push_bind(fixed.clone());
        }
    });
    builder.build().execute(&mut **transaction).await?;
    Ok(())
}
